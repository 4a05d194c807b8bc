/* store-refresh: bringing a folder's snapshot (store-private.h) up to the state of its
 * index, shared by the backends: changed and new rows since the snapshot's HIGHESTMODSEQ,
 * expunged rows, and a whole comparison after the index was replaced.
 *
 * Shared snapshots (store_share_snapshots): right after a refresh a snapshot is exactly the
 * index's rows at its HIGHESTMODSEQ, so folders of one process on the same index file
 * (path and its random "instance") at the same state can use one array: a refresh
 * publishes it, an open at that state takes it without reading the rows, and whoever
 * changes it first gets a copy (store_folder_own). An IMAP worker with a thousand sessions
 * on one mailbox then keeps one snapshot instead of a thousand.
 */
#include "store-index.h"
#include "store-private.h"
#include "xalloc.h"

#include <string.h>

#define SNAP_SHARE_MIN 64 /* smaller snapshots are not worth a registry entry */

struct store_snap {
	struct store_snap *next;
	unsigned refs;
	char *path;
	int64_t instance;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	struct store_msg *msgs;
	size_t count;
};

static bool snap_on;
static struct store_snap *snaps;

void store_share_snapshots(bool on)
{
	snap_on = on;
}

void store_snap_release(struct store_folder *f)
{
	struct store_snap *sn = f->shared;
	f->shared = NULL;
	f->msgs = NULL;
	f->cap = 0;
	if (sn == NULL || --sn->refs > 0)
		return;
	for (struct store_snap **p = &snaps; *p != NULL; p = &(*p)->next) {
		if (*p == sn) {
			*p = sn->next;
			break;
		}
	}
	x_free(&sn->msgs);
	x_free(&sn->path);
	x_free(&sn);
}

static struct store_snap *snap_find(const char *path, int64_t instance, uint32_t uidvalidity,
				    uint32_t uidnext, uint64_t hms)
{
	for (struct store_snap *sn = snaps; sn != NULL; sn = sn->next)
		if (sn->instance == instance && sn->uidvalidity == uidvalidity &&
		    sn->uidnext == uidnext && sn->highestmodseq == hms &&
		    strcmp(sn->path, path) == 0)
			return sn;
	return NULL;
}

static void snap_use(struct store_folder *f, struct store_snap *sn)
{
	if (f->shared == NULL)
		x_free(&f->msgs);
	else
		store_snap_release(f);
	sn->refs++;
	f->shared = sn;
	f->msgs = sn->msgs;
	f->count = sn->count;
	f->cap = 0;
}

/* After a refresh: the snapshot is the index at f's state; share it or take the shared one. */
static void snap_publish(struct store_folder *f, struct index *ix)
{
	if (!snap_on || f->shared != NULL || f->count < SNAP_SHARE_MIN)
		return;
	int64_t instance = index_meta(ix, "instance");
	const char *path = index_path(ix);
	if (instance == 0)
		return;
	struct store_snap *sn =
	    snap_find(path, instance, f->uidvalidity, f->uidnext, f->highestmodseq);
	if (sn != NULL && sn->count == f->count) {
		snap_use(f, sn);
		return;
	}
	if (sn != NULL)
		return; /* not the same: should not happen; keep our own */
	sn = X_NEW(struct store_snap);
	sn->path = x_strdup(path);
	sn->instance = instance;
	sn->uidvalidity = f->uidvalidity;
	sn->uidnext = f->uidnext;
	sn->highestmodseq = f->highestmodseq;
	sn->msgs = f->msgs;
	sn->count = f->count;
	sn->refs = 1;
	sn->next = snaps;
	snaps = sn;
	f->shared = sn;
	f->cap = 0;
}

/* An empty snapshot (a folder just opened) takes a shared one of the index's state. */
static bool snap_adopt(struct store_folder *f, struct index *ix, uint32_t uidvalidity,
		       uint64_t hms, struct store_changes *ch)
{
	if (!snap_on || f->count != 0 || snaps == NULL)
		return false;
	int64_t instance = index_meta(ix, "instance");
	struct store_snap *sn = snap_find(index_path(ix), instance, uidvalidity,
					  (uint32_t)index_meta(ix, "uidnext"), hms);
	if (instance == 0 || sn == NULL)
		return false;
	snap_use(f, sn);
	f->uidvalidity = uidvalidity;
	f->uidnext = sn->uidnext;
	f->highestmodseq = hms;
	if (ch != NULL)
		ch->new_count += sn->count;
	return true;
}

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
	if (!*full_refresh && snap_adopt(f, ix, uidvalidity, hms, ch))
		return 0;
	if (*full_refresh || hms != f->highestmodseq || uidvalidity != f->uidvalidity)
		store_folder_own(f); /* about to change */
	if (f->count > 0 && uidvalidity != f->uidvalidity)
		rf.inconsistent = true;
	if (*full_refresh && !rf.inconsistent && f->count > 0) {
		int r = refresh_full(f, ix, full_refresh, ch, err);
		if (r == 0)
			snap_publish(f, ix);
		return r;
	}
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
	snap_publish(f, ix);
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
