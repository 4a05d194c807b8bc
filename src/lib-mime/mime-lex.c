/* mime-lex: CFWS, quoted strings and character classes (see mime-lex.h).
 *
 * RFC 5322 3.2.1 (quoted-pair), 3.2.2 (CFWS), 3.2.3 (atext), 3.2.4 (quoted strings);
 * RFC 2045 5.1 (token, tspecials).
 */
#include "mime-lex.h"

#include <string.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* p points at '(': skips the comment, appending its text to comment if not NULL. */
static const char *skip_comment(const char *p, const char *end, struct buf *comment)
{
	unsigned int depth = 0;
	if (comment != NULL && comment->len > 0)
		buf_append_char(comment, ' ');
	for (; p < end; p++) {
		if (*p == '\\' && p + 1 < end) {
			p++;
		} else if (*p == '(') {
			depth++;
			if (depth == 1)
				continue;
			if (depth > MIME_LEX_MAX_COMMENT_DEPTH)
				return end;
		} else if (*p == ')') {
			if (--depth == 0)
				return p + 1;
		}
		if (comment != NULL && *p != '\r' && *p != '\n')
			buf_append_char(comment, *p);
	}
	return end;
}

const char *mime_lex_skip_cfws(const char *p, const char *end, struct buf *comment)
{
	while (p < end) {
		if (is_space(*p))
			p++;
		else if (*p == '(')
			p = skip_comment(p, end, comment);
		else
			break;
	}
	return p;
}

const char *mime_lex_qstring(const char *p, const char *end, struct buf *out)
{
	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if (*p == '\\' && p + 1 < end)
			p++;
		else if (*p == '\r' || *p == '\n')
			continue; /* folding inside the string: the line break goes */
		if (out != NULL)
			buf_append_char(out, *p);
	}
	return end;
}

/* Character classes of the printable ASCII range, one bit each (strchr over the specials
 * was 5% of a cold FETCH ENVELOPE, called for every character of every address). */
enum { LEX_TSPECIAL = 1, LEX_SPECIAL = 2 };

static const unsigned char lex_class[128] = {
    /* RFC 2045 5.1 tspecials, RFC 5322 3.2.3 specials */
    ['"'] = LEX_TSPECIAL | LEX_SPECIAL,
    ['('] = LEX_TSPECIAL | LEX_SPECIAL,
    [')'] = LEX_TSPECIAL | LEX_SPECIAL,
    [','] = LEX_TSPECIAL | LEX_SPECIAL,
    ['.'] = LEX_SPECIAL,
    ['/'] = LEX_TSPECIAL,
    [':'] = LEX_TSPECIAL | LEX_SPECIAL,
    [';'] = LEX_TSPECIAL | LEX_SPECIAL,
    ['<'] = LEX_TSPECIAL | LEX_SPECIAL,
    ['='] = LEX_TSPECIAL,
    ['>'] = LEX_TSPECIAL | LEX_SPECIAL,
    ['?'] = LEX_TSPECIAL,
    ['@'] = LEX_TSPECIAL | LEX_SPECIAL,
    ['['] = LEX_TSPECIAL | LEX_SPECIAL,
    ['\\'] = LEX_TSPECIAL | LEX_SPECIAL,
    [']'] = LEX_TSPECIAL | LEX_SPECIAL,
};

bool mime_lex_is_token_char(char c)
{
	unsigned char u = (unsigned char)c;
	if (u <= ' ' || u >= 127)
		return false;
	return (lex_class[u] & LEX_TSPECIAL) == 0;
}

bool mime_lex_is_atext(char c)
{
	unsigned char u = (unsigned char)c;
	if (u >= 128)
		return true;
	if (u <= ' ' || u == 127)
		return false;
	return (lex_class[u] & LEX_SPECIAL) == 0;
}
