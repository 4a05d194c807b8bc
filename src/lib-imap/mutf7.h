/* mutf7: modified UTF-7 mailbox names (RFC 3501 section 5.1.3), to and from UTF-8.
 *
 * Decoding is strict, as the RFC requires of a canonical form: printable ASCII must stand
 * for itself, base64 runs must end with "-" and carry no stray bits, two encoded runs may not
 * follow each other ("&AGE-&AGE-" must be "&AGEAYQ-"), UTF-16 surrogates must pair.
 */
#ifndef TERN_MUTF7_H
#define TERN_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Appends the mUTF-7 form of UTF-8 s[0..len). Returns 0, or -1 if s is not valid UTF-8 (or
 * holds NUL); out may then hold a partial result. */
int mutf7_encode(const char *s, size_t len, struct buf *out);
/* Appends the UTF-8 form of mUTF-7 s[0..len). Returns 0, or -1 with a reason. */
int mutf7_decode(const char *s, size_t len, struct buf *out, const char **error_r);
bool mutf7_is_valid(const char *s, size_t len);
/* Decodes one UTF-8 character at s[*pos] (strict: no overlongs, surrogates or > U+10FFFF).
 * Returns the code point and advances *pos, or -1. Shared with the response writer. */
long utf8_decode_char(const char *s, size_t len, size_t *pos);
bool utf8_is_valid(const char *s, size_t len);

#endif
