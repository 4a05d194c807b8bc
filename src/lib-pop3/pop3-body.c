/* pop3-body: streaming CRLF conversion, dot-stuffing and TOP cut for POP3 multi-line
 * message responses (RFC 1939 sections 3 and 7). See pop3-body.h.
 */
#include "pop3-body.h"

#include <string.h>

void pop3_body_init(struct pop3_body *b, int64_t top_lines)
{
	memset(b, 0, sizeof(*b));
	b->body_lines = top_lines < 0 ? -1 : top_lines;
	b->in_header = true;
	b->line_start = true;
}

/* A line ended (its LF was written): moves the header/body state on. */
static void body_line_end(struct pop3_body *b)
{
	if (b->in_header) {
		if (b->line_bytes == 0 || (b->line_bytes == 1 && b->after_cr))
			b->in_header = false;
	} else if (b->body_lines > 0) {
		b->body_lines--;
	}
	if (!b->in_header && b->body_lines == 0)
		b->done = true;
	b->line_start = true;
	b->line_bytes = 0;
}

size_t pop3_body_convert(struct pop3_body *b, const void *data, size_t len, char *out)
{
	const char *in = data;
	char *o = out;
	size_t i = 0;
	/* one line (or the part of it in this chunk) a turn: memchr finds its end, memcpy
	   moves it, and only the two places a line can change are looked at */
	while (i < len && !b->done) {
		if (b->line_start && in[i] == '.')
			*o++ = '.'; /* RFC 1939 section 3: byte-stuff a leading "." */
		b->line_start = false;
		const char *lf = memchr(in + i, '\n', len - i);
		size_t n = lf != NULL ? (size_t)(lf - (in + i)) : len - i;
		if (n > 0) {
			memcpy(o, in + i, n);
			o += n;
			b->line_bytes = b->line_bytes + n > 2 ? 2 : b->line_bytes + n;
			b->after_cr = in[i + n - 1] == '\r';
			i += n;
		}
		if (lf == NULL)
			break;
		if (!b->after_cr)
			*o++ = '\r'; /* a bare LF: the line ends in CRLF on the wire */
		*o++ = '\n';
		i++;
		body_line_end(b);
		b->after_cr = false;
	}
	return (size_t)(o - out);
}

bool pop3_body_write(struct pop3_body *b, const void *data, size_t len, struct buf *out)
{
	char *dst = buf_reserve(out, POP3_BODY_OUT_MAX(len));
	out->len += pop3_body_convert(b, data, len, dst);
	out->data[out->len] = '\0'; /* buf_reserve left room for it */
	return !b->done;
}

void pop3_body_finish(struct pop3_body *b, struct buf *out)
{
	if (!b->line_start && !b->done)
		buf_append_str(out, b->after_cr ? "\n" : "\r\n");
	buf_append_str(out, ".\r\n");
}
