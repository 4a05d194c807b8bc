/* store-index-feed: the "tern_feed" and "tern_pending" virtual tables over arrays of index
 * rows and of put-off cache writes (see store-index-feed.c); used by store-index.c only. */
#ifndef TERN_STORE_INDEX_FEED_H
#define TERN_STORE_INDEX_FEED_H

#include <stddef.h>

#include "store-index.h"

typedef struct sqlite3 sqlite3;

/* What "SELECT ... FROM tern_feed" reads: set before stepping the statement. */
struct index_feed {
	size_t count;
	const struct index_row *rows;
};

/* A cache write put off to the end of a batch (store-index.c). */
enum index_pending_kind { PENDING_VSIZE, PENDING_IDATE, PENDING_CACHE };
struct index_pending {
	uint32_t uid;
	uint8_t kind;  /* enum index_pending_kind */
	uint8_t cache; /* PENDING_CACHE: enum store_cache_kind */
	int64_t value;
	size_t off, len; /* the bytes, in the pending data buffer */
};

/* What "SELECT ... FROM tern_pending" reads: columns uid, kind, cache, value, data. */
struct index_pending_feed {
	size_t count;
	const struct index_pending *v;
	const char *data;
};

/* Registers the modules on db; the feeds must outlive the connection. Returns an SQLite
 * code. */
int index_feed_register(sqlite3 *db, struct index_feed *feed,
			struct index_pending_feed *pending);

#endif
