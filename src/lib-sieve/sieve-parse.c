/* sieve-parse: lexer and parser of Sieve scripts into the generic tree (sieve-int.h).
 *
 * RFC 5228 2.3 (comments), 2.4.1 (numbers with K/M/G), 2.4.2 (quoted strings with \\ and
 * \" escapes, other escapes drop the backslash; multi-line "text:" strings ended by a
 * lone "." line, with dot-unstuffing), 2.5 (tests), 8.1 and 8.2 (the grammar). Every size
 * is bounded (SIEVE_MAX_*); errors say line and column. Trusts nothing in the text.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve-int.h"
#include "xalloc.h"

enum tok_type { TOK_EOF, TOK_IDENT, TOK_TAG, TOK_NUMBER, TOK_STRING, TOK_PUNCT };

struct lexer {
	const char *p, *end;
	int line, col;
	/* the current token */
	enum tok_type type;
	int tline, tcol;
	int pline, pcol; /* just after the previous token */
	char punct;
	uint64_t num;
	struct buf text; /* identifier, tag or string */
	size_t nodes;
	struct sieve_error *err;
};

void sieve_set_error(struct sieve_error *err, int line, int col, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL)
		return;
	err->line = line;
	err->col = col;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static void lex_advance(struct lexer *lx)
{
	if (*lx->p == '\n') {
		lx->line++;
		lx->col = 1;
	} else {
		lx->col++;
	}
	lx->p++;
}

static int lex_error(struct lexer *lx, const char *what)
{
	sieve_set_error(lx->err, lx->line, lx->col, "%s", what);
	return -1;
}

/* Skips white space and comments (RFC 5228 2.3). */
static int lex_skip(struct lexer *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lex_advance(lx);
		} else if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lex_advance(lx);
		} else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			int l = lx->line, co = lx->col;
			lex_advance(lx);
			lex_advance(lx);
			while (lx->p + 1 < lx->end && !(lx->p[0] == '*' && lx->p[1] == '/'))
				lex_advance(lx);
			if (lx->p + 1 >= lx->end) {
				sieve_set_error(lx->err, l, co, "unterminated /* comment");
				return -1;
			}
			lex_advance(lx);
			lex_advance(lx);
		} else {
			break;
		}
	}
	return 0;
}

static int lex_quoted(struct lexer *lx)
{
	lex_advance(lx);
	for (;;) {
		if (lx->p >= lx->end) {
			sieve_set_error(lx->err, lx->tline, lx->tcol, "unterminated string");
			return -1;
		}
		char c = *lx->p;
		if (c == '"') {
			lex_advance(lx);
			return 0;
		}
		if (c == '\\') {
			lex_advance(lx);
			if (lx->p >= lx->end)
				continue;
			c = *lx->p;
		}
		buf_append_char(&lx->text, c);
		lex_advance(lx);
	}
}

/* "text:" then blanks, an optional comment, a line break; lines up to ".". */
static int lex_multiline(struct lexer *lx)
{
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
		lex_advance(lx);
	if (lx->p < lx->end && *lx->p == '#')
		while (lx->p < lx->end && *lx->p != '\n')
			lex_advance(lx);
	if (lx->p < lx->end && *lx->p == '\r')
		lex_advance(lx);
	if (lx->p >= lx->end || *lx->p != '\n')
		return lex_error(lx, "expected a line break after text:");
	lex_advance(lx);
	for (;;) {
		const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
		if (nl == NULL) {
			sieve_set_error(lx->err, lx->tline, lx->tcol,
					"unterminated text: string (missing a line with \".\")");
			return -1;
		}
		size_t n = (size_t)(nl - lx->p);
		size_t body = n > 0 && lx->p[n - 1] == '\r' ? n - 1 : n;
		if (body == 1 && lx->p[0] == '.') {
			while (lx->p <= nl)
				lex_advance(lx);
			return 0;
		}
		const char *s = lx->p;
		if (*s == '.') /* dot-unstuffing */
			s++;
		/* lines end in CRLF whatever the file uses (RFC 5228 2.4.2) */
		buf_append(&lx->text, s, (size_t)(lx->p + body - s));
		buf_append(&lx->text, "\r\n", 2);
		while (lx->p <= nl)
			lex_advance(lx);
	}
}

