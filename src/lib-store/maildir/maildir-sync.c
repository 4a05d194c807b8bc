/* maildir-sync: catching the index up with new/ and cur/ (run with the index lock held).
 *
 * The modification times of new/ and cur/ are recorded in the index; a directory is read
 * only when its time changed, or when it was changed less than a second before it was
 * last read (a change in the same clock tick would not move the time). Each name is looked
 * up in the base-name map: unknown names get the next UIDs (or their old ones from the
 * uidlist while rebuilding), renamed ones get their new flags, missing ones are expunged.
 */
#include "maildir-private.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAILDIR_MTIME_SETTLE_NS 1000000000LL
#define MAILDIR_MTIME_DIRTY (-1)

static const char *const maildir_dirs[2] = {"new", "cur"};
static const char *const maildir_mtime_keys[2] = {"new_mtime", "cur_mtime"};

/* Rows inserted with one statement (index_insert_rows); fewer go one by one. */
#define SCAN_CHUNK 4096
#define SCAN_CHUNK_MIN 8

/* A file a scan found that the index does not know. */
struct maildir_new {
	uint64_t key; /* the first 8 bytes of the base, big-endian: most comparisons end here */
	size_t off;   /* its name in the scan's names */
	uint16_t baselen;
	uint8_t dir;
};

struct maildir_scan {
	struct maildir_folder *mf;
	bool light;	  /* only new/ is read and the map holds only its messages */
	struct buf row;	  /* light: a row looked up by base */
	uint64_t modseq;  /* 0 until something changes */
	struct maildir_new *news;
	size_t news_count, news_cap;
	struct buf names; /* the new files' names, each with its NUL: one allocation for all */
	struct index_row *rows; /* new rows waiting to be inserted (SCAN_CHUNK) */
	bool *hinted;		/* rows[i]'s UID came from the uidlist */
	size_t row_count;
	struct buf uidlist; /* lines to append */
	int dirfd[2]; /* new/ and cur/, open while new files are added */
};

char *maildir_path(struct maildir_folder *mf, int dir, const char *fname)
{
	return x_asprintf("%s/%s/%s", mf->path, maildir_dirs[dir], fname);
}

static uint64_t scan_modseq(struct maildir_scan *sc)
{
	if (sc->modseq == 0)
		sc->modseq = (uint64_t)index_meta(sc->mf->ix, "highestmodseq") + 1;
	return sc->modseq;
}

static int map_refresh_row(void *ctx, const struct index_row *r)
{
	struct maildir_folder *mf = ctx;
	maildir_map_put(&mf->map, r->fname, strlen(r->base), r->uid, r->dir);
	return 0;
}

static int map_refresh_expunged(void *ctx, uint32_t uid, const char *base)
{
	struct maildir_folder *mf = ctx;
	struct maildir_entry *e = maildir_map_find(&mf->map, base, strlen(base));
	if (e != NULL && e->uid == uid)
		maildir_map_remove(&mf->map, e);
	return 0;
}

int maildir_map_refresh(struct maildir_folder *mf, struct buf *err)
{
	uint64_t hms = (uint64_t)index_meta(mf->ix, "highestmodseq");
	if (hms == mf->map_modseq)
		return 0;
	if (mf->map_modseq > 0 &&
	    index_scan_expunged(mf->ix, mf->map_modseq, map_refresh_expunged, mf, err) < 0)
		return -1;
	if (index_scan(mf->ix, mf->map_modseq, map_refresh_row, mf, err) < 0)
		return -1;
	mf->map_modseq = hms;
	return 0;
}

/* A file whose name is known: note it as seen, and its new flags if renamed. */
static int scan_known(struct maildir_scan *sc, struct maildir_entry *e, int dir,
		      const char *fname, struct buf *err)
{
	e->seen = true;
	if (e->dir == dir && strcmp(e->fname, fname) == 0)
		return 0;
	struct maildir_name n;
	maildir_name_parse(fname, &n);
	struct index_row r = {.uid = e->uid, .fname = fname, .dir = dir, .flags = n.flags,
			      .keywords = n.keywords, .modseq = scan_modseq(sc)};
	if (index_update(sc->mf->ix, &r, err) < 0)
		return -1;
	e = maildir_map_put(&sc->mf->map, fname, n.baselen, e->uid, dir);
	e->seen = true;
	return 0;
}

