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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VSIZE_CHUNK 65536
/* A flag change of this many messages or more goes through the map and one index update
 * (set_flags_bulk); fewer are looked up in the index one by one. */
#define FLAGS_BULK_MIN 32
#define MAILDIR_MAP_LAZY_OPENS 128

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
	if (index_new_list_create(mf->ix, err) < 0)
		r = -1;
	else if (index_meta(mf->ix, "uidvalidity") == 0)
		r = maildir_index_init(mf, err);
	else if ((r = maildir_catchup(mf, false, err)) == 0 && mf->map_modseq != 0)
		r = maildir_uidlist_maybe_compact(mf, err); /* only when the map was loaded */
	if (r < 0) {
		index_rollback(mf->ix);
		return -1;
	}
	return index_commit(mf->ix, err);
}

/* Records the internal dates read on demand (in the index lock). */
static int maildir_idates_flush(struct maildir_folder *mf, struct buf *err)
{
	for (size_t i = 0; i < mf->idate_count; i++)
		if (index_idate_set(mf->ix, mf->idates[i].uid, mf->idates[i].idate, err) < 0)
			return -1;
	mf->idate_count = 0;
	return 0;
}

/* Takes the index lock and catches up; reattaches when the index file was replaced.
 * need_map: the caller changes messages, so the base-name map must be complete. */
static int maildir_lock(struct maildir_folder *mf, bool force, bool need_map, struct buf *err)
{
	if (index_replaced(mf->ix)) {
		index_close(&mf->ix);
		if (maildir_index_attach(mf, err) < 0)
			return -1;
		mf->full_refresh = true;
	}
	if (index_begin(mf->ix, err) < 0)
		return -1;
	if (maildir_catchup(mf, force, err) < 0 || maildir_keywords_load(mf, err) < 0 ||
	    maildir_idates_flush(mf, err) < 0 ||
	    (need_map && maildir_map_refresh(mf, err) < 0)) {
		index_rollback(mf->ix);
		return -1;
	}
	return 0;
}

/* store_folder_msg found a date not read yet: the file's mtime. */
static void maildir_msg_idate(struct store_folder *f, struct store_msg *m)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	struct index_row row;
	struct stat st;
	m->internal_date = 0;
	if (index_get(mf->ix, m->uid, &row, &mf->scratch, NULL) <= 0)
		return;
	char *path = maildir_path(mf, row.dir, row.fname);
	int r = stat(path, &st);
	x_free(&path);
	if (r < 0)
		return;
	m->internal_date = st.st_mtim.tv_sec;
	if (mf->idate_count == mf->idate_cap) {
		mf->idate_cap = mf->idate_cap ? mf->idate_cap * 2 : 64;
		mf->idates = x_reallocarray(mf->idates, mf->idate_cap, sizeof(*mf->idates));
	}
	mf->idates[mf->idate_count++] = (struct maildir_idate){m->uid, m->internal_date};
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

static void maildir_msg_release(struct store_folder *f);

static void maildir_folder_close(struct store_folder *f)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	maildir_msg_release(f);
	if (mf->idate_count > 0 && index_begin(mf->ix, NULL) == 0) {
		if (maildir_idates_flush(mf, NULL) < 0 || index_commit(mf->ix, NULL) < 0)
			index_rollback(mf->ix);
	}
	x_free(&mf->idates);
	index_close(&mf->ix);
	maildir_map_free(&mf->map);
	buf_free(&mf->scratch);
	x_free(&mf->path);
	store_folder_free_common(f);
	x_free(&mf);
}

static int maildir_sync(struct store_folder *f, struct store_changes *ch, struct buf *err)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	if (maildir_lock(mf, false, false, err) < 0)
		return -1;
	return maildir_unlock(mf, store_refresh(f, mf->ix, &mf->full_refresh, ch, err), err);
}

