/* mime-rfc2047: encoded-words in header text, and charset conversion to UTF-8.
 *
 * RFC 2047 2 (syntax), 4 (B and Q encodings), 6.2 (whitespace between adjacent
 * encoded-words is dropped), RFC 2231 5 (a language suffix "*lang" on the charset).
 * Malformed encoded-words and those in an unknown charset are left as they are.
 */
#ifndef TERN_MIME_RFC2047_H
#define TERN_MIME_RFC2047_H

#include <stddef.h>

#include "buf.h"

/* Converts len bytes from charset to UTF-8, appending to out; invalid input becomes
 * U+FFFD. Returns 0, or -1 if the charset is unknown to iconv (nothing is appended). */
int mime_charset_to_utf8(const char *charset, const void *in, size_t len, struct buf *out);

/* Decodes the encoded-words in in[0..len), appending UTF-8 to out; other bytes are copied
 * unchanged (8-bit bytes in the text are assumed to be UTF-8 already, RFC 6532). */
void mime_rfc2047_decode(const char *in, size_t len, struct buf *out);

/* The same, returning a fresh NUL-terminated string. */
char *mime_rfc2047_decode_str(const char *in);

#endif
