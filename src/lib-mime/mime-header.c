/* mime-header: streaming reader of an RFC 5322 header section (see mime-header.h).
 *
 * A field is complete only when the first byte of the next line is seen and is not WSP
 * (RFC 5322 2.2.3), so the reader keeps the field in `raw` until then. The empty line may
 * be CRLF or a bare LF; a lone CR at the start of a line followed by something else than LF
 * starts a garbage line.
 */
#include "mime-header.h"

#include <assert.h>
#include <string.h>

#include "util.h"

enum {
	HS_LINE_START, /* at the start of a line */
	HS_CR_START,   /* a CR was read at the start of a line */
	HS_IN_LINE,    /* inside a line */
};

void mime_header_parser_init(struct mime_header_parser *hp, size_t max_field)
{
	memset(hp, 0, sizeof(*hp));
	hp->max_field = max_field != 0 ? max_field : MIME_HEADER_DEFAULT_MAX_FIELD;
	buf_init(&hp->raw, hp->max_field);
	buf_init(&hp->value, 0);
}

void mime_header_parser_deinit(struct mime_header_parser *hp)
{
	buf_free(&hp->raw);
	buf_free(&hp->value);
}

void mime_header_parser_reset(struct mime_header_parser *hp)
{
	buf_reset(&hp->raw);
	buf_reset(&hp->value);
	hp->state = HS_LINE_START;
	hp->pending = hp->emitted = hp->ended = false;
	hp->offset = hp->field_start = 0;
}

uint64_t mime_header_parser_offset(const struct mime_header_parser *hp)
{
	return hp->offset;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Valid field name: printable US-ASCII except colon (RFC 5322 3.6.8 ftext). */
static bool valid_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126 || c == ':')
			return false;
	}
	return true;
}

/* Unfolds raw (removing line breaks, RFC 5322 2.2.3) and trims WSP into hp->value. */
static void unfold_value(struct mime_header_parser *hp, const char *raw, size_t n)
{
	buf_reset(&hp->value);
	char *dst = buf_reserve(&hp->value, n);
	size_t o = 0;
	/* the runs between LFs are copied whole; an LF and a CR just before it are dropped */
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(raw + i, '\n', n - i);
		size_t run = nl != NULL ? (size_t)(nl - (raw + i)) : n - i;
		memcpy(dst + o, raw + i, run);
		o += run;
		i += run;
		if (nl == NULL)
			break;
		if (o > 0 && dst[o - 1] == '\r' && run > 0)
			o--;
		i++; /* the LF */
	}
	size_t start = 0;
	while (start < o && is_wsp(dst[start]))
		start++;
	while (o > start && (is_wsp(dst[o - 1]) || dst[o - 1] == '\r'))
		o--;
	memmove(dst, dst + start, o - start);
	hp->value.len = o - start;
	dst[hp->value.len] = '\0';
}

/* Fills *f from the pending field and marks it returned. */
static int emit_field(struct mime_header_parser *hp, struct mime_header_field *f)
{
	const char *s = buf_cstr(&hp->raw);
	size_t n = hp->raw.len;
	memset(f, 0, sizeof(*f));
	f->offset = hp->field_start;
	f->size = hp->offset - hp->field_start;
	f->truncated = hp->raw.overflow;
	/* drop the final line break */
	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	const char *colon = memchr(s, ':', n);
	const char *nl = memchr(s, '\n', n);
	size_t name_len = colon != NULL ? (size_t)(colon - s) : 0;
	while (name_len > 0 && is_wsp(s[name_len - 1]))
		name_len--; /* RFC 5322 4.5: obs WSP before the colon */
	if (colon == NULL || (nl != NULL && nl < colon) || !valid_name(s, name_len)) {
		f->invalid = true;
		f->name = "";
		f->raw = s;
		f->raw_len = n;
	} else {
		f->name = s;
		f->name_len = name_len;
		f->raw = colon + 1;
		f->raw_len = n - (size_t)(colon + 1 - s);
	}
	unfold_value(hp, f->raw, f->raw_len);
	f->value = buf_cstr(&hp->value);
	f->value_len = hp->value.len;
	hp->pending = false;
	hp->emitted = true;
	return MIME_HEADER_FIELD;
}

/* Appends what fits under the limit; the rest is dropped and the field flagged truncated. */
static void append_bounded(struct buf *b, const char *p, size_t n)
{
	size_t room = b->limit - b->len;
	if (n > room) {
		buf_append(b, p, room);
		b->overflow = true;
		return;
	}
	buf_append(b, p, n);
}

static void start_field(struct mime_header_parser *hp, uint64_t at)
{
	buf_reset(&hp->raw);
	hp->pending = true;
	hp->field_start = at;
}

int mime_header_parser_feed(struct mime_header_parser *hp, const void *data, size_t len,
			    size_t *consumed_r, struct mime_header_field *field_r)
{
	const char *p = data;
	size_t i = 0;

	if (hp->emitted) {
		buf_reset(&hp->raw);
		hp->emitted = false;
	}
	*consumed_r = 0;
	if (hp->ended)
		return MIME_HEADER_END;
	while (i < len) {
		char c = p[i];
		switch (hp->state) {
		case HS_LINE_START:
			if (hp->pending && !is_wsp(c)) {
				*consumed_r = i;
				return emit_field(hp, field_r);
			}
			if (c == '\n') {
				hp->offset++;
				*consumed_r = i + 1;
				hp->ended = true;
				return MIME_HEADER_END;
			}
			if (c == '\r') {
				hp->state = HS_CR_START;
				hp->offset++;
				i++;
				continue;
			}
			if (!hp->pending)
				start_field(hp, hp->offset);
			hp->state = HS_IN_LINE;
			continue;
		case HS_CR_START:
			if (c == '\n') {
				hp->offset++;
				*consumed_r = i + 1;
				hp->ended = true;
				return MIME_HEADER_END;
			}
			/* a lone CR starts a garbage line */
			start_field(hp, hp->offset - 1);
			append_bounded(&hp->raw, "\r", 1);
			hp->state = HS_IN_LINE;
			continue;
		default: {
			const char *nl = memchr(p + i, '\n', len - i);
			size_t n = nl != NULL ? (size_t)(nl - (p + i)) + 1 : len - i;
			append_bounded(&hp->raw, p + i, n);
			hp->offset += n;
			i += n;
			if (nl != NULL)
				hp->state = HS_LINE_START;
			continue;
		}
		}
	}
	*consumed_r = len;
	return MIME_HEADER_MORE;
}

int mime_header_parser_finish(struct mime_header_parser *hp, struct mime_header_field *field_r)
{
	if (hp->emitted) {
		buf_reset(&hp->raw);
		hp->emitted = false;
	}
	if (hp->pending)
		return emit_field(hp, field_r);
	hp->ended = true;
	return MIME_HEADER_END;
}
