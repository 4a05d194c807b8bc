/* store-refresh: bringing a folder's snapshot (store-private.h) up to the state of its
 * index, shared by the backends: changed and new rows since the snapshot's HIGHESTMODSEQ,
 * expunged rows, and a whole comparison after the index was replaced.
 */
#include "store-index.h"
#include "store-private.h"
#include "xalloc.h"

#include <string.h>

struct refresh {
	struct store_folder *f;
	struct store_changes *ch;
	size_t changed_cap;
	bool inconsistent;
	uint8_t *present; /* full refresh: the old messages found in the index */
	size_t old_count;
	uint32_t *gone; /* expunged UIDs that are in the snapshot */
	size_t gone_count, gone_cap;
};

void store_u32_push(uint32_t **v, size_t count, size_t *cap, uint32_t x)
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
	bool after = f->count == 0 || r->uid > f->msgs[f->count - 1].uid;
	ssize_t idx = after ? -1 : store_folder_find(f, r->uid);
	struct store_msg m = {.uid = r->uid,
			      .flags = r->flags,
			      .keywords = r->keywords,
			      .modseq = r->modseq,
			      .internal_date = r->idate,
			      .size = r->size};
	if (idx >= 0) {
		if (rf->present != NULL && (size_t)idx < rf->old_count)
			rf->present[idx] = 1;
		f->msgs[idx] = m;
		if (rf->ch != NULL) {
			store_u32_push(&rf->ch->changed_uids, rf->ch->changed_count,
				       &rf->changed_cap, r->uid);
			rf->ch->changed_count++;
		}
	} else if (after) {
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
	if (store_folder_find(rf->f, uid) >= 0) {
		store_u32_push(&rf->gone, rf->gone_count, &rf->gone_cap, uid);
		rf->gone_count++;
	}
	return 0;
}

/* Drops the messages marked with UID 0, noting their UIDs and old sequence numbers. */
static void refresh_compact(struct store_folder *f, uint32_t *old_uids, struct store_changes *ch)
{
	size_t out = 0, cap = 0, cap2 = 0;
	for (size_t i = 0; i < f->count; i++) {
		if (f->msgs[i].uid != 0) {
			f->msgs[out++] = f->msgs[i];
			continue;
		}
		if (ch == NULL)
			continue;
		store_u32_push(&ch->expunged_uids, ch->expunged_count, &cap, old_uids[i]);
		store_u32_push(&ch->expunged_seqs, ch->expunged_count, &cap2, (uint32_t)i + 1);
		ch->expunged_count++;
	}
	f->count = out;
}

/* Removes the gone UIDs from the snapshot (a pass over it only when there are some). */
static void refresh_drop(struct refresh *rf)
{
	struct store_folder *f = rf->f;
	uint32_t *old_uids = x_calloc(f->count, sizeof(uint32_t));
	for (size_t i = 0; i < f->count; i++)
		old_uids[i] = f->msgs[i].uid;
	for (size_t i = 0; i < rf->gone_count; i++) /* find them all, then mark */
		rf->gone[i] = (uint32_t)store_folder_find(f, rf->gone[i]);
	for (size_t i = 0; i < rf->gone_count; i++)
		f->msgs[rf->gone[i]].uid = 0;
	refresh_compact(f, old_uids, rf->ch);
	x_free(&old_uids);
}

/* After the index was replaced: compare every message (modseqs mean nothing now). */
static int refresh_full(struct store_folder *f, struct index *ix, bool *full_refresh,
			struct store_changes *ch, struct buf *err)
{
	struct refresh rf = {.f = f, .ch = ch, .old_count = f->count};
	rf.present = x_calloc(f->count, 1);
	uint32_t *old_uids = x_calloc(f->count, sizeof(uint32_t));
	for (size_t i = 0; i < f->count; i++)
		old_uids[i] = f->msgs[i].uid;
	int r = index_scan_msgs(ix, 0, refresh_row, &rf, err);
	for (size_t i = 0; i < rf.old_count; i++)
		if (!rf.present[i])
			f->msgs[i].uid = 0;
	refresh_compact(f, old_uids, ch);
	x_free(&old_uids);
	x_free(&rf.present);
	if (r < 0)
		return -1;
	*full_refresh = false;
	f->uidnext = (uint32_t)index_meta(ix, "uidnext");
	f->highestmodseq = (uint64_t)index_meta(ix, "highestmodseq");
	if (rf.inconsistent && ch != NULL)
		ch->uidvalidity_changed = true;
	return 0;
}

/* Brings the snapshot to the index's state (in the lock, after a catch-up). */
int store_refresh(struct store_folder *f, struct index *ix, bool *full_refresh,
		  struct store_changes *ch, struct buf *err)
{
	uint32_t uidvalidity = (uint32_t)index_meta(ix, "uidvalidity");
	uint64_t hms = (uint64_t)index_meta(ix, "highestmodseq");
	struct refresh rf = {.f = f, .ch = ch};
	if (f->count > 0 && uidvalidity != f->uidvalidity)
		rf.inconsistent = true;
	if (*full_refresh && !rf.inconsistent && f->count > 0)
		return refresh_full(f, ix, full_refresh, ch, err);
	if (!rf.inconsistent && hms != f->highestmodseq && f->count > 0) {
		int r = index_scan_expunged(ix, f->highestmodseq, refresh_expunged, &rf, err);
		if (rf.gone_count > 0)
			refresh_drop(&rf);
		x_free(&rf.gone);
		if (r < 0)
			return -1;
	}
	if (!rf.inconsistent && hms != f->highestmodseq &&
	    index_scan_msgs(ix, f->highestmodseq, refresh_row, &rf, err) < 0)
		return -1;
	if (rf.inconsistent) { /* a new index with other UIDs: start over */
		if (ch != NULL) {
			store_changes_free(ch);
			ch->uidvalidity_changed = true;
		}
		f->count = 0;
		rf.ch = NULL;
		if (index_scan_msgs(ix, 0, refresh_row, &rf, err) < 0)
			return -1;
	}
	f->uidvalidity = uidvalidity;
	f->uidnext = (uint32_t)index_meta(ix, "uidnext");
	f->highestmodseq = hms;
	return 0;
}

struct deleted {
	uint32_t *uids;
	size_t count, cap;
};

static int deleted_row(void *ctx, const struct index_row *r)
{
	struct deleted *d = ctx;
	if (r->flags & STORE_FLAG_DELETED) {
		store_u32_push(&d->uids, d->count, &d->cap, r->uid);
		d->count++;
	}
	return 0;
}

int store_refresh_deleted(struct index *ix, uint32_t **uids_r, size_t *count_r, struct buf *err)
{
	struct deleted d = {0};
	int r = index_scan_msgs(ix, 0, deleted_row, &d, err);
	*uids_r = d.uids;
	*count_r = d.count;
	return r;
}
