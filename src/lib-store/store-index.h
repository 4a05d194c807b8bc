/* store-index: the per-folder SQLite index, a cache of what the files say (UIDs, flags,
 * sizes, dates, modseqs, parsed-header blobs). Format: doc/store-format.md.
 *
 * Writers serialise with index_begin() (BEGIN IMMEDIATE, busy timeout), so two processes
 * never hand out the same UID. A damaged or foreign-version file is moved aside and
 * recreated empty; the backend then fills it from the files.
 */
#ifndef TERN_STORE_INDEX_H
#define TERN_STORE_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

#define INDEX_VERSION 3
#define INDEX_VERSION_STR "3"
/* The modseq of every message indexed by a build from nothing (a fresh index's
 * highestmodseq is 1, and the build's changes take the next one). */
#define INDEX_MODSEQ_BUILT 2
#define INDEX_FILE "tern-index.sqlite"

struct index;

struct index_row {
	uint32_t uid;
	const char *base;  /* Maildir: the file name up to ":2," */
	size_t baselen;	   /* inserting: the bytes of base (0: up to its NUL) */
	const char *fname; /* the whole file name */
	int dir;	   /* Maildir: 0 new/, 1 cur/ */
	uint32_t flags;
	uint32_t keywords;
	uint64_t modseq;
	uint64_t size;
	int64_t idate;
};

/* Opens (creating when needed) the index at path. *fresh_r: it has no state yet. */
int index_open(const char *path, struct index **index_r, bool *fresh_r, struct buf *err);
void index_close(struct index **index);
/* on: the checkpoints that commits set off run on a thread of the process (started at the
 * first), not in the committer; for long-lived servers (the IMAP worker). */
void index_checkpoint_async(bool on);
/* true when the file at the path is no longer the one opened (deleted or replaced). */
bool index_replaced(struct index *index);
int index_begin(struct index *index, struct buf *err);
int index_commit(struct index *index, struct buf *err);
void index_rollback(struct index *index);
/* Around filling an index from nothing, inside the transaction: the totals triggers are
 * dropped and the totals counted once at the end (index_bulk_end puts the triggers
 * back). */
int index_bulk_begin(struct index *index, struct buf *err);
int index_bulk_end(struct index *index, struct buf *err);

/* Meta values: "uidvalidity", "uidnext", "highestmodseq", "new_mtime", "cur_mtime". */
int64_t index_meta(struct index *index, const char *key);
int index_meta_set(struct index *index, const char *key, int64_t value, struct buf *err);

int index_insert(struct index *index, const struct index_row *row, struct buf *err);
/* Inserts count rows in one statement: 1 all inserted, 0 one of them conflicted with a row
 * there (a UID or base name) and none was inserted (insert them one by one to see which),
 * -1 error. */
int index_insert_rows(struct index *index, const struct index_row *rows, size_t count,
		      struct buf *err);
/* Updates a message's file name, place and flags. */
int index_update(struct index *index, const struct index_row *row, struct buf *err);
/* The same for many rows (uid, fname, dir, flags, keywords, modseq), in one statement when
 * there are many: the caller gives the change of the number of messages without \Seen
 * (the totals triggers do not run for them). */
int index_update_rows(struct index *index, const struct index_row *rows, size_t count,
		      int64_t unseen_delta, struct buf *err);
/* Removes a message, remembering (uid, base, modseq) among the expunged. */
int index_delete(struct index *index, uint32_t uid, const char *base, uint64_t modseq,
		 struct buf *err);
/* Calls cb for every message with modseq > since (all for 0), UID ascending; cb returns
 * 0 to go on. INDEX_SCAN_NEW: the messages in new/ (after index_new_list_create), with only
 * uid, base and fname filled in. */
#define INDEX_SCAN_NEW UINT64_MAX
/* The same without the names (base and fname are ""): what a snapshot needs. */
int index_scan_msgs(struct index *index, uint64_t since,
		    int (*cb)(void *ctx, const struct index_row *row), void *ctx, struct buf *err);
int index_scan(struct index *index, uint64_t since,
	       int (*cb)(void *ctx, const struct index_row *row), void *ctx, struct buf *err);