/* Light scan: a name not among the map's new/ messages may still be indexed (in cur/). */
static int scan_lookup(struct maildir_scan *sc, const char *fname, size_t baselen,
		       struct maildir_entry **e_r, struct buf *err)
{
	struct index_row r;
	int found = index_get_base(sc->mf->ix, fname, baselen, &r, &sc->row, err);
	if (found > 0)
		*e_r = maildir_map_put(&sc->mf->map, r.fname, baselen, r.uid, r.dir);
	return found < 0 ? -1 : 0;
}

/* Light scan: the map gets the messages the index has in new/ only. */
static int map_load_new(struct maildir_folder *mf, struct buf *err)
{
	maildir_map_free(&mf->map);
	return index_scan(mf->ix, INDEX_SCAN_NEW, map_refresh_row, mf, err);
}

static int scan_dir(struct maildir_scan *sc, int dir, struct buf *err)
{
	char *path = x_asprintf("%s/%s", sc->mf->path, maildir_dirs[dir]);
	DIR *d = opendir(path);
	if (d == NULL) {
		store_err_errno(err, "open", path);
		x_free(&path);
		return -1;
	}
	int ret = 0;
	struct dirent *de;
	while (ret == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (de->d_type == DT_DIR)
			continue;
		/* a name the map has as it is (every name but the changed ones, after a flag
		   change renamed many): found without parsing it */
		const char *colon = strchr(de->d_name, ':');
		size_t blen = colon != NULL ? (size_t)(colon - de->d_name) : strlen(de->d_name);
		struct maildir_entry *e =
		    blen > 0 && de->d_name[0] != '.'
			? maildir_map_find(&sc->mf->map, de->d_name, blen)
			: NULL;
		if (e != NULL && !e->seen && e->dir == dir && strcmp(e->fname, de->d_name) == 0) {
			e->seen = true;
			continue;
		}
		size_t baselen; /* the rest of the name is parsed when it is used */
		if (!maildir_name_base(de->d_name, &baselen))
			continue;
		if (e == NULL && sc->light && scan_lookup(sc, de->d_name, baselen, &e, err) < 0) {
			ret = -1;
			continue;
		}
		if (e != NULL && e->seen)
			continue; /* the same message twice (moved while we read): once is enough */
		if (e != NULL) {
			ret = scan_known(sc, e, dir, de->d_name, err);
			continue;
		}
		if (sc->news_count == sc->news_cap) {
			sc->news_cap = sc->news_cap ? sc->news_cap * 2 : 16;
			sc->news = x_reallocarray(sc->news, sc->news_cap, sizeof(*sc->news));
		}
		uint64_t key = 0;
		for (size_t i = 0; i < 8; i++)
			key = key << 8 | (i < baselen ? (unsigned char)de->d_name[i] : 0u);
		sc->news[sc->news_count++] = (struct maildir_new){
		    .key = key, .off = sc->names.len, .baselen = (uint16_t)baselen,
		    .dir = (uint8_t)dir};
		buf_append(&sc->names, de->d_name, strlen(de->d_name) + 1);
	}
	if (ret == 0 && errno != 0)
		ret = store_err_errno(err, "read", path);
	closedir(d);
	x_free(&path);
	return ret;
}

/* Messages of the scanned directories that were not found are gone. */
static int scan_vanished(struct maildir_scan *sc, const bool scanned[2], struct buf *err)
{
	struct maildir_map *m = &sc->mf->map;
	for (size_t i = 0; i < m->cap; i++) {
		struct maildir_entry *e = &m->slots[i];
		if (e->state != 1)
			continue;
		if (e->seen || !scanned[e->dir]) {
			e->seen = false;
			continue;
		}
		char *base = x_strndup(e->fname, e->baselen);
		int r = index_delete(sc->mf->ix, e->uid, base, scan_modseq(sc), err);
		x_free(&base);
		if (r < 0)
			return -1;
		maildir_map_remove(m, e);
	}
	return 0;
}

/* New files in the order of their bases (the order their UIDs follow), a base found twice
 * (moved from new/ to cur/ between the two reads) with its cur/ file first. */
static int news_cmp(const void *a, const void *b, void *names)
{
	const struct maildir_new *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	size_t len = x->baselen < y->baselen ? x->baselen : y->baselen;
	int c = memcmp((const char *)names + x->off, (const char *)names + y->off, len);
	if (c == 0)
		c = (x->baselen > y->baselen) - (x->baselen < y->baselen);
	return c != 0 ? c : (int)y->dir - (int)x->dir;
}

