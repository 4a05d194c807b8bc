/* mbox-split: an mbox stream cut into its messages (`tern deliver -s`, what `formail -s`
 * does for procmail). A parser only: bytes in, message bytes and From_ lines out.
 *
 * A message begins with a "From " line at the start of the input or after an empty line
 * (the From_ line is handed back apart: its sender is the envelope sender). The empty line
 * before the next From_ line, and the one at the end of the input, separate messages and
 * are not part of them. A "From " line not after an empty line is text. Lines ">From ",
 * ">>From ", ... lose one '>' (mboxrd: Tern's own mbox writer quotes them so, see
 * deliver-mbox.c; a line that was ">From " in an mboxo file thus loses its '>').
 * Content-Length: is not used, as mutt and Tern's store do not trust it either. An input
 * that does not begin with "From " is one message (no From_ line), up to the first
 * From_ line after an empty line.
 */
#include "mbox-split.h"

#include <string.h>

enum { MS_BOL, MS_GT, MS_FROM, MS_MID, MS_FROMLINE };

static const char from_[] = "From ";

void mbox_split_init(struct mbox_split *s)
{
	memset(s, 0, sizeof(*s));
	s->state = MS_BOL;
	s->prev_empty = true;
}

static void flush_held(struct mbox_split *s, struct buf *out)
{
	if (s->held_nl) {
		buf_append_char(out, '\n');
		s->held_nl = false;
	}
}

/* What a line's start held back when it turned out not to be a From_ line: the '>'s
 * and the part of "From " seen. */
static void flush_prefix(struct mbox_split *s, struct buf *out)
{
	flush_held(s, out);
	for (unsigned i = 0; i < s->gt; i++)
		buf_append_char(out, '>');
	buf_append(out, from_, s->k);
	s->gt = 0;
	s->k = 0;
}

size_t mbox_split_feed(struct mbox_split *s, const char *in, size_t n, struct buf *out,
		       struct buf *from_r, bool *next_r)
{
	size_t i = 0;
	*next_r = false;
	while (i < n) {
		char c = in[i];
		switch (s->state) {
		case MS_MID: {
			const char *nl = memchr(in + i, '\n', n - i);
			size_t end = nl != NULL ? (size_t)(nl - in) + 1 : n;
			buf_append(out, in + i, end - i);
			s->offset += end - i;
			i = end;
			if (nl != NULL) {
				s->state = MS_BOL;
				s->prev_empty = false;
			}
			continue;
		}
		case MS_BOL:
			s->line_offset = s->offset;
			if (c == '\n') { /* an empty line: held, it may be the separator */
				flush_held(s, out);
				s->held_nl = true;
				s->prev_empty = true;
			} else if (c == '>') {
				s->gt = 1;
				s->state = MS_GT;
			} else if (c == 'F') {
				s->k = 1;
				s->state = MS_FROM;
			} else {
				flush_held(s, out);
				s->state = MS_MID;
				continue; /* c is text */
			}
			break;
		case MS_GT:
			if (c == '>') {
				if (s->gt < MBOX_SPLIT_MAX_GT) {
					s->gt++;
					break;
				}
			} else if (c == 'F') {
				s->k = 1;
				s->state = MS_FROM;
				break;
			}
			flush_prefix(s, out);
			s->state = MS_MID;
			continue; /* c is text */
		case MS_FROM:
			if (c != from_[s->k]) {
				flush_prefix(s, out);
				s->state = MS_MID;
				continue; /* c is text */
			}
			if (++s->k < sizeof(from_) - 1)
				break;
			if (s->gt == 0 && s->prev_empty) { /* a new message */
				s->held_nl = false;
				s->k = 0;
				s->from_offset = s->line_offset;
				s->saw_from = true;
				buf_reset(from_r);
				buf_append_str(from_r, from_);
				s->state = MS_FROMLINE;
				break;
			}
			if (s->gt > 0) /* mboxrd: one '>' less */
				s->gt--;
			flush_prefix(s, out);
			s->state = MS_MID;
			break;
		case MS_FROMLINE: {
			const char *nl = memchr(in + i, '\n', n - i);
			size_t end = nl != NULL ? (size_t)(nl - in) : n;
			size_t room = from_r->len < MBOX_SPLIT_MAX_FROM ? MBOX_SPLIT_MAX_FROM - from_r->len : 0;
			buf_append(from_r, in + i, end - i < room ? end - i : room);
			s->offset += end - i;
			i = end;
			if (nl != NULL) {
				s->offset++;
				i++;
				s->state = MS_BOL;
				s->prev_empty = false;
				*next_r = true;
				return i;
			}
			continue;
		}
		}
		s->offset++;
		i++;
	}
	return i;
}

bool mbox_split_end(struct mbox_split *s, struct buf *out)
{
	bool next = s->state == MS_FROMLINE; /* a last From_ line without its newline */
	if (s->state == MS_GT || s->state == MS_FROM)
		flush_prefix(s, out);
	/* The empty line at the end of an mbox separates; a lone message keeps its own. */
	if (!s->saw_from)
		flush_held(s, out);
	s->held_nl = false;
	s->state = MS_BOL;
	return next;
}
