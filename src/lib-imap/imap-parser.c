/* imap-parser: incremental IMAP command parser; see imap-parser.h for the event protocol.
 *
 * Grammar: RFC 3501 section 9 / RFC 9051 section 9 (tag, atom, quoted, literal, lists),
 * RFC 7888 (literal+ and the LITERAL- 4096-byte rule), RFC 3516 (literal8). Generic: the
 * parser knows no command. One exception, as in the grammar: an atom starting BODY[,
 * BODY.PEEK[, BINARY[, BINARY.PEEK[ or BINARY.SIZE[ runs to the matching ']' across spaces
 * and parentheses, so "BODY[HEADER.FIELDS (From To)]<0.10>" is one atom (fetch-att).
 * Trusts nothing: every byte is checked, every size bounded by the caller's limits.
 */
#include "imap-parser.h"

#include "buf.h"
#include "util.h"
#include "xalloc.h"

#include <string.h>

enum imap_parser_state {
	ST_TAG,
	ST_NAME,
	ST_ARGS,  /* expecting an argument, ')' or the end of the line */
	ST_AFTER, /* after an argument: SP, ')' or the end of the line */
	ST_ATOM,
	ST_QUOTED,
	ST_QUOTED_ESC,
	ST_TILDE,
	ST_LIT_OPEN, /* after '{': first digit */
	ST_LIT_SIZE,
	ST_LIT_CLOSE, /* after '+': '}' */
	ST_LIT_CR,    /* after '}': CR or LF */
	ST_LIT_LF,
	ST_LIT_DATA,
	ST_STREAM_WAIT,
	ST_STREAM,
	ST_EOL_LF,
	ST_SKIP,     /* discarding the rest of a bad line */
	ST_SKIP_LIT, /* discarding the bytes of a {n+} literal in a bad line */
};

struct imap_parser {
	struct imap_parser_limits limits;
	enum imap_parser_state state;
	struct imap_command cmd;
	struct imap_arg **stack; /* open lists; stack[0] is &cmd.args */
	unsigned depth;
	struct buf tok;
	size_t line_len;
	size_t arg_count;
	size_t inline_total;
	unsigned bracket; /* inside the [...] of a fetch-att atom */
	struct imap_literal lit;
	bool lit_plus;
	bool lit_overflow;
	bool pending_reset; /* clear cmd at the next feed (after DONE or ERROR) */
	/* skip mode: recognises a trailing {n+} so its bytes are skipped too */
	int skip_lit; /* 0 none, 1 digits after '{', 2 after '+', 3 after "+}" */
	uint64_t skip_size;
	uint64_t skip_remaining;
	enum imap_parse_error error;
	const char *error_text;
};

void imap_parser_limits_default(struct imap_parser_limits *limits_r)
{
	memset(limits_r, 0, sizeof(*limits_r));
	limits_r->max_line = 64 * 1024;
	limits_r->max_args = 10000;
	limits_r->max_depth = 32;
	limits_r->max_literal = 64 * 1024 * 1024;
	limits_r->inline_literal = 8 * 1024;
	limits_r->max_inline_total = 256 * 1024;
	limits_r->literal_plus = true;
	limits_r->literal_minus = false;
	limits_r->literal8 = true;
}

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = X_NEW(struct imap_parser);
	p->limits = *limits;
	if (p->limits.max_depth == 0)
		p->limits.max_depth = 1;
	p->stack = x_calloc(p->limits.max_depth + 1, sizeof(*p->stack));
	buf_init(&p->tok, 0);
	imap_parser_reset(p);
	return p;
}

static void cmd_clear(struct imap_parser *p)
{
	x_free(&p->cmd.tag);
	x_free(&p->cmd.name);
	imap_arg_free(&p->cmd.args);
	memset(&p->cmd.args, 0, sizeof(p->cmd.args));
	p->cmd.args.type = IMAP_ARG_LIST;
	p->stack[0] = &p->cmd.args;
	p->depth = 0;
	p->line_len = 0;
	p->arg_count = 0;
	p->inline_total = 0;
	p->bracket = 0;
	buf_reset(&p->tok);
	p->pending_reset = false;
}

