/* store: argument checks and dispatch of store.h to the backend vtables, the snapshot
 * accessors, and the backend-independent operations (streamed copy, reindex).
 */
#include "store-index.h"
#include "store-private.h"
#include "mbox/mbox-private.h"
#include "xalloc.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_COPY_CHUNK 65536

int store_err(struct buf *err, const char *fmt, ...)
{
	if (err == NULL)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	buf_reset(err);
	buf_vprintf(err, fmt, ap);
	va_end(ap);
	return -1;
}

int store_err_errno(struct buf *err, const char *what, const char *path)
{
	int e = errno;
	store_err(err, "%s %s: %s", what, path, strerror(e));
	errno = e;
	return -1;
}

int store_open(const char *root, enum store_format format, struct store **store_r,
	       struct buf *err)
{
	*store_r = NULL;
	if (format == STORE_FORMAT_MAILDIR)
		return maildir_store_open(root, store_r, err);
	return mbox_store_open(root, store_r, err);
}

void store_close(struct store **store)
{
	if (*store == NULL)
		return;
	(*store)->v->close(*store);
	*store = NULL;
}

int store_list(struct store *store, char ***names_r, size_t *count_r, struct buf *err)
{
	*names_r = NULL;
	*count_r = 0;
	return store->v->list(store, names_r, count_r, err);
}