static int tok_error_at(struct lexer *lx, const char *what)
{
	sieve_set_error(lx->err, lx->tline, lx->tcol, "%s", what);
	return -1;
}

static int lex_number(struct lexer *lx)
{
	uint64_t v = 0;
	while (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
		unsigned d = (unsigned)(*lx->p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return tok_error_at(lx, "number too large");
		v = v * 10 + d;
		lex_advance(lx);
	}
	if (lx->p < lx->end) {
		int shift = 0;
		switch (*lx->p) {
		case 'k':
		case 'K':
			shift = 10;
			break;
		case 'm':
		case 'M':
			shift = 20;
			break;
		case 'g':
		case 'G':
			shift = 30;
			break;
		}
		if (shift != 0) {
			if (v > (UINT64_MAX >> shift))
				return tok_error_at(lx, "number too large");
			v <<= shift;
			lex_advance(lx);
		}
	}
	if (lx->p < lx->end && (isalnum((unsigned char)*lx->p) || *lx->p == '_'))
		return lex_error(lx, "bad character after a number");
	lx->num = v;
	return 0;
}

static bool is_ident_char(char c, bool first)
{
	return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c));
}

static void lex_ident(struct lexer *lx)
{
	while (lx->p < lx->end && is_ident_char(*lx->p, false)) {
		buf_append_char(&lx->text, (char)tolower((unsigned char)*lx->p));
		lex_advance(lx);
	}
}

/* Reads the next token into lx. */
static int lex_next(struct lexer *lx)
{
	lx->pline = lx->line;
	lx->pcol = lx->col;
	if (lex_skip(lx) < 0)
		return -1;
	buf_reset(&lx->text);
	lx->tline = lx->line;
	lx->tcol = lx->col;
	if (lx->p >= lx->end) {
		lx->type = TOK_EOF;
		return 0;
	}
	char c = *lx->p;
	if (c == '"') {
		lx->type = TOK_STRING;
		return lex_quoted(lx);
	}
	if (isdigit((unsigned char)c)) {
		lx->type = TOK_NUMBER;
		return lex_number(lx);
	}
	if (c == ':') {
		lex_advance(lx);
		if (lx->p >= lx->end || !is_ident_char(*lx->p, true))
			return lex_error(lx, "expected a tag name after ':'");
		lx->type = TOK_TAG;
		lex_ident(lx);
		return 0;
	}
	if (is_ident_char(c, true)) {
		lx->type = TOK_IDENT;
		lex_ident(lx);
		if (strcmp(lx->text.data, "text") == 0 && lx->p < lx->end && *lx->p == ':') {
			lex_advance(lx);
			buf_reset(&lx->text);
			lx->type = TOK_STRING;
			return lex_multiline(lx);
		}
		return 0;
	}
	if (strchr("[](){},;", c) != NULL) {
		lx->type = TOK_PUNCT;
		lx->punct = c;
		lex_advance(lx);
		return 0;
	}
	return lex_error(lx, (unsigned char)c < 0x20 || (unsigned char)c >= 0x7f
				 ? "unexpected control or 8-bit character"
				 : "unexpected character");
}

static bool is_punct(const struct lexer *lx, char c)
{
	return lx->type == TOK_PUNCT && lx->punct == c;
}

static int tok_error(struct lexer *lx, const char *expected)
{
	const char *got = lx->type == TOK_EOF	   ? "end of script"
			  : lx->type == TOK_IDENT  ? "identifier"
			  : lx->type == TOK_TAG	   ? "tag"
			  : lx->type == TOK_NUMBER ? "number"
			  : lx->type == TOK_STRING ? "string"
						   : NULL;
	if (got != NULL)
		sieve_set_error(lx->err, lx->tline, lx->tcol, "expected %s, found %s", expected,
				got);
	else
		sieve_set_error(lx->err, lx->tline, lx->tcol, "expected %s, found '%c'", expected,
				lx->punct);
	return -1;
}

