/* maildir-store: a user's Maildir++ store behind the store vtable: the root is INBOX, and
 * folder "Lists/tern" is the directory ROOT/.Lists.tern with a maildirfolder file
 * (maildirplusplus.txt). Listing, creating, deleting (renamed aside to a "..tern-deleted"
 * name first, so a crash never leaves half a folder listed) and renaming with children.
 */
#include "maildir-private.h"
#include "util.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAILDIR_RM_DEPTH 3

static bool maildir_name_ok(const char *name)
{
	size_t len = strnlen(name, STORE_FOLDER_NAME_MAX + 1);
	if (len == 0 || len > STORE_FOLDER_NAME_MAX)
		return false;
	const char *p = name;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t clen = slash ? (size_t)(slash - p) : strlen(p);
		if (clen == 0 || p[0] == '.' || memchr(p, '.', clen) != NULL)
			return false;
		for (size_t i = 0; i < clen; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return false;
		if (slash == NULL)
			return true;
		p = slash + 1;
	}
}

/* The directory of a folder; NULL (with err) for a name Maildir++ cannot hold. */
static char *maildir_folder_dir(struct store *s, const char *name, struct buf *err)
{
	if (str_ieq(name, "INBOX"))
		return x_strdup(s->root);
	if (!maildir_name_ok(name)) {
		store_err(err, "invalid folder name");
		return NULL;
	}
	char *path = x_asprintf("%s/.%s", s->root, name);
	for (char *p = path + strlen(s->root) + 2; *p != '\0'; p++)
		if (*p == '/')
			*p = '.';
	return path;
}

/* Whether the folder is complete already (every open of a store checks: no mkdir, no
 * fsync then). */
static bool maildir_dirs_exist(const char *path, bool subfolder)
{
	static const char *const names[] = {"tmp", "new", "cur", "maildirfolder"};
	struct stat st;
	for (size_t i = 0; i < (subfolder ? 4u : 3u); i++) {
		char *p = x_asprintf("%s/%s", path, names[i]);
		int r = stat(p, &st);
		x_free(&p);
		if (r < 0 || (i < 3 && !S_ISDIR(st.st_mode)))
			return false;
	}
	return true;
}

/* tmp/, new/, cur/ of the folder at path, and maildirfolder for a subfolder, where
 * missing; those made are given to uid:gid unless uid is -1. */
static int maildir_make_subs(const char *path, bool subfolder, uid_t uid, gid_t gid,
			     struct buf *err)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	for (size_t i = 0; i < 3; i++) {
		char *sub = x_asprintf("%s/%s", path, subs[i]);
		int r = mkdir(sub, 0700);
		if (r < 0 && errno != EEXIST)
			store_err_errno(err, "create", sub);
		else if (r == 0 && uid != (uid_t)-1 && chown(sub, uid, gid) < 0)
			r = store_err_errno(err, "chown", sub);
		else
			r = 0;
		x_free(&sub);
		if (r < 0)
			return -1;
	}
	if (subfolder) {
		char *mf = x_asprintf("%s/maildirfolder", path);
		int fd = open(mf, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		int r = fd < 0 ? store_err_errno(err, "create", mf) : 0;
		if (r == 0 && uid != (uid_t)-1 && fchown(fd, uid, gid) < 0)
			r = store_err_errno(err, "chown", mf);
		if (fd >= 0)
			close(fd);
		x_free(&mf);
		if (r < 0)
			return -1;
	}
	return 0;
}

int maildir_make_dirs(const char *path, bool subfolder, struct buf *err)
{
	if (maildir_dirs_exist(path, subfolder))
		return 0;
	if (mkdir_p(path, 0700) < 0)
		return store_err_errno(err, "create", path);
	if (maildir_make_subs(path, subfolder, (uid_t)-1, (gid_t)-1, err) < 0)
		return -1;
	return fsync_parent(path) < 0 ? store_err_errno(err, "sync", path) : 0;
}

/* No flush: a folder lost in a crash is made again at the next login, and on a journalling
 * file system the first flush of anything put into it commits its creation too. */
