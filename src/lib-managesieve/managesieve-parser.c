/* managesieve-parser: see managesieve-parser.h. One state per place in the grammar of
 * RFC 5804 section 4; every octet is looked at once, literal data is copied in blocks.
 */
#include "managesieve-parser.h"

#include <string.h>

enum {
	ST_NAME,      /* the command name (an atom), or the start of a line */
	ST_ARG,	      /* after a space: the start of an argument */
	ST_ATOM,      /* inside an atom or number */
	ST_QUOTED,    /* inside "..." */
	ST_QUOTED_BS, /* after a backslash in "..." */
	ST_LIT_LEN,   /* the digits of {N} */
	ST_LIT_CLOSE, /* after '+': '}' must follow */
	ST_LIT_EOL,   /* after '}': CR LF */
	ST_LIT_LF,    /* after that CR */
	ST_LIT_DATA,  /* the literal's octets */
	ST_AFTER,     /* after an argument: a space or the end of the line */
	ST_CR,	      /* after CR at the end: LF */
	ST_SKIP,      /* a bad command: up to the end of its line */
	ST_SKIP_LIT,  /* ... and the literals it announced */
};

static bool atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '(' && c != ')' && c != '\\' && c != '{';
}

/* What a parser keeps allocated between commands; a bigger buffer (a script went
 * through) is given back, so an idle session holds little. */
#define MS_KEEP_CAP (16 * 1024)

static void reset_command(struct ms_parser *p)
{
	if (p->data.cap > MS_KEEP_CAP) {
		ms_parser_wipe(p);
		buf_free(&p->data);
		buf_init(&p->data, 0);
	}
	buf_reset(&p->data);
	p->argc = 0;
	p->line_len = 0;
	p->lit_left = p->lit_len = 0;
	p->tail_len = 0;
	p->error = NULL;
	p->too_big = false;
	p->state = p->response ? ST_ARG : ST_NAME;
	memset(&p->cmd, 0, sizeof(p->cmd));
	if (p->response) { /* an empty name, so that pos[1..] are the arguments */
		p->pos[0] = (struct ms_arg_pos){MS_ARG_ATOM, 0, 0, 0, false};
		buf_append_char(&p->data, 0);
		p->argc = 1;
	}
}

void ms_parser_init(struct ms_parser *p, size_t max_line, size_t max_literal)
{
	memset(p, 0, sizeof(*p));
	p->max_line = max_line < MS_LINE_MIN ? MS_LINE_MIN : max_line;
	p->max_literal = max_literal;
	buf_init(&p->data, 0);
	reset_command(p);
}

void ms_parser_free(struct ms_parser *p)
{
	ms_parser_wipe(p);
	buf_free(&p->data);
}

void ms_parser_set_response(struct ms_parser *p, bool on)
{
	p->response = on;
	reset_command(p);
}

size_t ms_parser_discard(struct ms_parser *p)
{
	/* a command returned and not fed past is not held: it was read rightly */
	size_t n = p->cmd.name != NULL ? 0 : p->line_len + (size_t)(p->lit_len - p->lit_left);
	ms_parser_wipe(p);
	reset_command(p);
	return n;
}

void ms_parser_wipe(struct ms_parser *p)
{
	if (p->data.data != NULL)
		memset(p->data.data, 0, p->data.cap);
}

/* Marks the command bad: the rest of its line (and its literals) will be skipped. */
static void fail(struct ms_parser *p, const char *why)
{
	if (p->error == NULL)
		p->error = why;
	p->state = ST_SKIP;
	p->tail_len = 0;
}

static void token_start(struct ms_parser *p, enum ms_arg_type type)
{
	if (p->argc > MS_ARGS_MAX) {
		fail(p, "too many arguments");
		return;
	}
	p->pos[p->argc] = (struct ms_arg_pos){type, p->data.len, 0, 0, false};
	p->argc++;
}

/* Ends the current token: NUL-terminates it; an atom of digits becomes a number. */
static void token_end(struct ms_parser *p)
{
	struct ms_arg_pos *a = &p->pos[p->argc - 1];
	a->len = p->data.len - a->off;
	buf_append_char(&p->data, 0);
	if (a->type != MS_ARG_ATOM || p->argc == 1)
		return;
	const char *s = p->data.data + a->off;
	uint64_t n = 0;
	size_t i = 0;
	while (i < a->len && s[i] >= '0' && s[i] <= '9' && n <= UINT32_MAX)
		n = n * 10 + (uint64_t)(s[i++] - '0');
	if (i == a->len && n > UINT32_MAX)
		fail(p, "number too big");
	else if (i == a->len) {
		a->type = MS_ARG_NUMBER;
		a->num = (uint32_t)n;
	}
	/* response mode: a bare word is the response itself */
	if (p->response && a->type == MS_ARG_ATOM)
		a->type = MS_ARG_STRING;
}