/* A folder with its index attached and caught up; snapshot: an index built from nothing
 * fills the snapshot too (else it is empty). */
static int maildir_folder_attach(struct store *store, const char *name, const char *path,
				 bool snapshot, struct maildir_folder **mf_r, struct buf *err)
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
	mf->build_snapshot = snapshot;
	r = maildir_index_attach(mf, err);
	mf->build_snapshot = false;
	if (r < 0) {
		maildir_folder_close(&mf->f);
		return -1;
	}
	*mf_r = mf;
	return 0;
}

int maildir_folder_open(struct store *store, const char *name, const char *path,
			struct store_folder **f_r, struct buf *err)
{
	struct maildir_folder *mf;
	if (maildir_folder_attach(store, name, path, true, &mf, err) < 0)
		return -1;
	maildir_clean_tmp(mf);
	if (maildir_sync(&mf->f, NULL, err) < 0) {
		maildir_folder_close(&mf->f);
		return -1;
	}
	*f_r = &mf->f;
	return 0;
}

int maildir_folder_status(struct store *store, const char *name, const char *path,
			  struct store_folder_status *st_r, struct buf *err)
{
	struct maildir_folder *mf;
	if (maildir_folder_attach(store, name, path, false, &mf, err) < 0)
		return -1;
	int r = index_status(mf->ix, st_r, err);
	maildir_folder_close(&mf->f);
	return r;
}

/* --- messages --- */

int maildir_locate(struct maildir_folder *mf, uint32_t uid, struct index_row *row,
		   char **path_r, bool locked, bool again, struct buf *err)
{
	if (again && locked && maildir_catchup(mf, true, err) < 0)
		return -1;
	if (again && !locked &&
	    (maildir_lock(mf, true, false, err) < 0 || maildir_unlock(mf, 0, err) < 0))
		return -1;
	int found = index_get(mf->ix, uid, row, &mf->scratch, err);
	if (found > 0)
		*path_r = maildir_path(mf, row->dir, row->fname);
	return found;
}

static int maildir_dirfds(struct maildir_folder *mf, int dirfd[2], struct buf *err);

/* Gives back the directories message opens keep (a session going idle, the folder's
 * close). */
static void maildir_msg_release(struct store_folder *f)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	if (mf->msg_dirs_open) {
		close(mf->msg_dir[0]);
		close(mf->msg_dir[1]);
		mf->msg_dirs_open = false;
	}
	if (mf->map_lazy) { /* loaded again when needed */
		maildir_map_free(&mf->map);
		mf->map_modseq = 0;
		mf->map_lazy = false;
		mf->index_opens = 0;
	}
}

/* A session that reads messages one at a time (a client fetching bodies) loads the
 * base-name map after MAILDIR_MAP_LAZY_OPENS opens that asked the index: one scan of the
 * rows instead of a look-up per message from then on (a read transaction and a B-tree
 * search: 12% of the CPU of a one-message FETCH BODY[]). */
static void maildir_map_lazy_load(struct maildir_folder *mf)
{
	if (mf->map_modseq != 0 || mf->hints != NULL ||
	    ++mf->index_opens != MAILDIR_MAP_LAZY_OPENS)
		return;
	if (maildir_map_refresh(mf, NULL) == 0 && mf->map_modseq != 0) {
		mf->map_lazy = true;
	} else {
		maildir_map_free(&mf->map);
		mf->map_modseq = 0;
	}
}

/* Opens a message file, relative to dirfd (AT_FDCWD: path is absolute). O_NOATIME:
 * reading a message is no change to it, and the first read of each (atime not after mtime
 * under relatime) would otherwise write its inode; only the file's owner may ask, so the
 * others read without it. */
static int msg_file_open(struct maildir_folder *mf, int dirfd, const char *path)
{
	int fd = -1;
	if (!mf->atime_needed) {
		fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOATIME);
		if (fd < 0 && errno == EPERM)
			mf->atime_needed = true;
	}
	if (fd < 0 && mf->atime_needed)
		fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	return fd;
}

