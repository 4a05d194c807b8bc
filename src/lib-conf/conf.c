/* conf: lexer, parser and validator for tern.conf (grammar in conf.h and doc/tern.conf.5).
 *
 * The parser works on the whole file text (a configuration file is small and trusted to
 * be bounded: files over 1 MB are refused). Each error names file:line.
 */
#include "conf.h"
#include "durable.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONF_MAX_FILE (1024 * 1024)
#define CONF_MAX_LISTENERS 64

struct conf_parser {
	const char *path;
	const char *p, *end;
	int line;
	struct buf *err;
	int errors;
	struct conf *conf;
};

static void conf_error(struct conf_parser *ps, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void conf_error(struct conf_parser *ps, int line, const char *fmt, ...)
{
	va_list ap;
	buf_printf(ps->err, "%s:%d: ", ps->path, line);
	va_start(ap, fmt);
	buf_vprintf(ps->err, fmt, ap);
	va_end(ap);
	buf_append_char(ps->err, '\n');
	ps->errors++;
}

static size_t defs_count(const struct conf_def *defs)
{
	size_t n = 0;
	while (defs[n].name != NULL)
		n++;
	return n;
}

static int defs_find(const struct conf_def *defs, const char *name)
{
	for (int i = 0; defs[i].name != NULL; i++)
		if (strcmp(defs[i].name, name) == 0)
			return i;
	return -1;
}

static int enum_index(const char *choices, const char *word)
{
	int idx = 0;
	const char *p = choices;
	size_t wl = strlen(word);
	while (*p != '\0') {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n == wl && strncmp(p, word, n) == 0)
			return idx;
		idx++;
		if (bar == NULL)
			break;
		p = bar + 1;
	}
	return -1;
}

/* A list whose words must come from choices: 0, or -1 for a word that does not. */
static int conf_list_check(const char *choices, const char *text)
{
	char **words;
	size_t n = conf_words(text, &words);
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		if (enum_index(choices, words[i]) < 0)
			r = -1;
	conf_words_free(&words, n);
	return r;
}

/* Converts text into v->num (and resolves paths); returns an error reason or NULL. */
static const char *conf_value_set(struct conf *c, struct conf_value *v, const char *text)
{
	const struct conf_def *d = v->def;
	v->num = 0;
	switch (d->type) {
	case CONF_STR:
		break;
	case CONF_LIST:
		if (d->choices != NULL && conf_list_check(d->choices, text) < 0)
			return "not one of the allowed values";
		break;
	case CONF_PATH:
		if (text[0] != '\0' && text[0] != '/' && c->dir != NULL) {
			x_free(&v->text);
			v->text = x_asprintf("%s/%s", c->dir, text);
			return NULL;
		}
		break;
	case CONF_INT: {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(text, &end, 10);
		if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0)
			return "expected a whole number";
		v->num = n;
		break;
	}
	case CONF_SIZE:
		if (parse_size(text, &v->num) < 0)
			return "expected a size such as 512k, 50M or 1G";
		break;
	case CONF_TIME:
		if (parse_duration(text, &v->num) < 0)
			return "expected a duration such as 30s, 5m, 4h or 5d";
		break;
	case CONF_BOOL:
		if (str_ieq(text, "yes") || str_ieq(text, "true") || str_ieq(text, "on"))
			v->num = 1;
		else if (str_ieq(text, "no") || str_ieq(text, "false") || str_ieq(text, "off"))
			v->num = 0;
		else
			return "expected yes or no";
		break;
	case CONF_ENUM: {
		int i = enum_index(d->choices, text);
		if (i < 0)
			return "not one of the allowed values";
		v->num = (uint64_t)i;
		break;
	}
	}
	if (v->text != text) {
		x_free(&v->text);
		v->text = x_strdup(text);
	}
	return NULL;
}

