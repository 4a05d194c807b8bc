/* managesieve-reply: writing ManageSieve responses (RFC 5804 section 4).
 *
 * Strings go out quoted when they are short and hold no CR, LF, NUL or non-UTF-8 octet,
 * else as a literal-s2c ({N} CRLF octets). Responses are OK, NO or BYE with an optional
 * response code in parentheses and a human-readable string. Appends to a buf; no sockets.
 */
#ifndef TERN_MANAGESIEVE_REPLY_H
#define TERN_MANAGESIEVE_REPLY_H

#include <stdarg.h>
#include <stddef.h>

#include "buf.h"

#define MS_QUOTED_MAX 1024 /* RFC 5804 4: quoted = DQUOTE *1024QUOTED-CHAR DQUOTE */

/* Appends s[0..len) as a string (quoted or literal), no CRLF. */
void ms_reply_string(struct buf *out, const char *s, size_t len);
/* Appends s as a literal ({N} CRLF s), no CRLF after it. */
void ms_reply_literal(struct buf *out, const char *s, size_t len);
/* One capability line: "NAME" or "NAME" "VALUE" (value NULL: none), CRLF. */
void ms_reply_capability(struct buf *out, const char *name, const char *value);
/* A response: WORD (OK/NO/BYE), " (CODE)" when code is not NULL, " TEXT" when fmt is
 * not NULL (formatted, then written as a string), CRLF. */
void ms_reply_status(struct buf *out, const char *word, const char *code, const char *fmt,
		     va_list ap) __attribute__((format(printf, 4, 0)));
/* The same with the arguments inline. */
void ms_reply(struct buf *out, const char *word, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
