/* maildir-folder: a Maildir folder behind the store_folder vtable: open (catch up, take
 * the snapshot), sync (catch up, report what changed), reading, flags, expunge.
 *
 * Every change runs inside the index lock after a catch-up, so the index and the map
 * agree with the directories before anything is renamed or removed. Flags are changed by
 * renaming the file to cur/BASE:2,FLAGS as Maildir readers do.
 */
#include "maildir-private.h"
#include "util.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VSIZE_CHUNK 65536

/* Opens the index, filling a fresh one from the files. */
static int maildir_index_attach(struct maildir_folder *mf, struct buf *err)
{
	char *path = x_asprintf("%s/%s", mf->path, INDEX_FILE);
	bool fresh;
	int r = index_open(path, &mf->ix, &fresh, err);
	x_free(&path);
	if (r < 0)
		return -1;
	maildir_map_free(&mf->map);
	mf->map_modseq = 0;
	if (index_begin(mf->ix, err) < 0)
		return -1;
	if (index_meta(mf->ix, "uidvalidity") == 0)
		r = maildir_index_init(mf, err);
	else
		r = maildir_catchup(mf, false, err) < 0 ? -1 : maildir_uidlist_maybe_compact(mf, err);
	if (r < 0) {
		index_rollback(mf->ix);
		return -1;
	}
	return index_commit(mf->ix, err);
}

/* Takes the index lock and catches up; reattaches when the index file was replaced. */
static int maildir_lock(struct maildir_folder *mf, bool force, struct buf *err)
{
	if (index_replaced(mf->ix)) {
		index_close(&mf->ix);
		if (maildir_index_attach(mf, err) < 0)
			return -1;
		mf->full_refresh = true;
	}
	if (index_begin(mf->ix, err) < 0)
		return -1;
	if (maildir_catchup(mf, force, err) < 0 || maildir_keywords_load(mf, err) < 0) {
		index_rollback(mf->ix);
		return -1;
	}
	return 0;
}

static int maildir_unlock(struct maildir_folder *mf, int ret, struct buf *err)
{
	if (ret < 0) {
		index_rollback(mf->ix);
		return -1;
	}
	return index_commit(mf->ix, err);
}

/* Removes tmp/ files left by crashed writers (maildir.txt: after 36 hours). */
static void maildir_clean_tmp(struct maildir_folder *mf)
{
	char *path = x_asprintf("%s/tmp", mf->path);
	DIR *d = opendir(path);
	time_t limit = time(NULL) - MAILDIR_TMP_MAX_AGE;
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue;
		if (S_ISREG(st.st_mode) && st.st_mtime < limit && st.st_atime < limit)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d != NULL)
		closedir(d);
	x_free(&path);
}

static void maildir_folder_close(struct store_folder *f)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	index_close(&mf->ix);
	maildir_map_free(&mf->map);
	buf_free(&mf->scratch);
	x_free(&mf->path);
	store_folder_free_common(f);
	x_free(&mf);
}

/* --- the snapshot --- */

struct refresh {
	struct store_folder *f;
	struct store_changes *ch;
	size_t changed_cap;
	bool inconsistent;
	uint8_t *present; /* full refresh: the old messages found in the index */
	size_t old_count;
};

