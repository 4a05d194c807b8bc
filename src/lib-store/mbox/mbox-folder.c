/* mbox-folder: an mbox file behind the store_folder vtable: open, sync, reading a message
 * (its reader view copied into an unlinked temporary file, since the bytes in the mbox
 * carry status headers and >From quoting), flags and expunge (a rewrite of the file).
 *
 * Lock order, everywhere: the dotlock, the fcntl lock, then the index transaction. A sync
 * that finds the file as the index last saw it takes no file lock at all.
 */
#include "mbox-private.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VSIZE_CHUNK 65536

char *mbox_index_path(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return x_asprintf(".%s" MBOX_INDEX_SUFFIX, path);
	return x_asprintf("%.*s/.%s" MBOX_INDEX_SUFFIX, (int)(slash - path), path, slash + 1);
}

int mbox_tmpfile(const char *dir, struct buf *err)
{
	int fd = dir != NULL ? open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600) : -1;
	if (fd >= 0)
		return fd;
	const char *t = getenv("TMPDIR");
	char *tmpl = x_asprintf("%s/tern-mbox.XXXXXX", t != NULL ? t : "/tmp");
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		store_err_errno(err, "create", tmpl);
	else
		unlink(tmpl);
	x_free(&tmpl);
	return fd;
}

static char *folder_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash == NULL ? x_strdup(".") : x_strndup(path, (size_t)(slash - path));
}

static int mbox_attach(struct mbox_folder *mf, struct buf *err)
{
	char *path = mbox_index_path(mf->path);
	bool fresh;
	int r = index_open(path, &mf->ix, &fresh, err);
	x_free(&path);
	return r;
}

int mbox_folder_lock(struct mbox_folder *mf, struct mbox_lock *lk, struct buf *err)
{
	if (index_replaced(mf->ix)) {
		index_close(&mf->ix);
		if (mbox_attach(mf, err) < 0)
			return -1;
		mf->full_refresh = true;
	}
	if (mbox_lock(mf->path, true, lk, err) < 0)
		return -1;
	if (index_begin(mf->ix, err) < 0) {
		mbox_unlock(lk);
		return -1;
	}
	if (mbox_keywords_load(mf, err) < 0 || mbox_catchup(mf, lk->fd, false, NULL, err) < 0) {
		index_rollback(mf->ix);
		mbox_unlock(lk);
		return -1;
	}
	return 0;
}

int mbox_folder_unlock(struct mbox_folder *mf, struct mbox_lock *lk, int ret, struct buf *err)
{
	if (ret < 0)
		index_rollback(mf->ix);
	else if (index_commit(mf->ix, err) < 0)
		ret = -1;
	mbox_unlock(lk);
	return ret < 0 ? -1 : ret;
}

static void mbox_folder_close(struct store_folder *f)
{
	struct mbox_folder *mf = (struct mbox_folder *)f;
	index_close(&mf->ix);
	buf_free(&mf->scratch);
	x_free(&mf->path);
	store_folder_free_common(f);
	x_free(&mf);
}

/* Whether the file is as the index saw it (no lock needed then). */
static bool mbox_quick(struct mbox_folder *mf)
{
	struct stat st;
	return !index_replaced(mf->ix) && index_meta(mf->ix, "uidvalidity") != 0 &&
	       stat(mf->path, &st) == 0 && mbox_unchanged(mf, &st);
}

static int mbox_sync(struct store_folder *f, struct store_changes *ch, struct buf *err)
{
	struct mbox_folder *mf = (struct mbox_folder *)f;
	if (mbox_quick(mf)) {
		if (index_begin(mf->ix, err) < 0)
			return -1;
		int r = mbox_keywords_load(mf, err);
		if (r == 0)
			r = store_refresh(f, mf->ix, &mf->full_refresh, ch, err);
		if (r < 0) {
			index_rollback(mf->ix);
			return -1;
		}
		return index_commit(mf->ix, err);
	}
	struct mbox_lock lk;
	if (mbox_folder_lock(mf, &lk, err) < 0)
		return -1;
	int r = store_refresh(f, mf->ix, &mf->full_refresh, ch, err);
	return mbox_folder_unlock(mf, &lk, r, err);
}

