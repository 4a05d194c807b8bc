/* procmail-parse: the .procmailrc parser (procmailrc(5)): text in, statements out.
 *
 * Statements are assignments (one sh word after '='; further words on the line are
 * statements of their own, as in procmail) and recipes: ":0 flags [: lockfile]", condition
 * lines "* ...", and one action (folder, "! addresses", "| program", "VAR=| program" or a
 * "{ ... }" block, which may sit on one line). Expansion is left to run time, since procmail
 * expands each line when it reaches it. Errors come back as "name:line: reason".
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "procmail-int.h"
#include "xalloc.h"

struct pm_parser {
	const char *name;
	const char *p, *end;
	int line;
	int depth;
	struct buf *err;
	bool failed;
};

static void parse_error(struct pm_parser *ps, const char *what)
{
	if (ps->failed)
		return;
	ps->failed = true;
	buf_reset(ps->err);
	buf_printf(ps->err, "%s:%d: %s", ps->name, ps->line, what);
}

static bool at_blank(const struct pm_parser *ps)
{
	return ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t');
}

/* Skips blanks, newlines, backslash-newlines and comments between statements. */
static void skip_space(struct pm_parser *ps)
{
	while (ps->p < ps->end) {
		char c = *ps->p;
		if (c == '\n') {
			ps->line++;
			ps->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			ps->p++;
		} else if (c == '\\' && ps->p + 1 < ps->end && ps->p[1] == '\n') {
			ps->p += 2;
			ps->line++;
		} else if (c == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
		} else {
			break;
		}
	}
}

/* Reads the rest of the line, joining backslash-newline continuations; for conditions
 * (strip_cont) the leading blanks of continued lines go. Trailing blanks are trimmed. */
static char *read_line(struct pm_parser *ps, bool strip_cont)
{
	struct buf b = BUF_INIT;
	buf_init(&b, PROCMAIL_MAX_LINE);
	while (ps->p < ps->end && *ps->p != '\n') {
		if (*ps->p == '\\' && ps->p + 1 < ps->end && ps->p[1] == '\n') {
			ps->p += 2;
			ps->line++;
			if (strip_cont)
				while (at_blank(ps))
					ps->p++;
			continue;
		}
		buf_append_char(&b, *ps->p++);
	}
	if (b.overflow)
		parse_error(ps, "line too long");
	size_t len = b.len;
	while (len > 0 && (b.data[len - 1] == ' ' || b.data[len - 1] == '\t' ||
			   b.data[len - 1] == '\r'))
		len--;
	buf_truncate(&b, len);
	return buf_steal(&b);
}

