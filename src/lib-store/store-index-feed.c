/* store-index-feed: many index rows in one INSERT or UPDATE statement.
 *
 * Stepping a prepared INSERT once per message costs SQLite a statement start and halt per
 * row (about half of a row's cost when 100,000 are indexed at once). "tern_feed" is an
 * eponymous virtual table over the caller's array of struct index_row, so that
 * INSERT ... SELECT ... FROM tern_feed adds the whole array in one statement (and UPDATE
 * ... FROM tern_feed changes many rows). "tern_pending" does the same for the cache values
 * a FETCH or SEARCH put off (struct index_pending): a few statements write them all. The
 * strings are handed to SQLite without copies (SQLITE_STATIC: the arrays outlive the
 * statement). Only store-index.c uses them.
 */
#include "store-index.h"
#include "store-index-feed.h"

#include <sqlite3.h>

/* Both tables: aux points to a struct that starts with its row count. */
struct feed_vtab {
	sqlite3_vtab base;
	const void *aux;
};

static size_t feed_count(sqlite3_vtab *vtab)
{
	return *(const size_t *)((struct feed_vtab *)vtab)->aux;
}

struct feed_cursor {
	sqlite3_vtab_cursor base;
	size_t i;
};

static int feed_declare(sqlite3 *db, const void *aux, const char *schema,
			sqlite3_vtab **vtab_r)
{
	int rc = sqlite3_declare_vtab(db, schema);
	if (rc != SQLITE_OK)
		return rc;
	struct feed_vtab *v = sqlite3_malloc(sizeof(*v));
	if (v == NULL)
		return SQLITE_NOMEM;
	*v = (struct feed_vtab){.aux = aux};
	*vtab_r = &v->base;
	return SQLITE_OK;
}

static int feed_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
			sqlite3_vtab **vtab_r, char **err_r)
{
	return feed_declare(db, aux,
			    "CREATE TABLE x(uid, base, fname, dir, flags, keywords, modseq, size,"
			    " idate)",
			    vtab_r);
}

static int pending_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
			   sqlite3_vtab **vtab_r, char **err_r)
{
	return feed_declare(db, aux, "CREATE TABLE x(uid, kind, cache, value, data)", vtab_r);
}

static int feed_disconnect(sqlite3_vtab *vtab)
{
	sqlite3_free(vtab);
	return SQLITE_OK;
}

static int feed_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info)
{
	info->estimatedCost = (double)feed_count(vtab) + 1;
	info->estimatedRows = (sqlite3_int64)feed_count(vtab) + 1;
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
	return ((struct feed_cursor *)cur)->i >= feed_count(cur->pVtab);
}

static int feed_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
	const struct index_feed *feed = ((struct feed_vtab *)cur->pVtab)->aux;
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

static int pending_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
	const struct index_pending_feed *feed = ((struct feed_vtab *)cur->pVtab)->aux;
	const struct index_pending *p = &feed->v[((struct feed_cursor *)cur)->i];
	switch (col) {
	case 0: sqlite3_result_int64(ctx, p->uid); break;
	case 1: sqlite3_result_int(ctx, p->kind); break;
	case 2: sqlite3_result_int(ctx, p->cache); break;
	case 3: sqlite3_result_int64(ctx, p->value); break;
	default:
		sqlite3_result_blob64(ctx, p->len > 0 ? feed->data + p->off : "", p->len,
				      SQLITE_STATIC);
		break;
	}
	return SQLITE_OK;
}

static int feed_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid_r)
{
	*rowid_r = (sqlite3_int64)((struct feed_cursor *)cur)->i;
	return SQLITE_OK;
}

/* Eponymous only ("FROM tern_feed", no CREATE VIRTUAL TABLE): no xCreate. */
#define FEED_MODULE(connect, column)                                                               \
	{                                                                                          \
		.iVersion = 0, .xCreate = NULL, .xConnect = connect,                               \
		.xBestIndex = feed_best_index, .xDisconnect = feed_disconnect, .xOpen = feed_open, \
		.xClose = feed_close, .xFilter = feed_filter, .xNext = feed_next,                  \
		.xEof = feed_eof, .xColumn = column, .xRowid = feed_rowid,                         \
	}
static const sqlite3_module feed_module = FEED_MODULE(feed_connect, feed_column);
static const sqlite3_module pending_module = FEED_MODULE(pending_connect, pending_column);

int index_feed_register(sqlite3 *db, struct index_feed *feed, struct index_pending_feed *pending)
{
	int rc = sqlite3_create_module(db, "tern_feed", &feed_module, feed);
	return rc == SQLITE_OK ? sqlite3_create_module(db, "tern_pending", &pending_module, pending)
			       : rc;
}