/* The line ended with the command whole: fills p->cmd. */
static void command_done(struct ms_parser *p)
{
	char *name = p->data.data + p->pos[0].off;
	for (char *c = name; *c != 0; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	p->cmd.name = name;
	p->cmd.argc = p->argc - 1;
	for (size_t i = 1; i < p->argc; i++) {
		const struct ms_arg_pos *a = &p->pos[i];
		p->cmd.args[i - 1] = (struct ms_arg){a->type, p->data.data + a->off, a->len, a->num,
						     a->literal};
	}
}

/* Skipping: does the line's tail announce a literal ({N} or {N+}, then CR)? */
static bool tail_literal(struct ms_parser *p, uint64_t *n_r)
{
	size_t e = p->tail_len;
	if (e > 0 && p->tail[e - 1] == '\r')
		e--;
	if (e < 3 || p->tail[e - 1] != '}')
		return false;
	e--;
	if (p->tail[e - 1] == '+')
		e--;
	size_t b = e;
	while (b > 0 && p->tail[b - 1] >= '0' && p->tail[b - 1] <= '9')
		b--;
	if (b == e || b == 0 || p->tail[b - 1] != '{' || e - b > 10)
		return false;
	uint64_t n = 0;
	for (size_t i = b; i < e; i++)
		n = n * 10 + (uint64_t)(p->tail[i] - '0');
	*n_r = n;
	return true;
}

/* One octet of a line being skipped; true when the bad command has ended. */
static bool skip_octet(struct ms_parser *p, char c)
{
	if (c != '\n') {
		if (p->tail_len == MS_TAIL_MAX) {
			memmove(p->tail, p->tail + 1, MS_TAIL_MAX - 1);
			p->tail_len--;
		}
		p->tail[p->tail_len++] = c;
		return false;
	}
	uint64_t n;
	if (tail_literal(p, &n)) {
		p->lit_left = n;
		p->tail_len = 0;
		p->state = ST_SKIP_LIT;
		return false;
	}
	return true;
}

/* The header {N} ended: read the literal, or skip it when over the limit. */
static void literal_start(struct ms_parser *p)
{
	p->lit_left = p->lit_len;
	if (p->lit_len > p->max_literal) {
		p->error = "literal too big";
		p->too_big = true;
		p->state = ST_SKIP_LIT;
		p->tail_len = 0;
		return;
	}
	p->pos[p->argc - 1].literal = true;
	p->state = p->lit_left > 0 ? ST_LIT_DATA : ST_AFTER;
	if (p->lit_left == 0)
		token_end(p);
}

/* The end of a line (LF) in a state where a command may end. */
static enum ms_parse_result line_end(struct ms_parser *p)
{
	if (p->state == ST_ATOM)
		token_end(p);
	if (p->error != NULL) /* token_end found a bad number */
		return MS_PARSE_ERROR;
	if (!p->response && p->argc == 0) { /* an empty line: ignored */
		reset_command(p);
		return MS_PARSE_MORE;
	}
	command_done(p);
	return MS_PARSE_DONE;
}

/* One octet of a command line (not literal data). Returns MORE, or the end of the
 * command. */
static enum ms_parse_result line_octet(struct ms_parser *p, char ch)
{
	unsigned char c = (unsigned char)ch;
	if (++p->line_len > p->max_line && p->state != ST_SKIP) {
		fail(p, "line too long");
		return skip_octet(p, ch) ? MS_PARSE_ERROR : MS_PARSE_MORE;
	}
	switch (p->state) {
	case ST_NAME:
		if (c == '\r' || c == '\n') {
			p->state = c == '\r' ? ST_CR : ST_NAME;
			return c == '\n' ? line_end(p) : MS_PARSE_MORE;
		}
		if (!atom_char(c)) {
			fail(p, "a command starts with its name");
			break;
		}
		token_start(p, MS_ARG_ATOM);
		buf_append_char(&p->data, ch);
		p->state = ST_ATOM;
		break;
	case ST_ARG:
		if (c == '"') {
			token_start(p, MS_ARG_STRING);
			p->state = p->state == ST_SKIP ? ST_SKIP : ST_QUOTED;
		} else if (c == '{') {
			token_start(p, MS_ARG_STRING);
			p->lit_len = 0;
			p->state = p->state == ST_SKIP ? ST_SKIP : ST_LIT_LEN;
		} else if (atom_char(c)) {
			token_start(p, MS_ARG_ATOM);
			buf_append_char(&p->data, ch);
			p->state = p->state == ST_SKIP ? ST_SKIP : ST_ATOM;
		} else if (p->response && p->argc == 1 && (c == '\r' || c == '\n')) {
			p->state = c == '\r' ? ST_CR : p->state;
			return c == '\n' ? line_end(p) : MS_PARSE_MORE;
		} else {
			fail(p, "bad argument");
		}
		break;
	case ST_ATOM:
		if (atom_char(c) && p->data.len - p->pos[p->argc - 1].off < MS_ATOM_MAX) {
			buf_append_char(&p->data, ch);
		} else if (atom_char(c)) {
			fail(p, "atom too long");
		} else if (c == ' ' || c == '\r' || c == '\n') {
			if (c != '\n')
				token_end(p);
			if (p->error != NULL)
				break;
			p->state = c == ' ' ? ST_ARG : c == '\r' ? ST_CR : ST_ATOM;
			return c == '\n' ? line_end(p) : MS_PARSE_MORE;
		} else {
			fail(p, "bad character in an atom");
		}
		break;
	case ST_QUOTED:
		if (c == '"') {
			token_end(p);
			p->state = ST_AFTER;
		} else if (c == '\\') {
			p->state = ST_QUOTED_BS;
		} else if (c == '\r' || c == '\n' || c == 0) {
			fail(p, c == 0 ? "NUL in a quoted string" : "unterminated quoted string");
		} else {
			buf_append_char(&p->data, ch);
		}
		break;
	case ST_QUOTED_BS:
		if (c != '"' && c != '\\') {
			fail(p, "bad escape in a quoted string");
			break;
		}
		buf_append_char(&p->data, ch);
		p->state = ST_QUOTED;
		break;
	case ST_LIT_LEN:
		if (c >= '0' && c <= '9' && p->lit_len <= UINT32_MAX) {
			p->lit_len = p->lit_len * 10 + (uint64_t)(c - '0');
			if (p->lit_len > UINT32_MAX)
				fail(p, "literal length too big");
		} else if (c == '+' || c == '}') {
			p->state = c == '+' ? ST_LIT_CLOSE : ST_LIT_EOL;
		} else {
			fail(p, "bad literal length");
		}
		break;
	case ST_LIT_CLOSE:
		if (c != '}')
			fail(p, "bad literal length");
		else
			p->state = ST_LIT_EOL;
		break;
	case ST_LIT_EOL:
	case ST_LIT_LF:
		if (c == '\r' && p->state == ST_LIT_EOL) {
			p->state = ST_LIT_LF;
		} else if (c == '\n') {
			literal_start(p);
		} else {
			fail(p, "a literal's length ends its line");
		}
		break;
	case ST_AFTER:
		if (c == ' ')
			p->state = ST_ARG;
		else if (c == '\r')
			p->state = ST_CR;
		else if (c == '\n')
			return line_end(p);
		else
			fail(p, "a space must follow an argument");
		break;
	case ST_CR:
		if (c == '\n')
			return line_end(p);
		fail(p, "CR without LF");
		break;
	}
	if (p->state == ST_SKIP)
		return skip_octet(p, ch) ? MS_PARSE_ERROR : MS_PARSE_MORE;
	return MS_PARSE_MORE;
}

enum ms_parse_result ms_parser_feed(struct ms_parser *p, const void *data, size_t len,
				    size_t *consumed_r)
{
	const char *s = data;
	size_t i = 0;
	if (p->cmd.name != NULL || (p->error != NULL && p->state == ST_NAME))
		reset_command(p); /* the last command was returned: its data may go */
	enum ms_parse_result r = MS_PARSE_MORE;
	while (i < len && r == MS_PARSE_MORE) {
		if (p->state == ST_LIT_DATA || p->state == ST_SKIP_LIT) {
			size_t n = len - i < p->lit_left ? len - i : (size_t)p->lit_left;
			if (p->state == ST_LIT_DATA)
				buf_append(&p->data, s + i, n);
			p->lit_left -= n;
			i += n;
			if (p->lit_left == 0 && p->state == ST_LIT_DATA) {
				token_end(p);
				p->state = ST_AFTER;
			} else if (p->lit_left == 0) {
				p->state = ST_SKIP;
				p->tail_len = 0;
			}
			continue;
		}
		if (p->state == ST_SKIP) {
			bool end = skip_octet(p, s[i++]);
			r = end ? MS_PARSE_ERROR : MS_PARSE_MORE;
			continue;
		}
		r = line_octet(p, s[i++]);
	}
	if (r == MS_PARSE_ERROR)
		p->state = ST_NAME; /* the next feed starts a new command */
	*consumed_r = i;
	return r;
}

const struct ms_command *ms_parser_command(const struct ms_parser *p)
{
	return &p->cmd;
}

const char *ms_parser_error(const struct ms_parser *p, bool *too_big_r)
{
	if (too_big_r != NULL)
		*too_big_r = p->too_big;
	return p->error != NULL ? p->error : "syntax error";
}