int mbox_folder_open(struct store *store, const char *name, const char *path,
		     struct store_folder **f_r, struct buf *err)
{
	struct mbox_folder *mf = X_NEW(struct mbox_folder);
	mf->f.v = &mbox_folder_vfuncs;
	mf->f.store = store;
	mf->f.name = x_strdup(name);
	mf->path = x_strdup(path);
	struct stat st;
	if (strcmp(name, "INBOX") != 0 && stat(path, &st) < 0) {
		store_err(err, "no folder %s", name);
		mbox_folder_close(&mf->f);
		return -1;
	}
	if (mbox_attach(mf, err) < 0 || mbox_sync(&mf->f, NULL, err) < 0) {
		mbox_folder_close(&mf->f);
		return -1;
	}
	*f_r = &mf->f;
	return 0;
}

int mbox_folder_status(struct store *store, const char *name, const char *path,
		       struct store_folder_status *st_r, struct buf *err)
{
	struct stat st;
	if (strcmp(name, "INBOX") != 0 && stat(path, &st) < 0)
		return store_err(err, "no folder %s", name);
	struct mbox_folder mf = {.path = (char *)path};
	if (mbox_attach(&mf, err) < 0)
		return -1;
	int r;
	if (mbox_quick(&mf)) {
		r = index_begin(mf.ix, err);
		if (r == 0 && (r = index_status(mf.ix, st_r, err)) == 0)
			r = index_commit(mf.ix, err);
		else
			index_rollback(mf.ix);
	} else {
		struct mbox_lock lk;
		r = mbox_folder_lock(&mf, &lk, err);
		if (r == 0)
			r = mbox_folder_unlock(&mf, &lk, index_status(mf.ix, st_r, err), err);
	}
	index_close(&mf.ix);
	buf_free(&mf.scratch);
	store_folder_free_common(&mf.f);
	return r;
}

/* The row of uid with its place; catches up first when the file changed. 1/0/-1. */
static int mbox_locate(struct mbox_folder *mf, uint32_t uid, struct mbox_loc *loc, struct buf *err)
{
	if (!mbox_quick(mf)) {
		struct mbox_lock lk;
		if (mbox_folder_lock(mf, &lk, err) < 0 || mbox_folder_unlock(mf, &lk, 0, err) < 0)
			return -1;
	}
	struct index_row row;
	int found = index_get(mf->ix, uid, &row, &mf->scratch, err);
	if (found <= 0)
		return found;
	if (!mbox_loc_parse(row.fname, loc))
		return store_err(err, "index row %u is damaged; run tern reindex", uid);
	return 1;
}

