/* mbox-sync: catching the index up with the mbox file (run with the file locked and the
 * index transaction open), and the folder's keyword names.
 *
 * The index records the file's inode, size and time, and the offset and hash of the last
 * From_ line. A file that only grew, whose last known From_ line is still there and whose
 * new bytes start with a From_ line after a blank line, is read from the old end only.
 * Anything else is read whole: each message keeps its X-UID when that is believable (the
 * index has that UID with the same header hash, or it is new), else the UID of an unused
 * index row with the same hash, else a new UID. Rows no message matched are expunged.
 * Since UIDs are handed out in file order, reading the file again after the index is
 * lost gives the same UIDs to messages without X-UID as long as X-IMAPbase is there.
 */
#include "mbox-private.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KW_PREFIX "kw."

void mbox_loc_format(struct buf *out, const struct mbox_loc *l)
{
	buf_reset(out);
	buf_printf(out, "%" PRIx64 " %" PRIx64 " %" PRIx64 " %" PRIx64 " %" PRIx64, l->from_off,
		   l->hdr_off, l->content_end, l->end_off, l->hash);
}

bool mbox_loc_parse(const char *s, struct mbox_loc *l)
{
	return sscanf(s, "%" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64, &l->from_off,
		      &l->hdr_off, &l->content_end, &l->end_off, &l->hash) == 5;
}

/* --- keywords: meta rows "kw.NAME" = bit --- */

static int kw_row(void *ctx, const char *key, int64_t value)
{
	struct mbox_folder *mf = ctx;
	if (value >= 0 && value < STORE_KEYWORDS_MAX && mf->f.keywords[value] == NULL)
		mf->f.keywords[value] = x_strdup(key + strlen(KW_PREFIX));
	return 0;
}

int mbox_keywords_load(struct mbox_folder *mf, struct buf *err)
{
	for (int i = 0; i < STORE_KEYWORDS_MAX; i++)
		x_free(&mf->f.keywords[i]);
	return index_meta_prefix(mf->ix, KW_PREFIX, kw_row, mf, err);
}

/* The bit of name, adding it when create is set (inside the index transaction). */
static int kw_find(struct mbox_folder *mf, const char *name, bool create, struct buf *err)
{
	int free_slot = -1;
	for (int i = 0; i < STORE_KEYWORDS_MAX; i++) {
		if (mf->f.keywords[i] == NULL) {
			if (free_slot < 0)
				free_slot = i;
		} else if (strcasecmp(mf->f.keywords[i], name) == 0) {
			return i;
		}
	}
	if (!create)
		return store_err(err, "no keyword %s", name);
	if (free_slot < 0)
		return store_err(err, "too many keywords in this folder");
	if (name[0] == '\0' || strlen(name) > 200 || strpbrk(name, " \t\r\n") != NULL)
		return store_err(err, "invalid keyword");
	char *key = x_asprintf(KW_PREFIX "%s", name);
	int r = index_meta_set(mf->ix, key, free_slot, err);
	x_free(&key);
	if (r < 0)
		return -1;
	mf->f.keywords[free_slot] = x_strdup(name);
	return free_slot;
}

int mbox_keyword_lookup(struct store_folder *f, const char *name, bool create, struct buf *err)
{
	struct mbox_folder *mf = (struct mbox_folder *)f;
	if (index_begin(mf->ix, err) < 0)
		return -1;
	int r = mbox_keywords_load(mf, err);
	if (r == 0)
		r = kw_find(mf, name, create, err);
	if (r < 0) {
		index_rollback(mf->ix);
		return -1;
	}
	return index_commit(mf->ix, err) < 0 ? -1 : r;
}

void mbox_keywords_text(struct mbox_folder *mf, uint32_t bits, struct buf *out)
{
	buf_reset(out);
	for (int i = 0; i < STORE_KEYWORDS_MAX; i++) {
		if ((bits & (1u << i)) == 0 || mf->f.keywords[i] == NULL)
			continue;
		if (out->len > 0)
			buf_append_char(out, ' ');
		buf_append_str(out, mf->f.keywords[i]);
	}
}