static struct conf_value *values_new(struct conf *c, const struct conf_def *defs)
{
	size_t n = defs_count(defs);
	struct conf_value *vals = x_calloc(n + 1, sizeof(*vals));
	for (size_t i = 0; i < n; i++) {
		vals[i].def = &defs[i];
		const char *why = conf_value_set(c, &vals[i], defs[i].def);
		if (why != NULL)
			fatal("bug: default of %s: %s", defs[i].name, why);
	}
	return vals;
}

static void values_free(struct conf_value *vals)
{
	if (vals == NULL)
		return;
	for (size_t i = 0; vals[i].def != NULL; i++)
		x_free(&vals[i].text);
	free(vals);
}

/* Lexer: skips blanks and comments on the current line. */
static void skip_blanks(struct conf_parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r'))
		ps->p++;
	if (ps->p < ps->end && *ps->p == '#')
		while (ps->p < ps->end && *ps->p != '\n')
			ps->p++;
}

static bool is_word_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-' || ch == '.';
}

/* Reads a bare word (option or listener name). */
static bool read_word(struct conf_parser *ps, char *out, size_t outlen)
{
	size_t n = 0;
	while (ps->p < ps->end && is_word_char(*ps->p)) {
		if (n + 1 >= outlen)
			return false;
		out[n++] = *ps->p++;
	}
	out[n] = '\0';
	return n > 0;
}

/* Reads the value after '=' up to the end of line: quoted or bare (trailing blanks cut). */
static char *read_value(struct conf_parser *ps)
{
	struct buf v = BUF_INIT;
	skip_blanks(ps);
	if (ps->p < ps->end && *ps->p == '"') {
		ps->p++;
		while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\n') {
			if (*ps->p == '\\' && ps->p + 1 < ps->end && ps->p[1] != '\n')
				ps->p++;
			buf_append_char(&v, *ps->p++);
		}
		if (ps->p >= ps->end || *ps->p != '"') {
			conf_error(ps, ps->line, "unterminated quoted value");
			buf_free(&v);
			return NULL;
		}
		ps->p++;
		skip_blanks(ps);
		if (ps->p < ps->end && *ps->p != '\n') {
			conf_error(ps, ps->line, "unexpected text after quoted value");
			buf_free(&v);
			return NULL;
		}
		return buf_steal(&v);
	}
	while (ps->p < ps->end && *ps->p != '\n' && *ps->p != '#')
		buf_append_char(&v, *ps->p++);
	while (v.len > 0 && (v.data[v.len - 1] == ' ' || v.data[v.len - 1] == '\t' ||
			     v.data[v.len - 1] == '\r'))
		buf_truncate(&v, v.len - 1);
	return buf_steal(&v);
}

static void assign(struct conf_parser *ps, const struct conf_def *defs, struct conf_value *vals,
		   const char *key, int line, const char *where)
{
	int i = defs_find(defs, key);
	char *value = read_value(ps);
	if (value == NULL)
		return;
	if (i < 0) {
		conf_error(ps, line, "unknown option '%s'%s", key, where);
		free(value);
		return;
	}
	if (vals[i].line != 0) {
		conf_error(ps, line, "%s: already set at line %d", key, vals[i].line);
		free(value);
		return;
	}
	const char *why = conf_value_set(ps->conf, &vals[i], value);
	if (why != NULL) {
		if (defs[i].type == CONF_ENUM)
			conf_error(ps, line, "%s: '%s' is not one of %s", key, value,
				   defs[i].choices);
		else if (defs[i].type == CONF_LIST && defs[i].choices != NULL)
			conf_error(ps, line, "%s: '%s' has a word that is not one of %s", key,
				   value, defs[i].choices);
		else
			conf_error(ps, line, "%s: %s, not '%s'", key, why, value);
	}
	vals[i].line = line;
	free(value);
}