static void u32_push(uint32_t **v, size_t count, size_t *cap, uint32_t x)
{
	if (count == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = x_reallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[count] = x;
}

static int refresh_row(void *ctx, const struct index_row *r)
{
	struct refresh *rf = ctx;
	struct store_folder *f = rf->f;
	ssize_t idx = store_folder_find(f, r->uid);
	struct store_msg m = {.uid = r->uid, .flags = r->flags, .keywords = r->keywords,
			      .modseq = r->modseq, .internal_date = r->idate, .size = r->size};
	if (idx >= 0) {
		if (rf->present != NULL && (size_t)idx < rf->old_count)
			rf->present[idx] = 1;
		f->msgs[idx] = m;
		if (rf->ch != NULL) {
			u32_push(&rf->ch->changed_uids, rf->ch->changed_count, &rf->changed_cap,
				 r->uid);
			rf->ch->changed_count++;
		}
	} else if (f->count == 0 || r->uid > f->msgs[f->count - 1].uid) {
		store_folder_push(f, &m);
		if (rf->ch != NULL)
			rf->ch->new_count++;
	} else {
		rf->inconsistent = true;
	}
	return 0;
}

static int refresh_expunged(void *ctx, uint32_t uid, const char *base)
{
	struct refresh *rf = ctx;
	ssize_t idx = store_folder_find(rf->f, uid);
	if (idx >= 0)
		rf->f->msgs[idx].uid = 0; /* removed below */
	return 0;
}

/* Drops the messages marked with UID 0, noting their UIDs and old sequence numbers. */
static void refresh_compact(struct store_folder *f, uint32_t *old_uids,
			    struct store_changes *ch)
{
	size_t out = 0, cap = 0, cap2 = 0;
	for (size_t i = 0; i < f->count; i++) {
		if (f->msgs[i].uid != 0) {
			f->msgs[out++] = f->msgs[i];
			continue;
		}
		if (ch == NULL)
			continue;
		u32_push(&ch->expunged_uids, ch->expunged_count, &cap, old_uids[i]);
		u32_push(&ch->expunged_seqs, ch->expunged_count, &cap2, (uint32_t)i + 1);
		ch->expunged_count++;
	}
	f->count = out;
}

/* After the index was replaced: compare every message (modseqs mean nothing now). */
static int maildir_refresh_full(struct maildir_folder *mf, struct store_changes *ch,
				struct buf *err)
{
	struct store_folder *f = &mf->f;
	struct refresh rf = {.f = f, .ch = ch, .old_count = f->count};
	rf.present = x_calloc(f->count, 1);
	uint32_t *old_uids = x_calloc(f->count, sizeof(uint32_t));
	for (size_t i = 0; i < f->count; i++)
		old_uids[i] = f->msgs[i].uid;
	int r = index_scan(mf->ix, 0, refresh_row, &rf, err);
	for (size_t i = 0; i < rf.old_count; i++)
		if (!rf.present[i])
			f->msgs[i].uid = 0;
	refresh_compact(f, old_uids, ch);
	x_free(&old_uids);
	x_free(&rf.present);
	if (r < 0)
		return -1;
	mf->full_refresh = false;
	f->uidnext = (uint32_t)index_meta(mf->ix, "uidnext");
	f->highestmodseq = (uint64_t)index_meta(mf->ix, "highestmodseq");
	if (rf.inconsistent && ch != NULL)
		ch->uidvalidity_changed = true;
	return 0;
}

/* Brings the snapshot to the index's state (in the lock, after a catch-up). */
static int maildir_refresh(struct maildir_folder *mf, struct store_changes *ch,
			   struct buf *err)
{
	struct store_folder *f = &mf->f;
	uint32_t uidvalidity = (uint32_t)index_meta(mf->ix, "uidvalidity");
	uint64_t hms = (uint64_t)index_meta(mf->ix, "highestmodseq");
	struct refresh rf = {.f = f, .ch = ch};
	if (f->count > 0 && uidvalidity != f->uidvalidity)
		rf.inconsistent = true;
	if (mf->full_refresh && !rf.inconsistent && f->count > 0)
		return maildir_refresh_full(mf, ch, err);
	if (!rf.inconsistent && hms != f->highestmodseq && f->count > 0) {
		uint32_t *old_uids = x_calloc(f->count, sizeof(uint32_t));
		for (size_t i = 0; i < f->count; i++)
			old_uids[i] = f->msgs[i].uid;
		int r = index_scan_expunged(mf->ix, f->highestmodseq, refresh_expunged, &rf, err);
		refresh_compact(f, old_uids, ch);
		x_free(&old_uids);
		if (r < 0)
			return -1;
	}
	if (!rf.inconsistent && hms != f->highestmodseq &&
	    index_scan(mf->ix, f->highestmodseq, refresh_row, &rf, err) < 0)
		return -1;
	if (rf.inconsistent) { /* a new index with other UIDs: start over */
		if (ch != NULL) {
			store_changes_free(ch);
			ch->uidvalidity_changed = true;
		}
		f->count = 0;
		rf.ch = NULL;
		if (index_scan(mf->ix, 0, refresh_row, &rf, err) < 0)
			return -1;
	}
	f->uidvalidity = uidvalidity;
	f->uidnext = (uint32_t)index_meta(mf->ix, "uidnext");
	f->highestmodseq = hms;
	return 0;
}

static int maildir_sync(struct store_folder *f, struct store_changes *ch, struct buf *err)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	if (maildir_lock(mf, false, err) < 0)
		return -1;
	return maildir_unlock(mf, maildir_refresh(mf, ch, err), err);
}

