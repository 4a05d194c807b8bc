/* lookup-table: the table vtable and its file backends (aliases:, map:).
 *
 * A source text file is the truth; PATH.db is an SQLite cache of it (tables `entry(key,
 * value)` with the values joined by LF, and `meta(name, value)` holding the source's
 * identity: inode, size and mtime in nanoseconds). Before each lookup the source is
 * stat'ed; when it changed (or the .db belongs to another version of it) the cache is
 * rebuilt into a temporary file, fsync'd and renamed over PATH.db, so readers in other
 * processes always see a whole file. Where PATH.db cannot be written, the cache is built
 * in memory instead (logged once).
 */
#include "lookup.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "log.h"
#include "util.h"
#include "xalloc.h"

#define LOOKUP_SOURCE_MAX (256u * 1024 * 1024)

struct lookup_table {
	const struct lookup_backend *be;
	enum lookup_syntax syntax;
	char *path, *db_path;
	sqlite3 *db;
	sqlite3_stmt *get;
	char sig[96];	 /* the source identity the open cache was built from; "" none */
	bool warned_memory;
};

static void lookup_source_sig(const char *path, char sig[96])
{
	struct stat st;
	if (stat(path, &st) < 0) {
		snprintf(sig, 96, "none");
		return;
	}
	snprintf(sig, 96, "%llu:%llu:%lld.%09ld", (unsigned long long)st.st_ino,
		 (unsigned long long)st.st_size, (long long)st.st_mtim.tv_sec,
		 st.st_mtim.tv_nsec);
}

static void lookup_db_close(struct lookup_table *t)
{
	if (t->get != NULL)
		sqlite3_finalize(t->get);
	if (t->db != NULL)
		sqlite3_close(t->db);
	t->get = NULL;
	t->db = NULL;
	t->sig[0] = '\0';
}

struct lookup_fill {
	sqlite3_stmt *ins;
	struct buf *warnings;
	const char *path;
	int count;
};

