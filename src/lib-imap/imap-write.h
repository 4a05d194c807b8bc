/* imap-write: IMAP response writer into a struct buf.
 *
 * Chooses the right string form (RFC 3501 / RFC 9051 section 4.3: atom, quoted or literal),
 * writes NIL, mailbox names (modified UTF-7, or UTF-8 after ENABLE UTF8=ACCEPT, RFC 6855),
 * and whole status responses with response codes (section 7.1). Text placed in responses is
 * cleaned of CR, LF and NUL so no caller can split a response line.
 */
#ifndef TERN_IMAP_WRITE_H
#define TERN_IMAP_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define IMAP_WRITE_QUOTED_MAX 1024 /* longer strings are sent as literals */

enum imap_write_flags {
	IMAP_WRITE_UTF8 = 1 << 0, /* UTF8=ACCEPT enabled: valid UTF-8 may be quoted */
};

/* True if s can be sent as a quoted string (no CR/LF/NUL/quote/backslash, 7-bit or valid
 * UTF-8 with IMAP_WRITE_UTF8, at most IMAP_WRITE_QUOTED_MAX bytes). */
bool imap_write_can_quote(const char *s, size_t len, unsigned flags);
/* string: quoted when possible, else a literal {n}. */
void imap_write_string(struct buf *out, const char *s, size_t len, unsigned flags);
/* nstring: NIL when s is NULL. */
void imap_write_nstring(struct buf *out, const char *s, size_t len, unsigned flags);
/* astring: a bare atom when every byte is an ASTRING-CHAR (and it is not "NIL"). */
void imap_write_astring(struct buf *out, const char *s, size_t len, unsigned flags);
void imap_write_quoted(struct buf *out, const char *s, size_t len); /* caller checked */
void imap_write_literal(struct buf *out, const char *s, size_t len);
/* "{size}\r\n" or "~{size}\r\n" (RFC 3516), for a body the caller streams after it. */
void imap_write_literal_header(struct buf *out, uint64_t size, bool literal8);
/* A mailbox name given in UTF-8: modified UTF-7 astring, or UTF-8 with IMAP_WRITE_UTF8.
 * Returns -1 (writing nothing) if name is not valid UTF-8. */
int imap_write_mailbox(struct buf *out, const char *name, size_t len, unsigned flags);
/* Free text for a response: CR, LF and NUL become spaces. */
void imap_write_text(struct buf *out, const char *text);

/* "tag STATUS [code] text\r\n"; tag NULL writes "*"; code may be NULL. */
void imap_write_status(struct buf *out, const char *tag, const char *status, const char *code,
		       const char *text);
/* "+ text\r\n" */
void imap_write_continuation(struct buf *out, const char *text);

#endif