static bool news_same_base(const struct maildir_scan *sc, const struct maildir_new *x,
			   const struct maildir_new *y)
{
	return x->key == y->key && x->baselen == y->baselen &&
	       memcmp(sc->names.data + x->off, sc->names.data + y->off, x->baselen) == 0;
}

/* Sorts the new files in news_cmp's order: a radix sort on the keys (the bytes that are the
 * same in every key cost nothing), then each run of equal keys by news_cmp. For 100,000
 * names, a tenth of what qsort with news_cmp costs. */
static void news_sort(struct maildir_scan *sc)
{
	size_t n = sc->news_count;
	struct maildir_new *a = sc->news, *b = x_reallocarray(NULL, n, sizeof(*b));
	size_t count[8][256] = {{0}};
	for (size_t i = 0; i < n; i++)
		for (unsigned byte = 0; byte < 8; byte++)
			count[byte][(a[i].key >> (8 * byte)) & 0xff]++;
	for (unsigned byte = 0; byte < 8; byte++) { /* least significant first, stable */
		size_t *c = count[byte];
		if (c[(a[0].key >> (8 * byte)) & 0xff] == n)
			continue;
		for (size_t v = 0, pos = 0; v < 256; v++) {
			size_t k = c[v];
			c[v] = pos;
			pos += k;
		}
		for (size_t i = 0; i < n; i++)
			b[c[(a[i].key >> (8 * byte)) & 0xff]++] = a[i];
		struct maildir_new *t = a;
		a = b;
		b = t;
	}
	struct maildir_new *spare = a == sc->news ? b : a;
	if (a != sc->news)
		memcpy(sc->news, a, n * sizeof(*a));
	x_free(&spare);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && sc->news[j].key == sc->news[i].key; j++)
			;
		if (j - i > 1)
			qsort_r(sc->news + i, j - i, sizeof(*sc->news), news_cmp, sc->names.data);
	}
	/* the names in the same order: what follows reads them one after the other, not
	   scattered over the buffer in the directory's (hash) order */
	struct buf sorted = BUF_INIT;
	buf_reserve(&sorted, sc->names.len);
	for (size_t i = 0; i < n; i++) {
		const char *name = sc->names.data + sc->news[i].off;
		sc->news[i].off = sorted.len;
		buf_append(&sorted, name, strlen(name) + 1);
	}
	buf_free(&sc->names);
	sc->names = sorted;
}

/* A build from nothing on open: the snapshot as the rows are made (sorted at the end), so
 * the open does not read them all back. */
static void build_push(struct store_folder *f, const struct index_row *r, size_t expect)
{
	if (f->count == f->cap) {
		f->cap = f->cap ? f->cap * 2 : expect > 1024 ? expect : 1024;
		f->msgs = x_reallocarray(f->msgs, f->cap, sizeof(*f->msgs));
	}
	f->msgs[f->count++] = (struct store_msg){.uid = r->uid,
						 .flags = r->flags,
						 .keywords = r->keywords,
						 .modseq = r->modseq,
						 .internal_date = r->idate,
						 .size = r->size};
}

static int build_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct store_msg *)a)->uid, y = ((const struct store_msg *)b)->uid;
	return x < y ? -1 : x > y;
}

/* The snapshot built with the index: sorted, with the index's state (in its lock). */
static void build_finish(struct maildir_folder *mf, int r)
{
	struct store_folder *f = &mf->f;
	if (r < 0) {
		f->count = 0;
		return;
	}
	size_t sorted = f->count > 0; /* f->msgs is NULL for an empty folder */
	while (sorted < f->count && f->msgs[sorted - 1].uid < f->msgs[sorted].uid)
		sorted++; /* UIDs handed out in name order need no sort (no uidlist to follow) */
	if (sorted < f->count)
		qsort(f->msgs, f->count, sizeof(*f->msgs), build_cmp);
	f->uidvalidity = (uint32_t)index_meta(mf->ix, "uidvalidity");
	f->uidnext = (uint32_t)index_meta(mf->ix, "uidnext");
	f->highestmodseq = (uint64_t)index_meta(mf->ix, "highestmodseq");
}

/* Appends "UID BASE\n" (no printf: a rebuild writes 100,000 of them). */
static void uidlist_line(struct buf *out, uint32_t uid, const char *base, size_t len)
{
	char digits[10];
	size_t n = 0;
	do
		digits[n++] = (char)('0' + uid % 10);
	while ((uid /= 10) != 0);
	char *p = buf_reserve(out, n + len + 2);
	out->len += n + len + 2;
	while (n > 0)
		*p++ = digits[--n];
	*p++ = ' ';
	memcpy(p, base, len);
	p[len] = '\n';
	p[len + 1] = '\0';
}