/* Reads one sh word (quotes, backquotes and ${...} kept as written). */
static char *read_word(struct pm_parser *ps)
{
	struct buf b = BUF_INIT;
	buf_init(&b, PROCMAIL_MAX_LINE);
	char quote = 0;
	int braces = 0;
	while (ps->p < ps->end) {
		char c = *ps->p;
		if (!quote && braces == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
			break;
		if (c == '\\' && quote != '\'' && ps->p + 1 < ps->end) {
			if (ps->p[1] == '\n') {
				ps->p += 2;
				ps->line++;
				continue;
			}
			buf_append(&b, ps->p, 2);
			ps->p += 2;
			continue;
		}
		if (c == '\n')
			ps->line++;
		if (quote && c == quote)
			quote = 0;
		else if (!quote && (c == '"' || c == '\'' || c == '`'))
			quote = c;
		else if (quote != '\'' && c == '$' && ps->p + 1 < ps->end && ps->p[1] == '{')
			braces++;
		else if (quote != '\'' && c == '}' && braces > 0)
			braces--;
		buf_append_char(&b, c);
		ps->p++;
	}
	if (quote)
		parse_error(ps, "unterminated quote");
	if (b.overflow)
		parse_error(ps, "word too long");
	return buf_steal(&b);
}

static size_t name_len(const struct pm_parser *ps)
{
	size_t n = 0;
	while (ps->p + n < ps->end && pm_is_name_char(ps->p[n], n == 0))
		n++;
	return n;
}

static int parse_block(struct pm_parser *ps, struct procmail_stmt **stmts_r, size_t *n_r,
		       bool nested);

static const char flag_chars[] = "HBDAaEehbfcwWir";

static void parse_flags(struct pm_parser *ps, struct procmail_recipe *r)
{
	while (ps->p < ps->end && isdigit((unsigned char)*ps->p))
		ps->p++; /* ":0", or the old ":n" count of conditions */
	while (ps->p < ps->end && *ps->p != '\n' && *ps->p != ':' && *ps->p != '#') {
		char c = *ps->p++;
		const char *f = strchr(flag_chars, c);
		if (c == ' ' || c == '\t' || c == '\r')
			continue;
		if (f == NULL || c == 0) {
			parse_error(ps, "unknown recipe flag");
			return;
		}
		r->flags |= 1u << (f - flag_chars);
	}
	if (ps->p < ps->end && *ps->p == ':') {
		ps->p++;
		r->local_lock = true;
		char *lock = read_line(ps, false);
		char *hash = strstr(lock, "#");
		if (hash != NULL)
			*hash = 0;
		size_t len = strlen(lock);
		while (len > 0 && (lock[len - 1] == ' ' || lock[len - 1] == '\t'))
			lock[--len] = 0;
		char *start = lock + strspn(lock, " \t");
		if (*start != 0)
			r->lockfile = x_strdup(start);
		x_free(&lock);
	} else {
		while (ps->p < ps->end && *ps->p != '\n')
			ps->p++;
	}
}

/* Parses "w^x" at the start of a condition; returns the length used, or 0. */
static size_t parse_weight(const char *s, double *w, double *x)
{
	char *e1, *e2;
	if (!(isdigit((unsigned char)*s) || *s == '-' || *s == '+' || *s == '.'))
		return 0;
	*w = strtod(s, &e1);
	if (e1 == s || *e1 != '^')
		return 0;
	*x = strtod(e1 + 1, &e2);
	if (e2 == e1 + 1)
		return 0;
	return (size_t)(e2 - s);
}

static void parse_condition(struct pm_parser *ps, struct procmail_recipe *r)
{
	struct procmail_cond c = {.line = ps->line};
	ps->p++; /* '*' */
	char *text = read_line(ps, true);
	const char *s = text + strspn(text, " \t");
	size_t wl = parse_weight(s, &c.weight, &c.exponent);
	if (wl > 0) {
		c.weighted = true;
		s += wl;
		s += strspn(s, " \t");
	}
	c.text = x_strdup(s);
	x_free(&text);
	r->conds = x_reallocarray(r->conds, r->nconds + 1, sizeof(*r->conds));
	r->conds[r->nconds++] = c;
}

static void parse_action(struct pm_parser *ps, struct procmail_recipe *r)
{
	char c = *ps->p;
	if (c == '{' && (ps->p + 1 == ps->end || isspace((unsigned char)ps->p[1]))) {
		ps->p++;
		r->action = PROCMAIL_ACT_BLOCK;
		ps->depth++;
		if (ps->depth > PROCMAIL_MAX_DEPTH)
			parse_error(ps, "blocks nested too deeply");
		else
			parse_block(ps, &r->block, &r->nblock, true);
		ps->depth--;
		return;
	}
	if (c == '!' || c == '|') {
		ps->p++;
		r->action = c == '!' ? PROCMAIL_ACT_FORWARD : PROCMAIL_ACT_PIPE;
		char *line = read_line(ps, false);
		r->action_text = x_strdup(line + strspn(line, " \t"));
		x_free(&line);
		return;
	}
	size_t n = name_len(ps);
	const char *q = ps->p + n;
	while (q < ps->end && (*q == ' ' || *q == '\t'))
		q++;
	if (n > 0 && q + 1 < ps->end && q[0] == '=' && q[1 + strspn(q + 1, " \t")] == '|') {
		r->capture_var = x_strndup(ps->p, n);
		ps->p = q + 1 + strspn(q + 1, " \t") + 1;
		r->action = PROCMAIL_ACT_PIPE;
		char *line = read_line(ps, false);
		r->action_text = x_strdup(line + strspn(line, " \t"));
		x_free(&line);
		return;
	}
	r->action = PROCMAIL_ACT_FOLDER;
	r->action_text = read_line(ps, false);
}

static void parse_recipe(struct pm_parser *ps, struct procmail_stmt *st)
{
	struct procmail_recipe *r = &st->recipe;
	st->is_recipe = true;
	ps->p++; /* ':' */
	parse_flags(ps, r);
	for (;;) {
		skip_space(ps);
		if (ps->failed)
			return;
		if (ps->p >= ps->end || *ps->p == '}') {
			ps->line = st->line;
			parse_error(ps, "missing action");
			return;
		}
		if (*ps->p != '*')
			break;
		parse_condition(ps, r);
	}
	parse_action(ps, r);
}

static void parse_statement(struct pm_parser *ps, struct procmail_stmt *st)
{
	st->line = ps->line;
	if (*ps->p == ':') {
		parse_recipe(ps, st);
		return;
	}
	size_t n = name_len(ps);
	const char *q = ps->p + n;
	while (q < ps->end && (*q == ' ' || *q == '\t'))
		q++;
	if (n > 0 && q < ps->end && *q == '=') {
		st->name = x_strndup(ps->p, n);
		ps->p = q + 1;
		while (at_blank(ps))
			ps->p++;
		st->value = read_word(ps);
		return;
	}
	if (n > 0 && (ps->p + n == ps->end || isspace((unsigned char)ps->p[n]))) {
		st->name = x_strndup(ps->p, n); /* a bare name unsets the variable */
		ps->p += n;
		return;
	}
	st->value = read_word(ps); /* neither: skipped (and logged) when reached */
}

static int parse_block(struct pm_parser *ps, struct procmail_stmt **stmts_r, size_t *n_r,
		       bool nested)
{
	int start = ps->line;
	for (;;) {
		skip_space(ps);
		if (ps->failed)
			return -1;
		if (ps->p >= ps->end) {
			if (nested) {
				ps->line = start;
				parse_error(ps, "block not closed by '}'");
				return -1;
			}
			return 0;
		}
		if (*ps->p == '}') {
			if (!nested) {
				parse_error(ps, "'}' without a block");
				return -1;
			}
			ps->p++;
			return 0;
		}
		*stmts_r = x_reallocarray(*stmts_r, *n_r + 1, sizeof(**stmts_r));
		struct procmail_stmt *st = &(*stmts_r)[(*n_r)++];
		memset(st, 0, sizeof(*st));
		parse_statement(ps, st);
	}
}

struct procmail_rc *procmail_parse(const char *name, const char *text, size_t len,
				   struct buf *err_r)
{
	struct procmail_rc *rc = X_NEW(struct procmail_rc);
	struct pm_parser ps = {.name = name, .p = text, .end = text + len, .line = 1,
			       .err = err_r};
	rc->name = x_strdup(name);
	if (len > PROCMAIL_MAX_RC_SIZE)
		parse_error(&ps, "rc file too big");
	else if (memchr(text, 0, len) != NULL)
		parse_error(&ps, "NUL byte in rc file");
	else
		parse_block(&ps, &rc->stmts, &rc->nstmts, false);
	if (ps.failed) {
		procmail_rc_free(&rc);
		return NULL;
	}
	return rc;
}

static void stmts_free(struct procmail_stmt *stmts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct procmail_stmt *st = &stmts[i];
		struct procmail_recipe *r = &st->recipe;
		x_free(&st->name);
		x_free(&st->value);
		for (size_t j = 0; j < r->nconds; j++)
			x_free(&r->conds[j].text);
		x_free(&r->conds);
		x_free(&r->lockfile);
		x_free(&r->action_text);
		x_free(&r->capture_var);
		stmts_free(r->block, r->nblock);
		x_free(&r->block);
	}
}

void procmail_rc_free(struct procmail_rc **rcp)
{
	struct procmail_rc *rc = *rcp;
	if (rc == NULL)
		return;
	stmts_free(rc->stmts, rc->nstmts);
	x_free(&rc->stmts);
	x_free(&rc->name);
	x_free(rcp);
}
