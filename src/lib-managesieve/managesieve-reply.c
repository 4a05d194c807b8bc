/* managesieve-reply: see managesieve-reply.h. */
#include "managesieve-reply.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* May s go out as a quoted string? (QUOTED-CHAR: no CR, LF, NUL; UTF-8 kept as it is.) */
static bool quotable(const char *s, size_t len)
{
	if (len > MS_QUOTED_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

void ms_reply_literal(struct buf *out, const char *s, size_t len)
{
	buf_printf(out, "{%zu}\r\n", len);
	buf_append(out, s, len);
}

void ms_reply_string(struct buf *out, const char *s, size_t len)
{
	if (!quotable(s, len)) {
		ms_reply_literal(out, s, len);
		return;
	}
	buf_append_char(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_append_char(out, '\\');
		buf_append_char(out, s[i]);
	}
	buf_append_char(out, '"');
}

void ms_reply_capability(struct buf *out, const char *name, const char *value)
{
	ms_reply_string(out, name, strlen(name));
	if (value != NULL) {
		buf_append_char(out, ' ');
		ms_reply_string(out, value, strlen(value));
	}
	buf_append_str(out, "\r\n");
}

void ms_reply_status(struct buf *out, const char *word, const char *code, const char *fmt,
		     va_list ap)
{
	buf_append_str(out, word);
	if (code != NULL)
		buf_printf(out, " (%s)", code);
	if (fmt != NULL) {
		struct buf text = BUF_INIT;
		buf_vprintf(&text, fmt, ap);
		buf_append_char(out, ' ');
		ms_reply_string(out, text.data != NULL ? text.data : "", text.len);
		buf_free(&text);
	}
	buf_append_str(out, "\r\n");
}

void ms_reply(struct buf *out, const char *word, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ms_reply_status(out, word, code, fmt, ap);
	va_end(ap);
}
