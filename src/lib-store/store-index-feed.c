/* store-index-feed: many index rows in one INSERT statement.
 *
 * Stepping a prepared INSERT once per message costs SQLite a statement start and halt per
 * row (about half of a row's cost when 100,000 are indexed at once). "tern_feed" is an
 * eponymous virtual table over the caller's array of struct index_row, so that
 * INSERT ... SELECT ... FROM tern_feed adds the whole array in one statement. The strings
 * are handed to SQLite without copies (SQLITE_STATIC: the array outlives the statement).
 * Only store-index.c uses it (index_insert_rows).
 */
#include "store-index.h"
#include "store-index-feed.h"

#include <sqlite3.h>

struct feed_vtab {
	sqlite3_vtab base;
	struct index_feed *feed;
};

struct feed_cursor {
	sqlite3_vtab_cursor base;
	size_t i;
};

static int feed_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
			sqlite3_vtab **vtab_r, char **err_r)
{
	int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(uid, base, fname, dir, flags, keywords,"
					  " modseq, size, idate)");
	if (rc != SQLITE_OK)
		return rc;
	struct feed_vtab *v = sqlite3_malloc(sizeof(*v));
	if (v == NULL)
		return SQLITE_NOMEM;
	*v = (struct feed_vtab){.feed = aux};
	*vtab_r = &v->base;
	return SQLITE_OK;
}

static int feed_disconnect(sqlite3_vtab *vtab)
{
	sqlite3_free(vtab);
	return SQLITE_OK;
}

static int feed_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info)
{
	const struct index_feed *feed = ((struct feed_vtab *)vtab)->feed;
	info->estimatedCost = (double)feed->count + 1;
	info->estimatedRows = (sqlite3_int64)feed->count + 1;
	return SQLITE_OK;
}

static int feed_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **cur_r)
{
	struct feed_cursor *c = sqlite3_malloc(sizeof(*c));
	if (c == NULL)
		return SQLITE_NOMEM;
	*c = (struct feed_cursor){0};
	*cur_r = &c->base;
	return SQLITE_OK;
}

static int feed_close(sqlite3_vtab_cursor *cur)
{
	sqlite3_free(cur);
	return SQLITE_OK;
}

static int feed_filter(sqlite3_vtab_cursor *cur, int idx, const char *idx_str, int argc,
		       sqlite3_value **argv)
{
	((struct feed_cursor *)cur)->i = 0;
	return SQLITE_OK;
}

static int feed_next(sqlite3_vtab_cursor *cur)
{
	((struct feed_cursor *)cur)->i++;
	return SQLITE_OK;
}

static int feed_eof(sqlite3_vtab_cursor *cur)
{
	const struct index_feed *feed = ((struct feed_vtab *)cur->pVtab)->feed;
	return ((struct feed_cursor *)cur)->i >= feed->count;
}

static int feed_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
	const struct index_feed *feed = ((struct feed_vtab *)cur->pVtab)->feed;
	const struct index_row *r = &feed->rows[((struct feed_cursor *)cur)->i];
	switch (col) {
	case 0: sqlite3_result_int64(ctx, r->uid); break;
	case 1:
		sqlite3_result_text(ctx, r->base, r->baselen > 0 ? (int)r->baselen : -1,
				    SQLITE_STATIC);
		break;
	case 2: sqlite3_result_text(ctx, r->fname, -1, SQLITE_STATIC); break;
	case 3: sqlite3_result_int(ctx, r->dir); break;
	case 4: sqlite3_result_int64(ctx, r->flags); break;
	case 5: sqlite3_result_int64(ctx, r->keywords); break;
	case 6: sqlite3_result_int64(ctx, (sqlite3_int64)r->modseq); break;
	case 7: sqlite3_result_int64(ctx, (sqlite3_int64)r->size); break;
	default: sqlite3_result_int64(ctx, r->idate); break;
	}
	return SQLITE_OK;
}

static int feed_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid_r)
{
	*rowid_r = (sqlite3_int64)((struct feed_cursor *)cur)->i;
	return SQLITE_OK;
}

static const sqlite3_module feed_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only: "FROM tern_feed", no CREATE VIRTUAL TABLE */
    .xConnect = feed_connect,
    .xBestIndex = feed_best_index,
    .xDisconnect = feed_disconnect,
    .xOpen = feed_open,
    .xClose = feed_close,
    .xFilter = feed_filter,
    .xNext = feed_next,
    .xEof = feed_eof,
    .xColumn = feed_column,
    .xRowid = feed_rowid,
};

int index_feed_register(sqlite3 *db, struct index_feed *feed)
{
	return sqlite3_create_module(db, "tern_feed", &feed_module, feed);
}
