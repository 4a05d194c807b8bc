/* imap-parser: incremental parser of IMAP client commands (tag, name, argument tree).
 *
 * Follows RFC 3501 / RFC 9051 section 9 (command, astring, string, literal, list), RFC 7888
 * (LITERAL+ {n+}, LITERAL- limit of 4096 on non-synchronising literals), RFC 3516 (literal8
 * ~{n}). Pure: no I/O, no globals. Every byte count is bounded by struct imap_parser_limits.
 *
 * Use: call imap_parser_feed() with whatever bytes arrived; it consumes a prefix (*consumed_r)
 * and answers one event:
 *   IMAP_PARSE_MORE      all bytes consumed, feed more when they arrive.
 *   IMAP_PARSE_DONE      a command is complete: imap_parser_command(). It stays valid until
 *                        the next feed or reset. The unconsumed bytes begin the next command.
 *   IMAP_PARSE_CONTINUE  a synchronising literal {n} of acceptable size was announced: send
 *                        "+ ..." to the client, then keep feeding (the parser buffers it).
 *   IMAP_PARSE_LITERAL   a literal larger than limits.inline_literal (and no larger than
 *                        limits.max_literal) was announced: the parser does NOT buffer it.
 *                        imap_parser_command() shows the command read so far (tag, name, args
 *                        before the literal) and imap_parser_literal() its size and kind. The
 *                        caller either calls imap_parser_literal_accept() (then sends "+ ..."
 *                        if sync) and the following feeds return IMAP_PARSE_LITERAL_DATA with
 *                        chunks of the literal pointing INTO the fed bytes (zero copy) until
 *                        literal.remaining is 0, after which parsing of the line resumes and
 *                        the argument appears as IMAP_ARG_STREAM; or it calls
 *                        imap_parser_literal_refuse() and answers the command with NO/BAD
 *                        itself: the parser then drops the command (and for a {n+} literal,
 *                        which the client sends anyway, silently skips its bytes and the rest
 *                        of the line).
 *   IMAP_PARSE_LITERAL_DATA  chunk_r, chunk_len_r: the next bytes of an accepted stream.
 *   IMAP_PARSE_ERROR     the command is bad: reply BAD with imap_parser_error() (tag from
 *                        imap_parser_tag(), NULL when none was read: reply "* BAD"). The
 *                        error code says when the reply needs [TOOBIG]. The parser has already
 *                        arranged to discard the rest of the command (for a synchronising
 *                        literal the client sends nothing more; a {n+} literal's bytes and the
 *                        rest of its line are skipped), so just keep feeding.
 * A too-large literal is always reported at its header, before any of its bytes is read, so
 * literal data is never parsed as commands. Feeding again after IMAP_PARSE_LITERAL without
 * accepting or refusing refuses it.
 */
#ifndef TERN_IMAP_PARSER_H
#define TERN_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap-arg.h"

#define IMAP_LITERAL_MINUS_MAX 4096 /* RFC 7888 section 5 */

struct imap_parser_limits {
	size_t max_line;         /* command text bytes, literal contents not counted */
	size_t max_args;         /* arguments in the whole tree (lists count too) */
	unsigned max_depth;      /* list nesting */
	uint64_t max_literal;    /* largest literal accepted at all (streamed or not) */
	size_t inline_literal;   /* largest literal the parser buffers itself */
	size_t max_inline_total; /* all buffered literal bytes of one command */
	bool literal_plus;       /* accept {n+} (LITERAL+ or LITERAL- advertised) */
	bool literal_minus;      /* LITERAL-: {n+} above 4096 is an error (TOOBIG) */
	bool literal8;           /* accept ~{n} (BINARY advertised) */
};

/* Reasonable defaults for a server: 64 KiB lines, 64 MiB literals, 8 KiB inline. */
void imap_parser_limits_default(struct imap_parser_limits *limits_r);

enum imap_parse_result {
	IMAP_PARSE_MORE,
	IMAP_PARSE_DONE,
	IMAP_PARSE_CONTINUE,
	IMAP_PARSE_LITERAL,
	IMAP_PARSE_LITERAL_DATA,
	IMAP_PARSE_ERROR,
};

enum imap_parse_error {
	IMAP_PARSE_ERR_NONE,
	IMAP_PARSE_ERR_SYNTAX,
	IMAP_PARSE_ERR_LINE_TOO_LONG,
	IMAP_PARSE_ERR_TOO_MANY_ARGS,
	IMAP_PARSE_ERR_TOO_DEEP,
	IMAP_PARSE_ERR_TOOBIG, /* literal too large: reply BAD [TOOBIG] (RFC 4469, RFC 7888) */
};

struct imap_command {
	char *tag;  /* NULL until read */
	char *name; /* upper-cased; NULL until read */
	struct imap_arg args; /* a LIST of the arguments after the name */
};

struct imap_literal {
	uint64_t size;
	uint64_t remaining; /* bytes of an accepted stream not yet handed out */
	bool sync;          /* {n}: the client waits for "+" */
	bool literal8;      /* ~{n} */
};

struct imap_parser;

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser **parser);
/* Forgets any partial command and starts at a command boundary. */
void imap_parser_reset(struct imap_parser *parser);

enum imap_parse_result imap_parser_feed(struct imap_parser *parser, const char *data, size_t len,
					size_t *consumed_r, const char **chunk_r,
					size_t *chunk_len_r);

const struct imap_command *imap_parser_command(const struct imap_parser *parser);
const char *imap_parser_tag(const struct imap_parser *parser);
const struct imap_literal *imap_parser_literal(const struct imap_parser *parser);
/* The reason of the last IMAP_PARSE_ERROR, for the BAD reply text; code_r may be NULL. */
const char *imap_parser_error(const struct imap_parser *parser, enum imap_parse_error *code_r);

/* After IMAP_PARSE_LITERAL: take the literal as a stream of IMAP_PARSE_LITERAL_DATA. */
void imap_parser_literal_accept(struct imap_parser *parser);
/* After IMAP_PARSE_LITERAL: drop the command (the caller replies NO/BAD itself). */
void imap_parser_literal_refuse(struct imap_parser *parser);

#endif
