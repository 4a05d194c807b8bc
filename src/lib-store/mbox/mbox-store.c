/* mbox-store: a user's mbox store behind the store vtable. Two layouts:
 *   - root is a file (or does not exist): the INBOX alone, e.g. /var/mail/USER;
 *   - root is a directory: ROOT/INBOX and one mbox file per folder, "Lists/tern" being
 *     ROOT/Lists/tern (a folder cannot also have children: a file is not a directory).
 * Tern's own files beside each mbox start with '.' (the index, a rewrite in progress) or
 * end in ".lock" (dotlocks) and are never listed as folders.
 */
#include "mbox-private.h"
#include "util.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MBOX_LIST_DEPTH 8
#define MBOX_LIST_MAX 10000

static bool mbox_is_dir_store(const struct store *s)
{
	struct stat st;
	return stat(s->root, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool mbox_name_ok(const char *name)
{
	size_t len = strnlen(name, STORE_FOLDER_NAME_MAX + 1);
	if (len == 0 || len > STORE_FOLDER_NAME_MAX || str_ieq(name, "INBOX"))
		return false;
	if (len >= 5 && strcmp(name + len - 5, ".lock") == 0)
		return false;
	for (const char *p = name; *p != '\0'; p++) {
		if ((p == name || p[-1] == '/') && (*p == '.' || *p == '/'))
			return false; /* empty or hidden component */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	}
	return name[len - 1] != '/';
}

/* The file of a folder; NULL (with err) when the name cannot be one. */
static char *mbox_folder_file(struct store *s, const char *name, struct buf *err)
{
	bool dir = mbox_is_dir_store(s);
	if (str_ieq(name, "INBOX"))
		return dir ? x_asprintf("%s/INBOX", s->root) : x_strdup(s->root);
	if (!dir) {
		store_err(err, "this mbox store has only INBOX");
		return NULL;
	}
	if (!mbox_name_ok(name)) {
		store_err(err, "invalid folder name");
		return NULL;
	}
	return x_asprintf("%s/%s", s->root, name);
}

struct list {
	char **names;
	size_t count, cap;
};

static void list_walk(struct list *l, const char *dir, const char *prefix, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL && l->count < MBOX_LIST_MAX) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		if (n[0] == '.' || (len >= 5 && strcmp(n + len - 5, ".lock") == 0))
			continue;
		if (prefix[0] == '\0' && strcmp(n, "INBOX") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), n, &st, 0) < 0)
			continue;
		char *name = x_asprintf("%s%s", prefix, n);
		if (S_ISDIR(st.st_mode) && depth > 0) {
			char *sub = x_asprintf("%s/%s", dir, n);
			char *subprefix = x_asprintf("%s/", name);
			list_walk(l, sub, subprefix, depth - 1);
			x_free(&sub);
			x_free(&subprefix);
		}
		if (!S_ISREG(st.st_mode)) {
			x_free(&name);
			continue;
		}
		if (l->count == l->cap) {
			l->cap *= 2;
			l->names = x_reallocarray(l->names, l->cap, sizeof(char *));
		}
		l->names[l->count++] = name;
	}
	if (d != NULL)
		closedir(d);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int mbox_list(struct store *s, char ***names_r, size_t *count_r, struct buf *err)
{
	struct list l = {.cap = 16};
	l.names = x_calloc(l.cap, sizeof(char *));
	l.names[l.count++] = x_strdup("INBOX");
	if (mbox_is_dir_store(s))
		list_walk(&l, s->root, "", MBOX_LIST_DEPTH);
	qsort(l.names + 1, l.count - 1, sizeof(char *), name_cmp);
	*names_r = l.names;
	*count_r = l.count;
	return 0;
}

static int mbox_create(struct store *s, const char *name, struct buf *err)
{
	char *path = mbox_folder_file(s, name, err);
	if (path == NULL)
		return -1;
	int ret = 0;
	char *slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdir_p(path, 0700) < 0)
		ret = store_err_errno(err, "create", path);
	*slash = '/';
	int fd = ret < 0 ? -1 : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (ret == 0 && fd < 0)
		ret = errno == EEXIST ? store_err(err, "folder %s exists", name)
				      : store_err_errno(err, "create", path);
	if (fd >= 0) {
		close(fd);
		if (fsync_parent(path) < 0)
			ret = store_err_errno(err, "sync", path);
	}
	x_free(&path);
	return ret;
}

static void remove_index(const char *path)
{
	char *ix = mbox_index_path(path);
	static const char *const sides[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		char *p = x_asprintf("%s%s", ix, sides[i]);
		unlink(p);
		x_free(&p);
	}
	x_free(&ix);
}