/* Gives one new file its UID (its old one while rebuilding, when the uidlist knows it) and
 * its row, to be inserted with the next chunk. */
static void scan_add(struct maildir_scan *sc, const struct maildir_new *nw, uint32_t *uidnext)
{
	struct maildir_folder *mf = sc->mf;
	const char *fname = sc->names.data + nw->off;
	struct maildir_name n;
	maildir_name_parse(fname, &n);
	/* Rebuilding, a name with its size needs no stat: the date is read when needed. */
	struct stat st = {.st_mtim.tv_sec = STORE_IDATE_UNKNOWN};
	if ((mf->hints == NULL || !n.has_size) && fstatat(sc->dirfd[nw->dir], fname, &st, 0) < 0)
		return; /* gone again already */
	struct maildir_entry *hint = NULL;
	if (mf->hints != NULL)
		hint = maildir_map_find(mf->hints, fname, n.baselen);
	sc->hinted[sc->row_count] = hint != NULL;
	sc->rows[sc->row_count++] = (struct index_row){
	    .uid = hint != NULL ? hint->uid : (*uidnext)++, .base = fname,
	    .baselen = n.baselen, .fname = fname, .dir = nw->dir, .flags = n.flags,
	    .keywords = n.keywords, .modseq = scan_modseq(sc),
	    .size = n.has_size ? n.size : (uint64_t)st.st_size, .idate = st.st_mtim.tv_sec};
}

/* Inserts the waiting rows: a chunk in one statement; a short one, or one with a conflict
 * (a damaged uidlist gave one UID twice: that file gets a new one), row by row. */
static int scan_flush(struct maildir_scan *sc, uint32_t *uidnext, struct buf *err)
{
	struct maildir_folder *mf = sc->mf;
	int r = 0;
	if (sc->row_count >= SCAN_CHUNK_MIN &&
	    (r = index_insert_rows(mf->ix, sc->rows, sc->row_count, err)) < 0)
		return -1;
	for (size_t i = 0; r == 0 && i < sc->row_count; i++) {
		struct index_row *row = &sc->rows[i];
		if (index_insert(mf->ix, row, err) == 0)
			continue;
		if (!sc->hinted[i] || *uidnext == UINT32_MAX)
			return -1;
		row->uid = (*uidnext)++;
		if (index_insert(mf->ix, row, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < sc->row_count; i++) {
		const struct index_row *row = &sc->rows[i];
		if (mf->hints == NULL) /* rebuilding: the map is loaded later, when needed */
			maildir_map_put(&mf->map, row->fname, row->baselen, row->uid, row->dir);
		else if (mf->build_snapshot)
			build_push(&mf->f, row, sc->news_count);
		uidlist_line(&sc->uidlist, row->uid, row->base, row->baselen);
	}
	sc->row_count = 0;
	return 0;
}

static int scan_add_all(struct maildir_scan *sc, struct buf *err)
{
	if (sc->news_count == 0)
		return 0;
	news_sort(sc);
	for (int dir = 0; dir < 2; dir++) { /* the internal date is the file's time: stat */
		char *path = x_asprintf("%s/%s", sc->mf->path, maildir_dirs[dir]);
		sc->dirfd[dir] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sc->dirfd[dir] < 0)
			store_err_errno(err, "open", path);
		x_free(&path);
		if (sc->dirfd[dir] < 0)
			return -1;
	}
	size_t chunk = sc->news_count < SCAN_CHUNK ? sc->news_count : SCAN_CHUNK;
	sc->rows = x_reallocarray(NULL, chunk, sizeof(*sc->rows));
	sc->hinted = x_reallocarray(NULL, chunk, sizeof(*sc->hinted));
	uint32_t uidnext = (uint32_t)index_meta(sc->mf->ix, "uidnext");
	for (size_t i = 0; i < sc->news_count; i++) {
		if (i > 0 && news_same_base(sc, &sc->news[i - 1], &sc->news[i]))
			continue; /* the same message twice (moved while we read): once is enough */
		if (uidnext == UINT32_MAX)
			return store_err(err, "%s: out of UIDs, reindex with a new UIDVALIDITY",
					 sc->mf->path);
		scan_add(sc, &sc->news[i], &uidnext);
		if (sc->row_count == chunk && scan_flush(sc, &uidnext, err) < 0)
			return -1;
	}
	if (scan_flush(sc, &uidnext, err) < 0)
		return -1;
	return index_meta_set(sc->mf->ix, "uidnext", uidnext, err);
}

static int64_t timespec_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

/* Which directories need reading; their times (to record) in mtimes. */
static int scan_needed(struct maildir_folder *mf, bool force, bool scan_r[2],
		       int64_t mtimes[2], struct buf *err)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	for (int dir = 0; dir < 2; dir++) {
		char *path = x_asprintf("%s/%s", mf->path, maildir_dirs[dir]);
		struct stat st;
		int r = stat(path, &st);
		if (r < 0)
			store_err_errno(err, "stat", path);
		x_free(&path);
		if (r < 0)
			return -1;
		int64_t m = timespec_ns(&st.st_mtim);
		scan_r[dir] = force || index_meta(mf->ix, maildir_mtime_keys[dir]) != m;
		mtimes[dir] = timespec_ns(&now) - m < MAILDIR_MTIME_SETTLE_NS ? MAILDIR_MTIME_DIRTY
									     : m;
	}
	return 0;
}