uint32_t mbox_keywords_bits(struct mbox_folder *mf, const char *text, struct buf *err)
{
	uint32_t bits = 0;
	char *copy = x_strdup(text), *save = NULL;
	for (char *w = strtok_r(copy, " ,", &save); w != NULL; w = strtok_r(NULL, " ,", &save)) {
		int k = kw_find(mf, w, true, err);
		if (k >= 0)
			bits |= 1u << k;
	}
	x_free(&copy);
	return bits;
}

/* --- catching up --- */

struct old_row {
	uint32_t uid, flags, keywords;
	uint64_t size;
	struct mbox_loc loc;
	bool used;
};

struct sync {
	struct mbox_folder *mf;
	struct old_row *old;
	size_t old_count, old_cap, cursor;
	uint64_t modseq;
	uint32_t uidnext, last;
	bool fresh, first;
	uint64_t last_off, last_hash;
	int64_t mtime;
	size_t seen;
	struct buf loc, base;
	struct buf *err;
};

static uint64_t sync_modseq(struct sync *sy)
{
	if (sy->modseq == 0)
		sy->modseq = (uint64_t)index_meta(sy->mf->ix, "highestmodseq") + 1;
	return sy->modseq;
}

static int old_row_add(void *ctx, const struct index_row *r)
{
	struct sync *sy = ctx;
	if (sy->old_count == sy->old_cap) {
		sy->old_cap = sy->old_cap ? sy->old_cap * 2 : 64;
		sy->old = x_reallocarray(sy->old, sy->old_cap, sizeof(*sy->old));
	}
	struct old_row *o = &sy->old[sy->old_count++];
	*o = (struct old_row){
	    .uid = r->uid, .flags = r->flags, .keywords = r->keywords, .size = r->size};
	if (!mbox_loc_parse(r->fname, &o->loc))
		o->loc.hash = 0;
	return 0;
}