void imap_parser_reset(struct imap_parser *p)
{
	cmd_clear(p);
	p->state = ST_TAG;
	p->error = IMAP_PARSE_ERR_NONE;
	p->error_text = NULL;
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;
	if (p == NULL)
		return;
	cmd_clear(p);
	buf_free(&p->tok);
	x_free(&p->stack);
	x_free(pp);
}

const struct imap_command *imap_parser_command(const struct imap_parser *p)
{
	return &p->cmd;
}

const char *imap_parser_tag(const struct imap_parser *p)
{
	return p->cmd.tag;
}

const struct imap_literal *imap_parser_literal(const struct imap_parser *p)
{
	return &p->lit;
}

const char *imap_parser_error(const struct imap_parser *p, enum imap_parse_error *code_r)
{
	if (code_r != NULL)
		*code_r = p->error;
	return p->error_text != NULL ? p->error_text : "";
}

/* Records an error. line_ended: the client's line is over (no skipping needed). */
static enum imap_parse_result fail(struct imap_parser *p, enum imap_parse_error code,
				   const char *text, bool line_ended)
{
	p->error = code;
	p->error_text = text;
	p->pending_reset = true;
	p->state = line_ended ? ST_TAG : ST_SKIP;
	p->skip_lit = 0;
	return IMAP_PARSE_ERROR;
}

/* Error at a literal header: a {n+} literal's bytes follow anyway and are skipped. */
static enum imap_parse_result fail_literal(struct imap_parser *p, enum imap_parse_error code,
					   const char *text)
{
	enum imap_parse_result r = fail(p, code, text, p->lit.sync);
	if (!p->lit.sync) {
		p->state = ST_SKIP_LIT;
		p->skip_remaining = p->lit_overflow ? UINT64_MAX : p->lit.size;
	}
	return r;
}

