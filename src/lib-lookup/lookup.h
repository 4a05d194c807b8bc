/* lookup: lookup tables behind one small vtable, and alias expansion over them.
 *
 * A table maps a key (compared case-insensitively) to a list of values. Backends:
 *   aliases:PATH  an /etc/aliases file (`name: value, value`, continuation lines, comments,
 *                 "quoted names"), compiled into PATH.db (SQLite) when the source changed;
 *   map:PATH      a text map (`key  value, value`; `@domain` keys are catch-alls), compiled
 *                 the same way.
 * When PATH.db cannot be written (a read-only folder) the table is compiled in memory.
 * Format and rules: doc/aliases.md. lookup_expand follows RFC 5321 3.9 (aliases and
 * lists) and the sendmail conventions (:include:, |command, /file, \user).
 * The files are trusted (written by the administrator); keys come from the network and
 * are only ever compared.
 */
#ifndef TERN_LOOKUP_H
#define TERN_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct conf;
struct userdb;

/* ---- Tables ---- */

struct lookup_values {
	char **v;
	size_t n;
};

struct lookup_table;

/* The vtable every backend fills (STYLE.md 11). */
struct lookup_backend {
	const char *name; /* the prefix in "name:PATH" */
	struct lookup_table *(*open)(const char *path, struct buf *err);
	int (*get)(struct lookup_table *t, const char *key, struct lookup_values *values,
		   struct buf *err);
	void (*close)(struct lookup_table *t);
};

/* Opens "type:PATH" (or PATH with default_type: "aliases" or "map"). A missing source
 * file is an empty table. NULL + err for an unknown type. */
struct lookup_table *lookup_open(const char *spec, const char *default_type, struct buf *err);
void lookup_close(struct lookup_table **t);
/* Looks key up: 1 found (values filled; free with lookup_values_free), 0 not found, -1 the
 * table could not be read (err set). */
int lookup_get(struct lookup_table *t, const char *key, struct lookup_values *values,
	       struct buf *err);
void lookup_values_free(struct lookup_values *values);
/* The table's source path. */
const char *lookup_path(const struct lookup_table *t);

/* The table spec for one word of a tables option ("type:PATH" or PATH), with a relative
 * PATH taken from data_dir; *path_r (if not NULL) points at the path inside it. */
char *lookup_conf_spec(const struct conf *c, const char *word, const char **path_r);
/* Opens every table of a tables option (as lookup_conf_spec finds them; tables that
 * cannot be opened are logged and left out). Returns the count; free each with
 * lookup_close and the array with free. */
size_t lookup_open_option(const struct conf *c, const char *option, const char *type,
			  struct lookup_table ***tables_r);

/* Compiles the table's source into PATH.db now (newaliases). Returns the number of
 * entries, or -1 + err; source syntax errors are listed in warnings as "PATH:LINE: why"
 * (the faulty entries are skipped). */
int lookup_compile(const char *spec, const char *default_type, struct buf *warnings,
		   struct buf *err);

/* ---- Parsers (pure) ---- */

enum lookup_syntax { LOOKUP_SYNTAX_ALIASES, LOOKUP_SYNTAX_MAP };

/* Called per entry with its lower-cased key and its value items (the RHS split at commas
 * outside quotes; for maps also at blanks). */
typedef void lookup_entry_cb(void *arg, const char *key, const struct lookup_values *values,
			     unsigned line);
/* Parses a whole file's text. Returns the number of malformed entries, each described in
 * errors as "LINE: reason\n". */
unsigned lookup_parse_text(enum lookup_syntax syntax, const char *text, size_t len,
			   lookup_entry_cb *cb, void *arg, struct buf *errors);
/* Appends the "LINE: reason" lines of errors to out as "PATH:LINE: reason". */
void lookup_errors_with_path(struct buf *out, const char *path, const struct buf *errors);
/* Splits an alias right-hand side (or an :include: file's text) into items. Blank items
 * are dropped; "|cmd" and "/file" items lose their quotes. */
void lookup_split_values(const char *s, size_t len, bool blanks_separate,
			 struct lookup_values *out);

/* ---- Expansion ---- */

enum lookup_kind {
	LOOKUP_ADDRESS, /* a mailbox: local user or remote address */
	LOOKUP_FILE,	/* append to this file (absolute path) */
	LOOKUP_PIPE,	/* run this command (without the '|') */
	LOOKUP_ERROR,	/* this branch failed: status and text say why */
};

struct lookup_item {
	enum lookup_kind kind;
	char *value;	   /* address, path or command; for errors the address concerned */
	char *via;	   /* the alias whose expansion gave it, NULL for the address itself */
	char status[8];	   /* LOOKUP_ERROR: "5.4.6", "5.1.1", ... */
	const char *text;  /* LOOKUP_ERROR: static text */
	unsigned origin;   /* the origin given to lookup_expand (e.g. a recipient index) */
};

struct lookup_result {
	struct lookup_item *v;
	size_t n, cap;
};

#define LOOKUP_MAX_DEPTH 20

struct lookup_ctx {
	struct lookup_table **aliases; /* alias_maps, keys are local parts (or full addresses) */
	size_t alias_count;
	struct lookup_table **virtuals; /* virtual_alias_maps, keys are addresses or @domain */
	size_t virtual_count;
	/* Is this a local domain? Is this address a user (1/0/-1 + err)? */
	bool (*is_local_domain)(void *arg, const char *domain);
	int (*is_user)(void *arg, const char *address, struct buf *err);
	void *arg;
	char *delimiter;   /* recipient_delimiter ("" none) */
	unsigned max_depth;
	size_t include_max; /* bytes read from one :include: file */
};

/* A context over the options alias_maps, virtual_alias_maps, recipient_delimiter, with
 * users and local domains from udb (which must outlive it). */
struct lookup_ctx *lookup_ctx_new(const struct conf *c, struct userdb *udb);
void lookup_ctx_free(struct lookup_ctx **ctx);

/* Expands address (local@domain) into its final recipients, appended to out with the given
 * origin; an item already in out (same kind and value) is not added twice, so expanding
 * every recipient of a message into one result removes duplicates. Aliases are expanded
 * recursively up to max_depth; an alias reached again on its own path is delivered as a
 * mailbox when it is a user, else it is a loop (LOOKUP_ERROR 5.4.6).
 * Returns 1 when the address is known (a user, an alias, or not in a local domain), 0 when
 * it is in a local domain and neither a user nor an alias (nothing added), -1 on a
 * temporary failure (a table or :include: file could not be read; err set). */
int lookup_expand(const struct lookup_ctx *ctx, const char *address, unsigned origin,
		  struct lookup_result *out, struct buf *err);
/* Items of out that can be delivered (not LOOKUP_ERROR) with this origin. */
size_t lookup_result_deliverable(const struct lookup_result *out, unsigned origin);
void lookup_result_free(struct lookup_result *out);

#endif