static int maildir_msg_open_fd(struct store_folder *f, uint32_t uid, struct store_msg_stream *s,
			       bool sized, struct buf *err)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	struct index_row row;
	char *path = NULL;
	/* the first try opens the name relative to new/ or cur/, kept open (the kernel then
	   walks one name, not the whole path); where that fails, the directories are given
	   back and the look-up after a catch-up uses the full path */
	if (!mf->msg_dirs_open && maildir_dirfds(mf, mf->msg_dir, NULL) == 0)
		mf->msg_dirs_open = true;
	/* The base-name map, when loaded (after a directory scan or a change), has the file
	   name without an index look-up (a read transaction and a B-tree search: an eighth of
	   a one-message FETCH). It may be behind the index, but a message's base name is its
	   own: an old name fails with ENOENT and the index is asked as below. */
	struct maildir_entry *e;
	s->fd = -1;
	maildir_map_lazy_load(mf);
	if (mf->msg_dirs_open && mf->map_modseq != 0 &&
	    (e = maildir_map_by_uid(&mf->map, uid)) != NULL)
		s->fd = msg_file_open(mf, mf->msg_dir[e->dir], e->fname);
	for (int attempt = 0; attempt < 2 && s->fd < 0; attempt++) {
		x_free(&path);
		int found = maildir_locate(mf, uid, &row, &path, false, attempt > 0, err);
		if (found <= 0)
			return found < 0 ? -1 : store_err(err, "expunged");
		if (attempt == 0 && mf->msg_dirs_open) {
			s->fd = msg_file_open(mf, mf->msg_dir[row.dir], row.fname);
			if (s->fd < 0 && errno == ENOENT) {
				maildir_msg_release(f);
				errno = ENOENT;
			}
		} else {
			s->fd = msg_file_open(mf, AT_FDCWD, path);
		}
		if (s->fd >= 0 || errno != ENOENT)
			break;
	}
	struct stat st;
	if (s->fd < 0 || (sized && fstat(s->fd, &st) < 0)) {
		store_err_errno(err, "open", path);
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		x_free(&path);
		return -1;
	}
	x_free(&path);
	s->offset = 0;
	s->length = sized ? (uint64_t)st.st_size : STORE_MSG_TO_EOF;
	return 0;
}

static int maildir_msg_open(struct store_folder *f, uint32_t uid, struct store_msg_stream *s,
			    struct buf *err)
{
	return maildir_msg_open_fd(f, uid, s, true, err);
}

