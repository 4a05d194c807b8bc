/* relay-dot: queued message data to the SMTP wire format, as a streaming filter.
 *
 * The queue keeps LF line ends; SMTP wants CRLF (RFC 5321 2.3.8), and in DATA a line
 * starting with "." gets another "." (RFC 5321 4.5.2). State carries across calls, so a
 * message is converted block by block in constant memory.
 */
#include "relay.h"

void relay_dot_encode(struct relay_dot *st, const char *in, size_t n, struct buf *out)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (!st->mid_line && in[i] == '.' && st->dot_stuff) {
			buf_append(out, in + start, i - start);
			buf_append_char(out, '.');
			start = i;
		}
		if (in[i] == '\n') {
			size_t end = i;
			if (end > start && in[end - 1] == '\r')
				end--; /* already CRLF: keep one CR */
			buf_append(out, in + start, end - start);
			buf_append(out, "\r\n", 2);
			start = i + 1;
			st->mid_line = false;
		} else {
			st->mid_line = true;
		}
	}
	buf_append(out, in + start, n - start);
}

void relay_dot_finish(struct relay_dot *st, bool dot, struct buf *out)
{
	if (st->mid_line)
		buf_append(out, "\r\n", 2);
	st->mid_line = false;
	if (dot)
		buf_append(out, ".\r\n", 3);
}