static bool expect_eol(struct conf_parser *ps)
{
	skip_blanks(ps);
	if (ps->p < ps->end && *ps->p != '\n') {
		conf_error(ps, ps->line, "unexpected '%c'", *ps->p);
		while (ps->p < ps->end && *ps->p != '\n')
			ps->p++;
		return false;
	}
	return true;
}

static void parse_listener_start(struct conf_parser *ps, int line, struct conf_listener **cur)
{
	char name[64];
	skip_blanks(ps);
	if (!read_word(ps, name, sizeof(name))) {
		conf_error(ps, line, "listen: expected a listener name, as in 'listen smtp {'");
		return;
	}
	skip_blanks(ps);
	if (ps->p >= ps->end || *ps->p != '{') {
		conf_error(ps, line, "listen %s: expected '{'", name);
		return;
	}
	ps->p++;
	expect_eol(ps);
	struct conf *c = ps->conf;
	for (size_t i = 0; i < c->listener_count; i++)
		if (strcmp(c->listeners[i].name, name) == 0)
			conf_error(ps, line, "listen %s: already defined at line %d", name,
				   c->listeners[i].line);
	if (c->listener_count >= CONF_MAX_LISTENERS) {
		conf_error(ps, line, "too many listeners (at most %d)", CONF_MAX_LISTENERS);
		return;
	}
	c->listeners = x_reallocarray(c->listeners, c->listener_count + 1, sizeof(*c->listeners));
	struct conf_listener *l = &c->listeners[c->listener_count++];
	l->name = x_strdup(name);
	l->line = line;
	l->values = values_new(c, conf_listener_defs);
	*cur = l;
}

static void parse_lines(struct conf_parser *ps)
{
	struct conf_listener *cur = NULL;
	int block_line = 0;
	while (ps->p < ps->end) {
		skip_blanks(ps);
		if (ps->p >= ps->end)
			break;
		if (*ps->p == '\n') {
			ps->p++;
			ps->line++;
			continue;
		}
		int line = ps->line;
		if (*ps->p == '}') {
			if (cur == NULL)
				conf_error(ps, line, "'}' without an open block");
			cur = NULL;
			ps->p++;
			expect_eol(ps);
			continue;
		}
		char key[64];
		if (!read_word(ps, key, sizeof(key))) {
			conf_error(ps, line, "expected an option name, found '%c'", *ps->p);
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
			continue;
		}
		if (strcmp(key, "listen") == 0 && cur == NULL) {
			parse_listener_start(ps, line, &cur);
			block_line = line;
			continue;
		}
		skip_blanks(ps);
		if (ps->p >= ps->end || *ps->p != '=') {
			conf_error(ps, line, "%s: expected '=' after the option name", key);
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
			continue;
		}
		ps->p++;
		if (cur != NULL) {
			char where[96];
			snprintf(where, sizeof(where), " in listener '%s'", cur->name);
			assign(ps, conf_listener_defs, cur->values, key, line, where);
		} else {
			assign(ps, conf_global_defs, ps->conf->values, key, line, "");
		}
	}
	if (cur != NULL)
		conf_error(ps, block_line, "listen %s: block not closed with '}'", cur->name);
}

static int value_index(const struct conf_def *defs, const char *name)
{
	int i = defs_find(defs, name);
	assert(i >= 0 && "unknown configuration option");
	return i;
}

/* Checks across options that a single value cannot show. */
static void conf_validate(struct conf_parser *ps)
{
	struct conf *c = ps->conf;
	for (size_t i = 0; i < c->listener_count; i++) {
		struct conf_listener *l = &c->listeners[i];
		const char *addr = conf_listener_str(l, "address");
		if (addr[0] == '\0')
			conf_error(ps, l->line, "listen %s: 'address' is required", l->name);
		else if (strrchr(addr, ':') == NULL)
			conf_error(ps, l->line, "listen %s: address '%s' needs a port (HOST:PORT)",
				   l->name, addr);
		for (size_t j = 0; j < i; j++)
			if (strcmp(addr, conf_listener_str(&c->listeners[j], "address")) == 0)
				conf_error(ps, l->line, "listen %s: address %s is also used by '%s'",
					   l->name, addr, c->listeners[j].name);
	}
	if (conf_str(c, "hostname")[0] == '\0')
		conf_error(ps, 1, "hostname: must be set");
}