static int maildir_msg_open_whole(struct store_folder *f, uint32_t uid,
				  struct store_msg_stream *s, struct buf *err)
{
	return maildir_msg_open_fd(f, uid, s, false, err);
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

static struct index *maildir_index(struct store_folder *f)
{
	return ((struct maildir_folder *)f)->ix;
}

static uint32_t flags_apply(uint32_t old, enum store_flags_op op, uint32_t v)
{
	return op == STORE_FLAGS_ADD ? old | v : op == STORE_FLAGS_REMOVE ? old & ~v : v;
}

/* Gives the snapshot's copy of a message its new flags. */
static void snapshot_set(struct maildir_folder *mf, uint32_t uid, uint32_t flags,
			 uint32_t keywords, uint64_t modseq)
{
	ssize_t idx = store_folder_find(&mf->f, uid);
	if (idx < 0)
		return;
	store_folder_own(&mf->f);
	mf->f.msgs[idx].flags = flags;
	mf->f.msgs[idx].keywords = keywords;
	mf->f.msgs[idx].modseq = modseq;
}

/* Renames one message to its new flags (in the lock), and only when they change: the name
 * comes from the index; a file that is not there any more (renamed by another program) is
 * looked for again after a catch-up. dirfd: new/ and cur/. */
static int set_flags_one(struct maildir_folder *mf, const int dirfd[2], uint32_t uid,
			 enum store_flags_op op, uint32_t flags, uint32_t keywords, uint64_t modseq,
			 struct buf *err)
{
	struct index_row row;
	char *from = NULL;
	uint32_t nf = 0, nk = 0;
	struct buf name = BUF_INIT;
	int ret = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		x_free(&from);
		int found = maildir_locate(mf, uid, &row, &from, true, attempt > 0, err);
		if (found <= 0) {
			buf_free(&name);
			return found;
		}
		nf = flags_apply(row.flags, op, flags);
		nk = flags_apply(row.keywords, op, keywords);
		if (nf == row.flags && nk == row.keywords)
			break;
		buf_reset(&name);
		maildir_name_format(&name, row.base, strlen(row.base), nf, nk);
		ret = renameat(dirfd[row.dir], row.fname, dirfd[1], name.data);
		if (ret == 0 || errno != ENOENT)
			break;
	}
	if (ret < 0)
		ret = store_err_errno(err, "rename", from);
	if (ret == 0 && (nf != row.flags || nk != row.keywords)) {
		size_t baselen = strlen(row.base);
		struct index_row up = {.uid = uid, .fname = name.data, .dir = 1, .flags = nf,
				       .keywords = nk, .modseq = modseq};
		if (index_update(mf->ix, &up, err) < 0)
			ret = -1;
		if (ret == 0) {
			maildir_map_put(&mf->map, name.data, baselen, uid, 1);
			snapshot_set(mf, uid, nf, nk, modseq);
			ret = 1;
		}
	}
	buf_free(&name);
	x_free(&from);
	return ret;
}

/* The map's messages by UID (the map is keyed by base name): a table indexed by UID when
 * the UIDs are dense (the usual case: no sort), else sorted pairs searched. */
struct uid_entry {
	uint32_t uid;
	struct maildir_entry *e;
};
struct uid_index {
	struct maildir_entry **direct; /* [uid], up to max */
	uint32_t max;
	struct uid_entry *sorted;
	size_t count;
};

static int uid_entry_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct uid_entry *)a)->uid, y = ((const struct uid_entry *)b)->uid;
	return x < y ? -1 : x > y;
}

static void uid_index_make(struct uid_index *ui, struct maildir_map *m)
{
	*ui = (struct uid_index){0};
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].state == 1 && m->slots[i].uid > ui->max)
			ui->max = m->slots[i].uid;
	if (ui->max <= 4 * m->used + 1024) {
		ui->direct = x_calloc((size_t)ui->max + 1, sizeof(*ui->direct));
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].state == 1)
				ui->direct[m->slots[i].uid] = &m->slots[i];
		return;
	}
	ui->sorted = x_reallocarray(NULL, m->used + 1, sizeof(*ui->sorted));
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].state == 1)
			ui->sorted[ui->count++] = (struct uid_entry){m->slots[i].uid, &m->slots[i]};
	qsort(ui->sorted, ui->count, sizeof(*ui->sorted), uid_entry_cmp);
}

static struct maildir_entry *uid_index_find(const struct uid_index *ui, uint32_t uid)
{
	if (ui->direct != NULL)
		return uid <= ui->max ? ui->direct[uid] : NULL;
	struct uid_entry key = {.uid = uid};
	struct uid_entry *ue = bsearch(&key, ui->sorted, ui->count, sizeof(key), uid_entry_cmp);
	return ue != NULL ? ue->e : NULL;
}

static void uid_index_free(struct uid_index *ui)
{
	x_free(&ui->direct);
	x_free(&ui->sorted);
}

/* Many messages (STORE 1:*): each found in the map, whose file name says its flags (no
 * index lookup), renamed relative to new/ and cur/ in the order given (UIDs: the order of
 * the names), and all rows updated with one statement (index_update_rows, which leaves the
 * totals to us). A file renamed by another program since the catch-up (ENOENT) is done
 * again one by one afterwards, after reading the directories. 1: something changed. */