int maildir_folder_open(struct store *store, const char *name, const char *path,
			struct store_folder **f_r, struct buf *err)
{
	struct maildir_folder *mf = X_NEW(struct maildir_folder);
	mf->f.v = &maildir_folder_vfuncs;
	mf->f.store = store;
	mf->f.name = x_strdup(name);
	mf->path = x_strdup(path);
	struct stat st;
	char *cur = x_asprintf("%s/cur", path);
	int r = stat(cur, &st);
	x_free(&cur);
	if (r < 0) {
		store_err(err, "no folder %s", name);
		maildir_folder_close(&mf->f);
		return -1;
	}
	maildir_clean_tmp(mf);
	if (maildir_index_attach(mf, err) < 0 || maildir_sync(&mf->f, NULL, err) < 0) {
		maildir_folder_close(&mf->f);
		return -1;
	}
	*f_r = &mf->f;
	return 0;
}

/* --- messages --- */

int maildir_locate(struct maildir_folder *mf, uint32_t uid, struct index_row *row,
		   char **path_r, bool locked, struct buf *err)
{
	for (int attempt = 0;; attempt++) {
		int found = index_get(mf->ix, uid, row, &mf->scratch, err);
		if (found <= 0)
			return found;
		*path_r = maildir_path(mf, row->dir, row->fname);
		if (attempt == 1 || access(*path_r, F_OK) == 0)
			return 1;
		x_free(path_r);
		if (locked) {
			if (maildir_catchup(mf, true, err) < 0)
				return -1;
		} else if (maildir_lock(mf, true, err) < 0 || maildir_unlock(mf, 0, err) < 0) {
			return -1;
		}
	}
}

static int maildir_msg_open(struct store_folder *f, uint32_t uid, struct store_msg_stream *s,
			    struct buf *err)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	struct index_row row;
	char *path;
	int found = maildir_locate(mf, uid, &row, &path, false, err);
	if (found <= 0)
		return found < 0 ? -1 : store_err(err, "expunged");
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (s->fd < 0 || fstat(s->fd, &st) < 0) {
		store_err_errno(err, "open", path);
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		x_free(&path);
		return -1;
	}
	x_free(&path);
	s->offset = 0;
	s->length = (uint64_t)st.st_size;
	return 0;
}

static int maildir_msg_vsize(struct store_folder *f, uint32_t uid, uint64_t *vsize_r,
			     struct buf *err)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	if (index_vsize_get(mf->ix, uid, vsize_r, err) < 0)
		return -1;
	if (*vsize_r != 0)
		return 0;
	struct store_msg_stream s;
	if (maildir_msg_open(f, uid, &s, err) < 0)
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

static int maildir_cache_get(struct store_folder *f, uint32_t uid, struct buf *out,
			     struct buf *err)
{
	return index_cache_get(((struct maildir_folder *)f)->ix, uid, out, err);
}

static int maildir_cache_put(struct store_folder *f, uint32_t uid, const void *data,
			     size_t len, struct buf *err)
{
	return index_cache_put(((struct maildir_folder *)f)->ix, uid, data, len, err);
}

static uint32_t flags_apply(uint32_t old, enum store_flags_op op, uint32_t v)
{
	return op == STORE_FLAGS_ADD ? old | v : op == STORE_FLAGS_REMOVE ? old & ~v : v;
}

/* Renames one message to its new flags (in the lock). */
static int set_flags_one(struct maildir_folder *mf, uint32_t uid, enum store_flags_op op,
			 uint32_t flags, uint32_t keywords, uint64_t modseq, struct buf *err)
{
	struct index_row row;
	char *from;
	int found = maildir_locate(mf, uid, &row, &from, true, err);
	if (found <= 0)
		return found;
	uint32_t nf = flags_apply(row.flags, op, flags), nk = flags_apply(row.keywords, op, keywords);
	int ret = 0;
	if (nf != row.flags || nk != row.keywords) {
		struct buf name = BUF_INIT;
		size_t baselen = strlen(row.base);
		maildir_name_format(&name, row.base, baselen, nf, nk);
		char *to = maildir_path(mf, 1, name.data);
		struct index_row up = {.uid = uid, .fname = name.data, .dir = 1, .flags = nf,
				       .keywords = nk, .modseq = modseq};
		if (rename(from, to) < 0)
			ret = store_err_errno(err, "rename", from);
		else if (index_update(mf->ix, &up, err) < 0)
			ret = -1;
		if (ret == 0) {
			maildir_map_put(&mf->map, name.data, baselen, uid, 1);
			ssize_t idx = store_folder_find(&mf->f, uid);
			if (idx >= 0) {
				mf->f.msgs[idx].flags = nf;
				mf->f.msgs[idx].keywords = nk;
				mf->f.msgs[idx].modseq = modseq;
			}
			ret = 1;
		}
		x_free(&to);
		buf_free(&name);
	}
	x_free(&from);
	return ret;
}

