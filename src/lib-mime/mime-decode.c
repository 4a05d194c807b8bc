/* mime-decode: streaming base64 and quoted-printable decoders (see mime-decode.h).
 *
 * RFC 2045 6.7 rules followed by the QP decoder: "=" CRLF (or "=" LF, or "=" followed by
 * transport-padding WSP then a line break) is a soft line break; "=XX" with hex digits in
 * either case is an octet; whitespace at the end of a line is removed; any other "="
 * sequence is passed through unchanged and flags the decoder's `error`.
 */
#include "mime-decode.h"

#include <string.h>

#include "util.h"

enum { QP_TEXT, QP_CR, QP_EQ, QP_EQ_HEX, QP_EQ_CR, QP_EQ_WS };

enum mime_cte mime_cte_parse(const char *value)
{
	if (value == NULL || *value == '\0' || str_ieq(value, "7bit"))
		return MIME_CTE_7BIT;
	if (str_ieq(value, "8bit"))
		return MIME_CTE_8BIT;
	if (str_ieq(value, "binary"))
		return MIME_CTE_BINARY;
	if (str_ieq(value, "base64"))
		return MIME_CTE_BASE64;
	if (str_ieq(value, "quoted-printable"))
		return MIME_CTE_QP;
	return MIME_CTE_UNKNOWN;
}

void mime_decoder_init(struct mime_decoder *d, enum mime_cte cte)
{
	memset(d, 0, sizeof(*d));
	d->cte = cte;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Emits the bytes of a partial quantum of n sextets (n = 2 or 3). */
static void b64_flush_partial(struct mime_decoder *d, struct buf *out)
{
	if (d->nbits == 2) {
		buf_append_char(out, (char)((d->bits >> 4) & 0xff));
	} else if (d->nbits == 3) {
		buf_append_char(out, (char)((d->bits >> 10) & 0xff));
		buf_append_char(out, (char)((d->bits >> 2) & 0xff));
	} else if (d->nbits == 1) {
		d->error = true;
	}
	d->nbits = 0;
	d->bits = 0;
}

static void b64_feed(struct mime_decoder *d, const unsigned char *p, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '=') {
			if (d->nbits != 0)
				b64_flush_partial(d, out);
			continue;
		}
		int v = b64_value(p[i]);
		if (v < 0) {
			if (p[i] != '\r' && p[i] != '\n' && p[i] != ' ' && p[i] != '\t')
				d->error = true;
			continue;
		}
		d->bits = (d->bits << 6) | (unsigned int)v;
		if (++d->nbits == 4) {
			char o[3] = {(char)(d->bits >> 16), (char)(d->bits >> 8), (char)d->bits};
			buf_append(out, o, 3);
			d->nbits = 0;
			d->bits = 0;
		}
	}
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void qp_flush_ws(struct mime_decoder *d, struct buf *out)
{
	buf_append(out, d->ws, d->ws_len);
	d->ws_len = 0;
}

static void qp_hold_ws(struct mime_decoder *d, char c, struct buf *out)
{
	if (d->ws_len == sizeof(d->ws))
		qp_flush_ws(d, out);
	d->ws[d->ws_len++] = c;
}

/* One byte in state QP_TEXT or QP_CR. */
static void qp_text(struct mime_decoder *d, char c, struct buf *out)
{
	if (d->state == QP_CR) {
		d->state = QP_TEXT;
		if (c == '\n') {
			d->ws_len = 0; /* trailing whitespace is removed (RFC 2045 6.7 rule 3) */
			buf_append(out, "\r\n", 2);
			return;
		}
		qp_flush_ws(d, out);
		buf_append_char(out, '\r');
	}
	if (c == ' ' || c == '\t') {
		qp_hold_ws(d, c, out);
	} else if (c == '\r') {
		d->state = QP_CR;
	} else if (c == '\n') {
		d->ws_len = 0;
		buf_append_char(out, '\n');
	} else if (c == '=') {
		qp_flush_ws(d, out);
		d->state = QP_EQ;
	} else {
		qp_flush_ws(d, out);
		buf_append_char(out, c);
	}
}

/* One byte after "=": returns false if c must be processed again as text. */
static bool qp_escape(struct mime_decoder *d, char c, struct buf *out)
{
	switch (d->state) {
	case QP_EQ:
		if (hex_value(c) >= 0) {
			d->hex = c;
			d->state = QP_EQ_HEX;
		} else if (c == '\n') {
			d->state = QP_TEXT;
		} else if (c == '\r') {
			d->state = QP_EQ_CR;
		} else if (c == ' ' || c == '\t') {
			d->state = QP_EQ_WS;
			qp_hold_ws(d, c, out);
		} else {
			d->error = true;
			buf_append_char(out, '=');
			d->state = QP_TEXT;
			return false;
		}
		return true;
	case QP_EQ_HEX:
		d->state = QP_TEXT;
		if (hex_value(c) >= 0) {
			buf_append_char(out, (char)(hex_value(d->hex) * 16 + hex_value(c)));
			return true;
		}
		d->error = true;
		buf_append_char(out, '=');
		buf_append_char(out, d->hex);
		return false;
	case QP_EQ_CR:
		d->state = QP_TEXT;
		if (c == '\n')
			return true;
		d->error = true;
		buf_append(out, "=\r", 2);
		return false;
	default: /* QP_EQ_WS */
		if (c == ' ' || c == '\t') {
			qp_hold_ws(d, c, out);
			return true;
		}
		if (c == '\n' || c == '\r') {
			d->ws_len = 0;
			d->state = c == '\n' ? QP_TEXT : QP_EQ_CR;
			return true;
		}
		d->error = true;
		buf_append_char(out, '=');
		qp_flush_ws(d, out);
		d->state = QP_TEXT;
		return false;
	}
}

static void qp_feed(struct mime_decoder *d, const char *p, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (d->state == QP_TEXT || d->state == QP_CR)
			qp_text(d, p[i], out);
		else if (!qp_escape(d, p[i], out))
			qp_text(d, p[i], out);
	}
}

void mime_decoder_feed(struct mime_decoder *d, const void *in, size_t len, struct buf *out)
{
	switch (d->cte) {
	case MIME_CTE_BASE64:
		b64_feed(d, in, len, out);
		break;
	case MIME_CTE_QP:
		qp_feed(d, in, len, out);
		break;
	default:
		buf_append(out, in, len);
		break;
	}
}

void mime_decoder_finish(struct mime_decoder *d, struct buf *out)
{
	if (d->cte == MIME_CTE_BASE64) {
		b64_flush_partial(d, out);
		return;
	}
	if (d->cte != MIME_CTE_QP)
		return;
	switch (d->state) {
	case QP_CR:
		qp_flush_ws(d, out);
		buf_append_char(out, '\r');
		break;
	case QP_EQ:
		d->error = true;
		buf_append_char(out, '=');
		break;
	case QP_EQ_WS: /* "=" and padding at the end: a soft line break */
		break;
	case QP_EQ_HEX:
		d->error = true;
		buf_append_char(out, '=');
		buf_append_char(out, d->hex);
		break;
	case QP_EQ_CR:
		d->error = true;
		buf_append(out, "=\r", 2);
		break;
	default:
		break;
	}
	d->ws_len = 0; /* whitespace at the end of input ends a line: removed */
	d->state = QP_TEXT;
}
