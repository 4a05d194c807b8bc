/* pop3-reply: formatting POP3 responses into a buf (RFC 1939 section 3, RFC 2449 sections
 * 6 and 8 for response codes, RFC 3206 for [SYS/TEMP] [SYS/PERM] [AUTH]).
 *
 * Status lines are "+OK text" / "-ERR [CODE] text", CRLF-terminated, at most 512 octets
 * (RFC 2449 section 4): longer text is cut, CR, LF and NUL in it become spaces so that a
 * caller can never inject a line. Multi-line lines are dot-stuffed (RFC 1939 section 3).
 */
#ifndef TERN_POP3_REPLY_H
#define TERN_POP3_REPLY_H

#include <stdarg.h>
#include <stdbool.h>

#include "buf.h"

#define POP3_REPLY_LINE_MAX 512 /* CRLF included */

enum pop3_resp_code {
	POP3_CODE_NONE,
	POP3_CODE_IN_USE,      /* RFC 2449 8.1.1: the maildrop is locked by another session */
	POP3_CODE_LOGIN_DELAY, /* RFC 2449 8.1.2: try again later */
	POP3_CODE_SYS_TEMP,    /* RFC 3206 4: a temporary problem */
	POP3_CODE_SYS_PERM,    /* RFC 3206 4: a lasting problem */
	POP3_CODE_AUTH,	       /* RFC 3206 5: the credentials were wrong */
};

/* The code as written in a response, without brackets ("IN-USE"), or NULL for NONE. */
const char *pop3_resp_code_name(enum pop3_resp_code code);
void pop3_reply_ok(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pop3_reply_err(struct buf *out, enum pop3_resp_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pop3_reply_status(struct buf *out, bool ok, enum pop3_resp_code code, const char *fmt,
		       va_list ap);
/* One line of a multi-line response: dot-stuffed, CRLF added, cleaned like status text. */
void pop3_reply_line(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The end of a multi-line response: ".\r\n". */
void pop3_reply_end(struct buf *out);

#endif
