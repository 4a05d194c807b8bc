/* sasl-base64: strict base64 (RFC 4648 section 4) for SASL exchanges.
 *
 * RFC 4954 section 4 (and RFC 3501 / RFC 5034 alike): characters outside the alphabet and
 * padding anywhere but at the end are errors, never ignored. We are also canonical: the
 * length must be a multiple of 4 and unused bits must be zero. Pure functions over bounded
 * buffers; decoding appends to a buf, so the buf's limit bounds memory.
 */
#ifndef TERN_SASL_BASE64_H
#define TERN_SASL_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Appends the base64 form of p[0..n) to out (no line breaks). */
void sasl_base64_encode(const void *p, size_t n, struct buf *out);
/* Appends the decoded bytes of s[0..n) to out. 0 on success; -1 if s is not strict
 * canonical base64 or out's limit was reached (out then holds a partial result). */
int sasl_base64_decode(const char *s, size_t n, struct buf *out);

enum sasl_decode_result {
	SASL_DECODE_OK,	   /* out holds the decoded response (may be empty) */
	SASL_DECODE_ABORT, /* the client sent "*": cancel (call sasl_server_abort) */
	SASL_DECODE_BAD,   /* not base64: SMTP 501 5.5.2, IMAP BAD, POP3 -ERR */
};

/* Decodes one client line (without its CRLF) of an exchange. initial: the line is the
 * initial response on the AUTH/AUTHENTICATE command line, where "=" stands for an empty
 * response (RFC 4954 section 4, RFC 4959 section 3, RFC 5034 section 4) and "*" is just
 * invalid; otherwise it is a continuation line where "" is empty and "*" aborts. out is
 * reset first. */
enum sasl_decode_result sasl_decode_client(const char *line, size_t len, bool initial,
					   struct buf *out);

#endif