/* Calls cb for every message expunged with modseq > since. */
int index_scan_expunged(struct index *index, uint64_t since,
			int (*cb)(void *ctx, uint32_t uid, const char *base), void *ctx,
			struct buf *err);
/* One message: 1 found (fname copied into fname_buf; row->base/fname point there),
 * 0 not there, -1 error. */
int index_get(struct index *index, uint32_t uid, struct index_row *row, struct buf *fname_buf,
	      struct buf *err);
/* The same by base name (Maildir). */
int index_get_base(struct index *index, const char *base, size_t len, struct index_row *row,
		   struct buf *fname_buf, struct buf *err);
/* Records an internal date that was unknown (-1); no new modseq. */
int index_idate_set(struct index *index, uint32_t uid, int64_t idate, struct buf *err);
/* Maildir: a partial index of the messages in new/ (dir 0) holding their names, so catching
 * up with new/ alone reads a few pages. Created when missing (in the caller's transaction). */
int index_new_list_create(struct index *index, struct buf *err);
/* The cached CRLF size (0 when unknown) and the blob; set functions do not change modseq. */
int index_vsize_get(struct index *index, uint32_t uid, uint64_t *vsize_r, struct buf *err);
int index_vsize_set(struct index *index, uint32_t uid, uint64_t vsize, struct buf *err);
/* The cached values of a message (store.h enum store_cache_kind): one table each. */
int index_cache_get(struct index *index, uint32_t uid, enum store_cache_kind kind,
		    struct buf *out, struct buf *err);
int index_cache_put(struct index *index, uint32_t uid, enum store_cache_kind kind,
		    const void *data, size_t len, struct buf *err);
/* Many reads in a row (a FETCH or SEARCH over a range): between begin and end (they nest)
 * the reads share one transaction, and cache writes (vsize, idate, blobs) wait to be
 * written together at the end, or with the next write transaction, or when they pass
 * 4 MB. A batch must not stay open while other code may use the index. */
void index_batch_begin(struct index *index);
void index_batch_end(struct index *index);
/* store_cache_hold: the pending cache values outlive the batches until hold is false. */
void index_cache_hold(struct index *index, bool hold);
/* The file's path. */
const char *index_path(struct index *index);
/* Frees the connection's page cache and other memory SQLite can do without. */
void index_release_memory(struct index *index);

/* Sets a message's fname and size without a new modseq (mbox: its place in the file
 * moved, or a last line got its newline). Forgets the cached vsize. */
int index_set_place(struct index *index, uint32_t uid, const char *fname, uint64_t size,
		    struct buf *err);
/* Calls cb for every meta key starting with prefix (mbox: "kw." keyword names). */
int index_meta_prefix(struct index *index, const char *prefix,
		      int (*cb)(void *ctx, const char *key, int64_t value), void *ctx,
		      struct buf *err);
int index_meta_delete_prefix(struct index *index, const char *prefix, struct buf *err);
/* The number of messages and the sum of their sizes (quotas), kept by triggers. */
int index_totals(struct index *index, uint64_t *messages_r, uint64_t *bytes_r,
		 struct buf *err);
/* The figures of store_folder_status() from meta (no message is read). */
struct store_folder_status;
int index_status(struct index *index, struct store_folder_status *st_r, struct buf *err);

/* --- the snapshot, shared by the backends (store-refresh.c) --- */
struct store_folder;
struct store_changes;
/* Brings f's snapshot to the index's state (called in the index lock after a catch-up),
 * reporting changes in ch (may be NULL). *full_refresh: the index file was replaced, so
 * compare every message (reset to false). */
int store_refresh(struct store_folder *f, struct index *ix, bool *full_refresh,
		  struct store_changes *ch, struct buf *err);
/* The UIDs of the messages with \Deleted (free *uids_r). */
int store_refresh_deleted(struct index *ix, uint32_t **uids_r, size_t *count_r,
			  struct buf *err);
/* Appends x to the array *v of count elements (capacity *cap). */
void store_u32_push(uint32_t **v, size_t count, size_t *cap, uint32_t x);

#endif
