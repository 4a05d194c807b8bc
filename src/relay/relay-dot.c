/* relay-dot: queued message data to the SMTP wire format, as a streaming filter.
 *
 * The queue keeps LF line ends; SMTP wants CRLF (RFC 5321 2.3.8), and in DATA a line
 * starting with "." gets another "." (RFC 5321 4.5.2), and no line may be longer than 998
 * octets (RFC 5321 4.5.3.1.6; Tern accepts longer ones, up to smtp_max_line_length): a
 * longer one is broken at relay_max_line_length by CRLF and a space. State carries across
 * calls, so a message is converted block by block in constant memory.
 */
#include "relay.h"

/* Breaks the line being written: CRLF and a space, so that the rest is a folded header
 * field in the header section and, in the body, can never be taken for a MIME boundary
 * or an end-of-data dot. */
static void relay_dot_break(struct relay_dot *st, struct buf *out)
{
	buf_append(out, "\r\n ", 3);
	st->col = 1;
	if (!st->line_broken)
		st->broken++;
	st->line_broken = true;
}

void relay_dot_encode(struct relay_dot *st, const char *in, size_t n, struct buf *out)
{
	size_t start = 0;
	if (st->held_cr && n > 0) {
		st->held_cr = false;
		if (in[0] != '\n') {
			buf_append_char(out, '\r');
			st->col++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!st->mid_line && in[i] == '.' && st->dot_stuff) {
			buf_append(out, in + start, i - start);
			buf_append_char(out, '.');
			st->col++;
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
			st->line_broken = false;
			st->col = 0;
			continue;
		}
		st->mid_line = true;
		/* RFC 5321 4.5.3.1.6: at most 998 octets before the CRLF (a CR that ends the
		 * line is not counted: it is the CRLF's) */
		if (st->max_line > 0 && st->col >= st->max_line &&
		    !(in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')) {
			buf_append(out, in + start, i - start);
			start = i;
			relay_dot_break(st, out);
		}
		st->col++;
	}
	if (n > start && in[n - 1] == '\r' && st->mid_line) {
		/* a CR at the end of the block: the next block says whether it ends the line */
		buf_append(out, in + start, n - 1 - start);
		st->held_cr = true;
		st->col--;
		return;
	}
	buf_append(out, in + start, n - start);
}

void relay_dot_finish(struct relay_dot *st, bool dot, struct buf *out)
{
	if (st->held_cr)
		buf_append_char(out, '\r');
	st->held_cr = false;
	if (st->mid_line)
		buf_append(out, "\r\n", 2);
	st->mid_line = false;
	st->col = 0;
	if (dot)
		buf_append(out, ".\r\n", 3);
}