void store_list_free(char ***names, size_t count)
{
	if (*names == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		x_free(&(*names)[i]);
	x_free(names);
}

int store_folder_create(struct store *store, const char *name, struct buf *err)
{
	return store->v->create(store, name, err);
}

int store_folder_delete(struct store *store, const char *name, struct buf *err)
{
	return store->v->remove(store, name, err);
}

int store_folder_rename(struct store *store, const char *from, const char *to, struct buf *err)
{
	return store->v->rename(store, from, to, err);
}

int store_folder_open(struct store *store, const char *name, struct store_folder **folder_r,
		      struct buf *err)
{
	*folder_r = NULL;
	return store->v->folder_open(store, name, folder_r, err);
}

int store_folder_status(struct store *store, const char *name,
			struct store_folder_status *status_r, struct buf *err)
{
	memset(status_r, 0, sizeof(*status_r));
	return store->v->folder_status(store, name, status_r, err);
}

void store_folder_close(struct store_folder **folder)
{
	if (*folder == NULL)
		return;
	(*folder)->v->close(*folder);
	*folder = NULL;
}

void store_folder_own(struct store_folder *f)
{
	if (f->shared == NULL)
		return;
	struct store_msg *own = x_reallocarray(NULL, f->count ? f->count : 1, sizeof(*own));
	if (f->count > 0)
		memcpy(own, f->msgs, f->count * sizeof(*own));
	store_snap_release(f);
	f->msgs = own;
	f->cap = f->count ? f->count : 1;
}

void store_folder_push(struct store_folder *f, const struct store_msg *msg)
{
	store_folder_own(f);
	assert(f->count == 0 || f->msgs[f->count - 1].uid < msg->uid);
	if (f->count == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->msgs = x_reallocarray(f->msgs, f->cap, sizeof(*f->msgs));
	}
	f->msgs[f->count++] = *msg;
}

void store_folder_free_common(struct store_folder *f)
{
	if (f->shared != NULL)
		store_snap_release(f);
	else
		x_free(&f->msgs);
	x_free(&f->name);
	for (int i = 0; i < STORE_KEYWORDS_MAX; i++)
		x_free(&f->keywords[i]);
}

uint32_t store_folder_uidvalidity(const struct store_folder *f)
{
	return f->uidvalidity;
}

uint32_t store_folder_uidnext(const struct store_folder *f)
{
	return f->uidnext;
}

uint64_t store_folder_highestmodseq(const struct store_folder *f)
{
	return f->highestmodseq;
}

size_t store_folder_count(const struct store_folder *f)
{
	return f->count;
}

const struct store_msg *store_folder_msg(const struct store_folder *f, size_t index)
{
	assert(index < f->count);
	return &f->msgs[index];
}

int64_t store_folder_msg_date(const struct store_folder *f, size_t index)
{
	assert(index < f->count);
	struct store_msg *m = &f->msgs[index];
	if (m->internal_date == STORE_IDATE_UNKNOWN && f->v->msg_idate != NULL)
		f->v->msg_idate((struct store_folder *)f, m); /* a cache filled on demand */
	return m->internal_date;
}

ssize_t store_folder_find(const struct store_folder *f, uint32_t uid)
{
	size_t lo = 0, hi = f->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->msgs[mid].uid == uid)
			return (ssize_t)mid;
		if (f->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int store_folder_sync(struct store_folder *f, struct store_changes *changes_r, struct buf *err)
{
	if (changes_r != NULL)
		memset(changes_r, 0, sizeof(*changes_r));
	return f->v->sync(f, changes_r, err);
}

void store_changes_free(struct store_changes *c)
{
	x_free(&c->expunged_uids);
	x_free(&c->expunged_seqs);
	x_free(&c->changed_uids);
	memset(c, 0, sizeof(*c));
}

int store_msg_open(struct store_folder *f, uint32_t uid, struct store_msg_stream *stream_r,
		   struct buf *err)
{
	stream_r->fd = -1;
	return f->v->msg_open(f, uid, stream_r, err);
}

int store_msg_open_whole(struct store_folder *f, uint32_t uid, struct store_msg_stream *stream_r,
			 struct buf *err)
{
	stream_r->fd = -1;
	return (f->v->msg_open_whole != NULL ? f->v->msg_open_whole : f->v->msg_open)(f, uid,
										     stream_r, err);
}

int store_msg_vsize(struct store_folder *f, uint32_t uid, uint64_t *vsize_r, struct buf *err)
{
	return f->v->msg_vsize(f, uid, vsize_r, err);
}

int store_msg_vsize_set(struct store_folder *f, uint32_t uid, uint64_t vsize, struct buf *err)
{
	return vsize == 0 ? 0 : index_vsize_set(f->v->index(f), uid, vsize, err);
}

int store_msg_cache_get(struct store_folder *f, uint32_t uid, enum store_cache_kind kind,
			struct buf *out, struct buf *err)
{
	return index_cache_get(f->v->index(f), uid, kind, out, err);
}

int store_msg_cache_put(struct store_folder *f, uint32_t uid, enum store_cache_kind kind,
			const void *data, size_t len, struct buf *err)
{
	return index_cache_put(f->v->index(f), uid, kind, data, len, err);
}

void store_batch_begin(struct store_folder *f)
{
	index_batch_begin(f->v->index(f));
}

void store_batch_end(struct store_folder *f)
{
	index_batch_end(f->v->index(f));
}

void store_async_checkpoints(bool on)
{
	index_checkpoint_async(on);
}

void store_cache_hold(struct store_folder *f, bool hold)
{
	index_cache_hold(f->v->index(f), hold);
}

void store_folder_release_memory(struct store_folder *f)
{
	index_release_memory(f->v->index(f));
	if (f->v->msg_release != NULL)
		f->v->msg_release(f);
}

int store_set_flags(struct store_folder *f, const uint32_t *uids, size_t count,
		    enum store_flags_op op, uint32_t flags, uint32_t keywords, struct buf *err)
{
	if ((flags & ~STORE_FLAGS_ALL) != 0 || (keywords & ~STORE_FLAGS_ALL) != 0)
		return store_err(err, "unknown flag bits");
	return f->v->set_flags(f, uids, count, op, flags, keywords, err);
}

int store_keyword_lookup(struct store_folder *f, const char *name, bool create,
			 struct buf *err)
{
	return f->v->keyword_lookup(f, name, create, err);
}

const char *store_keyword_name(const struct store_folder *f, unsigned idx)
{
	return idx < STORE_KEYWORDS_MAX ? f->keywords[idx] : NULL;
}

int store_expunge(struct store_folder *f, const uint32_t *uids, size_t count, struct buf *err)
{
	return f->v->expunge(f, uids, count, err);
}

int store_append_begin(struct store_folder *f, struct store_append **append_r, struct buf *err)
{
	*append_r = NULL;
	return f->v->append_begin(f, append_r, err);
}

int store_append_write(struct store_append *a, const void *data, size_t len, struct buf *err)
{
	return a->folder->v->append_write(a, data, len, err);
}

int store_append_commit(struct store_append **append, const struct store_append_opts *opts,
			uint32_t *uid_r, struct buf *err)
{
	static const struct store_append_opts no_opts;
	struct store_append *a = *append;
	*append = NULL;
	int ret = a->folder->v->append_commit(a, opts != NULL ? opts : &no_opts, uid_r, err);
	a->folder->v->append_free(a);
	return ret;
}

void store_append_abort(struct store_append **append)
{
	if (*append == NULL)
		return;
	(*append)->folder->v->append_free(*append);
	*append = NULL;
}

int store_append_fd(struct store_folder *f, int fd, const struct store_append_opts *opts,
		    uint32_t *uid_r, struct buf *err)
{
	struct store_append *a;
	if (store_append_begin(f, &a, err) < 0)
		return -1;
	char *chunk = x_malloc(STORE_COPY_CHUNK);
	ssize_t n;
	int ret = 0;
	while (ret == 0 && (n = read(fd, chunk, STORE_COPY_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = store_err_errno(err, "read", "message");
		else
			ret = store_append_write(a, chunk, (size_t)n, err);
	}
	x_free(&chunk);
	if (ret < 0) {
		store_append_abort(&a);
		return -1;
	}
	return store_append_commit(&a, opts, uid_r, err);
}

/* Copies by streaming the bytes (different backends), mapping keywords by name. */
static int store_copy_stream(struct store_folder *src, uint32_t uid, struct store_folder *dst,
			     uint32_t *uid_r, struct buf *err)
{
	ssize_t idx = store_folder_find(src, uid);
	if (idx < 0)
		return store_err(err, "no message with UID %u", uid);
	const struct store_msg *m = store_folder_msg(src, (size_t)idx);
	struct store_append_opts opts = {.flags = m->flags,
					 .internal_date = store_folder_msg_date(src, (size_t)idx)};
	for (unsigned k = 0; k < STORE_KEYWORDS_MAX; k++) {
		if ((m->keywords & (1u << k)) == 0 || src->keywords[k] == NULL)
			continue;
		int dk = store_keyword_lookup(dst, src->keywords[k], true, err);
		if (dk >= 0)
			opts.keywords |= 1u << dk;
	}
	struct store_msg_stream s;
	if (store_msg_open(src, uid, &s, err) < 0)
		return -1;
	int ret = -1;
	if (lseek(s.fd, s.offset, SEEK_SET) >= 0)
		ret = store_append_fd(dst, s.fd, &opts, uid_r, err);
	else
		store_err_errno(err, "seek", "message");
	close(s.fd);
	return ret;
}

int store_copy(struct store_folder *src, uint32_t uid, struct store_folder *dst,
	       uint32_t *uid_r, struct buf *err)
{
	if (src->v == dst->v && src->v->copy != NULL) {
		int ret = src->v->copy(src, uid, dst, uid_r, err);
		if (ret != 1)
			return ret;
	}
	return store_copy_stream(src, uid, dst, uid_r, err);
}

int store_move(struct store_folder *src, uint32_t uid, struct store_folder *dst,
	       uint32_t *uid_r, struct buf *err)
{
	if (store_copy(src, uid, dst, uid_r, err) < 0)
		return -1;
	if (store_set_flags(src, &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED, 0, err) < 0)
		return -1;
	return store_expunge(src, &uid, 1, err);
}

int store_reindex(const char *root, const char *folder_or_null, struct buf *err)
{
	struct stat st;
	if (stat(root, &st) < 0)
		return store_err_errno(err, "stat", root);
	if (store_detect_format(root) == STORE_FORMAT_MBOX)
		return mbox_reindex(root, folder_or_null, err);
	return maildir_reindex(root, folder_or_null, err);
}

enum store_format store_detect_format(const char *root)
{
	struct stat st;
	if (stat(root, &st) < 0)
		return STORE_FORMAT_MAILDIR;
	if (!S_ISDIR(st.st_mode))
		return STORE_FORMAT_MBOX;
	char *p = x_asprintf("%s/cur", root);
	bool maildir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	x_free(&p);
	if (maildir)
		return STORE_FORMAT_MAILDIR;
	p = x_asprintf("%s/INBOX", root);
	bool mbox = stat(p, &st) == 0 && S_ISREG(st.st_mode);
	x_free(&p);
	return mbox ? STORE_FORMAT_MBOX : STORE_FORMAT_MAILDIR;
}

void store_set_lock_timeout(unsigned ms)
{
	mbox_lock_timeout_ms = ms;
}