struct conf *conf_parse(const char *path, const char *text, size_t len, struct buf *err)
{
	struct conf *c = X_NEW(struct conf);
	c->path = x_strdup(path);
	char *slash = strrchr(c->path, '/');
	c->dir = slash ? x_strndup(c->path, (size_t)(slash - c->path)) : x_strdup(".");
	if (c->dir[0] == '\0') {
		x_free(&c->dir);
		c->dir = x_strdup("/");
	}
	c->values = values_new(c, conf_global_defs);
	struct conf_parser ps = {.path = path, .p = text, .end = text + len, .line = 1,
				 .err = err, .conf = c};
	parse_lines(&ps);
	if (ps.errors == 0)
		conf_validate(&ps);
	if (ps.errors != 0) {
		conf_free(&c);
		return NULL;
	}
	return c;
}

/* Parses text read from path; the process-wide settings every program must honour. */
static struct conf *conf_load_text(const char *path, char *text, size_t len, struct buf *err)
{
	struct conf *c = conf_parse(path, text, len, err);
	free(text);
	if (c != NULL)
		durable_set_method(strcmp(conf_str(c, "sync_method"), "syncfs") == 0
				       ? DURABLE_SYNCFS
				       : DURABLE_FSYNC);
	return c;
}

struct conf *conf_load(const char *path, struct buf *err)
{
	size_t len;
	char abs[PATH_MAX];
	if (realpath(path, abs) == NULL) {
		buf_printf(err, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	char *text = read_file_small(abs, CONF_MAX_FILE, &len);
	if (text == NULL) {
		buf_printf(err, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	return conf_load_text(abs, text, len, err);
}

struct conf *conf_load_fd(int fd, const char *path, struct buf *err)
{
	struct buf text = BUF_INIT;
	char chunk[8192];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || text.len + (size_t)n > CONF_MAX_FILE) {
			buf_printf(err, "%s: %s\n", path, n < 0 ? strerror(errno) : "too big");
			buf_free(&text);
			return NULL;
		}
		buf_append(&text, chunk, (size_t)n);
	}
	size_t len = text.len;
	return conf_load_text(path, buf_steal(&text), len, err);
}

void conf_free(struct conf **cp)
{
	struct conf *c = *cp;
	if (c == NULL)
		return;
	values_free(c->values);
	for (size_t i = 0; i < c->listener_count; i++) {
		x_free(&c->listeners[i].name);
		values_free(c->listeners[i].values);
	}
	free(c->listeners);
	x_free(&c->path);
	x_free(&c->dir);
	x_free(cp);
}

const char *conf_str(const struct conf *c, const char *name)
{
	return c->values[value_index(conf_global_defs, name)].text;
}

uint64_t conf_num(const struct conf *c, const char *name)
{
	return c->values[value_index(conf_global_defs, name)].num;
}

bool conf_bool(const struct conf *c, const char *name)
{
	return conf_num(c, name) != 0;
}

size_t conf_words(const char *text, char ***words_r)
{
	char **words = NULL;
	size_t n = 0;
	const char *p = text;
	while (*p != '\0') {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		const char *s = p;
		while (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		if (p > s) {
			words = x_reallocarray(words, n + 1, sizeof(*words));
			words[n++] = x_strndup(s, (size_t)(p - s));
		}
	}
	*words_r = words;
	return n;
}

void conf_words_free(char ***words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((*words)[i]);
	x_free(words);
}

bool conf_list_has(const struct conf *c, const char *name, const char *word)
{
	char **words;
	size_t n = conf_words(conf_str(c, name), &words);
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		found = str_ieq(words[i], word);
	conf_words_free(&words, n);
	return found;
}

const char *conf_listener_str(const struct conf_listener *l, const char *name)
{
	return l->values[value_index(conf_listener_defs, name)].text;
}

uint64_t conf_listener_num(const struct conf_listener *l, const char *name)
{
	return l->values[value_index(conf_listener_defs, name)].num;
}

static void dump_value(FILE *out, const char *indent, const struct conf_value *v)
{
	const char *t = v->text;
	bool quote = t[0] == '\0' || strpbrk(t, "#\"") != NULL || t[0] == ' ';
	if (quote) {
		fprintf(out, "%s%s = \"", indent, v->def->name);
		for (; *t != '\0'; t++)
			fprintf(out, (*t == '"' || *t == '\\') ? "\\%c" : "%c", *t);
		fprintf(out, "\"");
	} else {
		fprintf(out, "%s%s = %s", indent, v->def->name, t);
	}
	fprintf(out, v->line ? "  # line %d\n" : "  # default\n", v->line);
}

void conf_dump(const struct conf *c, FILE *out)
{
	fprintf(out, "# effective configuration of %s\n", c->path);
	for (size_t i = 0; c->values[i].def != NULL; i++)
		dump_value(out, "", &c->values[i]);
	for (size_t i = 0; i < c->listener_count; i++) {
		fprintf(out, "listen %s {\n", c->listeners[i].name);
		for (size_t j = 0; c->listeners[i].values[j].def != NULL; j++)
			dump_value(out, "    ", &c->listeners[i].values[j]);
		fprintf(out, "}\n");
	}
}

static void write_doc(FILE *out, const char *indent, const struct conf_def *d)
{
	const char *p = d->doc;
	fprintf(out, "\n");
	/* Wrap the documentation at about 88 columns. */
	while (*p != '\0') {
		size_t n = strlen(p);
		if (n > 84) {
			n = 84;
			while (n > 0 && p[n] != ' ')
				n--;
			if (n == 0)
				n = strcspn(p, " ");
		}
		fprintf(out, "%s# %.*s\n", indent, (int)n, p);
		p += n;
		while (*p == ' ')
			p++;
	}
	if (d->type == CONF_ENUM)
		fprintf(out, "%s# One of: %s.\n", indent, d->choices);
	else if (d->type == CONF_LIST && d->choices != NULL)
		fprintf(out, "%s# Any of: %s.\n", indent, d->choices);
}

void conf_write_template(FILE *out, const char *const *vars, const char *listeners)
{
	const char *section = NULL;
	fprintf(out, "# tern.conf: the configuration of a Tern mail system (see tern.conf(5)).\n"
		     "# Every option is listed with its default; remove the '#' to change one.\n"
		     "# Relative paths are taken from the folder this file is in.\n"
		     "# Check with: tern check -c THIS_FILE\n");
	for (const struct conf_def *d = conf_global_defs; d->name != NULL; d++) {
		if (section == NULL || strcmp(section, d->section) != 0) {
			section = d->section;
			fprintf(out, "\n\n### %s\n", section);
		}
		write_doc(out, "", d);
		const char *set = NULL;
		for (size_t i = 0; vars != NULL && vars[i] != NULL; i += 2)
			if (strcmp(vars[i], d->name) == 0)
				set = vars[i + 1];
		if (set != NULL)
			fprintf(out, "%s = %s\n", d->name, set);
		else
			fprintf(out, "#%s = %s\n", d->name, d->def);
	}
	fprintf(out, "\n\n### Listeners\n#\n# listen NAME { ... } opens a listening socket. "
		     "Options inside a block:\n");
	for (const struct conf_def *d = conf_listener_defs; d->name != NULL; d++) {
		write_doc(out, "#   ", d);
		fprintf(out, "#   %s = %s\n", d->name, d->def);
	}
	fprintf(out, "\n%s", listeners != NULL ? listeners : "");
}
