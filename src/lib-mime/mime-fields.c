/* mime-fields: records the Content-* and ENVELOPE header fields of a part.
 *
 * RFC 2045 5 (Content-Type), 6 (Content-Transfer-Encoding), 7 (Content-ID),
 * 8 (Content-Description); RFC 2183 (Content-Disposition); RFC 3282 (Content-Language);
 * RFC 2557 4.1 (Content-Location: folding whitespace is removed); RFC 1864 (Content-MD5);
 * RFC 3501 7.4.2 (ENVELOPE fields). The first occurrence of a field wins.
 */
#include "mime-header.h"
#include "mime-lex.h"
#include "mime-part.h"

#include <string.h>

#include "util.h"
#include "xalloc.h"

static void set_once(char **dst, const struct mime_header_field *f)
{
	if (*dst == NULL)
		*dst = x_strndup(f->value, f->value_len);
}

/* The first token of a value, lower case (Content-Transfer-Encoding). */
static char *first_token(const char *s, size_t len)
{
	const char *p = mime_lex_skip_cfws(s, s + len, NULL);
	const char *start = p;
	while (p < s + len && mime_lex_is_token_char(*p))
		p++;
	return str_lower(x_strndup(start, (size_t)(p - start)));
}

/* Language tags separated by commas, CFWS removed (RFC 3282 2). */
static char *language_list(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	const char *p = s, *end = s + len;
	while (p < end) {
		p = mime_lex_skip_cfws(p, end, NULL);
		const char *start = p;
		while (p < end && *p != ',' && *p != '(' && *p != ' ' && *p != '\t')
			p++;
		if (p > start) {
			if (b.len > 0)
				buf_append_char(&b, ',');
			buf_append(&b, start, (size_t)(p - start));
		}
		p = mime_lex_skip_cfws(p, end, NULL);
		if (p < end && *p == ',')
			p++;
		else if (p < end && p == start)
			p++; /* garbage */
	}
	return b.len > 0 ? buf_steal(&b) : (buf_free(&b), NULL);
}

static char *without_space(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t')
			buf_append_char(&b, s[i]);
	return buf_steal(&b);
}

static void apply_content_type(struct mime_part *p, const struct mime_header_field *f)
{
	const char *error;
	if (p->type != NULL || (p->flags & MIME_PART_F_BAD_CONTENT_TYPE) != 0)
		return;
	if (mime_content_type_parse(f->value, f->value_len, &p->type, &p->subtype, &p->params,
				    &error) < 0)
		p->flags |= MIME_PART_F_BAD_CONTENT_TYPE;
}

static void apply_envelope(struct mime_envelope *e, const struct mime_header_field *f)
{
	struct mime_address_list *l = NULL;
	if (mime_header_field_is(f, "date"))
		set_once(&e->date, f);
	else if (mime_header_field_is(f, "subject"))
		set_once(&e->subject, f);
	else if (mime_header_field_is(f, "in-reply-to"))
		set_once(&e->in_reply_to, f);
	else if (mime_header_field_is(f, "message-id"))
		set_once(&e->message_id, f);
	else if (mime_header_field_is(f, "from"))
		l = &e->from;
	else if (mime_header_field_is(f, "sender"))
		l = &e->sender;
	else if (mime_header_field_is(f, "reply-to"))
		l = &e->reply_to;
	else if (mime_header_field_is(f, "to"))
		l = &e->to;
	else if (mime_header_field_is(f, "cc"))
		l = &e->cc;
	else if (mime_header_field_is(f, "bcc"))
		l = &e->bcc;
	if (l != NULL && l->count == 0)
		mime_address_list_parse(f->value, f->value_len, 0, l);
}

void mime_part_apply_field(struct mime_part *p, const struct mime_header_field *f)
{
	const char *error;
	if (f->invalid)
		return;
	if (p->envelope != NULL)
		apply_envelope(p->envelope, f);
	if (f->name_len < 8 || !str_iprefix(f->name, "content-"))
		return;
	if (mime_header_field_is(f, "content-type")) {
		apply_content_type(p, f);
	} else if (mime_header_field_is(f, "content-transfer-encoding")) {
		if (p->encoding == NULL) {
			p->encoding = first_token(f->value, f->value_len);
			if (*p->encoding == '\0')
				x_free(&p->encoding);
		}
	} else if (mime_header_field_is(f, "content-id")) {
		set_once(&p->id, f);
	} else if (mime_header_field_is(f, "content-description")) {
		set_once(&p->description, f);
	} else if (mime_header_field_is(f, "content-disposition")) {
		if (p->disposition == NULL)
			mime_disposition_parse(f->value, f->value_len, &p->disposition,
					       &p->disp_params, &error);
	} else if (mime_header_field_is(f, "content-language")) {
		if (p->language == NULL)
			p->language = language_list(f->value, f->value_len);
	} else if (mime_header_field_is(f, "content-location")) {
		if (p->location == NULL)
			p->location = without_space(f->value, f->value_len);
	} else if (mime_header_field_is(f, "content-md5")) {
		set_once(&p->md5, f);
	}
}