static bool is_atom_char(unsigned char c)
{
	/* RFC 3501 ATOM-CHAR, widened to list-wildcards, resp-specials and "\" (flags): the
	 * command code checks each argument's own syntax. */
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

static bool is_tag_char(unsigned char c)
{
	/* tag = 1*<any ASTRING-CHAR except "+"> */
	return is_atom_char(c) && c != '%' && c != '*' && c != '\\' && c != '+';
}

/* Adds an argument to the innermost open list; NULL when max_args is passed. */
static struct imap_arg *arg_add(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *list = p->stack[p->depth];
	if (p->arg_count >= p->limits.max_args)
		return NULL;
	p->arg_count++;
	if (list->len == list->cap) {
		list->cap = list->cap == 0 ? 8 : list->cap * 2;
		list->list = x_reallocarray(list->list, list->cap, sizeof(*list->list));
	}
	struct imap_arg *arg = &list->list[list->len++];
	memset(arg, 0, sizeof(*arg));
	arg->type = type;
	return arg;
}

/* Turns the token buffer into a string argument. */
static enum imap_parse_result add_token(struct imap_parser *p, enum imap_arg_type type)
{
	if (type == IMAP_ARG_ATOM && p->tok.len == 3 && str_ieq(buf_cstr(&p->tok), "NIL"))
		type = IMAP_ARG_NIL;
	struct imap_arg *arg = arg_add(p, type);
	if (arg == NULL)
		return fail(p, IMAP_PARSE_ERR_TOO_MANY_ARGS, "Too many arguments", false);
	arg->literal8 = type == IMAP_ARG_LITERAL && p->lit.literal8;
	arg->len = p->tok.len;
	arg->str = x_malloc(p->tok.len + 1);
	memcpy(arg->str, buf_cstr(&p->tok), p->tok.len);
	arg->str[p->tok.len] = '\0';
	buf_reset(&p->tok);
	p->state = ST_AFTER;
	return IMAP_PARSE_MORE;
}

enum step { STEP_NEXT, STEP_AGAIN, STEP_EVENT, STEP_EVENT_AGAIN };

static enum step event(enum imap_parse_result *res_r, enum imap_parse_result res, bool consumed)
{
	*res_r = res;
	return consumed ? STEP_EVENT : STEP_EVENT_AGAIN;
}

static enum step err(struct imap_parser *p, enum imap_parse_result *res_r, const char *text,
		     unsigned char c)
{
	return event(res_r, fail(p, IMAP_PARSE_ERR_SYNTAX, text, c == '\n'), true);
}

static char *tok_take(struct imap_parser *p)
{
	char *s = x_strndup(buf_cstr(&p->tok), p->tok.len);
	buf_reset(&p->tok);
	return s;
}

/* At the LF that ends the command line. */
static enum step finish(struct imap_parser *p, enum imap_parse_result *res_r)
{
	if (p->depth > 0)
		return event(res_r, fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing ')'", true), true);
	p->pending_reset = true;
	p->state = ST_TAG;
	return event(res_r, IMAP_PARSE_DONE, true);
}

static enum step st_tag(struct imap_parser *p, unsigned char c, enum imap_parse_result *res_r)
{
	if (is_tag_char(c)) {
		buf_append_char(&p->tok, (char)c);
		return STEP_NEXT;
	}
	if (p->tok.len == 0 && (c == '\r' || c == '\n')) {
		p->line_len = 0; /* empty lines are ignored */
		return STEP_NEXT;
	}
	if (p->tok.len == 0)
		return err(p, res_r, "Invalid tag", c);
	if (c == ' ') {
		p->cmd.tag = tok_take(p);
		p->state = ST_NAME;
		return STEP_NEXT;
	}
	if (c == '\r' || c == '\n') {
		p->cmd.tag = tok_take(p);
		return err(p, res_r, "Missing command", c);
	}
	return err(p, res_r, "Invalid tag", c);
}

static enum step st_name(struct imap_parser *p, unsigned char c, enum imap_parse_result *res_r)
{
	if (is_atom_char(c) && c != '[' && c != ']' && c != '\\') {
		char u = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : (char)c;
		buf_append_char(&p->tok, u);
		return STEP_NEXT;
	}
	if (p->tok.len == 0 || (c != ' ' && c != '\r' && c != '\n'))
		return err(p, res_r, p->tok.len == 0 ? "Missing command" : "Invalid command name", c);
	p->cmd.name = tok_take(p);
	if (c == '\n')
		return finish(p, res_r);
	p->state = c == ' ' ? ST_ARGS : ST_EOL_LF;
	return STEP_NEXT;
}

static enum step st_args(struct imap_parser *p, unsigned char c, enum imap_parse_result *res_r)
{
	switch (c) {
	case ' ':
		return STEP_NEXT;
	case '(': {
		if (p->depth >= p->limits.max_depth)
			return event(res_r, fail(p, IMAP_PARSE_ERR_TOO_DEEP, "Lists nested too deep",
						 false), true);
		struct imap_arg *arg = arg_add(p, IMAP_ARG_LIST);
		if (arg == NULL)
			return event(res_r, fail(p, IMAP_PARSE_ERR_TOO_MANY_ARGS,
						 "Too many arguments", false), true);
		p->stack[++p->depth] = arg;
		return STEP_NEXT;
	}
	case ')':
		if (p->depth == 0)
			return err(p, res_r, "Unexpected ')'", c);
		p->depth--;
		p->state = ST_AFTER;
		return STEP_NEXT;
	case '"':
		p->state = ST_QUOTED;
		return STEP_NEXT;
	case '{':
		p->lit.literal8 = false;
		p->state = ST_LIT_OPEN;
		return STEP_NEXT;
	case '\r':
		p->state = ST_EOL_LF;
		return STEP_NEXT;
	case '\n':
		return finish(p, res_r);
	case '~':
		if (p->limits.literal8) {
			p->state = ST_TILDE;
			return STEP_NEXT;
		}
		break;
	default:
		break;
	}
	if (!is_atom_char(c))
		return err(p, res_r, "Invalid character in command", c);
	p->state = ST_ATOM;
	return STEP_AGAIN;
}

static enum step st_after(struct imap_parser *p, unsigned char c, enum imap_parse_result *res_r)
{
	if (c == ' ') {
		p->state = ST_ARGS;
		return STEP_NEXT;
	}
	if (c == ')' || c == '\r' || c == '\n') {
		p->state = ST_ARGS;
		return STEP_AGAIN;
	}
	return err(p, res_r, "Missing space between arguments", c);
}

/* The fetch-att names whose [section] may hold spaces and lists (RFC 3501 section 9). */
static bool bracket_prefix(const struct buf *tok)
{
	static const char *const names[] = {
		"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (str_ieq(buf_cstr(tok), names[i]))
			return true;
	}
	return false;
}

static enum step st_atom(struct imap_parser *p, unsigned char c, enum imap_parse_result *res_r)
{
	if (p->bracket) {
		if (c == '\r' || c == '\n')
			return err(p, res_r, "Missing ']'", c);
		if (c < 0x20 || c >= 0x7f)
			return err(p, res_r, "Invalid character in section", c);
		if (c == ']')
			p->bracket = 0;
		buf_append_char(&p->tok, (char)c);
		return STEP_NEXT;
	}
	if (is_atom_char(c)) {
		if (c == '[' && bracket_prefix(&p->tok))
			p->bracket = 1;
		buf_append_char(&p->tok, (char)c);
		return STEP_NEXT;
	}
	enum imap_parse_result r = add_token(p, IMAP_ARG_ATOM);
	if (r != IMAP_PARSE_MORE)
		return event(res_r, r, false);
	return STEP_AGAIN;
}

static enum step st_quoted(struct imap_parser *p, unsigned char c, enum imap_parse_result *res_r)
{
	if (p->state == ST_QUOTED_ESC) {
		/* RFC 3501 quoted: only \" and \\ are escapes */
		if (c != '"' && c != '\\')
			return err(p, res_r, "Invalid escape in quoted string", c);
		buf_append_char(&p->tok, (char)c);
		p->state = ST_QUOTED;
		return STEP_NEXT;
	}
	if (c == '"') {
		enum imap_parse_result r = add_token(p, IMAP_ARG_QUOTED);
		return r == IMAP_PARSE_MORE ? STEP_NEXT : event(res_r, r, true);
	}
	if (c == '\\') {
		p->state = ST_QUOTED_ESC;
		return STEP_NEXT;
	}
	if (c == '\r' || c == '\n' || c == '\0')
		return err(p, res_r, "Invalid character in quoted string", c);
	buf_append_char(&p->tok, (char)c);
	return STEP_NEXT;
}

/* After the header's LF: decide between refusing, buffering and streaming. */
static enum step literal_start(struct imap_parser *p, enum imap_parse_result *res_r)
{
	struct imap_literal *lit = &p->lit;
	const struct imap_parser_limits *l = &p->limits;
	lit->sync = !p->lit_plus;
	lit->remaining = lit->size;
	if (p->lit_plus && !l->literal_plus)
		return event(res_r, fail_literal(p, IMAP_PARSE_ERR_SYNTAX,
						 "Non-synchronizing literals not allowed"), true);
	if (p->lit_overflow || lit->size > l->max_literal)
		return event(res_r, fail_literal(p, IMAP_PARSE_ERR_TOOBIG, "Literal too large"),
			     true);
	if (p->lit_plus && l->literal_minus && lit->size > IMAP_LITERAL_MINUS_MAX)
		return event(res_r, fail_literal(p, IMAP_PARSE_ERR_TOOBIG,
						 "Non-synchronizing literal over 4096 bytes"), true);
	if (p->arg_count >= l->max_args)
		return event(res_r, fail_literal(p, IMAP_PARSE_ERR_TOO_MANY_ARGS,
						 "Too many arguments"), true);
	if (lit->size <= l->inline_literal && lit->size <= l->max_inline_total - p->inline_total) {
		p->inline_total += (size_t)lit->size;
		buf_reset(&p->tok);
		p->state = ST_LIT_DATA;
		if (lit->size == 0)
			add_token(p, IMAP_ARG_LITERAL);
		if (lit->sync)
			return event(res_r, IMAP_PARSE_CONTINUE, true);
		return STEP_NEXT;
	}
	p->state = ST_STREAM_WAIT;
	return event(res_r, IMAP_PARSE_LITERAL, true);
}

static enum step st_literal_header(struct imap_parser *p, unsigned char c,
				   enum imap_parse_result *res_r)
{
	switch (p->state) {
	case ST_TILDE:
		if (c == '{') {
			p->lit.literal8 = true;
			p->state = ST_LIT_OPEN;
			return STEP_NEXT;
		}
		buf_append_char(&p->tok, '~');
		p->state = ST_ATOM;
		return STEP_AGAIN;
	case ST_LIT_OPEN:
	case ST_LIT_SIZE:
		if (c >= '0' && c <= '9') {
			if (p->state == ST_LIT_OPEN) {
				p->lit.size = 0;
				p->lit_overflow = false;
			}
			if (p->lit.size > (UINT64_MAX - 9) / 10)
				p->lit_overflow = true;
			else
				p->lit.size = p->lit.size * 10 + (uint64_t)(c - '0');
			p->state = ST_LIT_SIZE;
			return STEP_NEXT;
		}
		if (p->state == ST_LIT_SIZE && (c == '+' || c == '}')) {
			p->lit_plus = c == '+';
			p->state = c == '+' ? ST_LIT_CLOSE : ST_LIT_CR;
			return STEP_NEXT;
		}
		return err(p, res_r, "Invalid literal size", c);
	case ST_LIT_CLOSE:
		if (c != '}')
			return err(p, res_r, "Invalid literal size", c);
		p->state = ST_LIT_CR;
		return STEP_NEXT;
	case ST_LIT_CR:
		if (c == '\r') {
			p->state = ST_LIT_LF;
			return STEP_NEXT;
		}
		/* fall through */
	default:
		if (c != '\n')
			return err(p, res_r, "Literal must end the line", c);
		return literal_start(p, res_r);
	}
}

/* Skip mode: discard to the end of line, noticing a trailing {n+} whose bytes follow. */
static void st_skip(struct imap_parser *p, unsigned char c)
{
	if (c == '\n') {
		if (p->skip_lit == 3) {
			p->state = ST_SKIP_LIT;
			p->skip_remaining = p->skip_size;
		} else {
			p->state = ST_TAG;
		}
		p->skip_lit = 0;
	} else if (c == '{') {
		p->skip_lit = 1;
		p->skip_size = 0;
	} else if (p->skip_lit == 1 && c >= '0' && c <= '9') {
		if (p->skip_size <= (UINT64_MAX - 9) / 10)
			p->skip_size = p->skip_size * 10 + (uint64_t)(c - '0');
		else
			p->skip_size = UINT64_MAX;
	} else if (p->skip_lit == 1 && c == '+') {
		p->skip_lit = 2;
	} else if (p->skip_lit == 2 && c == '}') {
		p->skip_lit = 3;
	} else if (!(p->skip_lit == 3 && c == '\r')) {
		p->skip_lit = 0;
	}
}

static enum step step(struct imap_parser *p, unsigned char c, enum imap_parse_result *res_r)
{
	switch (p->state) {
	case ST_TAG:
		return st_tag(p, c, res_r);
	case ST_NAME:
		return st_name(p, c, res_r);
	case ST_ARGS:
		return st_args(p, c, res_r);
	case ST_AFTER:
		return st_after(p, c, res_r);
	case ST_ATOM:
		return st_atom(p, c, res_r);
	case ST_QUOTED:
	case ST_QUOTED_ESC:
		return st_quoted(p, c, res_r);
	case ST_EOL_LF:
		if (c != '\n')
			return err(p, res_r, "CR not followed by LF", c);
		return finish(p, res_r);
	case ST_SKIP:
		st_skip(p, c);
		return STEP_NEXT;
	default:
		return st_literal_header(p, c, res_r);
	}
}

/* Literal bytes in bulk: buffered, streamed or skipped. Returns true with *res_r on an event. */
static bool feed_bulk(struct imap_parser *p, const char *data, size_t len, size_t *pos,
		      const char **chunk_r, size_t *chunk_len_r, enum imap_parse_result *res_r)
{
	if (p->state == ST_SKIP_LIT) {
		size_t n = p->skip_remaining < len - *pos ? (size_t)p->skip_remaining : len - *pos;
		*pos += n;
		p->skip_remaining -= n;
		if (p->skip_remaining == 0)
			p->state = ST_SKIP;
		return false;
	}
	size_t n = p->lit.remaining < len - *pos ? (size_t)p->lit.remaining : len - *pos;
	const char *s = data + *pos;
	if (!p->lit.literal8 && memchr(s, '\0', n) != NULL) {
		/* RFC 3501 CHAR8 excludes NUL: only literal8 may carry it */
		*res_r = fail(p, IMAP_PARSE_ERR_SYNTAX, "NUL in literal", false);
		p->state = ST_SKIP_LIT;
		p->skip_remaining = p->lit.remaining;
		return true;
	}
	*pos += n;
	p->lit.remaining -= n;
	if (p->state == ST_LIT_DATA) {
		buf_append(&p->tok, s, n);
		if (p->lit.remaining == 0)
			add_token(p, IMAP_ARG_LITERAL);
		return false;
	}
	*chunk_r = s;
	*chunk_len_r = n;
	if (p->lit.remaining == 0) {
		struct imap_arg *arg = arg_add(p, IMAP_ARG_STREAM);
		if (arg != NULL) {
			arg->stream_size = p->lit.size;
			arg->literal8 = p->lit.literal8;
		}
		p->state = ST_AFTER;
	}
	*res_r = IMAP_PARSE_LITERAL_DATA;
	return true;
}

enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
					size_t *consumed_r, const char **chunk_r,
					size_t *chunk_len_r)
{
	enum imap_parse_result res = IMAP_PARSE_MORE;
	size_t i = 0;
	*chunk_r = NULL;
	*chunk_len_r = 0;
	if (p->pending_reset) {
		cmd_clear(p);
		p->error = IMAP_PARSE_ERR_NONE;
		p->error_text = NULL;
	}
	if (p->state == ST_STREAM_WAIT)
		imap_parser_literal_refuse(p); /* the caller did not decide: be safe */
	while (i < len) {
		if (p->state == ST_LIT_DATA || p->state == ST_STREAM || p->state == ST_SKIP_LIT) {
			if (feed_bulk(p, data, len, &i, chunk_r, chunk_len_r, &res))
				break;
			continue;
		}
		unsigned char c = (unsigned char)data[i];
		if (p->state != ST_SKIP && ++p->line_len > p->limits.max_line) {
			i++;
			res = fail(p, IMAP_PARSE_ERR_LINE_TOO_LONG, "Command line too long", c == '\n');
			break;
		}
		enum step st = step(p, c, &res);
		if (st == STEP_NEXT) {
			i++;
			continue;
		}
		if (st == STEP_AGAIN) {
			p->line_len--;
			continue;
		}
		if (st == STEP_EVENT)
			i++;
		break;
	}
	*consumed_r = i;
	return res;
}

void imap_parser_literal_accept(struct imap_parser *p)
{
	if (p->state != ST_STREAM_WAIT)
		return;
	p->state = ST_STREAM;
	p->lit.remaining = p->lit.size;
}

void imap_parser_literal_refuse(struct imap_parser *p)
{
	if (p->state != ST_STREAM_WAIT)
		return;
	p->pending_reset = true;
	if (p->lit.sync) {
		p->state = ST_TAG;
	} else {
		p->state = ST_SKIP_LIT;
		p->skip_remaining = p->lit.size;
	}
}