static int mbox_remove(struct store *s, const char *name, struct buf *err)
{
	if (str_ieq(name, "INBOX"))
		return store_err(err, "INBOX cannot be deleted");
	char *path = mbox_folder_file(s, name, err);
	if (path == NULL)
		return -1;
	int ret = 0;
	struct mbox_lock lk;
	if (access(path, F_OK) < 0)
		ret = store_err(err, "no folder %s", name);
	else if (mbox_lock(path, false, &lk, err) < 0)
		ret = -1;
	else {
		if (unlink(path) < 0)
			ret = store_err_errno(err, "delete", path);
		mbox_unlock(&lk);
		remove_index(path);
	}
	x_free(&path);
	return ret;
}

static int mbox_rename(struct store *s, const char *from, const char *to, struct buf *err)
{
	if (str_ieq(from, "INBOX") || str_ieq(to, "INBOX"))
		return store_err(err, "INBOX cannot be renamed");
	char *a = mbox_folder_file(s, from, err);
	char *b = a != NULL ? mbox_folder_file(s, to, err) : NULL;
	int ret = -1;
	if (b != NULL) {
		char *ia = mbox_index_path(a), *ib = mbox_index_path(b);
		char *slash = strrchr(b, '/');
		*slash = '\0';
		int mk = mkdir_p(b, 0700);
		*slash = '/';
		if (access(b, F_OK) == 0)
			store_err(err, "folder %s exists", to);
		else if (mk < 0 || rename(a, b) < 0)
			ret = errno == ENOENT ? store_err(err, "no folder %s", from)
					      : store_err_errno(err, "rename", a);
		else
			ret = 0;
		if (ret == 0) {
			remove_index(b);
			rename(ia, ib); /* the index follows; without it, it is rebuilt */
		}
		x_free(&ia);
		x_free(&ib);
	}
	x_free(&a);
	x_free(&b);
	return ret;
}

static int mbox_store_folder_open(struct store *s, const char *name, struct store_folder **f_r,
				  struct buf *err)
{
	char *path = mbox_folder_file(s, name, err);
	if (path == NULL)
		return -1;
	int ret = mbox_folder_open(s, str_ieq(name, "INBOX") ? "INBOX" : name, path, f_r, err);
	x_free(&path);
	return ret;
}

static int mbox_store_folder_status(struct store *s, const char *name,
				    struct store_folder_status *st_r, struct buf *err)
{
	char *path = mbox_folder_file(s, name, err);
	if (path == NULL)
		return -1;
	int ret = mbox_folder_status(s, str_ieq(name, "INBOX") ? "INBOX" : name, path, st_r, err);
	x_free(&path);
	return ret;
}

static void mbox_store_close(struct store *s)
{
	x_free(&s->root);
	x_free(&s);
}

static const struct store_vfuncs mbox_store_vfuncs = {
    .list = mbox_list,
    .create = mbox_create,
    .remove = mbox_remove,
    .rename = mbox_rename,
    .folder_open = mbox_store_folder_open,
    .folder_status = mbox_store_folder_status,
    .close = mbox_store_close,
};

int mbox_store_open(const char *root, struct store **store_r, struct buf *err)
{
	struct store *s = X_NEW(struct store);
	s->v = &mbox_store_vfuncs;
	s->format = STORE_FORMAT_MBOX;
	s->root = x_strdup(root);
	size_t len = strlen(s->root);
	while (len > 1 && s->root[len - 1] == '/')
		s->root[--len] = '\0';
	*store_r = s;
	return 0;
}

int mbox_reindex(const char *root, const char *folder_or_null, struct buf *err)
{
	struct store *s;
	if (mbox_store_open(root, &s, err) < 0)
		return -1;
	char **names = NULL;
	size_t n = 0;
	int ret = 0;
	if (folder_or_null != NULL) {
		names = x_calloc(1, sizeof(char *));
		names[0] = x_strdup(folder_or_null);
		n = 1;
	} else {
		ret = mbox_list(s, &names, &n, err);
	}
	for (size_t i = 0; ret == 0 && i < n; i++) {
		char *path = mbox_folder_file(s, names[i], err);
		if (path == NULL) {
			ret = -1;
			break;
		}
		remove_index(path);
		x_free(&path);
		struct store_folder *f;
		ret = store_folder_open(s, names[i], &f, err);
		store_folder_close(&f);
	}
	store_list_free(&names, n);
	store_close(&s);
	return ret;
}
