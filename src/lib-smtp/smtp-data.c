/* smtp-data: DATA/BDAT decoding state machine (RFC 5321 4.5.2 transparency, 4.1.1.4 end
 * of data; RFC 3030 2 chunks).
 *
 * States name what was seen last. "Beginning of line" is only after a CRLF (or at the
 * start): a line start after a bare LF is data, so a "." there is neither unstuffed nor
 * an end marker. Each state change sits in one switch; the counters update per byte.
 */
#include "smtp-data.h"

#include <assert.h>
#include <string.h>

enum {
	ST_BOL,    /* at the start of a line (after CRLF) */
	ST_TEXT,   /* inside a line */
	ST_CR,     /* after a CR (held back: it is a line end if LF follows) */
	ST_DOT,    /* after CRLF "." (DATA) */
	ST_DOT_CR, /* after CRLF "." CR (DATA) */
	ST_END,
};

void smtp_data_init(struct smtp_data *d, bool bdat)
{
	memset(d, 0, sizeof(*d));
	d->bdat = bdat;
	d->state = ST_BOL;
	d->in_header = true;
}

/* Line end bookkeeping: longest line, header section end (RFC 5322 2.1: the header
 * section ends at the first empty line; a line that is neither a field nor a
 * continuation also ends it, so a message without headers is not all header). */
static void line_end(struct smtp_data *d)
{
	if (d->line_len > d->longest_line)
		d->longest_line = d->line_len;
	if (d->in_header) {
		if (d->line_len == 0 || (!d->line_has_colon && !d->line_starts_wsp))
			d->in_header = false;
		else
			d->header_size += d->line_len + 1;
	}
	d->line_len = 0;
	d->line_has_colon = false;
	d->line_starts_wsp = false;
}

/* A byte of line content. */
static void emit(struct smtp_data *d, char c, char *out, size_t *o)
{
	unsigned char u = (unsigned char)c;
	if (d->line_len == 0)
		d->line_starts_wsp = c == ' ' || c == '\t';
	if (c == ':')
		d->line_has_colon = true;
	if (u == 0)
		d->nul = true;
	if (u >= 0x80)
		d->eight_bit = true;
	d->line_len++;
	out[(*o)++] = c;
}

static void emit_lf(struct smtp_data *d, char *out, size_t *o)
{
	out[(*o)++] = '\n';
	line_end(d);
}

/* One byte in ST_TEXT (also the fall-through of the other states). */
static void text_byte(struct smtp_data *d, char c, char *out, size_t *o)
{
	if (c == '\r') {
		d->state = ST_CR;
	} else if (c == '\n') {
		d->bare_lf = true;
		emit_lf(d, out, o);
		d->state = ST_TEXT;
	} else {
		emit(d, c, out, o);
		d->state = ST_TEXT;
	}
}

/* After a held-back CR that turned out not to end a line. */
static void bare_cr(struct smtp_data *d, char *out, size_t *o)
{
	d->bare_cr = true;
	emit(d, '\r', out, o);
}

static void step(struct smtp_data *d, char c, char *out, size_t *o)
{
	switch (d->state) {
	case ST_BOL:
		if (c == '.' && !d->bdat)
			d->state = ST_DOT;
		else
			text_byte(d, c, out, o);
		break;
	case ST_TEXT:
		text_byte(d, c, out, o);
		break;
	case ST_CR:
		if (c == '\n') {
			emit_lf(d, out, o);
			d->state = ST_BOL;
		} else if (c == '\r') {
			bare_cr(d, out, o); /* the first CR was bare; this one is held */
		} else {
			bare_cr(d, out, o);
			text_byte(d, c, out, o);
		}
		break;
	case ST_DOT:
		/* RFC 5321 4.5.2: a leading "." with more on the line is deleted. */
		if (c == '\r')
			d->state = ST_DOT_CR;
		else
			text_byte(d, c, out, o);
		break;
	case ST_DOT_CR:
		if (c == '\n') {
			d->state = ST_END;
			d->done = true;
		} else {
			/* "." CR x with x not LF: the dot goes (more is on the line) and the
			 * CR was bare; a second CR is held back in its turn. */
			bare_cr(d, out, o);
			if (c == '\r')
				d->state = ST_CR;
			else
				text_byte(d, c, out, o);
		}
		break;
	default:
		assert(!"smtp_data: byte after the end");
	}
}

size_t smtp_data_feed(struct smtp_data *d, const char *in, size_t n, char *out,
		      size_t *out_len_r)
{
	size_t o = 0;
	size_t i = 0;
	/* Fast path inside a line: copy runs of ordinary bytes. */
	while (i < n && d->state != ST_END) {
		if (d->state == ST_TEXT) {
			size_t run = i;
			while (run < n && in[run] != '\r' && in[run] != '\n' && in[run] != '\0' &&
			       in[run] != ':' && (unsigned char)in[run] < 0x80)
				run++;
			if (run > i) {
				if (d->line_len == 0)
					d->line_starts_wsp = in[i] == ' ' || in[i] == '\t';
				memcpy(out + o, in + i, run - i);
				o += run - i;
				d->line_len += run - i;
				i = run;
				continue;
			}
		}
		step(d, in[i], out, &o);
		i++;
	}
	d->bytes_out += o;
	*out_len_r = o;
	return i;
}

size_t smtp_data_finish(struct smtp_data *d, char *out)
{
	size_t o = 0;
	if (d->state == ST_CR)
		bare_cr(d, out, &o);
	if (d->line_len > 0)
		line_end(d);
	d->bytes_out += o;
	d->state = ST_END;
	d->done = true;
	return o;
}