int maildir_folder_make(struct store *s, const char *name, uid_t uid, gid_t gid,
			struct buf *err)
{
	char *path = maildir_folder_dir(s, name, err);
	if (path == NULL)
		return -1;
	struct stat st;
	int ret = 0;
	if (lstat(path, &st) == 0)
		; /* there: a folder a user broke is left as it is */
	else if (errno != ENOENT)
		ret = store_err_errno(err, "look at", path);
	else if (mkdir(path, 0700) < 0)
		ret = errno == EEXIST ? 0 : store_err_errno(err, "create", path);
	else if (uid != (uid_t)-1 && chown(path, uid, gid) < 0)
		ret = store_err_errno(err, "chown", path);
	else
		ret = maildir_make_subs(path, true, uid, gid, err) < 0 ? -1 : 1;
	x_free(&path);
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_maildir(int dirfd_, const char *name)
{
	char *cur = x_asprintf("%s/cur", name);
	struct stat st;
	bool ok = fstatat(dirfd_, cur, &st, 0) == 0 && S_ISDIR(st.st_mode);
	x_free(&cur);
	return ok;
}

static int maildir_list(struct store *s, char ***names_r, size_t *count_r, struct buf *err)
{
	DIR *d = opendir(s->root);
	if (d == NULL)
		return store_err_errno(err, "open", s->root);
	size_t count = 1, cap = 16;
	char **names = x_calloc(cap, sizeof(char *));
	names[0] = x_strdup("INBOX");
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (n[0] != '.' || n[1] == '.' || n[1] == '\0' || !is_maildir(dirfd(d), n))
			continue;
		if (count == cap) {
			cap *= 2;
			names = x_reallocarray(names, cap, sizeof(char *));
		}
		char *name = x_strdup(n + 1);
		for (char *p = name; *p != '\0'; p++)
			if (*p == '.')
				*p = '/';
		names[count++] = name;
	}
	closedir(d);
	qsort(names + 1, count - 1, sizeof(char *), name_cmp);
	*names_r = names;
	*count_r = count;
	return 0;
}

static int maildir_create(struct store *s, const char *name, struct buf *err)
{
	char *path = maildir_folder_dir(s, name, err);
	if (path == NULL)
		return -1;
	struct stat st;
	int ret;
	if (stat(path, &st) == 0)
		ret = store_err(err, "folder %s exists", name);
	else
		ret = maildir_make_dirs(path, true, err);
	x_free(&path);
	return ret;
}

/* rm -r for a deleted folder (files and a few levels of directories). */
static void maildir_rm_tree(const char *path, int depth)
{
	DIR *d = opendir(path);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *sub = x_asprintf("%s/%s", path, de->d_name);
		struct stat st;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode) && depth > 0)
			maildir_rm_tree(sub, depth - 1);
		else
			unlink(sub);
		x_free(&sub);
	}
	if (d != NULL)
		closedir(d);
	rmdir(path);
}

static int maildir_remove(struct store *s, const char *name, struct buf *err)
{
	if (str_ieq(name, "INBOX"))
		return store_err(err, "INBOX cannot be deleted");
	char *path = maildir_folder_dir(s, name, err);
	if (path == NULL)
		return -1;
	char *aside = x_asprintf("%s/..tern-deleted.%d.%lld", s->root, (int)getpid(),
				 (long long)now_ms());
	int ret = 0;
	if (rename(path, aside) < 0)
		ret = errno == ENOENT ? store_err(err, "no folder %s", name)
				      : store_err_errno(err, "delete", path);
	else
		maildir_rm_tree(aside, MAILDIR_RM_DEPTH);
	x_free(&aside);
	x_free(&path);
	return ret;
}

/* Renames the children ROOT/.FROM.* to ROOT/.TO.* */
static int maildir_rename_children(struct store *s, const char *from_dir, const char *to_dir,
				   struct buf *err)
{
	const char *from_base = strrchr(from_dir, '/') + 1;
	size_t flen = strlen(from_base);
	char *prefix = x_asprintf("%s.", from_base);
	DIR *d = opendir(s->root);
	if (d == NULL) {
		x_free(&prefix);
		return store_err_errno(err, "open", s->root);
	}
	char **kids = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, flen + 1) == 0) {
			kids = x_reallocarray(kids, n + 1, sizeof(char *));
			kids[n++] = x_strdup(de->d_name);
		}
	closedir(d);
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		char *a = x_asprintf("%s/%s", s->root, kids[i]);
		char *b = x_asprintf("%s%s", to_dir, kids[i] + flen);
		if (ret == 0 && rename(a, b) < 0)
			ret = store_err_errno(err, "rename", a);
		x_free(&a);
		x_free(&b);
		x_free(&kids[i]);
	}
	x_free(&kids);
	x_free(&prefix);
	return ret;
}

