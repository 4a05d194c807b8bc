/* pop3-reply: POP3 status lines and multi-line response lines (RFC 1939 section 3,
 * RFC 2449 sections 4 and 8, RFC 3206). See pop3-reply.h.
 */
#include "pop3-reply.h"

#include <stdio.h>
#include <string.h>

const char *pop3_resp_code_name(enum pop3_resp_code code)
{
	switch (code) {
	case POP3_CODE_IN_USE:
		return "IN-USE";
	case POP3_CODE_LOGIN_DELAY:
		return "LOGIN-DELAY";
	case POP3_CODE_SYS_TEMP:
		return "SYS/TEMP";
	case POP3_CODE_SYS_PERM:
		return "SYS/PERM";
	case POP3_CODE_AUTH:
		return "AUTH";
	case POP3_CODE_NONE:
		break;
	}
	return NULL;
}

/* Formats text into out (size POP3_REPLY_LINE_MAX) cleaned of line breaks, cut to at most
 * max bytes; returns its length. */
static size_t reply_format_clean(char *out, size_t max, const char *fmt, va_list ap)
{
	int n = vsnprintf(out, POP3_REPLY_LINE_MAX, fmt, ap);
	size_t len = n < 0 ? 0 : (size_t)n;
	if (len > max)
		len = max;
	if (len >= POP3_REPLY_LINE_MAX)
		len = POP3_REPLY_LINE_MAX - 1;
	/* vsnprintf stops at a NUL of a %s argument, so the text holds no NUL bytes */
	for (size_t i = 0; i < len; i++)
		if (out[i] == '\r' || out[i] == '\n')
			out[i] = ' ';
	out[len] = '\0';
	return len;
}

void pop3_reply_status(struct buf *out, bool ok, enum pop3_resp_code code, const char *fmt,
		       va_list ap)
{
	char head[32], text[POP3_REPLY_LINE_MAX];
	const char *name = pop3_resp_code_name(code);
	snprintf(head, sizeof(head), "%s%s%s%s", ok ? "+OK" : "-ERR", name ? " [" : "",
		 name ? name : "", name ? "]" : "");
	size_t hlen = strlen(head);
	size_t tlen = 0;
	if (fmt != NULL)
		tlen = reply_format_clean(text, POP3_REPLY_LINE_MAX - 3 - hlen, fmt, ap);
	buf_append(out, head, hlen);
	if (tlen > 0) {
		buf_append_char(out, ' ');
		buf_append(out, text, tlen);
	}
	buf_append_str(out, "\r\n");
}

void pop3_reply_ok(struct buf *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pop3_reply_status(out, true, POP3_CODE_NONE, fmt, ap);
	va_end(ap);
}

void pop3_reply_err(struct buf *out, enum pop3_resp_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pop3_reply_status(out, false, code, fmt, ap);
	va_end(ap);
}

void pop3_reply_line(struct buf *out, const char *fmt, ...)
{
	char text[POP3_REPLY_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	size_t len = reply_format_clean(text, POP3_REPLY_LINE_MAX - 3, fmt, ap);
	va_end(ap);
	if (len > 0 && text[0] == '.')
		buf_append_char(out, '.');
	buf_append(out, text, len);
	buf_append_str(out, "\r\n");
}

void pop3_reply_end(struct buf *out)
{
	buf_append_str(out, ".\r\n");
}