static int maildir_set_flags(struct store_folder *f, const uint32_t *uids, size_t count,
			     enum store_flags_op op, uint32_t flags, uint32_t keywords,
			     struct buf *err)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	if (maildir_lock(mf, false, err) < 0)
		return -1;
	uint64_t modseq = (uint64_t)index_meta(mf->ix, "highestmodseq") + 1;
	bool changed = false;
	int ret = 0;
	for (size_t i = 0; i < count && ret >= 0; i++) {
		ret = set_flags_one(mf, uids[i], op, flags, keywords, modseq, err);
		changed |= ret > 0;
	}
	if (ret >= 0 && changed) {
		ret = index_meta_set(mf->ix, "highestmodseq", (int64_t)modseq, err);
		mf->map_modseq = modseq;
	}
	return maildir_unlock(mf, ret < 0 ? -1 : 0, err);
}

static int expunge_collect(void *ctx, const struct index_row *r)
{
	struct refresh *rf = ctx; /* reuses changed_uids as a plain list */
	if (r->flags & STORE_FLAG_DELETED) {
		u32_push(&rf->ch->changed_uids, rf->ch->changed_count, &rf->changed_cap, r->uid);
		rf->ch->changed_count++;
	}
	return 0;
}

static int expunge_one(struct maildir_folder *mf, uint32_t uid, uint64_t modseq,
		       struct buf *err)
{
	struct index_row row;
	char *path;
	int found = maildir_locate(mf, uid, &row, &path, true, err);
	if (found <= 0)
		return found;
	int ret = 0;
	if (row.flags & STORE_FLAG_DELETED) {
		if (unlink(path) < 0 && errno != ENOENT)
			ret = store_err_errno(err, "remove", path);
		else if (index_delete(mf->ix, uid, row.base, modseq, err) < 0)
			ret = -1;
		struct maildir_entry *e = maildir_map_find(&mf->map, row.base, strlen(row.base));
		if (ret == 0 && e != NULL)
			maildir_map_remove(&mf->map, e);
		if (ret == 0)
			ret = 1;
	}
	x_free(&path);
	return ret;
}

static int maildir_expunge(struct store_folder *f, const uint32_t *uids, size_t count,
			   struct buf *err)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	if (maildir_lock(mf, false, err) < 0)
		return -1;
	struct store_changes all = {0};
	struct refresh rf = {.f = f, .ch = &all};
	int ret = 0;
	if (uids == NULL) {
		ret = index_scan(mf->ix, 0, expunge_collect, &rf, err);
		uids = all.changed_uids;
		count = all.changed_count;
	}
	uint64_t modseq = (uint64_t)index_meta(mf->ix, "highestmodseq") + 1;
	bool changed = false;
	for (size_t i = 0; i < count && ret >= 0; i++) {
		ret = expunge_one(mf, uids[i], modseq, err);
		changed |= ret > 0;
	}
	if (ret >= 0 && changed) {
		ret = index_meta_set(mf->ix, "highestmodseq", (int64_t)modseq, err);
		mf->map_modseq = modseq;
	}
	store_changes_free(&all);
	return maildir_unlock(mf, ret < 0 ? -1 : 0, err);
}

int maildir_folder_deliver(struct maildir_folder *mf, const char *tmp_path, const char *base,
			   uint64_t size, int64_t idate, uint32_t flags, uint32_t keywords,
			   uint32_t *uid_r, struct buf *err)
{
	if (maildir_lock(mf, false, err) < 0)
		return -1;
	int r = maildir_deliver_tmp(mf, tmp_path, base, size, idate, flags, keywords, uid_r, err);
	return maildir_unlock(mf, r, err);
}

const struct store_folder_vfuncs maildir_folder_vfuncs = {
	.close = maildir_folder_close,
	.sync = maildir_sync,
	.msg_open = maildir_msg_open,
	.msg_vsize = maildir_msg_vsize,
	.cache_get = maildir_cache_get,
	.cache_put = maildir_cache_put,
	.set_flags = maildir_set_flags,
	.keyword_lookup = maildir_keyword_lookup,
	.expunge = maildir_expunge,
	.append_begin = maildir_append_begin,
	.append_write = maildir_append_write,
	.append_commit = maildir_append_commit,
	.append_free = maildir_append_free,
	.copy = maildir_copy,
};
