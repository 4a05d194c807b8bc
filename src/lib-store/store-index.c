/* store-index: the per-folder SQLite index (see store-index.h, doc/store-format.md).
 *
 * WAL mode with synchronous=NORMAL: the index is a cache, a lost last transaction is
 * caught up from the files. Statements are prepared once per handle. Triggers keep each
 * folder's totals (messages, bytes, unseen) in meta, so STATUS and quota checks read three
 * rows; a build from nothing (index_bulk_begin/_end) drops them and adds them back once at
 * the end. The modseq index leaves out the rows of the build (see INDEX_MODSEQ_PARTIAL).
 * New files use 16 KB pages: a 100,000-message build then writes a quarter of the pages'
 * syscalls.
 */
#include "store-index.h"
#include "store-index-feed.h"
#include "store-private.h"
#include "xalloc.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INDEX_BUSY_MS 60000
/* A checkpoint once the WAL holds 64 pages (1 MB of 16 KB pages); after one, the WAL
   file is cut back to 1 MB: what a folder's index costs on disk beside the database, and
   what the first opener after a quiet spell reads to rebuild the WAL index. */
#define INDEX_WAL_PAGES "64"
#define INDEX_WAL_PAGES_N 64
#define INDEX_WAL_LIMIT "1048576"
#define INDEX_WAL_KEEP (1024 * 1024)
#define INDEX_PENDING_MAX (4 * 1024 * 1024) /* bytes of cache writes a batch holds */
#define INDEX_PENDING_LOOKBACK 16	     /* recent pending values a read looks at */
#define INDEX_PENDING_BULK_MIN 16	     /* from this many, written with tern_pending */
#define INDEX_OPEN_BUSY_TRIES 500

/* msgs_modseq holds only the rows changed after the folder's index was built: a build
 * gives every row modseq INDEX_MODSEQ_BUILT (highestmodseq starts at 1, the build's rows get
 * the next), and leaving them out makes the build insert nothing into it. A query for
 * modseq > since (since >= INDEX_MODSEQ_BUILT) adds the index's own condition, so that the
 * planner may use it; one for a smaller since reads the table. An index made by version 1
 * or 2 keeps its full msgs_modseq, which the same queries use. */
#define INDEX_MODSEQ_PARTIAL "modseq > 2"
#define INDEX_MODSEQ_SCHEMA                                                                        \
	"CREATE INDEX IF NOT EXISTS msgs_modseq ON msgs (modseq) WHERE " INDEX_MODSEQ_PARTIAL
_Static_assert(INDEX_MODSEQ_BUILT == 2, "INDEX_MODSEQ_PARTIAL says 2");
/* index_new_list_create's partial index (in a new file's schema from the start) */
#define INDEX_NEW_LIST_SCHEMA                                                                      \
	"CREATE INDEX IF NOT EXISTS msgs_in_new ON msgs (uid, base, fname) WHERE dir = 0"

enum index_stmt {
	ST_META_GET,
	ST_META_SET,
	ST_INSERT,
	ST_INSERT_FEED,
	ST_UPDATE_FEED,
	ST_UNSEEN_ADD,
	ST_UPDATE,
	ST_DELETE,
	ST_EXPUNGED_ADD,
	ST_SCAN,
	ST_SCAN_EXPUNGED,
	ST_GET,
	ST_VSIZE_GET,
	ST_VSIZE_SET,
	ST_CACHE_GET,		/* one per cache kind, in order */
	ST_CACHE_GET_LAST = ST_CACHE_GET + STORE_CACHE_KINDS - 1,
	ST_CACHE_PUT,		/* the same */
	ST_CACHE_PUT_LAST = ST_CACHE_PUT + STORE_CACHE_KINDS - 1,
	ST_SET_FNAME,
	ST_META_PREFIX,
	ST_PENDING_VSIZE, /* then ST_PENDING_IDATE, one per cache kind (PENDING_CACHE + kind) */
	ST_PENDING_IDATE,
	ST_PENDING_CACHE,
	ST_PENDING_CACHE_LAST = ST_PENDING_CACHE + STORE_CACHE_KINDS - 1,
	ST_GET_BASE,
	ST_IDATE_SET,
	ST_READ_BEGIN, /* a batch's read transaction (prepared once, not parsed per batch) */
	ST_READ_COMMIT,
	ST_CACHE_MAX, /* one per cache kind, in order */
	ST_CACHE_MAX_LAST = ST_CACHE_MAX + STORE_CACHE_KINDS - 1,
	ST_COUNT
};

static const char *const index_sql[ST_COUNT] = {
    [ST_READ_BEGIN] = "BEGIN",
    [ST_READ_COMMIT] = "COMMIT",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_SET] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
    /* OR IGNORE: a conflict is found before anything is written, so no statement journal;
       index_insert reports it (no row changed) */
    [ST_INSERT] = "INSERT OR IGNORE INTO msgs (uid, base, fname, dir, flags, keywords, modseq, "
		  "size, idate) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_INSERT_FEED] = "INSERT OR IGNORE INTO msgs (uid, base, fname, dir, flags, keywords, "
		       "modseq, size, idate) SELECT uid, base, fname, dir, flags, keywords, "
		       "modseq, size, idate FROM tern_feed",
    [ST_UPDATE_FEED] = "UPDATE msgs SET fname = f.fname, dir = f.dir, flags = f.flags, "
		       "keywords = f.keywords, modseq = f.modseq FROM tern_feed AS f "
		       "WHERE msgs.uid = f.uid",
    [ST_UNSEEN_ADD] = "UPDATE meta SET value = value + ?1 WHERE key = 'total_unseen'",
    [ST_UPDATE] = "UPDATE msgs SET fname = ?2, dir = ?3, flags = ?4, keywords = ?5, "
		  "modseq = ?6 WHERE uid = ?1",
    [ST_DELETE] = "DELETE FROM msgs WHERE uid = ?1",
    [ST_EXPUNGED_ADD] = "INSERT OR REPLACE INTO expunged (uid, base, modseq) "
			"VALUES (?1, ?2, ?3)",
    /* since >= INDEX_MODSEQ_BUILT: the second term names the partial index's own */
    [ST_SCAN] = "SELECT uid, base, fname, dir, flags, keywords, modseq, size, idate "
		"FROM msgs INDEXED BY msgs_modseq WHERE modseq > ?1 AND " INDEX_MODSEQ_PARTIAL
		" ORDER BY uid",
    [ST_SCAN_EXPUNGED] = "SELECT uid, base FROM expunged INDEXED BY expunged_modseq "
			 "WHERE modseq > ?1 ORDER BY uid",
    [ST_GET] = "SELECT uid, base, fname, dir, flags, keywords, modseq, size, idate "
	       "FROM msgs WHERE uid = ?1",
    [ST_VSIZE_GET] = "SELECT vsize FROM msgs WHERE uid = ?1",
    [ST_VSIZE_SET] = "UPDATE msgs SET vsize = ?2 WHERE uid = ?1",
#define CACHE_GET(t) "SELECT value FROM " t " WHERE uid = ?1"
/* only for a message still there: an expunged one's values would never be removed */
#define CACHE_PUT(t)                                                                               \
	"INSERT OR REPLACE INTO " t " (uid, value) SELECT ?1, ?2 "                                 \
	"WHERE EXISTS (SELECT 1 FROM msgs WHERE uid = ?1)"
    [ST_CACHE_GET + STORE_CACHE_PARTS] = CACHE_GET("cache_parts"),
    [ST_CACHE_GET + STORE_CACHE_ENVELOPE] = CACHE_GET("cache_envelope"),
    [ST_CACHE_GET + STORE_CACHE_BODYSTRUCTURE] = CACHE_GET("cache_bodystructure"),
    [ST_CACHE_GET + STORE_CACHE_FIELDS] = CACHE_GET("cache_fields"),
#define CACHE_MAX(t) "SELECT max(uid) FROM " t
    [ST_CACHE_MAX + STORE_CACHE_PARTS] = CACHE_MAX("cache_parts"),
    [ST_CACHE_MAX + STORE_CACHE_ENVELOPE] = CACHE_MAX("cache_envelope"),
    [ST_CACHE_MAX + STORE_CACHE_BODYSTRUCTURE] = CACHE_MAX("cache_bodystructure"),
    [ST_CACHE_MAX + STORE_CACHE_FIELDS] = CACHE_MAX("cache_fields"),
    [ST_CACHE_PUT + STORE_CACHE_PARTS] = CACHE_PUT("cache_parts"),
    [ST_CACHE_PUT + STORE_CACHE_ENVELOPE] = CACHE_PUT("cache_envelope"),
    [ST_CACHE_PUT + STORE_CACHE_BODYSTRUCTURE] = CACHE_PUT("cache_bodystructure"),
    [ST_CACHE_PUT + STORE_CACHE_FIELDS] = CACHE_PUT("cache_fields"),
    [ST_SET_FNAME] = "UPDATE msgs SET fname = ?2, size = ?3, vsize = 0 WHERE uid = ?1",
    [ST_GET_BASE] = "SELECT uid, base, fname, dir, flags, keywords, modseq, size, idate "
		    "FROM msgs WHERE base = ?1",
    [ST_IDATE_SET] = "UPDATE msgs SET idate = ?2 WHERE uid = ?1 AND idate = -1",
    [ST_META_PREFIX] = "SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1",
    /* index_pending_apply: the put-off values of one kind, all at once (a message expunged
       meanwhile gets none) */
    [ST_PENDING_VSIZE] = "UPDATE msgs SET vsize = p.value FROM tern_pending AS p "
			 "WHERE p.kind = 0 AND msgs.uid = p.uid",
    [ST_PENDING_IDATE] = "UPDATE msgs SET idate = p.value FROM tern_pending AS p "
			 "WHERE p.kind = 1 AND msgs.uid = p.uid AND msgs.idate = -1",
#define PENDING_PUT(t, k)                                                                          \
	"INSERT OR REPLACE INTO " t " (uid, value) SELECT p.uid, p.data FROM tern_pending AS p "   \
	"WHERE p.kind = 2 AND p.cache = " #k " AND EXISTS (SELECT 1 FROM msgs WHERE uid = p.uid)"
    [ST_PENDING_CACHE + STORE_CACHE_PARTS] = PENDING_PUT("cache_parts", 0),
    [ST_PENDING_CACHE + STORE_CACHE_ENVELOPE] = PENDING_PUT("cache_envelope", 1),
    [ST_PENDING_CACHE + STORE_CACHE_BODYSTRUCTURE] = PENDING_PUT("cache_bodystructure", 2),
    [ST_PENDING_CACHE + STORE_CACHE_FIELDS] = PENDING_PUT("cache_fields", 3),
};
_Static_assert(PENDING_VSIZE == 0 && PENDING_IDATE == 1 && PENDING_CACHE == 2 &&
		   STORE_CACHE_PARTS == 0 && STORE_CACHE_ENVELOPE == 1 &&
		   STORE_CACHE_BODYSTRUCTURE == 2 && STORE_CACHE_FIELDS == 3,
	       "the numbers in the ST_PENDING_* statements");

