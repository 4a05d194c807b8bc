/* managesieve-parser: the ManageSieve command parser (RFC 5804 sections 1.2 and 4).
 *
 * An incremental, pure parser: feed it bytes as they arrive, in any pieces; it stops
 * after each complete command so that pipelined commands are answered in order. A command
 * is an atom (its name, upper-cased here) and arguments separated by one space: quoted
 * strings ("..." with \" and \\), literals ({N+} CRLF and N octets; the synchronizing
 * form {N} is accepted the same way, with no continuation, as no ManageSieve server sends
 * one), numbers (32-bit, RFC 5804 4) and atoms. A bare LF also ends a line.
 * Limits: max_line octets of a command outside its literals; max_literal octets per
 * literal. A bad command is reported once, when its line has ended: its rest, and the
 * octets of any literal announced in it, are skipped so the next command is read cleanly.
 * In response mode (an AUTHENTICATE exchange, RFC 5804 2.1) a line is one string
 * (quoted, literal, or bare base64 as some clients send it) and no name.
 */
#ifndef TERN_MANAGESIEVE_PARSER_H
#define TERN_MANAGESIEVE_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MS_ATOM_MAX 1024  /* RFC 5804 4: atom = 1*1024ATOM-CHAR */
#define MS_ARGS_MAX 4	  /* no command takes more than two; extensions a few more */
#define MS_LINE_MIN 1100  /* max_line never below this: a 1024-octet quoted string fits */
#define MS_TAIL_MAX 24	  /* what skipping remembers of a line: "{4294967295+}\r" fits */

enum ms_parse_result {
	MS_PARSE_MORE,	/* every byte consumed, no complete command yet */
	MS_PARSE_DONE,	/* a command is ready: ms_parser_command() */
	MS_PARSE_ERROR, /* a bad command ended: ms_parser_error(); the parser goes on */
};

enum ms_arg_type { MS_ARG_STRING, MS_ARG_NUMBER, MS_ARG_ATOM };

struct ms_arg {
	enum ms_arg_type type;
	const char *data; /* NUL-terminated (strings may also hold NULs: use len) */
	size_t len;
	uint32_t num;  /* MS_ARG_NUMBER */
	bool literal; /* a string sent as a literal */
};

struct ms_command {
	const char *name; /* upper case; "" in response mode */
	size_t argc;	  /* at most MS_ARGS_MAX (more is an error) */
	struct ms_arg args[MS_ARGS_MAX];
};

struct ms_arg_pos {
	enum ms_arg_type type;
	size_t off, len;
	uint32_t num;
	bool literal;
};

struct ms_parser {
	size_t max_line, max_literal;
	bool response; /* response mode */
	int state;
	size_t line_len;	/* octets of this command outside literals */
	uint64_t lit_left;	/* octets of the literal still to read (or to skip) */
	uint64_t lit_len;	/* the literal's length while its {N} is read */
	struct buf data;	/* the name and arguments, each NUL-terminated */
	size_t argc;
	struct ms_arg_pos pos[MS_ARGS_MAX + 1]; /* [0]: the name */
	struct ms_command cmd;
	const char *error;
	bool too_big; /* the error is a literal over max_literal */
	char tail[MS_TAIL_MAX]; /* skipping: the last octets of the line */
	size_t tail_len;
};

/* max_line: octets of a command outside literals (at least MS_LINE_MIN); max_literal:
 * octets of one literal. */
void ms_parser_init(struct ms_parser *p, size_t max_line, size_t max_literal);
void ms_parser_free(struct ms_parser *p);
/* Response mode on or off (from the next line on). */
void ms_parser_set_response(struct ms_parser *p, bool on);
/* Forgets a partial command (STARTTLS: nothing sent before TLS may be read after it).
 * Returns how many octets were dropped. */
size_t ms_parser_discard(struct ms_parser *p);
/* Overwrites the last command with zeros (it may hold a password). */
void ms_parser_wipe(struct ms_parser *p);
/* Consumes bytes from data up to and including the end of the first complete command;
 * *consumed_r says how many. DONE / ERROR: a command ended (feed the rest later); MORE:
 * all of data was consumed. */
enum ms_parse_result ms_parser_feed(struct ms_parser *p, const void *data, size_t len,
				    size_t *consumed_r);
/* After DONE: the command, valid until the next feed. */
const struct ms_command *ms_parser_command(const struct ms_parser *p);
/* After ERROR: a short reason for the client; *too_big_r: a literal was over the limit. */
const char *ms_parser_error(const struct ms_parser *p, bool *too_big_r);

#endif
