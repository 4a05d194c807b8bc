/* pop3-parser: the POP3 command line parser (RFC 1939 section 3, RFC 2449 section 4).
 *
 * An incremental, pure parser: feed it bytes as they arrive, in any pieces; it stops
 * after each complete line so that the caller can answer pipelined commands in order.
 * A line is bounded (max_line octets, CRLF included; RFC 2449 asks for at least 255);
 * an over-long line is reported as one error when its end arrives, its rest discarded.
 * A line is a keyword (1-4 printable characters, case-insensitive, upper-cased here)
 * and arguments separated by spaces, each at most max_arg octets. A bare LF also ends a
 * line. In raw mode (SASL continuation lines, RFC 5034) the line is returned unsplit.
 */
#ifndef TERN_POP3_PARSER_H
#define TERN_POP3_PARSER_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define POP3_LINE_MIN 255   /* RFC 2449 section 4 */
#define POP3_ARG_MAX_RFC 40 /* RFC 1939 section 3 */
#define POP3_KEYWORD_MAX 4
#define POP3_ARGS_MAX 4 /* arguments kept; no command takes more than two */
/* A raw (SASL response) line may be longer than a command: RFC 5034 section 4 lifts the
 * 255-octet limit for responses after the AUTH line. 8 KiB holds any response of our
 * mechanisms (PLAIN with three 255-octet fields is about 1 KiB of base64). */
#define POP3_RAW_LINE_MAX 8192

enum pop3_parse_result {
	POP3_PARSE_MORE,  /* every byte consumed, no complete line yet */
	POP3_PARSE_LINE,  /* a command (or raw line) is ready: see pop3_parser_command() */
	POP3_PARSE_ERROR, /* a bad line ended: see pop3_parser_error(); the parser goes on */
};

struct pop3_command {
	char keyword[POP3_KEYWORD_MAX + 1]; /* upper case; "" in raw mode */
	size_t argc;			    /* may exceed POP3_ARGS_MAX: only the first are kept */
	const char *args[POP3_ARGS_MAX];
	/* Everything after the keyword and one space, unsplit (PASS may contain spaces,
	   RFC 1939 section 7); in raw mode the whole line. No CRLF. */
	const char *rest;
	size_t rest_len;
};

struct pop3_parser {
	size_t max_line;
	size_t max_arg;
	bool raw;
	bool overflow;	  /* the current line is too long; discarding up to its LF */
	struct buf line;  /* the current line, without its LF */
	struct buf split; /* line split into NUL-separated words */
	struct pop3_command cmd;
	const char *error;
};

/* max_line: octets per line CRLF included (raised to POP3_LINE_MIN when smaller);
 * max_arg: octets per argument (0: POP3_ARG_MAX_RFC). */
void pop3_parser_init(struct pop3_parser *p, size_t max_line, size_t max_arg);
void pop3_parser_free(struct pop3_parser *p);
/* Raw mode: lines are returned whole, not split into keyword and arguments, and may be
 * up to POP3_RAW_LINE_MAX octets (or max_line if larger). */
void pop3_parser_set_raw(struct pop3_parser *p, bool raw);
/* Forgets the partial line held (STLS: nothing sent before TLS may be read after it,
 * RFC 2595 section 3.1). Returns how many octets were dropped, for the log. */
size_t pop3_parser_discard(struct pop3_parser *p);
/* Overwrites the last line and its split copy with zeros (it may hold a password); the
 * command returned before is no longer valid. */
void pop3_parser_wipe(struct pop3_parser *p);
/* Consumes bytes from data up to and including the end of the first complete line;
 * *consumed_r says how many. PARSE_LINE / PARSE_ERROR: a line ended (feed the rest
 * later); PARSE_MORE: all of data was consumed. */
enum pop3_parse_result pop3_parser_feed(struct pop3_parser *p, const void *data, size_t len,
					size_t *consumed_r);
/* After PARSE_LINE: the command, valid until the next feed. */
const struct pop3_command *pop3_parser_command(const struct pop3_parser *p);
/* After PARSE_ERROR: a short reason for the client ("line too long", ...). */
const char *pop3_parser_error(const struct pop3_parser *p);

#endif