static const char index_schema[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS msgs (uid INTEGER PRIMARY KEY, base TEXT NOT NULL UNIQUE,"
    " fname TEXT NOT NULL, dir INTEGER NOT NULL, flags INTEGER NOT NULL,"
    " keywords INTEGER NOT NULL, modseq INTEGER NOT NULL, size INTEGER NOT NULL,"
    " idate INTEGER NOT NULL, vsize INTEGER NOT NULL DEFAULT 0);"
    INDEX_MODSEQ_SCHEMA ";"
    "CREATE TABLE IF NOT EXISTS expunged (uid INTEGER PRIMARY KEY, base TEXT NOT NULL,"
    " modseq INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged (modseq);"
    INDEX_NEW_LIST_SCHEMA ";";

/* The values cached per message, one table each (store_cache_kind), so that a FETCH of one
 * of them reads only its pages and the snapshot's scan of msgs stays small. */
static const char index_cache_schema[] =
    "CREATE TABLE IF NOT EXISTS cache_parts (uid INTEGER PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cache_envelope (uid INTEGER PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cache_bodystructure (uid INTEGER PRIMARY KEY,"
    " value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cache_fields (uid INTEGER PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS msgs_cache_del AFTER DELETE ON msgs BEGIN"
    " DELETE FROM cache_parts WHERE uid = OLD.uid;"
    " DELETE FROM cache_envelope WHERE uid = OLD.uid;"
    " DELETE FROM cache_bodystructure WHERE uid = OLD.uid;"
    " DELETE FROM cache_fields WHERE uid = OLD.uid; END;";

/* Version 1 to 2: version 1 kept the parsed structure in msgs.cache; it moves to its own
 * table (the column stays, empty). */
static const char index_migrate_1[] =
    "INSERT OR REPLACE INTO cache_parts (uid, value)"
    " SELECT uid, cache FROM msgs WHERE cache IS NOT NULL;"
    "UPDATE msgs SET cache = NULL WHERE cache IS NOT NULL;";


/* Per-folder totals kept in meta by triggers, so STATUS and quota checks read three rows
 * instead of walking every message: total_messages, total_bytes, total_unseen (no \Seen,
 * flag bit 18). Added to an index made before them, in the setup transaction. */
#define INDEX_SEEN_BIT "262144"
static const char index_totals_schema[] =
    "INSERT OR REPLACE INTO meta (key, value)"
    " SELECT 'total_messages', count(*) FROM msgs UNION ALL"
    " SELECT 'total_bytes', coalesce(sum(size), 0) FROM msgs UNION ALL"
    " SELECT 'total_unseen', count(*) FROM msgs WHERE flags & " INDEX_SEEN_BIT " = 0;"
    "CREATE TRIGGER IF NOT EXISTS msgs_totals_ins AFTER INSERT ON msgs BEGIN"
    " UPDATE meta SET value = value + CASE key WHEN 'total_messages' THEN 1"
    " WHEN 'total_bytes' THEN NEW.size ELSE NEW.flags & " INDEX_SEEN_BIT " = 0 END"
    " WHERE key IN ('total_messages', 'total_bytes', 'total_unseen'); END;"
    "CREATE TRIGGER IF NOT EXISTS msgs_totals_del AFTER DELETE ON msgs BEGIN"
    " UPDATE meta SET value = value - CASE key WHEN 'total_messages' THEN 1"
    " WHEN 'total_bytes' THEN OLD.size ELSE OLD.flags & " INDEX_SEEN_BIT " = 0 END"
    " WHERE key IN ('total_messages', 'total_bytes', 'total_unseen'); END;"
    "CREATE TRIGGER IF NOT EXISTS msgs_totals_upd AFTER UPDATE OF size, flags ON msgs"
    " WHEN NEW.size != OLD.size OR NEW.flags != OLD.flags BEGIN"
    " UPDATE meta SET value = value + CASE key WHEN 'total_bytes' THEN NEW.size - OLD.size"
    " ELSE (NEW.flags & " INDEX_SEEN_BIT " = 0) - (OLD.flags & " INDEX_SEEN_BIT " = 0) END"
    " WHERE key IN ('total_bytes', 'total_unseen'); END;";

struct index {
	sqlite3 *db;
	char *path;
	dev_t dev;
	ino_t ino;
	/* between index_bulk_begin and _end: the totals counted here while only inserts
	   happen (bulk_other: something else happened, count them with SQL at the end) */
	bool bulk, bulk_other;
	bool sync_off; /* this transaction fills an empty index: committed without fsync */
	bool wal_later; /* a new file: switched to WAL after its first write transaction */
	int64_t bulk_messages, bulk_bytes, bulk_unseen;
	sqlite3_stmt *st[ST_COUNT];
	struct index_feed feed; /* index_insert_rows: what tern_feed reads */
	/* index_batch_begin/_end: reads share one transaction (opened at the first read,
	   ended by a write transaction or the batch's end); cache writes wait in pending */
	unsigned batch;
	bool hold; /* index_cache_hold: a batch's end leaves the pending values */
	bool read_open; /* a read transaction of the batch is open */
	/* in that transaction: the highest UID of each cache table (bit kind of
	   cache_max_known: read), so a first FETCH does not search for what is not there */
	int64_t cache_max[STORE_CACHE_KINDS];
	unsigned cache_max_known;
	bool in_write;	/* between index_begin and its commit or rollback */
	struct index_pending *pending;
	size_t pending_count, pending_cap;
	struct buf pending_data; /* their bytes, one after the other */
	struct index_pending_feed pending_feed; /* index_pending_apply: what tern_pending reads */
	uint64_t async_seq; /* the last job given to the index thread for this file */
};

static int index_fail(struct index *ix, struct buf *err, const char *what)
{
	return store_err(err, "index %s: %s: %s", ix->path, what, sqlite3_errmsg(ix->db));
}

static sqlite3_stmt *index_stmt(struct index *ix, enum index_stmt which, struct buf *err)
{
	if (ix->st[which] == NULL &&
	    sqlite3_prepare_v3(ix->db, index_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
			       &ix->st[which], NULL) != SQLITE_OK) {
		index_fail(ix, err, "prepare");
		return NULL;
	}
	sqlite3_reset(ix->st[which]);
	sqlite3_clear_bindings(ix->st[which]);
	return ix->st[which];
}

static void index_thread_wait(uint64_t seq);

static void index_pending_clear(struct index *ix)
{
	ix->pending_count = 0;
	buf_reset(&ix->pending_data);
}

/* The WAL stays when the last connection closes (see index_setup), but the next first
   opener rebuilds its shared-memory index by reading the whole file: a connection that
   leaves more than INDEX_WAL_KEEP bytes (after a build from nothing, 20 MB for 100,000
   messages) checkpoints and truncates it, unless another connection is still using it
   (then the WAL index stays valid for the next opener anyway). */
static void index_trim_wal(struct index *ix)
{
	if (ix->db == NULL || ix->path == NULL)
		return;
	char *wal = x_asprintf("%s-wal", ix->path);
	struct stat st;
	if (stat(wal, &st) == 0 && st.st_size > INDEX_WAL_KEEP) {
		sqlite3_busy_timeout(ix->db, 0); /* never wait for other connections here */
		sqlite3_wal_checkpoint_v2(ix->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	x_free(&wal);
}

/* A new file to WAL mode (index_setup) once it is filled. Another connection may have
 * switched it already, or be in a transaction (busy: then the next open switches it). */
static void index_wal_switch(struct index *ix)
{
	if (!ix->wal_later)
		return;
	ix->wal_later = false;
	if (sqlite3_exec(ix->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK)
		log_debug("store: index %s: not switched to WAL yet: %s", ix->path,
			  sqlite3_errmsg(ix->db));
}

static void index_free(struct index *ix)
{
	index_thread_wait(ix->async_seq); /* nothing of this folder's left behind */
	index_pending_clear(ix);
	x_free(&ix->pending);
	buf_free(&ix->pending_data);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(ix->st[i]);
	if (ix->db != NULL && sqlite3_get_autocommit(ix->db))
		index_wal_switch(ix);
	index_trim_wal(ix);
	sqlite3_close_v2(ix->db);
	x_free(&ix->path);
	x_free(&ix);
}

/* Moves a damaged or foreign index aside (never deleted: it may help a bug report). */
static void index_quarantine(const char *path)
{
	char *aside = x_asprintf("%s.broken", path);
	if (rename(path, aside) < 0 && errno != ENOENT)
		log_warn("store: cannot move %s aside: %s", path, strerror(errno));
	else
		log_warn("store: index %s was damaged, moved to %s; rebuilding", path, aside);
	x_free(&aside);
	char *side = x_asprintf("%s-wal", path);
	unlink(side);
	x_free(&side);
	side = x_asprintf("%s-shm", path);
	unlink(side);
	x_free(&side);
}

/* Whether the totals triggers are there (an index made by an older Tern has none). */
static bool index_has_totals(struct index *ix)
{
	sqlite3_stmt *st = NULL;
	bool found = sqlite3_prepare_v2(ix->db,
					"SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND "
					"name = 'msgs_totals_upd'",
					-1, &st, NULL) == SQLITE_OK &&
		     sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* The IMAP worker's index thread (index_checkpoint_async), one per process, started at
 * the first use:
 * - checkpoints: a commit that grows the WAL past INDEX_WAL_PAGES_N pages would otherwise
 *   copy them into the file itself and wait for the checkpoint's two fdatasyncs (in a cold
 *   FETCH ENVELOPE of 10,000 messages, 12 MB of cache values: a tenth of its wall time).
 *   The thread runs the PASSIVE checkpoint SQLite's automatic one would have run, with a
 *   connection of its own (it never waits for another connection; writers go on meanwhile,
 *   and the first commit after a complete checkpoint restarts the WAL, as before);
 * - the cache values of a held batch (a FETCH of many messages, index_cache_hold): written
 *   by the thread in transactions of INDEX_PENDING_ASYNC bytes while the caller goes on
 *   parsing (they were a fifth of that FETCH's CPU). Only into the same index: the job
 *   carries the file's 'instance' and UIDVALIDITY, and a file made since (a rebuild, where
 *   a UID may name another message) gets none of them. The hold's end, and a write
 *   transaction of the caller's, wait until the thread has written them (a condition
 *   variable, not SQLite's sleeping busy handler).
 * The jobs run in order; job numbers (seq) say which are done. */
#define INDEX_JOBS_MAX 4		     /* queued; beyond, the caller waits */
#define INDEX_PENDING_ASYNC (1024 * 1024)  /* bytes of cache values per thread job */
#define INDEX_THREAD_LINGER_MS 50	     /* the thread's connection outlives its last job */
struct index_job {
	char *path;
	/* cache values (count 0: a checkpoint only), the index they were read from */
	struct index_pending *pending;
	size_t count;
	struct buf data;
	int64_t instance, uidvalidity;
};
static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	bool on, started;
	struct index_job jobs[INDEX_JOBS_MAX];
	size_t count;
	uint64_t queued, finished; /* job numbers */
	uint64_t last_write;	   /* the last job with cache values */
} ixt = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
	 false, false, {{0}}, 0, 0, 0, 0};
static _Thread_local bool ixt_self; /* this is the index thread */

void index_checkpoint_async(bool on)
{
	pthread_mutex_lock(&ixt.lock);
	ixt.on = on && sqlite3_threadsafe() != 0;
	pthread_mutex_unlock(&ixt.lock);
}

/* The thread's connections checkpoint as SQLite's automatic checkpoint would. */
static int index_thread_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	(void)arg;
	if (pages >= INDEX_WAL_PAGES_N)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

static int64_t index_thread_meta(sqlite3 *db, const char *key)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, index_sql[ST_META_GET], -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A job's cache values, in one transaction (the statements of index_pending_apply). */
static void index_thread_write(sqlite3 *db, const struct index_job *job)
{
	struct index_feed feed = {0};
	struct index_pending_feed pf = {
	    .count = job->count, .v = job->pending, .data = job->data.data};
	if (index_feed_register(db, &feed, &pf) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return;
	bool ok = index_thread_meta(db, "instance") == job->instance &&
		  index_thread_meta(db, "uidvalidity") == job->uidvalidity;
	unsigned kinds = 0;
	for (size_t i = 0; i < job->count; i++)
		kinds |= 1u << (job->pending[i].kind + job->pending[i].cache);
	for (unsigned k = 0; ok && k < PENDING_CACHE + STORE_CACHE_KINDS; k++) {
		if ((kinds & (1u << k)) == 0)
			continue;
		sqlite3_stmt *st = NULL;
		ok = sqlite3_prepare_v2(db, index_sql[ST_PENDING_VSIZE + k], -1, &st, NULL) ==
			 SQLITE_OK &&
		     sqlite3_step(st) == SQLITE_DONE;
		sqlite3_finalize(st);
	}
	/* a failed write is only lost work: the value is computed again when next asked */
	sqlite3_exec(db, ok ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* The thread's connection to job's file: the one of the last job when it was the same
 * file (its page cache has the tables' last pages), else a new one in *db. */
static void index_thread_job(const struct index_job *job, sqlite3 **db, char **db_path)
{
	if (*db != NULL && strcmp(*db_path, job->path) != 0) {
		sqlite3_close_v2(*db);
		*db = NULL;
		x_free(db_path);
	}
	if (*db == NULL) {
		if (sqlite3_open_v2(job->path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
				    NULL) != SQLITE_OK) {
			sqlite3_close_v2(*db);
			*db = NULL;
			return;
		}
		*db_path = x_strdup(job->path);
		/* as the folder's own connections (index_setup): closing this one, maybe the
		   last, neither checkpoints again nor deletes the WAL */
		int persist = 1;
		sqlite3_file_control(*db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
		sqlite3_db_config(*db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
		sqlite3_busy_timeout(*db, INDEX_BUSY_MS);
		sqlite3_exec(*db, "PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY", NULL, NULL,
			     NULL);
		sqlite3_wal_hook(*db, index_thread_wal_hook, NULL);
	}
	if (job->count > 0)
		index_thread_write(*db, job);
	else
		sqlite3_wal_checkpoint_v2(*db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

/* The thread's connection is closed once no job has come for INDEX_THREAD_LINGER_MS. */
static void *index_thread_run(void *arg)
{
	(void)arg;
	ixt_self = true;
	sqlite3 *db = NULL;
	char *db_path = NULL;
	pthread_mutex_lock(&ixt.lock);
	for (;;) {
		while (ixt.count == 0) {
			if (db == NULL) {
				pthread_cond_wait(&ixt.wake, &ixt.lock);
				continue;
			}
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += INDEX_THREAD_LINGER_MS * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			if (pthread_cond_timedwait(&ixt.wake, &ixt.lock, &until) == ETIMEDOUT &&
			    ixt.count == 0) {
				sqlite3_close_v2(db);
				db = NULL;
				x_free(&db_path);
			}
		}
		struct index_job job = ixt.jobs[0];
		pthread_mutex_unlock(&ixt.lock);
		index_thread_job(&job, &db, &db_path);
		pthread_mutex_lock(&ixt.lock);
		memmove(ixt.jobs, ixt.jobs + 1, --ixt.count * sizeof(ixt.jobs[0]));
		ixt.finished++;
		pthread_cond_broadcast(&ixt.done);
		pthread_mutex_unlock(&ixt.lock);
		free(job.path);
		free(job.pending);
		buf_free(&job.data);
		pthread_mutex_lock(&ixt.lock);
	}
	return NULL;
}

/* Queues a job (taking its memory) and returns its number; 0 when the thread is off (the
 * caller does the work). Waits while INDEX_JOBS_MAX are queued. A checkpoint of a path
 * already waiting is that one. */
static uint64_t index_thread_queue(const char *path, struct index_job *job)
{
	uint64_t seq = 0;
	pthread_mutex_lock(&ixt.lock);
	if (ixt.on && !ixt.started) {
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ixt.started = pthread_create(&t, &attr, index_thread_run, NULL) == 0;
		pthread_attr_destroy(&attr);
		if (!ixt.started)
			ixt.on = false;
	}
	if (ixt.on && job->count == 0) {
		/* the running job (index 0) has begun its checkpoint already: not that one */
		for (size_t i = 1; i < ixt.count && seq == 0; i++)
			if (ixt.jobs[i].count == 0 && strcmp(ixt.jobs[i].path, path) == 0)
				seq = ixt.finished + i + 1;
	}
	while (ixt.on && seq == 0 && ixt.count == INDEX_JOBS_MAX)
		pthread_cond_wait(&ixt.done, &ixt.lock);
	if (ixt.on && seq == 0 && (job->path = strdup(path)) != NULL) {
		ixt.jobs[ixt.count++] = *job;
		seq = ++ixt.queued;
		if (job->count > 0)
			ixt.last_write = seq;
		pthread_cond_signal(&ixt.wake);
	}
	pthread_mutex_unlock(&ixt.lock);
	return seq;
}

/* The number of the last job with cache values (a checkpoint does not stop a writer). */
static uint64_t index_thread_last(void)
{
	pthread_mutex_lock(&ixt.lock);
	uint64_t seq = ixt.last_write;
	pthread_mutex_unlock(&ixt.lock);
	return seq;
}

/* Waits until the thread has done job seq. */
static void index_thread_wait(uint64_t seq)
{
	if (seq == 0)
		return;
	pthread_mutex_lock(&ixt.lock);
	while (ixt.finished < seq)
		pthread_cond_wait(&ixt.done, &ixt.lock);
	pthread_mutex_unlock(&ixt.lock);
}

/* After each commit (sqlite3_wal_hook): SQLite's automatic checkpoint, on the thread when
 * index_checkpoint_async is on. */
static int index_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct index *ix = arg;
	struct index_job job = {0};
	if (pages < INDEX_WAL_PAGES_N)
		return SQLITE_OK;
	uint64_t seq = ixt_self ? 0 : index_thread_queue(ix->path, &job);
	if (seq == 0)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	else if (seq > ix->async_seq)
		ix->async_seq = seq;
	return SQLITE_OK;
}

/* Sets up the connection and schema; returns an SQLite code. */
static int index_setup(struct index *ix, bool *fresh_r)
{
	int rc =
	    sqlite3_open_v2(ix->path, &ix->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_busy_timeout(ix->db, INDEX_BUSY_MS);
	if ((rc = index_feed_register(ix->db, &ix->feed, &ix->pending_feed)) != SQLITE_OK)
		return rc;
	/* Every POP3 or IMAP session opens and closes the index: by default the last
	   connection to close checkpoints the WAL (two fdatasyncs) and deletes the -wal and
	   -shm files, which the next one creates again (and SQLite fsyncs the folder for the
	   new WAL). Keep both files, and leave checkpoints to the commits that grow the WAL
	   past wal_autocheckpoint pages; journal_size_limit then cuts the file back. */
	int persist = 1;
	sqlite3_file_control(ix->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	sqlite3_db_config(ix->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	/* 16 KB pages (a new file only): a quarter of the writes of the default 4 KB when
	   100,000 rows are indexed at once, and shallower trees. Statement journals (the
	   totals triggers need them) in memory: no temporary file per change. A page cache
	   of 512 KiB per connection, not SQLite's 2 MB: every IMAP/POP3 session holds a
	   connection, and a rebuild raises it for its one big transaction. */
	/* synchronous=OFF until the set-up transaction is committed: on a new file the switch
	   to WAL is a rollback-journal transaction (journal, file and folder flushed: 4
	   fdatasyncs) and the schema's commit creates the WAL (2 more), 5-10 ms on the first
	   SELECT of a folder, for a cache that is built again if a crash damages it. An
	   existing file is in WAL mode already and its set-up writes nothing (but a
	   migration). */
	rc = sqlite3_exec(ix->db,
			  "PRAGMA synchronous=OFF; PRAGMA page_size=16384; "
			  "PRAGMA temp_store=MEMORY; "
			  "PRAGMA cache_size=-512; PRAGMA wal_autocheckpoint=" INDEX_WAL_PAGES "; "
			  "PRAGMA journal_size_limit=" INDEX_WAL_LIMIT ";",
			  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(ix->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_stmt *st = NULL;
	rc = sqlite3_prepare_v2(ix->db, "PRAGMA user_version", -1, &st, NULL);
	int version = -1;
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_OK && (version < 0 || version > INDEX_VERSION))
		rc = SQLITE_NOTADB; /* another version: rebuild */
	if (rc == SQLITE_OK && version == 0)
		rc = sqlite3_exec(ix->db, index_schema, NULL, NULL, NULL);
	if (rc == SQLITE_OK && version != INDEX_VERSION)
		rc = sqlite3_exec(ix->db, index_cache_schema, NULL, NULL, NULL);
	if (rc == SQLITE_OK && version == 1)
		rc = sqlite3_exec(ix->db, index_migrate_1, NULL, NULL, NULL);
	/* Versions 1 and 2 to 3: nothing more. Their full msgs_modseq stays: the queries' extra
	   condition does not stop SQLite from using it, and processes of an older Tern that
	   have the file open go on using it (a partial one would fail their statements).
	   Version 3 only keeps an older Tern from using a file with the partial index: it
	   moves such a file aside and builds its own. */
	if (rc == SQLITE_OK && version != INDEX_VERSION)
		rc = sqlite3_exec(ix->db,
				  "INSERT OR REPLACE INTO meta (key, value) "
				  "VALUES ('instance', random()); PRAGMA user_version = " INDEX_VERSION_STR,
				  NULL, NULL, NULL);
	/* a new file gets them with its first build (index_bulk_end), which would only drop
	   them first */
	if (rc == SQLITE_OK && version != 0 && !index_has_totals(ix))
		rc = sqlite3_exec(ix->db, index_totals_schema, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(ix->db, "COMMIT", NULL, NULL, NULL);
	else
		sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
	/* A new file stays in rollback-journal mode until its first write transaction (the
	   build from the files) is committed: its pages then go to the file once, where in WAL
	   mode they were written to the WAL and copied into the file by the checkpoint that the
	   commit's size set off (a third of the commit's cost). The journal holds only the few
	   schema pages the build changes. */
	if (rc == SQLITE_OK && version == 0)
		ix->wal_later = true;
	else if (rc == SQLITE_OK)
		rc = sqlite3_exec(ix->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(ix->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	/* in place of wal_autocheckpoint's hook (the same threshold) */
	if (rc == SQLITE_OK)
		sqlite3_wal_hook(ix->db, index_wal_hook, ix);
	if (rc == SQLITE_OK)
		*fresh_r = index_meta(ix, "uidvalidity") == 0;
	return rc;
}

int index_open(const char *path, struct index **index_r, bool *fresh_r, struct buf *err)
{
	for (int attempt = 0, busy = 0; attempt < 2; attempt++) {
		struct index *ix = X_NEW(struct index);
		ix->path = x_strdup(path);
		int rc = index_setup(ix, fresh_r);
		struct stat st;
		if (((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) &&
		    busy++ < INDEX_OPEN_BUSY_TRIES) {
			/* two processes creating the file at once: switching to WAL does not
			   wait on the busy handler, so wait here */
			index_free(ix);
			usleep(20000);
			attempt--;
			continue;
		}
		if (rc == SQLITE_OK && stat(path, &st) == 0) {
			ix->dev = st.st_dev;
			ix->ino = st.st_ino;
			*index_r = ix;
			return 0;
		}
		if (rc == SQLITE_OK)
			rc = SQLITE_CANTOPEN;
		if ((rc & 0xff) != SQLITE_CORRUPT && (rc & 0xff) != SQLITE_NOTADB) {
			store_err(err, "index %s: %s", path,
				  ix->db != NULL ? sqlite3_errmsg(ix->db) : sqlite3_errstr(rc));
			index_free(ix);
			return -1;
		}
		index_free(ix);
		index_quarantine(path);
	}
	return store_err(err, "index %s: still damaged after rebuilding", path);
}

void index_close(struct index **index)
{
	if (*index == NULL)
		return;
	index_free(*index);
	*index = NULL;
}

bool index_replaced(struct index *ix)
{
	struct stat st;
	if (stat(ix->path, &st) < 0)
		return true;
	return st.st_ino != ix->ino || st.st_dev != ix->dev;
}

/* Back to synchronous=NORMAL after a transaction that filled an empty index. */
static void index_sync_restore(struct index *ix)
{
	if (ix->sync_off)
		sqlite3_exec(ix->db, "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-512", NULL,
			     NULL, NULL);
	ix->sync_off = false;
}

/* Ends the batch's read transaction (before a write transaction, or at the batch's end). */
static void index_read_close(struct index *ix)
{
	sqlite3_stmt *st;
	if (ix->read_open && !sqlite3_get_autocommit(ix->db)) {
		if ((st = index_stmt(ix, ST_READ_COMMIT, NULL)) == NULL) {
			sqlite3_exec(ix->db, "COMMIT", NULL, NULL, NULL);
		} else {
			sqlite3_step(st);
			sqlite3_reset(st);
		}
	}
	ix->read_open = false;
	ix->cache_max_known = 0;
}

/* In a batch, the reads that follow share one transaction (one lock of the file instead of
 * one per statement). */
static void index_read_open(struct index *ix)
{
	if (ix->batch == 0 || ix->in_write || ix->read_open || !sqlite3_get_autocommit(ix->db))
		return;
	sqlite3_stmt *st = index_stmt(ix, ST_READ_BEGIN, NULL);
	ix->read_open = st != NULL && sqlite3_step(st) == SQLITE_DONE;
	if (st != NULL)
		sqlite3_reset(st);
}

int index_begin(struct index *ix, struct buf *err)
{
	index_read_close(ix);
	/* the thread's transactions first (this process's writes wait on a condition variable,
	   not in SQLite's busy handler, which sleeps at least a millisecond) */
	index_thread_wait(index_thread_last());
	/* An index with no state yet is about to be built from the files: a cache, so its
	   first commit need not wait for the disk (a crash only means building it again) */
	/* In WAL mode the build keeps its pages in memory (a page written out and changed
	   again would be a second WAL frame); a new file in rollback-journal mode (wal_later)
	   writes a page out when the usual 512 KiB are full, once (pages past the file's old
	   end are not journaled): a third fewer page faults, 6% of the build's CPU */
	if (index_meta(ix, "uidvalidity") == 0 &&
	    sqlite3_exec(ix->db,
			 ix->wal_later ? "PRAGMA synchronous=OFF"
				       : "PRAGMA synchronous=OFF; PRAGMA cache_size=-16384",
			 NULL, NULL, NULL) == SQLITE_OK)
		ix->sync_off = true;
	if (sqlite3_exec(ix->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		index_sync_restore(ix);
		return index_fail(ix, err, "lock");
	}
	ix->in_write = true;
	return 0;
}

static void index_pending_apply(struct index *ix);
static int index_run(struct index *ix, sqlite3_stmt *st, struct buf *err, const char *what);

int index_commit(struct index *ix, struct buf *err)
{
	index_pending_apply(ix); /* the batch's cache writes ride along */
	if (sqlite3_exec(ix->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		index_fail(ix, err, "commit");
		index_rollback(ix);
		return -1;
	}
	ix->in_write = false;
	index_wal_switch(ix);
	index_sync_restore(ix);
	return 0;
}

void index_rollback(struct index *ix)
{
	if (!sqlite3_get_autocommit(ix->db))
		sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
	ix->in_write = false;
	ix->bulk = false;
	index_sync_restore(ix);
}

/* Writes the cache values put off by a batch (inside a write transaction): a few, one
 * statement each; more, one statement per kind over tern_pending (a cold FETCH of 10,000
 * messages puts off 40,000: one statement each cost a third of the FETCH). A failed one is
 * only lost work: the value is computed again when next asked for. */
static void index_pending_apply(struct index *ix)
{
	if (ix->pending_count >= INDEX_PENDING_BULK_MIN) {
		unsigned kinds = 0; /* bit PENDING_VSIZE, PENDING_IDATE, PENDING_CACHE + cache */
		for (size_t i = 0; i < ix->pending_count; i++)
			kinds |= 1u << (ix->pending[i].kind + ix->pending[i].cache);
		ix->pending_feed = (struct index_pending_feed){
		    .count = ix->pending_count, .v = ix->pending, .data = ix->pending_data.data};
		for (unsigned k = 0; k < PENDING_CACHE + STORE_CACHE_KINDS; k++) {
			sqlite3_stmt *st;
			if ((kinds & (1u << k)) == 0 ||
			    (st = index_stmt(ix, ST_PENDING_VSIZE + k, NULL)) == NULL ||
			    index_run(ix, st, NULL, "cache") < 0) {
				if (kinds & (1u << k))
					log_debug("store: index %s: cache writes failed: %s", ix->path,
						  sqlite3_errmsg(ix->db));
			}
		}
		ix->pending_feed = (struct index_pending_feed){0};
		index_pending_clear(ix);
		return;
	}
	for (size_t i = 0; i < ix->pending_count; i++) {
		const struct index_pending *p = &ix->pending[i];
		int r = p->kind == PENDING_VSIZE   ? index_vsize_set(ix, p->uid, (uint64_t)p->value, NULL)
			: p->kind == PENDING_IDATE ? index_idate_set(ix, p->uid, p->value, NULL)
						   : index_cache_put(ix, p->uid, p->cache,
								     ix->pending_data.data + p->off,
								     p->len, NULL);
		if (r < 0) {
			log_debug("store: index %s: a cache write failed", ix->path);
			break;
		}
	}
	index_pending_clear(ix);
}

/* Hands a held batch's cache values to the index thread; false when it is off. */
static bool index_pending_async(struct index *ix)
{
	if (!ix->hold || !ixt.on)
		return false;
	struct index_job job = {.pending = ix->pending,
				.count = ix->pending_count,
				.data = ix->pending_data,
				.instance = index_meta(ix, "instance"),
				.uidvalidity = index_meta(ix, "uidvalidity")};
	uint64_t seq = index_thread_queue(ix->path, &job);
	if (seq == 0)
		return false;
	ix->async_seq = seq;
	ix->pending = NULL;
	ix->pending_count = ix->pending_cap = 0;
	ix->pending_data = (struct buf)BUF_INIT;
	/* the next job's bytes without growing from 64 bytes again (the one grown value past
	   the limit aside) */
	buf_reserve(&ix->pending_data, INDEX_PENDING_ASYNC - 1);
	return true;
}

/* Writes what the batch put off, in one transaction. */
static void index_pending_flush(struct index *ix)
{
	if (ix->pending_count == 0)
		return;
	index_read_close(ix);
	if (index_pending_async(ix))
		return;
	struct buf err = BUF_INIT;
	if (index_begin(ix, &err) < 0 || index_commit(ix, &err) < 0) {
		log_debug("store: %s", buf_cstr(&err));
		index_pending_clear(ix);
	}
	buf_free(&err);
}

const char *index_path(struct index *ix)
{
	return ix->path;
}

void index_release_memory(struct index *ix)
{
	if (ix->batch == 0)
		sqlite3_db_release_memory(ix->db);
}

void index_batch_begin(struct index *ix)
{
	ix->batch++;
}

void index_batch_end(struct index *ix)
{
	if (ix->batch == 0 || --ix->batch > 0)
		return;
	index_read_close(ix);
	if (!ix->hold)
		index_pending_flush(ix);
}

void index_cache_hold(struct index *ix, bool hold)
{
	ix->hold = hold;
	if (!hold && ix->batch == 0) {
		index_pending_flush(ix);
		index_thread_wait(ix->async_seq); /* written, before the caller says so */
	}
}

/* Queues a cache write of a batch; false when there is no batch (write it now). */
static bool index_pending_add(struct index *ix, uint32_t uid, enum index_pending_kind kind,
			      unsigned cache, int64_t value, const void *data, size_t len)
{
	if (ix->batch == 0 || ix->in_write)
		return false;
	if (ix->pending_count == ix->pending_cap) {
		ix->pending_cap = ix->pending_cap ? ix->pending_cap * 2 : 64;
		ix->pending = x_reallocarray(ix->pending, ix->pending_cap, sizeof(*ix->pending));
	}
	struct index_pending *p = &ix->pending[ix->pending_count++];
	*p = (struct index_pending){.uid = uid, .kind = (uint8_t)kind, .cache = (uint8_t)cache,
				    .value = value, .off = ix->pending_data.len, .len = len};
	if (len > 0)
		buf_append(&ix->pending_data, data, len);
	if (ix->pending_data.len + ix->pending_count * sizeof(*p) >
	    (ix->hold && ixt.on ? INDEX_PENDING_ASYNC : INDEX_PENDING_MAX))
		index_pending_flush(ix); /* bounded memory: write them now, go on reading */
	return true;
}

/* A cache value put off in this batch (the last one for uid), or NULL. */
static const struct index_pending *index_pending_find(struct index *ix, uint32_t uid,
						      enum index_pending_kind kind,
						      unsigned cache)
{
	for (size_t i = ix->pending_count; i-- > 0;) {
		const struct index_pending *p = &ix->pending[i];
		if (p->uid == uid && p->kind == kind && p->cache == cache)
			return p;
		if (ix->pending_count - i >= INDEX_PENDING_LOOKBACK)
			break;
	}
	return NULL;
}

int index_bulk_begin(struct index *ix, struct buf *err)
{
	ix->bulk = true;
	ix->bulk_other = false;
	ix->bulk_messages = ix->bulk_bytes = ix->bulk_unseen = 0;
	if (sqlite3_exec(ix->db,
			 "DROP TRIGGER IF EXISTS msgs_totals_ins;"
			 "DROP TRIGGER IF EXISTS msgs_totals_del;"
			 "DROP TRIGGER IF EXISTS msgs_totals_upd;",
			 NULL, NULL, NULL) != SQLITE_OK)
		return index_fail(ix, err, "bulk");
	return 0;
}

int index_bulk_end(struct index *ix, struct buf *err)
{
	/* the triggers and, when something else than inserts happened, totals by SQL */
	const char *sql = strstr(index_totals_schema, "CREATE TRIGGER");
	bool counted = ix->bulk && !ix->bulk_other &&
		       (int64_t)index_meta(ix, "total_messages") == 0;
	ix->bulk = false;
	if (!counted)
		sql = index_totals_schema;
	else if (index_meta_set(ix, "total_messages", ix->bulk_messages, err) < 0 ||
		 index_meta_set(ix, "total_bytes", ix->bulk_bytes, err) < 0 ||
		 index_meta_set(ix, "total_unseen", ix->bulk_unseen, err) < 0)
		return -1;
	if (sqlite3_exec(ix->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return index_fail(ix, err, "totals");
	return 0;
}

int64_t index_meta(struct index *ix, const char *key)
{
	sqlite3_stmt *st = index_stmt(ix, ST_META_GET, NULL);
	if (st == NULL)
		return 0;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return v;
}

/* Steps a statement that returns no rows. */
static int index_run(struct index *ix, sqlite3_stmt *st, struct buf *err, const char *what)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return index_fail(ix, err, what);
	return 0;
}

int index_meta_set(struct index *ix, const char *key, int64_t value, struct buf *err)
{
	sqlite3_stmt *st = index_stmt(ix, ST_META_SET, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, value);
	return index_run(ix, st, err, "meta");
}

int index_insert(struct index *ix, const struct index_row *r, struct buf *err)
{
	sqlite3_stmt *st = index_stmt(ix, ST_INSERT, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, r->uid);
	sqlite3_bind_text(st, 2, r->base, r->baselen > 0 ? (int)r->baselen : -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->fname, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, r->dir);
	sqlite3_bind_int64(st, 5, r->flags);
	sqlite3_bind_int64(st, 6, r->keywords);
	sqlite3_bind_int64(st, 7, (int64_t)r->modseq);
	sqlite3_bind_int64(st, 8, (int64_t)r->size);
	sqlite3_bind_int64(st, 9, r->idate);
	if (index_run(ix, st, err, "insert") < 0)
		return -1;
	if (sqlite3_changes(ix->db) == 0)
		return store_err(err, "index %s: insert: UID %u or its name is there already",
				 ix->path, r->uid);
	if (ix->bulk) {
		ix->bulk_messages++;
		ix->bulk_bytes += (int64_t)r->size;
		ix->bulk_unseen += (r->flags & STORE_FLAG_SEEN) == 0;
	}
	return 0;
}

int index_insert_rows(struct index *ix, const struct index_row *rows, size_t count,
		      struct buf *err)
{
	sqlite3_stmt *st = index_stmt(ix, ST_INSERT_FEED, err);
	if (st == NULL)
		return -1;
	/* a savepoint, so that a conflict (OR IGNORE: that row left out) can be undone */
	if (sqlite3_exec(ix->db, "SAVEPOINT feed", NULL, NULL, NULL) != SQLITE_OK)
		return index_fail(ix, err, "savepoint");
	ix->feed = (struct index_feed){.rows = rows, .count = count};
	int r = index_run(ix, st, err, "insert");
	ix->feed = (struct index_feed){0};
	bool all = r == 0 && (size_t)sqlite3_changes64(ix->db) == count;
	if (!all && sqlite3_exec(ix->db, "ROLLBACK TO feed", NULL, NULL, NULL) != SQLITE_OK)
		r = index_fail(ix, err, "rollback to savepoint");
	if (sqlite3_exec(ix->db, "RELEASE feed", NULL, NULL, NULL) != SQLITE_OK && r == 0)
		r = index_fail(ix, err, "release savepoint");
	if (r < 0 || !all)
		return r < 0 ? -1 : 0;
	for (size_t i = 0; ix->bulk && i < count; i++) {
		ix->bulk_messages++;
		ix->bulk_bytes += (int64_t)rows[i].size;
		ix->bulk_unseen += (rows[i].flags & STORE_FLAG_SEEN) == 0;
	}
	return 1;
}

int index_update(struct index *ix, const struct index_row *r, struct buf *err)
{
	ix->bulk_other = true;
	sqlite3_stmt *st = index_stmt(ix, ST_UPDATE, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, r->uid);
	sqlite3_bind_text(st, 2, r->fname, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, r->dir);
	sqlite3_bind_int64(st, 4, r->flags);
	sqlite3_bind_int64(st, 5, r->keywords);
	sqlite3_bind_int64(st, 6, (int64_t)r->modseq);
	return index_run(ix, st, err, "update");
}

/* Per row, the totals trigger costs a statement journal and a sub-program; for many rows
 * the triggers are switched off for this connection only (SQLITE_DBCONFIG_ENABLE_TRIGGER:
 * nothing changes in the file, other connections keep theirs) and total_unseen is moved
 * once by the caller's count. */
#define INDEX_UPDATE_BULK_MIN 32

int index_update_rows(struct index *ix, const struct index_row *rows, size_t count,
		      int64_t unseen_delta, struct buf *err)
{
	if (count < INDEX_UPDATE_BULK_MIN) {
		for (size_t i = 0; i < count; i++)
			if (index_update(ix, &rows[i], err) < 0)
				return -1;
		return 0;
	}
	ix->bulk_other = true;
	sqlite3_stmt *st = index_stmt(ix, ST_UPDATE_FEED, err);
	if (st == NULL)
		return -1;
	int on = 0;
	if (sqlite3_db_config(ix->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &on) != SQLITE_OK ||
	    on != 0)
		return index_fail(ix, err, "triggers off");
	ix->feed = (struct index_feed){.rows = rows, .count = count};
	int r = index_run(ix, st, err, "update");
	ix->feed = (struct index_feed){0};
	size_t changed = r == 0 ? (size_t)sqlite3_changes64(ix->db) : 0;
	if (sqlite3_db_config(ix->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 1, &on) != SQLITE_OK ||
	    on != 1) {
		/* a connection without its triggers would miscount every later change */
		fatal("store: index %s: cannot switch the triggers back on", ix->path);
	}
	if (r < 0)
		return -1;
	if (changed != count) /* a row missing: count the totals again */
		return sqlite3_exec(ix->db, index_totals_schema, NULL, NULL, NULL) == SQLITE_OK
			   ? 0
			   : index_fail(ix, err, "totals");
	if (unseen_delta == 0)
		return 0;
	if ((st = index_stmt(ix, ST_UNSEEN_ADD, err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, unseen_delta);
	return index_run(ix, st, err, "totals");
}

int index_delete(struct index *ix, uint32_t uid, const char *base, uint64_t modseq, struct buf *err)
{
	ix->bulk_other = true;
	sqlite3_stmt *st = index_stmt(ix, ST_DELETE, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, uid);
	if (index_run(ix, st, err, "delete") < 0)
		return -1;
	if ((st = index_stmt(ix, ST_EXPUNGED_ADD, err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, uid);
	sqlite3_bind_text(st, 2, base, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)modseq);
	return index_run(ix, st, err, "expunge");
}

static void index_row_read(sqlite3_stmt *st, struct index_row *r)
{
	r->uid = (uint32_t)sqlite3_column_int64(st, 0);
	r->base = (const char *)sqlite3_column_text(st, 1);
	r->baselen = 0;
	r->fname = (const char *)sqlite3_column_text(st, 2);
	r->dir = sqlite3_column_int(st, 3);
	r->flags = (uint32_t)sqlite3_column_int64(st, 4);
	r->keywords = (uint32_t)sqlite3_column_int64(st, 5);
	r->modseq = (uint64_t)sqlite3_column_int64(st, 6);
	r->size = (uint64_t)sqlite3_column_int64(st, 7);
	r->idate = sqlite3_column_int64(st, 8);
	if (r->base == NULL)
		r->base = "";
	if (r->fname == NULL)
		r->fname = "";
}

/* The snapshot's scans: no names (refresh does not use them). */
static const char *const index_scan_nameless[2] = {
    "SELECT uid, NULL, NULL, dir, flags, keywords, modseq, size, idate FROM msgs "
    "WHERE modseq > ?1 ORDER BY uid",
    "SELECT uid, NULL, NULL, dir, flags, keywords, modseq, size, idate FROM msgs "
    "INDEXED BY msgs_modseq WHERE modseq > ?1 AND " INDEX_MODSEQ_PARTIAL " ORDER BY uid",
};

static int index_scan_sql(struct index *ix, const char *sql, uint64_t since,
			  int (*cb)(void *ctx, const struct index_row *), void *ctx,
			  struct buf *err);

int index_scan_msgs(struct index *ix, uint64_t since,
		    int (*cb)(void *ctx, const struct index_row *), void *ctx, struct buf *err)
{
	return index_scan_sql(ix, index_scan_nameless[since >= INDEX_MODSEQ_BUILT], since, cb, ctx,
			      err);
}

int index_scan(struct index *ix, uint64_t since, int (*cb)(void *ctx, const struct index_row *),
	       void *ctx, struct buf *err)
{
	/* since 0 (or 1): every row in UID order; otherwise the few changed rows through the
	   modseq index (the planner would rather walk all rows to avoid the sort). */
	static const char all_sql[] = "SELECT uid, base, fname, dir, flags, keywords, modseq, "
				      "size, idate FROM msgs WHERE modseq > ?1 ORDER BY uid";
	/* new/: uid, base and fname only, all from the covering partial index */
	static const char new_sql[] = "SELECT uid, base, fname, 0, 0, 0, 0, 0, 0 FROM msgs "
				      "INDEXED BY msgs_in_new WHERE dir = 0 AND ?1 = ?1 "
				      "ORDER BY uid";
	const char *sql = since == INDEX_SCAN_NEW	  ? new_sql
			  : since < INDEX_MODSEQ_BUILT ? all_sql
						       : index_sql[ST_SCAN];
	if (since == INDEX_SCAN_NEW)
		since = 0;
	return index_scan_sql(ix, sql, since, cb, ctx, err);
}

static int index_scan_sql(struct index *ix, const char *sql, uint64_t since,
			  int (*cb)(void *ctx, const struct index_row *), void *ctx,
			  struct buf *err)
{
	/* Not the cached statement: a callback may use the others, and scans may nest. */
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
		return index_fail(ix, err, "scan");
	sqlite3_bind_int64(st, 1, (int64_t)since);
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct index_row r;
		index_row_read(st, &r);
		if ((ret = cb(ctx, &r)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = index_fail(ix, err, "scan");
	sqlite3_finalize(st);
	return ret;
}

int index_scan_expunged(struct index *ix, uint64_t since,
			int (*cb)(void *ctx, uint32_t uid, const char *base), void *ctx,
			struct buf *err)
{
	sqlite3_stmt *st = index_stmt(ix, ST_SCAN_EXPUNGED, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (int64_t)since);
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *base = (const char *)sqlite3_column_text(st, 1);
		if ((ret = cb(ctx, (uint32_t)sqlite3_column_int64(st, 0), base ? base : "")) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = index_fail(ix, err, "scan expunged");
	sqlite3_reset(st);
	return ret;
}

/* Steps a one-row lookup and copies the row's strings into fname_buf. */
static int index_get_row(struct index *ix, sqlite3_stmt *st, struct index_row *r,
			 struct buf *fname_buf, struct buf *err)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 0 : index_fail(ix, err, "get");
	}
	index_row_read(st, r);
	size_t blen = strlen(r->base);
	buf_reset(fname_buf);
	buf_append(fname_buf, r->base, blen + 1);
	buf_append_str(fname_buf, r->fname);
	r->base = fname_buf->data;
	r->fname = fname_buf->data + blen + 1;
	sqlite3_reset(st);
	return 1;
}

int index_get(struct index *ix, uint32_t uid, struct index_row *r, struct buf *fname_buf,
	      struct buf *err)
{
	index_read_open(ix);
	sqlite3_stmt *st = index_stmt(ix, ST_GET, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, uid);
	return index_get_row(ix, st, r, fname_buf, err);
}

int index_get_base(struct index *ix, const char *base, size_t len, struct index_row *r,
		   struct buf *fname_buf, struct buf *err)
{
	sqlite3_stmt *st = index_stmt(ix, ST_GET_BASE, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, base, (int)len, SQLITE_STATIC);
	return index_get_row(ix, st, r, fname_buf, err);
}

int index_idate_set(struct index *ix, uint32_t uid, int64_t idate, struct buf *err)
{
	if (index_pending_add(ix, uid, PENDING_IDATE, 0, idate, NULL, 0))
		return 0;
	sqlite3_stmt *st = index_stmt(ix, ST_IDATE_SET, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, uid);
	sqlite3_bind_int64(st, 2, idate);
	return index_run(ix, st, err, "idate");
}

int index_new_list_create(struct index *ix, struct buf *err)
{
	if (sqlite3_exec(ix->db, INDEX_NEW_LIST_SCHEMA, NULL, NULL, NULL) != SQLITE_OK)
		return index_fail(ix, err, "create index");
	return 0;
}

int index_vsize_get(struct index *ix, uint32_t uid, uint64_t *vsize_r, struct buf *err)
{
	const struct index_pending *p = index_pending_find(ix, uid, PENDING_VSIZE, 0);
	if (p != NULL) {
		*vsize_r = (uint64_t)p->value;
		return 0;
	}
	index_read_open(ix);
	sqlite3_stmt *st = index_stmt(ix, ST_VSIZE_GET, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, uid);
	*vsize_r = sqlite3_step(st) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return 0;
}

int index_vsize_set(struct index *ix, uint32_t uid, uint64_t vsize, struct buf *err)
{
	if (index_pending_add(ix, uid, PENDING_VSIZE, 0, (int64_t)vsize, NULL, 0))
		return 0;
	sqlite3_stmt *st = index_stmt(ix, ST_VSIZE_SET, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, uid);
	sqlite3_bind_int64(st, 2, (int64_t)vsize);
	return index_run(ix, st, err, "vsize");
}

/* Whether uid is above the highest UID of the cache table of kind, in the batch's read
 * transaction (the value read once per transaction): a cold FETCH of many messages then
 * asks each table once per step instead of once per message (2.6% of its CPU). */
static bool index_cache_above_max(struct index *ix, uint32_t uid, enum store_cache_kind kind)
{
	if ((ix->cache_max_known & (1u << kind)) == 0) {
		sqlite3_stmt *st = index_stmt(ix, ST_CACHE_MAX + kind, NULL);
		if (st == NULL)
			return false;
		ix->cache_max[kind] = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) !=
			SQLITE_NULL ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		ix->cache_max_known |= 1u << kind;
	}
	return (int64_t)uid > ix->cache_max[kind];
}

int index_cache_get(struct index *ix, uint32_t uid, enum store_cache_kind kind, struct buf *out,
		    struct buf *err)
{
	const struct index_pending *p = index_pending_find(ix, uid, PENDING_CACHE, kind);
	if (p != NULL) {
		buf_reset(out);
		buf_append(out, ix->pending_data.data + p->off, p->len);
		return 1;
	}
	if (kind >= STORE_CACHE_KINDS)
		return store_err(err, "no such cache");
	index_read_open(ix);
	if (ix->read_open && index_cache_above_max(ix, uid, kind))
		return 0;
	sqlite3_stmt *st = index_stmt(ix, ST_CACHE_GET + kind, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, uid);
	int found = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		buf_reset(out);
		const void *v = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);
		if (n > 0)
			buf_append(out, v, (size_t)n);
		found = 1;
	}
	sqlite3_reset(st);
	return found;
}

int index_cache_put(struct index *ix, uint32_t uid, enum store_cache_kind kind, const void *data,
		    size_t len, struct buf *err)
{
	if (len > INT32_MAX)
		return store_err(err, "cache blob too large");
	if (kind >= STORE_CACHE_KINDS)
		return store_err(err, "no such cache");
	if (index_pending_add(ix, uid, PENDING_CACHE, kind, 0, data, len))
		return 0;
	ix->cache_max_known = 0;
	sqlite3_stmt *st = index_stmt(ix, ST_CACHE_PUT + kind, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, uid);
	sqlite3_bind_blob(st, 2, len ? data : "", (int)len, SQLITE_TRANSIENT);
	return index_run(ix, st, err, "cache");
}

int index_set_place(struct index *ix, uint32_t uid, const char *fname, uint64_t size,
		    struct buf *err)
{
	ix->bulk_other = true;
	sqlite3_stmt *st = index_stmt(ix, ST_SET_FNAME, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, uid);
	sqlite3_bind_text(st, 2, fname, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)size);
	return index_run(ix, st, err, "set place");
}

int index_meta_prefix(struct index *ix, const char *prefix,
		      int (*cb)(void *ctx, const char *key, int64_t value), void *ctx,
		      struct buf *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ix->db, index_sql[ST_META_PREFIX], -1, &st, NULL) != SQLITE_OK)
		return index_fail(ix, err, "meta scan");
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		if ((ret = cb(ctx, key ? key : "", sqlite3_column_int64(st, 1))) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = index_fail(ix, err, "meta scan");
	sqlite3_finalize(st);
	return ret;
}

int index_meta_delete_prefix(struct index *ix, const char *prefix, struct buf *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ix->db, "DELETE FROM meta WHERE substr(key, 1, length(?1)) = ?1", -1,
			       &st, NULL) != SQLITE_OK)
		return index_fail(ix, err, "meta delete");
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : index_fail(ix, err, "meta delete");
}

int index_totals(struct index *ix, uint64_t *messages_r, uint64_t *bytes_r, struct buf *err)
{
	*messages_r = (uint64_t)index_meta(ix, "total_messages");
	*bytes_r = (uint64_t)index_meta(ix, "total_bytes");
	return 0;
}

int index_status(struct index *ix, struct store_folder_status *st_r, struct buf *err)
{
	st_r->messages = (uint64_t)index_meta(ix, "total_messages");
	st_r->unseen = (uint64_t)index_meta(ix, "total_unseen");
	st_r->size = (uint64_t)index_meta(ix, "total_bytes");
	st_r->uidvalidity = (uint32_t)index_meta(ix, "uidvalidity");
	st_r->uidnext = (uint32_t)index_meta(ix, "uidnext");
	st_r->highestmodseq = (uint64_t)index_meta(ix, "highestmodseq");
	return 0;
}
