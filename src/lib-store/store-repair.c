/* store-repair: `tern repair` over a whole store. An mbox file or every mbox file of an
 * mbox directory store goes to mbox_repair_file(). A Maildir (and each Maildir++ folder)
 * is checked for what is not a message: directories, empty files and names starting with
 * '.' inside new/ and cur/, and unknown plain files in the folder's own directory. Those
 * are moved (never deleted) into ROOT/.lost+found/, which is not a folder (no cur/).
 */
#include "store-private.h"
#include "mbox/mbox-private.h"
#include "util.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOST_FOUND ".lost+found"

/* Plain files that belong in a Maildir folder's directory. */
static bool maildir_known_file(const char *name)
{
	static const char *const known[] = {
	    "tern-", "dovecot", "courier", "subscriptions", "maildirsize", "maildirfolder", "."};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strncmp(name, known[i], strlen(known[i])) == 0)
			return true;
	return false;
}

struct mrepair {
	const char *root;
	const struct store_repair_opts *o;
	int found;
};

static void mreport(struct mrepair *mr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mreport(struct mrepair *mr, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (mr->o->report != NULL)
		mr->o->report(mr->o->ctx, b.data);
	buf_free(&b);
}

/* Moves dir/name into ROOT/.lost+found/ under a name that says where it came from. */
static int move_lost(struct mrepair *mr, const char *dir, const char *name, const char *why,
		     struct buf *err)
{
	mr->found++;
	mreport(mr, "%s/%s: %s: %s %s/", dir, name, why,
		mr->o->dry_run ? "would move it to" : "moving it to", LOST_FOUND);
	if (mr->o->dry_run)
		return 0;
	char *lf = x_asprintf("%s/%s", mr->root, LOST_FOUND);
	char *from = x_asprintf("%s/%s", dir, name);
	const char *rel = dir + strlen(mr->root);
	struct buf to = BUF_INIT;
	buf_printf(&to, "%s/%lld", lf, (long long)time(NULL));
	for (const char *p = rel; *p != '\0'; p++)
		buf_append_char(&to, *p == '/' ? '_' : *p);
	buf_printf(&to, "_%s", name);
	int ret = 0;
	if (mkdir_p(lf, 0700) < 0 || rename(from, to.data) < 0 || fsync_dir(lf) < 0)
		ret = store_err_errno(err, "move", from);
	x_free(&lf);
	x_free(&from);
	buf_free(&to);
	return ret;
}

/* new/ or cur/: what is not a message file. */
static int repair_msg_dir(struct mrepair *mr, const char *dir, struct buf *err)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : store_err_errno(err, "open", dir);
	struct dirent *de;
	int ret = 0;
	while (ret == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		const char *why = S_ISDIR(st.st_mode)	 ? "a directory"
				  : !S_ISREG(st.st_mode) ? "not a plain file"
				  : st.st_size == 0	 ? "an empty file"
				  : de->d_name[0] == '.' ? "a temporary name"
							 : NULL;
		if (why != NULL)
			ret = move_lost(mr, dir, de->d_name, why, err);
	}
	closedir(d);
	return ret;
}

/* One Maildir folder: its directory, then new/ and cur/. */
static int repair_maildir_folder(struct mrepair *mr, const char *dir, struct buf *err)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return store_err_errno(err, "open", dir);
	struct dirent *de;
	int ret = 0;
	while (ret == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || maildir_known_file(de->d_name))
			continue;
		ret = move_lost(mr, dir, de->d_name, "not part of a Maildir", err);
	}
	closedir(d);
	static const char *const subs[] = {"new", "cur"};
	for (size_t i = 0; ret == 0 && i < 2; i++) {
		char *sub = x_asprintf("%s/%s", dir, subs[i]);
		ret = repair_msg_dir(mr, sub, err);
		x_free(&sub);
	}
	return ret;
}

static int repair_maildir(const char *root, const struct store_repair_opts *o, struct buf *err)
{
	struct mrepair mr = {.root = root, .o = o};
	int ret = repair_maildir_folder(&mr, root, err);
	DIR *d = ret == 0 ? opendir(root) : NULL;
	struct dirent *de;
	while (d != NULL && ret == 0 && (de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (n[0] != '.' || n[1] == '.' || n[1] == '\0' || strcmp(n, LOST_FOUND) == 0)
			continue;
		char *sub = x_asprintf("%s/%s/cur", root, n);
		struct stat st;
		bool folder = stat(sub, &st) == 0 && S_ISDIR(st.st_mode);
		x_free(&sub);
		if (!folder)
			continue;
		sub = x_asprintf("%s/%s", root, n);
		ret = repair_maildir_folder(&mr, sub, err);
		x_free(&sub);
	}
	if (d != NULL)
		closedir(d);
	if (ret == 0 && mr.found == 0)
		mreport(&mr, "%s: no damage found", root);
	return ret < 0 ? -1 : mr.found;
}

static int repair_mbox_dir(const char *root, const struct store_repair_opts *o, struct buf *err)
{
	struct store *s;
	if (store_open(root, STORE_FORMAT_MBOX, &s, err) < 0)
		return -1;
	char **names;
	size_t n;
	int found = 0;
	if (store_list(s, &names, &n, err) < 0)
		found = -1;
	for (size_t i = 0; found >= 0 && i < n; i++) {
		char *path = x_asprintf("%s/%s", root, names[i]);
		int r = mbox_repair_file(path, o, err);
		found = r < 0 ? -1 : found + r;
		x_free(&path);
	}
	if (found >= 0)
		store_list_free(&names, n);
	store_close(&s);
	return found;
}

int store_repair(const char *root, const struct store_repair_opts *o, struct buf *err)
{
	struct stat st;
	if (stat(root, &st) < 0)
		return store_err_errno(err, "stat", root);
	if (store_detect_format(root) == STORE_FORMAT_MAILDIR)
		return repair_maildir(root, o, err);
	if (S_ISDIR(st.st_mode))
		return repair_mbox_dir(root, o, err);
	return mbox_repair_file(root, o, err);
}
