/* store-convert: `tern convert`, moving a user's store between Maildir and mbox. Every
 * folder is copied through the store API into a new store beside the old one (ROOT.new),
 * keeping flags, keywords (by name) and internal dates; the copy is checked (the same
 * number of messages in each folder); then the old store is renamed to ROOT.old and the
 * new one to ROOT, two renames, and ROOT.old is removed at the end unless asked to keep
 * it. An mbox target is a directory store (ROOT/INBOX, ROOT/Folder).
 */
#include "store-private.h"
#include "mbox/mbox-private.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct convert {
	void (*report)(void *ctx, const char *line);
	void *ctx;
};

static int remove_tree(const char *path)
{
	char *cmd = x_asprintf("rm -rf -- '%s'", path);
	int r = system(cmd);
	x_free(&cmd);
	return r == 0 ? 0 : -1;
}

/* Copies one folder; 0 or -1. */
static int convert_folder(struct store *src, struct store *dst, const char *name,
			  struct convert *cv, struct buf *err)
{
	struct store_folder *from = NULL, *to = NULL;
	if (strcmp(name, "INBOX") != 0 && store_folder_create(dst, name, err) < 0)
		return -1;
	if (store_folder_open(src, name, &from, err) < 0 ||
	    store_folder_open(dst, name, &to, err) < 0) {
		store_folder_close(&from);
		return -1;
	}
	int ret = 0;
	size_t n = store_folder_count(from);
	for (size_t i = 0; i < n && ret == 0; i++) {
		uint32_t uid;
		ret = store_copy(from, store_folder_msg(from, i)->uid, to, &uid, err);
	}
	if (ret == 0)
		ret = store_folder_sync(to, NULL, err);
	if (ret == 0 && store_folder_count(to) != n)
		ret = store_err(err, "%s: copied %zu of %zu messages", name, store_folder_count(to),
				n);
	if (ret == 0 && cv->report != NULL) {
		char line[STORE_FOLDER_NAME_MAX + 64];
		snprintf(line, sizeof(line), "%s: %zu messages copied", name, n);
		cv->report(cv->ctx, line);
	}
	store_folder_close(&from);
	store_folder_close(&to);
	return ret;
}

static int convert_all(const char *root, enum store_format from_fmt, const char *new_root,
		       enum store_format to_fmt, struct convert *cv, struct buf *err)
{
	struct store *src = NULL, *dst = NULL;
	if (to_fmt == STORE_FORMAT_MBOX && mkdir(new_root, 0700) < 0)
		return store_err_errno(err, "create", new_root);
	if (store_open(root, from_fmt, &src, err) < 0 ||
	    store_open(new_root, to_fmt, &dst, err) < 0) {
		store_close(&src);
		return -1;
	}
	char **names;
	size_t n;
	int ret = store_list(src, &names, &n, err);
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = convert_folder(src, dst, names[i], cv, err);
	if (names != NULL)
		store_list_free(&names, n);
	store_close(&src);
	store_close(&dst);
	return ret;
}

int store_convert(const char *root, enum store_format to_fmt, bool keep_old,
		  void (*report)(void *ctx, const char *line), void *ctx, struct buf *err)
{
	struct stat st;
	if (stat(root, &st) < 0)
		return store_err_errno(err, "stat", root);
	enum store_format from_fmt = store_detect_format(root);
	if (from_fmt == to_fmt)
		return store_err(err, "%s is already in that format", root);
	char *new_root = x_asprintf("%s.new", root);
	char *old_root = x_asprintf("%s.old", root);
	struct convert cv = {.report = report, .ctx = ctx};
	int ret = 0;
	if (access(new_root, F_OK) == 0 || access(old_root, F_OK) == 0)
		ret = store_err(err,
				"%s or %s exists: a conversion was interrupted; look at "
				"them and remove the one that is not wanted",
				new_root, old_root);
	if (ret == 0 && strchr(root, '\'') != NULL)
		ret = store_err(err, "%s: a quote in the path", root);
	if (ret == 0 && convert_all(root, from_fmt, new_root, to_fmt, &cv, err) < 0) {
		remove_tree(new_root); /* only the partial copy */
		ret = -1;
	}
	if (ret == 0 && rename(root, old_root) < 0)
		ret = store_err_errno(err, "rename", root);
	if (ret == 0 && rename(new_root, root) < 0) {
		ret = store_err_errno(err, "rename", new_root);
		rename(old_root, root);
	}
	if (ret == 0)
		fsync_parent(root);
	if (ret == 0 && from_fmt == STORE_FORMAT_MBOX && !S_ISDIR(st.st_mode)) {
		char *ix = mbox_index_path(root); /* the old file's index, now stale */
		static const char *const sides[] = {"", "-wal", "-shm"};
		for (size_t i = 0; i < 3; i++) {
			char *p = x_asprintf("%s%s", ix, sides[i]);
			unlink(p);
			x_free(&p);
		}
		x_free(&ix);
	}
	if (ret == 0 && !keep_old && remove_tree(old_root) < 0)
		ret = store_err(err, "converted, but could not remove %s", old_root);
	x_free(&new_root);
	x_free(&old_root);
	return ret;
}