static int set_flags_bulk(struct maildir_folder *mf, const int dirfd[2], const uint32_t *uids,
			  size_t count, enum store_flags_op op, uint32_t flags, uint32_t keywords,
			  uint64_t modseq, struct buf *err)
{
	struct uid_index byuid;
	uid_index_make(&byuid, &mf->map);
	struct index_row *rows = x_reallocarray(NULL, count, sizeof(*rows));
	uint32_t *retry = NULL;
	size_t nrows = 0, retry_count = 0, retry_cap = 0;
	int64_t unseen_delta = 0;
	struct buf name = BUF_INIT;
	int ret = 0;
	for (size_t i = 0; i < count; i++) {
		struct maildir_entry *e = uid_index_find(&byuid, uids[i]);
		if (e == NULL)
			continue; /* expunged */
		struct maildir_name old;
		maildir_name_parse(e->fname, &old);
		uint32_t nf = flags_apply(old.flags, op, flags);
		uint32_t nk = flags_apply(old.keywords, op, keywords);
		if (nf == old.flags && nk == old.keywords)
			continue;
		buf_reset(&name);
		maildir_name_format(&name, e->fname, e->baselen, nf, nk);
		if (renameat(dirfd[e->dir], e->fname, dirfd[1], name.data) < 0) {
			if (errno != ENOENT) {
				ret = store_err_errno(err, "rename", e->fname);
				break;
			}
			store_u32_push(&retry, retry_count++, &retry_cap, uids[i]);
			continue;
		}
		maildir_map_rename(e, name.data, 1);
		rows[nrows++] = (struct index_row){.uid = uids[i], .fname = e->fname, .dir = 1,
						   .flags = nf, .keywords = nk, .modseq = modseq};
		unseen_delta += ((nf & STORE_FLAG_SEEN) == 0) - ((old.flags & STORE_FLAG_SEEN) == 0);
	}
	buf_free(&name);
	uid_index_free(&byuid);
	if (ret == 0 && nrows > 0)
		ret = index_update_rows(mf->ix, rows, nrows, unseen_delta, err);
	for (size_t i = 0; ret == 0 && i < nrows; i++)
		snapshot_set(mf, rows[i].uid, rows[i].flags, rows[i].keywords, modseq);
	bool changed = nrows > 0;
	for (size_t i = 0; ret >= 0 && i < retry_count; i++) {
		ret = set_flags_one(mf, dirfd, retry[i], op, flags, keywords, modseq, err);
		changed |= ret > 0;
	}
	x_free(&rows);
	x_free(&retry);
	return ret < 0 ? -1 : changed;
}

/* new/ and cur/ open as directories (renames relative to them walk no path); -1 on error. */
static int maildir_dirfds(struct maildir_folder *mf, int dirfd[2], struct buf *err)
{
	for (int dir = 0; dir < 2; dir++) {
		char *path = maildir_path(mf, dir, "");
		dirfd[dir] = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd[dir] < 0)
			store_err_errno(err, "open", path);
		x_free(&path);
		if (dirfd[dir] < 0) {
			if (dir == 1)
				close(dirfd[0]);
			return -1;
		}
	}
	return 0;
}