static void scan_free(struct maildir_scan *sc)
{
	for (int dir = 0; dir < 2; dir++)
		if (sc->dirfd[dir] >= 0)
			close(sc->dirfd[dir]);
	x_free(&sc->news);
	buf_free(&sc->names);
	x_free(&sc->rows);
	x_free(&sc->hinted);
	buf_free(&sc->uidlist);
	buf_free(&sc->row);
}

/* Appends the new UIDs to the uidlist in one write. */
static int scan_write_uidlist(struct maildir_scan *sc, struct buf *err)
{
	/* rebuilding: the whole file, from every file's line; flushed only when it replaces
	   one that gave UIDs (a first build's index is committed unflushed too: after a crash
	   a lost or torn file means a new UIDVALIDITY, or new UIDs above uidnext) */
	if (sc->mf->hints != NULL)
		return maildir_uidlist_write_lines(sc->mf, sc->uidlist.data, sc->uidlist.len,
						   sc->mf->hints->used > 0, err);
	if (sc->uidlist.len == 0)
		return 0;
	char *path = x_asprintf("%s/%s", sc->mf->path, MAILDIR_UIDLIST);
	FILE *fp = fopen(path, "ae");
	x_free(&path);
	if (fp == NULL)
		return maildir_uidlist_write(sc->mf, err);
	int ret = write_full(fileno(fp), sc->uidlist.data, sc->uidlist.len);
	fclose(fp);
	return ret < 0 ? store_err_errno(err, "write", MAILDIR_UIDLIST) : 0;
}

int maildir_catchup(struct maildir_folder *mf, bool force, struct buf *err)
{
	bool scan[2];
	int64_t mtimes[2];
	if (scan_needed(mf, force, scan, mtimes, err) < 0)
		return -1;
	if (!scan[0] && !scan[1])
		return 0;
	/* Only new/ changed (a delivery) and the map is not loaded: read the few rows of new/
	   instead of loading the whole map. */
	struct maildir_scan sc = {.mf = mf, .dirfd = {-1, -1}};
	sc.light = !scan[1] && mf->map_modseq == 0 && mf->hints == NULL;
	if ((sc.light ? map_load_new(mf, err) : maildir_map_refresh(mf, err)) < 0)
		return -1;
	int ret = 0;
	for (int dir = 0; dir < 2 && ret == 0; dir++)
		if (scan[dir])
			ret = scan_dir(&sc, dir, err);
	if (ret == 0)
		ret = scan_vanished(&sc, scan, err);
	if (ret == 0)
		ret = scan_add_all(&sc, err);
	for (int dir = 0; dir < 2 && ret == 0; dir++)
		if (scan[dir])
			ret = index_meta_set(mf->ix, maildir_mtime_keys[dir], mtimes[dir], err);
	if (ret == 0 && sc.modseq != 0)
		ret = index_meta_set(mf->ix, "highestmodseq", (int64_t)sc.modseq, err);
	if (sc.light || mf->hints != NULL) { /* partial, or empty: not loaded */
		maildir_map_free(&mf->map);
		mf->map_modseq = 0;
	} else if (ret == 0 && sc.modseq != 0) {
		mf->map_modseq = sc.modseq;
	}
	if (ret == 0)
		ret = scan_write_uidlist(&sc, err);
	scan_free(&sc);
	return ret;
}

