/* store-index-feed: the "tern_feed" virtual table over an array of index rows (see
 * store-index-feed.c); used by store-index.c only. */
#ifndef TERN_STORE_INDEX_FEED_H
#define TERN_STORE_INDEX_FEED_H

#include <stddef.h>

#include "store-index.h"

typedef struct sqlite3 sqlite3;

/* What "SELECT ... FROM tern_feed" reads: set before stepping the statement. */
struct index_feed {
	const struct index_row *rows;
	size_t count;
};

/* Registers the module on db; feed must outlive the connection. Returns an SQLite code. */
int index_feed_register(sqlite3 *db, struct index_feed *feed);

#endif