static int mbox_msg_open(struct store_folder *f, uint32_t uid, struct store_msg_stream *s,
			 struct buf *err)
{
	struct mbox_folder *mf = (struct mbox_folder *)f;
	struct mbox_loc loc;
	int found = mbox_locate(mf, uid, &loc, err);
	if (found <= 0)
		return found < 0 ? -1 : store_err(err, "expunged");
	int in = open(mf->path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return store_err_errno(err, "open", mf->path);
	char *dir = folder_dir(mf->path);
	int out = mbox_tmpfile(dir, err);
	x_free(&dir);
	uint64_t written = 0;
	int r = out < 0 ? -1
			: mbox_copy(in, loc.hdr_off, loc.content_end, MBOX_VIEW_READER, NULL, out,
				    &written, err);
	close(in);
	if (r < 0) {
		if (out >= 0)
			close(out);
		return -1;
	}
	s->fd = out;
	s->offset = 0;
	s->length = written;
	lseek(out, 0, SEEK_SET);
	return 0;
}

static int mbox_msg_vsize(struct store_folder *f, uint32_t uid, uint64_t *vsize_r, struct buf *err)
{
	struct mbox_folder *mf = (struct mbox_folder *)f;
	if (index_vsize_get(mf->ix, uid, vsize_r, err) < 0)
		return -1;
	if (*vsize_r != 0)
		return 0;
	struct store_msg_stream s;
	if (mbox_msg_open(f, uid, &s, err) < 0)
		return -1;
	char *chunk = x_malloc(VSIZE_CHUNK);
	uint64_t vsize = 0;
	char prev = 0;
	ssize_t n;
	while ((n = read_full(s.fd, chunk, VSIZE_CHUNK)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (chunk[i] == '\n' && prev != '\r')
				vsize++;
			prev = chunk[i];
		}
		vsize += (uint64_t)n;
	}
	x_free(&chunk);
	close(s.fd);
	if (n < 0)
		return store_err_errno(err, "read", "message");
	*vsize_r = vsize;
	return index_vsize_set(mf->ix, uid, vsize, err);
}

static struct index *mbox_index(struct store_folder *f)
{
	return ((struct mbox_folder *)f)->ix;
}

static uint32_t flags_apply(uint32_t old, enum store_flags_op op, uint32_t v)
{
	return op == STORE_FLAGS_ADD ? old | v : op == STORE_FLAGS_REMOVE ? old & ~v : v;
}

/* Sets one message's flags in the index; 1 changed, 0 not (or gone), -1 error. */
static int set_flags_one(struct mbox_folder *mf, uint32_t uid, enum store_flags_op op,
			 uint32_t flags, uint32_t keywords, uint64_t modseq, struct buf *err)
{
	struct index_row row;
	int found = index_get(mf->ix, uid, &row, &mf->scratch, err);
	if (found <= 0)
		return found;
	uint32_t nf = flags_apply(row.flags, op, flags);
	uint32_t nk = flags_apply(row.keywords, op, keywords);
	if (nf == row.flags && nk == row.keywords)
		return 0;
	struct index_row up = {
	    .uid = uid, .fname = row.fname, .flags = nf, .keywords = nk, .modseq = modseq};
	if (index_update(mf->ix, &up, err) < 0)
		return -1;
	ssize_t idx = store_folder_find(&mf->f, uid);
	if (idx >= 0) {
		store_folder_own(&mf->f);
		mf->f.msgs[idx].flags = nf;
		mf->f.msgs[idx].keywords = nk;
		mf->f.msgs[idx].modseq = modseq;
	}
	return 1;
}

static int mbox_set_flags(struct store_folder *f, const uint32_t *uids, size_t count,
			  enum store_flags_op op, uint32_t flags, uint32_t keywords,
			  struct buf *err)
{
	struct mbox_folder *mf = (struct mbox_folder *)f;
	struct mbox_lock lk;
	if (mbox_folder_lock(mf, &lk, err) < 0)
		return -1;
	uint64_t modseq = (uint64_t)index_meta(mf->ix, "highestmodseq") + 1;
	bool changed = false;
	int ret = 0;
	for (size_t i = 0; i < count && ret >= 0; i++) {
		ret = set_flags_one(mf, uids[i], op, flags, keywords, modseq, err);
		changed |= ret > 0;
	}
	if (ret >= 0 && changed)
		ret = index_meta_set(mf->ix, "highestmodseq", (int64_t)modseq, err);
	if (ret >= 0 && changed)
		ret = mbox_rewrite(mf, &lk, NULL, 0, NULL, err);
	return mbox_folder_unlock(mf, &lk, ret < 0 ? -1 : 0, err);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int mbox_expunge(struct store_folder *f, const uint32_t *uids, size_t count, struct buf *err)
{
	struct mbox_folder *mf = (struct mbox_folder *)f;
	struct mbox_lock lk;
	if (mbox_folder_lock(mf, &lk, err) < 0)
		return -1;
	uint32_t *deleted;
	size_t n;
	int ret = store_refresh_deleted(mf->ix, &deleted, &n, err);
	if (ret == 0 && uids != NULL) { /* only those of uids */
		uint32_t *want = x_reallocarray(NULL, count ? count : 1, sizeof(uint32_t));
		memcpy(want, uids, count * sizeof(uint32_t));
		qsort(want, count, sizeof(uint32_t), u32_cmp);
		size_t out = 0;
		for (size_t i = 0; i < n; i++)
			if (bsearch(&deleted[i], want, count, sizeof(uint32_t), u32_cmp) != NULL)
				deleted[out++] = deleted[i];
		n = out;
		x_free(&want);
	}
	if (ret == 0 && n > 0)
		ret = mbox_rewrite(mf, &lk, deleted, n, NULL, err);
	x_free(&deleted);
	return mbox_folder_unlock(mf, &lk, ret, err);
}

const struct store_folder_vfuncs mbox_folder_vfuncs = {
    .close = mbox_folder_close,
    .sync = mbox_sync,
    .msg_open = mbox_msg_open,
    .msg_vsize = mbox_msg_vsize,
    .index = mbox_index,
    .set_flags = mbox_set_flags,
    .keyword_lookup = mbox_keyword_lookup,
    .expunge = mbox_expunge,
    .append_begin = mbox_append_begin,
    .append_write = mbox_append_write,
    .append_commit = mbox_append_commit,
    .append_free = mbox_append_free,
    .copy = NULL,
};