static int maildir_set_flags(struct store_folder *f, const uint32_t *uids, size_t count,
			     enum store_flags_op op, uint32_t flags, uint32_t keywords,
			     struct buf *err)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	if (maildir_lock(mf, false, true, err) < 0)
		return -1;
	uint64_t hms = (uint64_t)index_meta(mf->ix, "highestmodseq"), modseq = hms + 1;
	/* the snapshot is the index's state: after our changes it is the new state */
	bool current = !mf->full_refresh && f->highestmodseq == hms &&
		       f->uidvalidity == (uint32_t)index_meta(mf->ix, "uidvalidity");
	bool changed = false;
	int dirfd[2];
	if (maildir_dirfds(mf, dirfd, err) < 0)
		return maildir_unlock(mf, -1, err);
	int ret = 0;
	if (count >= FLAGS_BULK_MIN) {
		ret = set_flags_bulk(mf, dirfd, uids, count, op, flags, keywords, modseq, err);
		changed = ret > 0;
	}
	for (size_t i = 0; count < FLAGS_BULK_MIN && i < count && ret >= 0; i++) {
		ret = set_flags_one(mf, dirfd, uids[i], op, flags, keywords, modseq, err);
		changed |= ret > 0;
	}
	close(dirfd[0]);
	close(dirfd[1]);
	/* a catch-up on the way (a file renamed by another program) changed more than ours */
	current &= (uint64_t)index_meta(mf->ix, "highestmodseq") == hms;
	if (ret >= 0 && changed) {
		ret = index_meta_set(mf->ix, "highestmodseq", (int64_t)modseq, err);
		mf->map_modseq = modseq;
	}
	ret = maildir_unlock(mf, ret < 0 ? -1 : 0, err);
	if (ret < 0) {
		/* the files may have their new names and the index not: read the map again from
		   the index, and compare the whole snapshot at the next sync */
		maildir_map_free(&mf->map);
		mf->map_modseq = 0;
		mf->full_refresh = true;
	} else if (current && changed) {
		f->highestmodseq = modseq;
	}
	return ret;
}

static int expunge_one(struct maildir_folder *mf, uint32_t uid, uint64_t modseq,
		       struct buf *err)
{
	struct index_row row;
	char *path = NULL;
	int ret = 0, found;
	/* a file renamed by another program meanwhile is looked for again (not forgotten) */
	for (int attempt = 0; attempt < 2; attempt++) {
		x_free(&path);
		if ((found = maildir_locate(mf, uid, &row, &path, true, attempt > 0, err)) <= 0)
			return found;
		if ((row.flags & STORE_FLAG_DELETED) == 0)
			break;
		if ((ret = unlink(path)) == 0 || errno != ENOENT)
			break;
		ret = 0; /* gone: the index forgets it */
	}
	if (row.flags & STORE_FLAG_DELETED) {
		if (ret < 0)
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
	if (maildir_lock(mf, false, true, err) < 0)
		return -1;
	uint32_t *all = NULL;
	int ret = 0;
	if (uids == NULL) {
		ret = store_refresh_deleted(mf->ix, &all, &count, err);
		uids = all;
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
	x_free(&all);
	return maildir_unlock(mf, ret < 0 ? -1 : 0, err);
}

int maildir_folder_deliver(struct maildir_folder *mf, const char *tmp_path, const char *base,
			   uint64_t size, int64_t idate, uint32_t flags, uint32_t keywords,
			   uint32_t *uid_r, struct buf *err)
{
	if (maildir_lock(mf, false, true, err) < 0)
		return -1;
	int r = maildir_deliver_tmp(mf, tmp_path, base, size, idate, flags, keywords, uid_r, err);
	return maildir_unlock(mf, r, err);
}

const struct store_folder_vfuncs maildir_folder_vfuncs = {
	.close = maildir_folder_close,
	.sync = maildir_sync,
	.msg_open = maildir_msg_open,
	.msg_open_whole = maildir_msg_open_whole,
	.msg_vsize = maildir_msg_vsize,
	.msg_idate = maildir_msg_idate,
	.msg_release = maildir_msg_release,
	.index = maildir_index,
	.set_flags = maildir_set_flags,
	.keyword_lookup = maildir_keyword_lookup,
	.expunge = maildir_expunge,
	.append_begin = maildir_append_begin,
	.append_write = maildir_append_write,
	.append_commit = maildir_append_commit,
	.append_free = maildir_append_free,
	.copy = maildir_copy,
};