static void lookup_fill_entry(void *arg, const char *key, const struct lookup_values *values,
			      unsigned line)
{
	struct lookup_fill *f = arg;
	struct buf joined = BUF_INIT;
	for (size_t i = 0; i < values->n; i++)
		buf_printf(&joined, "%s%s", i ? "\n" : "", values->v[i]);
	sqlite3_reset(f->ins);
	sqlite3_bind_text(f->ins, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(f->ins, 2, buf_cstr(&joined), -1, SQLITE_TRANSIENT);
	if (sqlite3_step(f->ins) == SQLITE_DONE && sqlite3_changes(sqlite3_db_handle(f->ins)) > 0)
		f->count++;
	else if (f->warnings != NULL)
		buf_printf(f->warnings, "%s:%u: duplicate name '%s' ignored\n", f->path, line, key);
	buf_free(&joined);
}

/* Fills an empty database from the source text; entry count or -1 + err. */
static int lookup_fill_db(sqlite3 *db, enum lookup_syntax syntax, const char *path,
			  const char *sig, const char *text, size_t len, struct buf *warnings,
			  struct buf *err)
{
	static const char schema[] =
	    "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;"
	    "CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT);"
	    "CREATE TABLE entry(key TEXT PRIMARY KEY, value TEXT NOT NULL);";
	struct lookup_fill f = {NULL, warnings, path, 0};
	if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO entry VALUES (?, ?)", -1, &f.ins,
			       NULL) != SQLITE_OK) {
		buf_printf(err, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	struct buf errors = BUF_INIT;
	lookup_parse_text(syntax, text, len, lookup_fill_entry, &f, &errors);
	sqlite3_finalize(f.ins);
	if (warnings != NULL)
		lookup_errors_with_path(warnings, path, &errors);
	buf_free(&errors);
	char *q = sqlite3_mprintf("INSERT INTO meta VALUES ('source', %Q); COMMIT;", sig);
	int rc = sqlite3_exec(db, q, NULL, NULL, NULL);
	sqlite3_free(q);
	if (rc != SQLITE_OK) {
		buf_printf(err, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	return f.count;
}

/* Builds the cache into db_path (or memory when db_path is NULL); the handle or NULL. */
static sqlite3 *lookup_build(const struct lookup_table *t, const char *db_path,
			     struct buf *warnings, int *count_r, struct buf *err)
{
	char sig[96];
	lookup_source_sig(t->path, sig);
	size_t len = 0;
	char *text = read_file_small(t->path, LOOKUP_SOURCE_MAX, &len);
	if (text == NULL && errno != ENOENT) {
		buf_printf(err, "%s: %s", t->path, strerror(errno));
		return NULL;
	}
	char *tmp = db_path ? x_asprintf("%s.tmp.%ld", db_path, (long)getpid()) : NULL;
	if (tmp != NULL)
		unlink(tmp);
	sqlite3 *db = NULL;
	int count = -1;
	if (sqlite3_open_v2(tmp ? tmp : ":memory:", &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		buf_printf(err, "%s: %s", tmp ? tmp : "memory", db ? sqlite3_errmsg(db) : "?");
	else
		count = lookup_fill_db(db, t->syntax, t->path, sig, text ? text : "", len,
				       warnings, err);
	if (tmp != NULL && count >= 0) {
		sqlite3_close(db);
		db = NULL;
		int fd = open(tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0 || rename(tmp, db_path) < 0) {
			buf_printf(err, "%s: %s", db_path, strerror(errno));
			count = -1;
		} else {
			fsync_parent(db_path);
			sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
		}
		if (fd >= 0)
			close(fd);
	}
	if (count < 0 && db != NULL) {
		sqlite3_close(db);
		db = NULL;
	}
	if (tmp != NULL && count < 0)
		unlink(tmp);
	free(tmp);
	free(text);
	*count_r = count;
	return db;
}

/* The source identity a cache was built from ("" when unreadable). */
static void lookup_db_sig(sqlite3 *db, char sig[96])
{
	sqlite3_stmt *st;
	sig[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE name='source'", -1, &st, NULL) !=
	    SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		snprintf(sig, 96, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/* Makes t->db a cache of the current source. */
static int lookup_refresh(struct lookup_table *t, struct buf *err)
{
	char sig[96], have[96];
	lookup_source_sig(t->path, sig);
	if (t->db != NULL && strcmp(sig, t->sig) == 0)
		return 0;
	lookup_db_close(t);
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(t->db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
		lookup_db_sig(db, have);
		if (strcmp(have, sig) != 0) {
			sqlite3_close(db);
			db = NULL;
		}
	} else if (db != NULL) {
		sqlite3_close(db);
		db = NULL;
	}
	int count;
	if (db == NULL && strcmp(sig, "none") != 0) {
		struct buf e = BUF_INIT;
		db = lookup_build(t, t->db_path, NULL, &count, &e);
		if (db == NULL && !t->warned_memory) {
			log_warn("lookup: %s; using an in-memory copy", buf_cstr(&e));
			t->warned_memory = true;
		}
		buf_free(&e);
	}
	if (db == NULL)
		db = lookup_build(t, NULL, NULL, &count, err);
	if (db == NULL)
		return -1;
	t->db = db;
	snprintf(t->sig, sizeof(t->sig), "%s", sig);
	if (sqlite3_prepare_v2(db, "SELECT value FROM entry WHERE key = ?", -1, &t->get, NULL) !=
	    SQLITE_OK) {
		buf_printf(err, "%s: %s", t->db_path, sqlite3_errmsg(db));
		lookup_db_close(t);
		return -1;
	}
	return 0;
}

static int lookup_file_get(struct lookup_table *t, const char *key, struct lookup_values *values,
			   struct buf *err)
{
	if (lookup_refresh(t, err) < 0)
		return -1;
	char *k = str_lower(x_strdup(key));
	sqlite3_reset(t->get);
	sqlite3_bind_text(t->get, 1, k, -1, SQLITE_TRANSIENT);
	free(k);
	int rc = sqlite3_step(t->get);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW) {
		buf_printf(err, "%s: %s", t->db_path, sqlite3_errmsg(t->db));
		lookup_db_close(t);
		return -1;
	}
	const char *v = (const char *)sqlite3_column_text(t->get, 0);
	values->v = NULL;
	values->n = 0;
	for (const char *p = v ? v : ""; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		values->v = x_reallocarray(values->v, values->n + 1, sizeof(char *));
		values->v[values->n++] = x_strndup(p, n);
		p += n + (nl ? 1 : 0);
	}
	sqlite3_reset(t->get);
	return 1;
}

static void lookup_file_close(struct lookup_table *t)
{
	lookup_db_close(t);
}

static struct lookup_table *lookup_file_open(const char *path, struct buf *err);

static const struct lookup_backend lookup_backends[] = {
    {"aliases", lookup_file_open, lookup_file_get, lookup_file_close},
    {"map", lookup_file_open, lookup_file_get, lookup_file_close},
};

static struct lookup_table *lookup_file_open(const char *path, struct buf *err)
{
	struct lookup_table *t = X_NEW(struct lookup_table);
	t->path = x_strdup(path);
	t->db_path = x_asprintf("%s.db", path);
	return t;
}

static const struct lookup_backend *lookup_backend_find(const char *spec, const char *def,
							const char **path_r)
{
	const char *colon = strchr(spec, ':');
	*path_r = spec;
	if (colon != NULL && spec[0] != '/') {
		for (size_t i = 0; i < sizeof(lookup_backends) / sizeof(lookup_backends[0]); i++)
			if (strlen(lookup_backends[i].name) == (size_t)(colon - spec) &&
			    strncmp(spec, lookup_backends[i].name, (size_t)(colon - spec)) == 0) {
				*path_r = colon + 1;
				return &lookup_backends[i];
			}
		return NULL;
	}
	for (size_t i = 0; i < sizeof(lookup_backends) / sizeof(lookup_backends[0]); i++)
		if (strcmp(def, lookup_backends[i].name) == 0)
			return &lookup_backends[i];
	return NULL;
}

struct lookup_table *lookup_open(const char *spec, const char *default_type, struct buf *err)
{
	const char *path;
	const struct lookup_backend *be = lookup_backend_find(spec, default_type, &path);
	if (be == NULL) {
		buf_printf(err, "%s: unknown table type (aliases: or map:)", spec);
		return NULL;
	}
	struct lookup_table *t = be->open(path, err);
	if (t != NULL) {
		t->be = be;
		t->syntax = strcmp(be->name, "map") == 0 ? LOOKUP_SYNTAX_MAP : LOOKUP_SYNTAX_ALIASES;
	}
	return t;
}

void lookup_close(struct lookup_table **tp)
{
	struct lookup_table *t = *tp;
	if (t == NULL)
		return;
	t->be->close(t);
	free(t->path);
	free(t->db_path);
	x_free(tp);
}

int lookup_get(struct lookup_table *t, const char *key, struct lookup_values *values,
	       struct buf *err)
{
	values->v = NULL;
	values->n = 0;
	return t->be->get(t, key, values, err);
}

const char *lookup_path(const struct lookup_table *t)
{
	return t->path;
}

int lookup_compile(const char *spec, const char *default_type, struct buf *warnings,
		   struct buf *err)
{
	struct lookup_table *t = lookup_open(spec, default_type, err);
	if (t == NULL)
		return -1;
	int count = -1;
	if (access(t->path, R_OK) < 0) {
		buf_printf(err, "%s: %s", t->path, strerror(errno));
	} else {
		sqlite3 *db = lookup_build(t, t->db_path, warnings, &count, err);
		if (db != NULL)
			sqlite3_close(db);
	}
	lookup_close(&t);
	return count;
}