static void arg_add_string(struct sieve_arg *a, struct buf *text)
{
	a->strs = x_reallocarray(a->strs, a->count + 1, sizeof(*a->strs));
	a->lens = x_reallocarray(a->lens, a->count + 1, sizeof(*a->lens));
	a->lens[a->count] = text->len;
	a->strs[a->count] = x_malloc(text->len + 1);
	memcpy(a->strs[a->count], text->data != NULL ? text->data : "", text->len);
	a->strs[a->count][text->len] = '\0';
	a->count++;
}

/* string-list = "[" string *("," string) "]" / string; the current token starts it. */
static int parse_string_list(struct lexer *lx, struct sieve_arg *a)
{
	a->kind = SIEVE_ARG_STRINGS;
	if (lx->type == TOK_STRING) {
		arg_add_string(a, &lx->text);
		return lex_next(lx);
	}
	a->list = true;
	if (lex_next(lx) < 0)
		return -1;
	for (;;) {
		if (lx->type != TOK_STRING)
			return tok_error(lx, "a string in the list");
		if (a->count >= SIEVE_MAX_LIST)
			return tok_error(lx, "fewer strings (list too long)");
		arg_add_string(a, &lx->text);
		if (lex_next(lx) < 0)
			return -1;
		if (is_punct(lx, ']'))
			return lex_next(lx);
		if (!is_punct(lx, ','))
			return tok_error(lx, "',' or ']' in a string list");
		if (lex_next(lx) < 0)
			return -1;
	}
}

static int parse_test(struct lexer *lx, struct sieve_node **out, int depth);
static void arg_free(struct sieve_arg *a);

static void node_add_test(struct sieve_node *n, struct sieve_node *t)
{
	n->tests = x_reallocarray(n->tests, n->ntests + 1, sizeof(*n->tests));
	n->tests[n->ntests++] = t;
}

/* arguments = *argument [ test / test-list ] */
static int parse_arguments(struct lexer *lx, struct sieve_node *n, int depth)
{
	for (;;) {
		struct sieve_arg a = {0};
		a.line = lx->tline;
		a.col = lx->tcol;
		if (lx->type == TOK_NUMBER) {
			a.kind = SIEVE_ARG_NUMBER;
			a.num = lx->num;
			if (lex_next(lx) < 0)
				return -1;
		} else if (lx->type == TOK_TAG) {
			a.kind = SIEVE_ARG_TAG;
			a.tag = x_strdup(lx->text.data);
			if (lex_next(lx) < 0) {
				free(a.tag);
				return -1;
			}
		} else if (lx->type == TOK_STRING || is_punct(lx, '[')) {
			if (parse_string_list(lx, &a) < 0) {
				n->args = x_reallocarray(n->args, n->nargs + 1, sizeof(*n->args));
				n->args[n->nargs++] = a;
				return -1;
			}
		} else {
			break;
		}
		if (n->nargs >= SIEVE_MAX_ARGS) {
			arg_free(&a);
			return tok_error(lx, "fewer arguments (too many)");
		}
		n->args = x_reallocarray(n->args, n->nargs + 1, sizeof(*n->args));
		n->args[n->nargs++] = a;
	}
	if (lx->type == TOK_IDENT) {
		struct sieve_node *t = NULL;
		int r = parse_test(lx, &t, depth + 1);
		if (t != NULL)
			node_add_test(n, t);
		return r;
	}
	if (!is_punct(lx, '('))
		return 0;
	do {
		if (lex_next(lx) < 0)
			return -1;
		struct sieve_node *t = NULL;
		int r = parse_test(lx, &t, depth + 1);
		if (t != NULL)
			node_add_test(n, t);
		if (r < 0)
			return -1;
	} while (is_punct(lx, ','));
	if (!is_punct(lx, ')'))
		return tok_error(lx, "',' or ')' in a test list");
	n->test_list = true;
	return lex_next(lx) < 0 ? -1 : 0;
}

static struct sieve_node *node_new(struct lexer *lx)
{
	struct sieve_node *n = X_NEW(struct sieve_node);
	n->name = x_strdup(lx->text.data);
	n->line = lx->tline;
	n->col = lx->tcol;
	lx->nodes++;
	return n;
}

