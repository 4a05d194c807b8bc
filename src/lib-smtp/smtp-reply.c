/* smtp-reply: formatting and parsing SMTP replies (RFC 5321 4.2, RFC 2034, RFC 3463).
 *
 * A reply line is "CODE SP [ENH SP] text" or, for all but the last line of a multi-line
 * reply, "CODE-[ENH SP] text" (RFC 5321 4.2.1).
 */
#include "smtp-reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xalloc.h"

static void reply_line(struct buf *out, int code, const char *enh, const char *s, size_t n,
		       bool last)
{
	size_t start = out->len;
	buf_printf(out, "%03d%c", code, last ? ' ' : '-');
	if (enh != NULL)
		buf_printf(out, "%s ", enh);
	size_t room = SMTP_REPLY_LINE_MAX - 2 - (out->len - start);
	if (n > room)
		n = room;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		buf_append_char(out, (c < 0x20 || c == 0x7f) ? '?' : (char)c);
	}
	buf_append(out, "\r\n", 2);
}

void smtp_reply_append(struct buf *out, int code, const char *enh, const char *text)
{
	if (code < 200 || code > 599)
		code = 451; /* a bug upstream; never send a malformed code */
	const char *p = text;
	for (;;) {
		const char *nl = strchr(p, '\n');
		if (nl == NULL) {
			reply_line(out, code, enh, p, strlen(p), true);
			return;
		}
		reply_line(out, code, enh, p, (size_t)(nl - p), false);
		p = nl + 1;
	}
}

void smtp_reply_printf(struct buf *out, int code, const char *enh, const char *fmt, ...)
{
	char text[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	smtp_reply_append(out, code, enh, text);
}

void smtp_reply_error(struct buf *out, const struct smtp_error *err)
{
	smtp_reply_append(out, err->code, err->enh, err->text);
}

void smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->text, SMTP_REPLY_TEXT_MAX);
}

void smtp_reply_free(struct smtp_reply *r)
{
	buf_free(&r->text);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Length of an enhanced status code "d.ddd.ddd" at the start of s, or 0 (RFC 3463 2). */
static size_t enh_code_len(const char *s, size_t n)
{
	size_t i = 0;
	if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t digits = 0;
		while (i < n && is_digit(s[i]) && digits < 3)
			i++, digits++;
		if (digits == 0)
			return 0;
		if (part == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && s[i] != ' ')
		return 0;
	return i;
}

int smtp_reply_feed_line(struct smtp_reply *r, const char *line, size_t len)
{
	if (r->complete) {
		buf_reset(&r->text);
		r->code = 0;
		r->enh[0] = '\0';
		r->complete = false;
	}
	if (len < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
	    line[0] < '2' || line[0] > '5')
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	bool first = r->code == 0;
	if (!first && code != r->code)
		return -1;
	r->code = code;
	const char *text = len > 4 ? line + 4 : "";
	size_t tlen = len > 4 ? len - 4 : 0;
	size_t elen = enh_code_len(text, tlen);
	if (elen > 0 && text[0] == line[0]) {
		if (first)
			snprintf(r->enh, sizeof(r->enh), "%.*s", (int)elen, text);
		text += elen;
		tlen -= elen;
		if (tlen > 0 && text[0] == ' ')
			text++, tlen--;
	}
	if (!first)
		buf_append_char(&r->text, '\n');
	buf_append(&r->text, text, tlen);
	r->complete = len == 3 || line[3] == ' ';
	return r->complete ? 1 : 0;
}
