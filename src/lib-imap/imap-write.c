/* imap-write: strings, NIL, mailbox names and status responses (RFC 3501 / RFC 9051
 * sections 4.3, 5.1.3, 7.1; RFC 6855 for UTF-8; RFC 3516 for literal8).
 * Quoted strings are used only when nothing needs escaping: any '"' or '\' sends a literal,
 * which every client reads the same way.
 */
#include "imap-write.h"

#include "mutf7.h"

#include <string.h>

/* What a byte means to a quoted string: 0 fits, 1 never (a literal), 2 8-bit. */
#define QC16 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2
static const unsigned char quote_class[256] = {
    ['\0'] = 1, ['\r'] = 1, ['\n'] = 1, ['"'] = 1, ['\\'] = 1,
    [0x80] = QC16, QC16, QC16, QC16, QC16, QC16, QC16, QC16};
#undef QC16

bool imap_write_can_quote(const char *s, size_t len, unsigned flags)
{
	unsigned seen = 0;
	if (len > IMAP_WRITE_QUOTED_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		seen |= quote_class[(unsigned char)s[i]];
	if (seen & 1)
		return false;
	return seen == 0 || ((flags & IMAP_WRITE_UTF8) != 0 && utf8_is_valid(s, len));
}

void imap_write_quoted(struct buf *out, const char *s, size_t len)
{
	if (out->limit != 0) { /* appends that may be refused */
		buf_append_char(out, '"');
		buf_append(out, s, len);
		buf_append_char(out, '"');
		return;
	}
	char *d = buf_reserve(out, len + 2);
	d[0] = '"';
	memcpy(d + 1, s, len);
	d[len + 1] = '"';
	out->len += len + 2;
	out->data[out->len] = '\0';
}

void imap_write_literal(struct buf *out, const char *s, size_t len)
{
	imap_write_literal_header(out, len, false);
	buf_append(out, s, len);
}

void imap_write_literal_header(struct buf *out, uint64_t size, bool literal8)
{
	buf_printf(out, "%s{%llu}\r\n", literal8 ? "~" : "", (unsigned long long)size);
}

void imap_write_string(struct buf *out, const char *s, size_t len, unsigned flags)
{
	if (imap_write_can_quote(s, len, flags))
		imap_write_quoted(out, s, len);
	else
		imap_write_literal(out, s, len);
}

void imap_write_nstring(struct buf *out, const char *s, size_t len, unsigned flags)
{
	if (s == NULL)
		buf_append_str(out, "NIL");
	else
		imap_write_string(out, s, len, flags);
}

static bool is_astring_char(unsigned char c)
{
	/* ASTRING-CHAR = ATOM-CHAR / resp-specials (RFC 3501 section 9) */
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\", c) == NULL;
}

void imap_write_astring(struct buf *out, const char *s, size_t len, unsigned flags)
{
	bool nil = len == 3 && (s[0] | 0x20) == 'n' && (s[1] | 0x20) == 'i' && (s[2] | 0x20) == 'l';
	bool atom = len > 0 && !nil;
	for (size_t i = 0; atom && i < len; i++)
		atom = is_astring_char((unsigned char)s[i]);
	if (atom)
		buf_append(out, s, len);
	else
		imap_write_string(out, s, len, flags);
}

int imap_write_mailbox(struct buf *out, const char *name, size_t len, unsigned flags)
{
	if (!utf8_is_valid(name, len) || memchr(name, '\0', len) != NULL)
		return -1;
	if ((flags & IMAP_WRITE_UTF8) != 0) {
		imap_write_astring(out, name, len, flags);
		return 0;
	}
	struct buf tmp = BUF_INIT;
	mutf7_encode(name, len, &tmp);
	imap_write_astring(out, buf_cstr(&tmp), tmp.len, flags);
	buf_free(&tmp);
	return 0;
}

void imap_write_text(struct buf *out, const char *text)
{
	for (const char *p = text; *p != '\0'; p++)
		buf_append_char(out, *p == '\r' || *p == '\n' ? ' ' : *p);
}

void imap_write_status(struct buf *out, const char *tag, const char *status, const char *code,
		       const char *text)
{
	buf_append_str(out, tag != NULL ? tag : "*");
	buf_append_char(out, ' ');
	buf_append_str(out, status);
	if (code != NULL && *code != '\0') {
		buf_append_str(out, " [");
		imap_write_text(out, code);
		buf_append_char(out, ']');
	}
	/* resp-text = ["[" resp-text-code "]" SP] text; text is 1*TEXT-CHAR */
	buf_append_char(out, ' ');
	imap_write_text(out, text != NULL && *text != '\0' ? text : status);
	buf_append_str(out, "\r\n");
}

void imap_write_continuation(struct buf *out, const char *text)
{
	buf_append_str(out, "+ ");
	imap_write_text(out, text != NULL && *text != '\0' ? text : "Ready");
	buf_append_str(out, "\r\n");
}
