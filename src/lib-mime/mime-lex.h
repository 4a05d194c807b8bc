/* mime-lex: the small lexical pieces shared by the structured-field parsers.
 *
 * CFWS (RFC 5322 3.2.2: whitespace and nested comments, depth bounded) and quoted strings
 * (3.2.4). Tolerant: an unterminated comment or quoted string runs to the end of input.
 */
#ifndef TERN_MIME_LEX_H
#define TERN_MIME_LEX_H

#include <stdbool.h>

#include "buf.h"

#define MIME_LEX_MAX_COMMENT_DEPTH 32

/* Skips whitespace and comments from p; the text of each comment (unescaped, nested
 * parentheses kept) is appended to comment when it is not NULL, separated by a space. */
const char *mime_lex_skip_cfws(const char *p, const char *end, struct buf *comment);
/* p points at '"': appends the unescaped content to out (if not NULL) and returns the
 * position after the closing quote (or end). */
const char *mime_lex_qstring(const char *p, const char *end, struct buf *out);
/* RFC 2045 5.1 token character (no CTLs, space or tspecials). */
bool mime_lex_is_token_char(char c);
/* RFC 5322 3.2.3 atext, plus 8-bit bytes (RFC 6532 3.2). */
bool mime_lex_is_atext(char c);

#endif