static struct old_row *old_by_uid(struct sync *sy, uint32_t uid)
{
	size_t lo = 0, hi = sy->old_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sy->old[mid].uid == uid)
			return &sy->old[mid];
		if (sy->old[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The same message: same header hash and size, or it was the last one of the file
 * without a final newline and an appender added it. */
static bool old_matches(const struct old_row *o, const struct mbox_msg *m)
{
	if (o == NULL || o->used || o->loc.hash != m->hash)
		return false;
	return o->size == m->size ||
	       (o->loc.content_end == o->loc.end_off && m->size == o->size + 1);
}

/* The first unused row after the last UID given whose message looks the same. */
static struct old_row *old_by_hash(struct sync *sy, const struct mbox_msg *m)
{
	while (sy->cursor < sy->old_count && sy->old[sy->cursor].uid <= sy->last)
		sy->cursor++;
	for (size_t i = sy->cursor; i < sy->old_count; i++)
		if (old_matches(&sy->old[i], m))
			return &sy->old[i];
	return NULL;
}

/* Which UID a message gets, and its old row when it had one. */
static uint32_t sync_pick_uid(struct sync *sy, const struct mbox_msg *m, struct old_row **o_r)
{
	*o_r = NULL;
	if (m->uid > sy->last) {
		struct old_row *o = old_by_uid(sy, m->uid);
		if (old_matches(o, m)) {
			*o_r = o;
			return m->uid;
		}
		if (o == NULL && (sy->fresh || m->uid >= sy->uidnext))
			return m->uid;
	}
	if ((*o_r = old_by_hash(sy, m)) != NULL)
		return (*o_r)->uid;
	return sy->uidnext > sy->last ? sy->uidnext : sy->last + 1;
}

/* A fresh index takes UIDVALIDITY, UIDNEXT and keyword order from X-IMAPbase. */
static int sync_imapbase(struct sync *sy, const struct mbox_msg *m)
{
	if (!sy->fresh || !sy->first || m->base_validity == 0)
		return 0;
	struct index *ix = sy->mf->ix;
	sy->uidnext = m->base_next > 0 ? m->base_next : 1;
	if (index_meta_set(ix, "uidvalidity", m->base_validity, sy->err) < 0)
		return -1;
	if (m->base_keywords != NULL)
		mbox_keywords_bits(sy->mf, m->base_keywords, sy->err);
	return 0;
}

static int sync_msg(void *ctx, const struct mbox_msg *m)
{
	struct sync *sy = ctx;
	struct index *ix = sy->mf->ix;
	if (sync_imapbase(sy, m) < 0)
		return -1;
	sy->first = false;
	sy->seen++;
	struct old_row *o;
	uint32_t uid = sync_pick_uid(sy, m, &o);
	if (uid == 0 || uid == UINT32_MAX)
		return store_err(sy->err, "%s: out of UIDs", sy->mf->path);
	uint32_t kw = m->keywords ? mbox_keywords_bits(sy->mf, m->keywords, sy->err) : 0;
	struct mbox_loc loc = {m->from_off, m->hdr_off, m->content_end, m->end_off, m->hash};
	mbox_loc_format(&sy->loc, &loc);
	int r = 0;
	if (o != NULL) {
		o->used = true;
		struct index_row row = {
		    .uid = uid, .fname = sy->loc.data, .flags = m->flags, .keywords = kw};
		if (o->flags != m->flags || o->keywords != kw) {
			row.modseq = sync_modseq(sy);
			r = index_update(ix, &row, sy->err);
		}
		if (r == 0 && (memcmp(&o->loc, &loc, sizeof(loc)) != 0 || o->size != m->size))
			r = index_set_place(ix, uid, sy->loc.data, m->size, sy->err);
	} else {
		buf_reset(&sy->base);
		buf_printf(&sy->base, "%u", uid);
		struct index_row row = {.uid = uid,
					.base = sy->base.data,
					.fname = sy->loc.data,
					.flags = m->flags,
					.keywords = kw,
					.modseq = sync_modseq(sy),
					.size = m->size,
					.idate = m->idate ? m->idate : sy->mtime / 1000000000LL};
		r = index_insert(ix, &row, sy->err);
	}
	sy->last = uid;
	if (uid >= sy->uidnext)
		sy->uidnext = uid + 1;
	sy->last_off = m->from_off;
	sy->last_hash = m->from_hash;
	return r;
}

/* Can the file be read from the old end only? */
static bool sync_can_append(struct mbox_folder *mf, int fd, const struct stat *st)
{
	struct index *ix = mf->ix;
	int64_t old_size = index_meta(ix, "mbox_size");
	if ((int64_t)st->st_ino != index_meta(ix, "mbox_ino") || st->st_size < old_size)
		return false;
	if (old_size == 0)
		return true;
	char b[7];
	if (pread(fd, b, sizeof(b), old_size - 2) != sizeof(b) ||
	    memcmp(b, "\n\nFrom ", sizeof(b)) != 0)
		return false;
	uint64_t h;
	struct buf e = BUF_INIT;
	bool ok = mbox_line_hash(fd, (uint64_t)index_meta(ix, "mbox_last"), &h, &e) == 0 &&
		  (int64_t)h == index_meta(ix, "mbox_lasthash");
	buf_free(&e);
	return ok;
}

static int64_t st_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

bool mbox_unchanged(struct mbox_folder *mf, const struct stat *st)
{
	return (int64_t)st->st_ino == index_meta(mf->ix, "mbox_ino") &&
	       st->st_size == index_meta(mf->ix, "mbox_size") &&
	       st_mtime_ns(st) == index_meta(mf->ix, "mbox_mtime");
}

/* Expunges the rows no message matched. */
static int sync_vanished(struct sync *sy)
{
	for (size_t i = 0; i < sy->old_count; i++) {
		if (sy->old[i].used)
			continue;
		buf_reset(&sy->base);
		buf_printf(&sy->base, "%u", sy->old[i].uid);
		if (index_delete(sy->mf->ix, sy->old[i].uid, sy->base.data, sync_modseq(sy),
				 sy->err) < 0)
			return -1;
	}
	return 0;
}

static int sync_finish(struct sync *sy, const struct stat *st, bool any)
{
	struct index *ix = sy->mf->ix;
	struct buf *err = sy->err;
	if (index_meta_set(ix, "uidnext", sy->uidnext, err) < 0 ||
	    index_meta_set(ix, "mbox_ino", (int64_t)st->st_ino, err) < 0 ||
	    index_meta_set(ix, "mbox_size", st->st_size, err) < 0 ||
	    index_meta_set(ix, "mbox_mtime", st_mtime_ns(st), err) < 0)
		return -1;
	if (any && (index_meta_set(ix, "mbox_last", (int64_t)sy->last_off, err) < 0 ||
		    index_meta_set(ix, "mbox_lasthash", (int64_t)sy->last_hash, err) < 0))
		return -1;
	if (sy->modseq != 0 && index_meta_set(ix, "highestmodseq", (int64_t)sy->modseq, err) < 0)
		return -1;
	return 0;
}

/* A new index: UIDVALIDITY from the clock unless X-IMAPbase says otherwise. */
static int sync_init(struct mbox_folder *mf, struct buf *err)
{
	struct index *ix = mf->ix;
	if (index_meta_set(ix, "uidvalidity", (int64_t)time(NULL), err) < 0 ||
	    index_meta_set(ix, "uidnext", 1, err) < 0 ||
	    index_meta_set(ix, "highestmodseq", 1, err) < 0 ||
	    index_meta_set(ix, "version", INDEX_VERSION, err) < 0 ||
	    index_meta_set(ix, "mbox_size", 0, err) < 0)
		return -1;
	return 0;
}

int mbox_catchup(struct mbox_folder *mf, int fd, bool force, uint64_t *modseq_r, struct buf *err)
{
	struct stat st;
	if (modseq_r != NULL)
		*modseq_r = 0;
	if (fstat(fd, &st) < 0)
		return store_err_errno(err, "stat", mf->path);
	bool fresh = index_meta(mf->ix, "uidvalidity") == 0;
	if (fresh && sync_init(mf, err) < 0)
		return -1;
	if (!fresh && !force && mbox_unchanged(mf, &st))
		return 0;
	struct sync sy = {.mf = mf,
			  .fresh = fresh,
			  .first = true,
			  .err = err,
			  .uidnext = (uint32_t)index_meta(mf->ix, "uidnext"),
			  .mtime = st_mtime_ns(&st)};
	uint64_t start = 0;
	if (!fresh && !force && sync_can_append(mf, fd, &st)) {
		start = (uint64_t)index_meta(mf->ix, "mbox_size");
		sy.last = sy.uidnext - 1;
		sy.first = start == 0;
	} else if (index_scan(mf->ix, 0, old_row_add, &sy, err) < 0) {
		x_free(&sy.old);
		return -1;
	}
	int r = fresh ? index_bulk_begin(mf->ix, err) : 0;
	if (r == 0)
		r = mbox_parse(fd, start, (uint64_t)st.st_size, sync_msg, &sy, err);
	if (r == 1)
		r = store_err(err, "%s is not an mbox file (no From_ line at %" PRIu64 ")",
			      mf->path, start);
	if (r == 0)
		r = sync_vanished(&sy);
	if (r == 0)
		r = sync_finish(&sy, &st, sy.seen > 0);
	if (r == 0 && fresh)
		r = index_bulk_end(mf->ix, err);
	if (r == 0 && modseq_r != NULL)
		*modseq_r = sy.modseq;
	x_free(&sy.old);
	buf_free(&sy.loc);
	buf_free(&sy.base);
	return r;
}