/* A UIDVALIDITY never handed out before in this store (RFC 9051 2.3.1.1: a folder deleted
 * and created again must not get its old one back, even within the same second): the
 * last one is kept in ROOT/tern-uidvalidity, a cache like the index. */
static uint32_t maildir_new_uidvalidity(struct maildir_folder *mf)
{
	uint32_t v = (uint32_t)time(NULL);
	char *path = x_asprintf("%s/tern-uidvalidity", mf->f.store->root);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0 && flock(fd, LOCK_EX) == 0) {
		char text[16] = {0};
		ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
		unsigned long last = n > 0 ? strtoul(text, NULL, 10) : 0;
		if (last >= v && last < UINT32_MAX)
			v = (uint32_t)last + 1;
		int len = snprintf(text, sizeof(text), "%u\n", v);
		if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)len, 0) != len)
			log_warn("store: %s: cannot write", path);
	}
	if (fd >= 0)
		close(fd);
	x_free(&path);
	return v;
}

int maildir_index_init(struct maildir_folder *mf, struct buf *err)
{
	struct maildir_map hints = {0};
	uint32_t uidvalidity = 0, uidnext = 1;
	int r = maildir_uidlist_read(mf, &uidvalidity, &uidnext, &hints, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		uidvalidity = maildir_new_uidvalidity(mf);
		uidnext = 1;
	} else {
		log_info("store: %s: rebuilding the index, UIDs from %s (or Dovecot's "
			 "dovecot-uidlist)", mf->path, MAILDIR_UIDLIST);
	}
	maildir_map_free(&mf->map);
	mf->map_modseq = 0;
	if (index_meta_set(mf->ix, "uidvalidity", uidvalidity, err) < 0 ||
	    index_meta_set(mf->ix, "uidnext", uidnext, err) < 0 ||
	    index_meta_set(mf->ix, "highestmodseq", 1, err) < 0 ||
	    index_meta_set(mf->ix, "version", INDEX_VERSION, err) < 0) {
		maildir_map_free(&hints);
		return -1;
	}
	mf->hints = &hints;
	r = index_bulk_begin(mf->ix, err);
	if (r == 0)
		r = maildir_catchup(mf, true, err);
	if (r == 0)
		r = index_bulk_end(mf->ix, err);
	if (mf->build_snapshot)
		build_finish(mf, r);
	mf->hints = NULL;
	maildir_map_free(&hints);
	return r;
}

int maildir_deliver_tmp(struct maildir_folder *mf, const char *tmp_path, const char *base,
			uint64_t size, int64_t idate, uint32_t flags, uint32_t keywords,
			uint32_t *uid_r, struct buf *err)
{
	if (maildir_map_refresh(mf, err) < 0)
		return -1;
	struct maildir_entry *e = maildir_map_find(&mf->map, base, strlen(base));
	if (e != NULL) { /* delivered before (a retried delivery) */
		*uid_r = e->uid;
		unlink(tmp_path);
		return 0;
	}
	int dir = flags != 0 || keywords != 0;
	struct buf fname = BUF_INIT;
	if (dir)
		maildir_name_format(&fname, base, strlen(base), flags, keywords);
	else
		buf_append_str(&fname, base);
	char *path = maildir_path(mf, dir, fname.data);
	int ret = -1;
	if (rename(tmp_path, path) < 0 || fsync_parent(path) < 0) {
		store_err_errno(err, "deliver", path);
		goto out;
	}
	struct index_row row = {.uid = (uint32_t)index_meta(mf->ix, "uidnext"), .base = base,
				.fname = fname.data, .dir = dir, .flags = flags,
				.keywords = keywords, .size = size, .idate = idate,
				.modseq = (uint64_t)index_meta(mf->ix, "highestmodseq") + 1};
	if (row.uid == UINT32_MAX) {
		store_err(err, "%s: out of UIDs", mf->path);
		goto out;
	}
	if (index_insert(mf->ix, &row, err) < 0 ||
	    index_meta_set(mf->ix, "uidnext", row.uid + 1, err) < 0 ||
	    index_meta_set(mf->ix, "highestmodseq", (int64_t)row.modseq, err) < 0)
		goto out;
	maildir_map_put(&mf->map, fname.data, strlen(base), row.uid, dir);
	mf->map_modseq = row.modseq;
	if (maildir_uidlist_append(mf, row.uid, base, strlen(base), err) < 0)
		goto out;
	*uid_r = row.uid;
	ret = 0;
out:
	x_free(&path);
	buf_free(&fname);
	return ret;
}