/* test = identifier arguments */
static int parse_test(struct lexer *lx, struct sieve_node **out, int depth)
{
	if (lx->type != TOK_IDENT)
		return tok_error(lx, "a test");
	if (depth > SIEVE_MAX_NESTING || lx->nodes >= SIEVE_MAX_NODES)
		return tok_error(lx, "less nesting (tests nested too deeply)");
	*out = node_new(lx);
	if (lex_next(lx) < 0)
		return -1;
	return parse_arguments(lx, *out, depth);
}

static int parse_commands(struct lexer *lx, struct sieve_node ***cmds, size_t *n, int depth,
			  bool in_block);

/* command = identifier arguments (";" / block) */
static int parse_command(struct lexer *lx, struct sieve_node **out, int depth)
{
	if (depth > SIEVE_MAX_NESTING || lx->nodes >= SIEVE_MAX_NODES)
		return tok_error(lx, "less nesting (blocks nested too deeply)");
	struct sieve_node *n = node_new(lx);
	*out = n;
	if (lex_next(lx) < 0 || parse_arguments(lx, n, depth) < 0)
		return -1;
	if (is_punct(lx, ';'))
		return lex_next(lx);
	if (!is_punct(lx, '{')) {
		if (lx->type == TOK_IDENT || lx->type == TOK_EOF || is_punct(lx, '}')) {
			sieve_set_error(lx->err, lx->pline, lx->pcol, "missing ';' after '%s'",
					n->name);
			return -1;
		}
		return tok_error(lx, "';' or '{'");
	}
	n->has_block = true;
	if (lex_next(lx) < 0 || parse_commands(lx, &n->block, &n->nblock, depth + 1, true) < 0)
		return -1;
	return lex_next(lx); /* the '}' */
}

static int parse_commands(struct lexer *lx, struct sieve_node ***cmds, size_t *n, int depth,
			  bool in_block)
{
	for (;;) {
		if (in_block && is_punct(lx, '}'))
			return 0;
		if (lx->type == TOK_EOF) {
			if (in_block)
				return tok_error(lx, "'}' to close the block");
			return 0;
		}
		if (lx->type != TOK_IDENT)
			return tok_error(lx, "a command");
		struct sieve_node *c = NULL;
		int r = parse_command(lx, &c, depth);
		*cmds = x_reallocarray(*cmds, *n + 1, sizeof(**cmds));
		(*cmds)[(*n)++] = c;
		if (r < 0)
			return -1;
	}
}

int sieve_parse(const char *text, size_t len, struct sieve_script *script,
		struct sieve_error *err_r)
{
	struct lexer lx = {.p = text, .end = text + len, .line = 1, .col = 1, .err = err_r};
	if (len > SIEVE_MAX_SCRIPT_SIZE) {
		sieve_set_error(err_r, 0, 0, "script too large (over %d bytes)",
				SIEVE_MAX_SCRIPT_SIZE);
		return -1;
	}
	buf_init(&lx.text, SIEVE_MAX_SCRIPT_SIZE);
	int r = lex_next(&lx);
	if (r == 0)
		r = parse_commands(&lx, &script->cmds, &script->ncmds, 0, false);
	script->nodes = lx.nodes;
	buf_free(&lx.text);
	return r;
}

static void arg_free(struct sieve_arg *a)
{
	for (size_t i = 0; i < a->count; i++)
		free(a->strs[i]);
	free(a->strs);
	free(a->lens);
	free(a->tag);
}

void sieve_node_free(struct sieve_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nargs; i++)
		arg_free(&n->args[i]);
	for (size_t i = 0; i < n->ntests; i++)
		sieve_node_free(n->tests[i]);
	for (size_t i = 0; i < n->nblock; i++)
		sieve_node_free(n->block[i]);
	free(n->args);
	free(n->tests);
	free(n->block);
	free(n->name);
	free(n);
}

void sieve_script_clear(struct sieve_script *script)
{
	for (size_t i = 0; i < script->ncmds; i++)
		sieve_node_free(script->cmds[i]);
	free(script->cmds);
	memset(script, 0, sizeof(*script));
}
