/* smtp-reply: SMTP replies, formatting for servers and parsing for clients.
 *
 * Formatting follows RFC 5321 4.2 (multi-line replies: "250-" on every line but the
 * last) and RFC 2034 (the enhanced status code of RFC 3463 starts every line's text).
 * The parser takes one reply line at a time (without CRLF) and says when a reply is
 * complete; it trusts nothing in the lines and bounds the text it keeps.
 */
#ifndef TERN_SMTP_REPLY_H
#define TERN_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* An expected failure, as the reply a server sends for it: 501 "5.5.4" "text". */
struct smtp_error {
	int code;
	const char *enh;  /* "5.5.4", or NULL */
	const char *text; /* static text */
};

/* Longest reply line we write, CRLF included (RFC 5321 4.5.3.1.5). */
#define SMTP_REPLY_LINE_MAX 512

/* Appends a reply to out. text may hold several lines separated by '\n'; each becomes a
 * reply line with code (and enh when not NULL). Control characters in text become '?',
 * over-long lines are cut so every line fits SMTP_REPLY_LINE_MAX. */
void smtp_reply_append(struct buf *out, int code, const char *enh, const char *text);
/* printf-style; the formatted text is then handled as smtp_reply_append does. */
void smtp_reply_printf(struct buf *out, int code, const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void smtp_reply_error(struct buf *out, const struct smtp_error *err);

/* Incremental reply parser (client side). */
struct smtp_reply {
	int code;
	char enh[16];   /* enhanced code of the first line, "" when none */
	struct buf text; /* lines' text (after the enhanced code), joined with '\n' */
	bool complete;
};

#define SMTP_REPLY_TEXT_MAX 65536

void smtp_reply_init(struct smtp_reply *r);
void smtp_reply_free(struct smtp_reply *r);
/* Feeds one line (without CRLF). Returns 1 when the reply is complete, 0 when more lines
 * follow, -1 on a malformed line (bad code, codes differing between lines). Feeding after
 * completion starts a new reply. */
int smtp_reply_feed_line(struct smtp_reply *r, const char *line, size_t len);

#endif
