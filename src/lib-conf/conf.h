/* conf: tern.conf, the one configuration file.
 *
 * Grammar (doc/tern.conf.5): one `key = value` per line; `#` starts a comment; a value
 * may be "quoted" (with \" and \\ escapes); lists are separated by commas or spaces.
 * Listeners are blocks:  listen NAME { key = value ... }.
 * Every option and its default live in one table (conf-defaults.c), which `tern init`
 * writes out commented and `tern check` prints. Errors name file:line and what was
 * expected. Relative paths are taken from the directory of the configuration file.
 */
#ifndef TERN_CONF_H
#define TERN_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

enum conf_type {
	CONF_STR,
	CONF_PATH, /* a path; relative ones are resolved against the config file's folder */
	CONF_INT,
	CONF_SIZE, /* bytes, with k/M/G suffixes */
	CONF_TIME, /* seconds, with s/m/h/d/w suffixes */
	CONF_BOOL, /* yes/no, true/false, on/off */
	CONF_ENUM, /* one of the words in `choices` */
	CONF_LIST, /* words separated by commas or spaces */
};

struct conf_def {
	const char *section; /* heading in the generated file, NULL for listener keys */
	const char *name;
	enum conf_type type;
	const char *def;     /* default value as text ("" for none) */
	const char *choices; /* CONF_ENUM: "a|b|c" */
	const char *doc;     /* one or more sentences, written as a comment above the key */
};

/* The global options table and the per-listener table, NULL-name terminated. */
extern const struct conf_def conf_global_defs[];
extern const struct conf_def conf_listener_defs[];

struct conf_value {
	const struct conf_def *def;
	char *text;     /* as written (or the default), paths resolved */
	uint64_t num;   /* INT, SIZE, TIME, BOOL, ENUM (index in choices) */
	int line;       /* 0 when it is the default */
};

struct conf_listener {
	char *name;
	int line;
	struct conf_value *values; /* indexed like conf_listener_defs */
};

struct conf {
	char *path;
	char *dir;
	struct conf_value *values; /* indexed like conf_global_defs */
	struct conf_listener *listeners;
	size_t listener_count;
};

/* Loads and validates path; on error returns NULL and sets err to "file:line: reason"
 * (several errors are reported, one per line). */
struct conf *conf_load(const char *path, struct buf *err);
/* The same from an open descriptor (read to its end, not closed); path names it in
 * errors and resolves relative paths. For a process that may not open the file itself. */
struct conf *conf_load_fd(int fd, const char *path, struct buf *err);
/* Parses text as if read from path (for tests and for `tern check`). */
struct conf *conf_parse(const char *path, const char *text, size_t len, struct buf *err);
void conf_free(struct conf **c);

/* Accessors for global options; a wrong name is a bug (assertion). */
const char *conf_str(const struct conf *c, const char *name);
uint64_t conf_num(const struct conf *c, const char *name);
bool conf_bool(const struct conf *c, const char *name);
/* Is word in the list option? (ASCII case-insensitive) */
bool conf_list_has(const struct conf *c, const char *name, const char *word);
/* Splits a list value into words; returns the count; *words_r is freed by conf_words_free. */
size_t conf_words(const char *text, char ***words_r);
void conf_words_free(char ***words, size_t n);

const char *conf_listener_str(const struct conf_listener *l, const char *name);
uint64_t conf_listener_num(const struct conf_listener *l, const char *name);

/* Writes the effective configuration (every option, defaults marked). */
void conf_dump(const struct conf *c, FILE *out);
/* Writes a commented configuration file with every option; `vars` are key=value pairs
 * (NULL-terminated, name then value) set uncommented, followed by the listeners text. */
void conf_write_template(FILE *out, const char *const *vars, const char *listeners);

#endif