static int maildir_rename(struct store *s, const char *from, const char *to, struct buf *err)
{
	if (str_ieq(from, "INBOX") || str_ieq(to, "INBOX"))
		return store_err(err, "INBOX cannot be renamed");
	char *a = maildir_folder_dir(s, from, err);
	char *b = a != NULL ? maildir_folder_dir(s, to, err) : NULL;
	int ret = -1;
	struct stat st;
	if (b == NULL)
		;
	else if (stat(b, &st) == 0)
		store_err(err, "folder %s exists", to);
	else if (rename(a, b) < 0)
		ret = errno == ENOENT ? store_err(err, "no folder %s", from)
				      : store_err_errno(err, "rename", a);
	else
		ret = maildir_rename_children(s, a, b, err);
	x_free(&a);
	x_free(&b);
	return ret;
}

static int maildir_store_folder_open(struct store *s, const char *name,
				     struct store_folder **f_r, struct buf *err)
{
	char *path = maildir_folder_dir(s, name, err);
	if (path == NULL)
		return -1;
	int ret = maildir_folder_open(s, str_ieq(name, "INBOX") ? "INBOX" : name, path, f_r, err);
	x_free(&path);
	return ret;
}

static int maildir_store_folder_status(struct store *s, const char *name,
				       struct store_folder_status *st_r, struct buf *err)
{
	char *path = maildir_folder_dir(s, name, err);
	if (path == NULL)
		return -1;
	int ret = maildir_folder_status(s, name, path, st_r, err);
	x_free(&path);
	return ret;
}

static void maildir_store_close(struct store *s)
{
	x_free(&s->root);
	x_free(&s);
}

static const struct store_vfuncs maildir_store_vfuncs = {
	.list = maildir_list,
	.create = maildir_create,
	.remove = maildir_remove,
	.rename = maildir_rename,
	.folder_open = maildir_store_folder_open,
	.folder_status = maildir_store_folder_status,
	.close = maildir_store_close,
};

int maildir_store_open(const char *root, struct store **store_r, struct buf *err)
{
	if (maildir_make_dirs(root, false, err) < 0)
		return -1;
	struct store *s = X_NEW(struct store);
	s->v = &maildir_store_vfuncs;
	s->format = STORE_FORMAT_MAILDIR;
	s->root = x_strdup(root);
	*store_r = s;
	return 0;
}

/* Drops one folder's index and builds it again from the files and the uidlist. */
static int maildir_reindex_one(struct store *s, const char *name, struct buf *err)
{
	char *dir = maildir_folder_dir(s, name, err);
	if (dir == NULL)
		return -1;
	static const char *const sides[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		char *p = x_asprintf("%s/%s%s", dir, INDEX_FILE, sides[i]);
		unlink(p);
		x_free(&p);
	}
	x_free(&dir);
	struct store_folder *f;
	if (store_folder_open(s, name, &f, err) < 0)
		return -1;
	store_folder_close(&f);
	return 0;
}

int maildir_reindex(const char *root, const char *folder_or_null, struct buf *err)
{
	struct store *s;
	if (maildir_store_open(root, &s, err) < 0)
		return -1;
	int ret = 0;
	if (folder_or_null != NULL) {
		ret = maildir_reindex_one(s, folder_or_null, err);
	} else {
		char **names;
		size_t n;
		ret = maildir_list(s, &names, &n, err);
		for (size_t i = 0; ret == 0 && i < n; i++)
			ret = maildir_reindex_one(s, names[i], err);
		if (names != NULL)
			store_list_free(&names, n);
	}
	store_close(&s);
	return ret;
}
