/* imap-fetch: FETCH items, body sections, partials and modifiers; STORE arguments.
 *
 * RFC 3501 section 6.4.5/6.4.6/9, RFC 9051 (number64 partials), RFC 3516 section 4.2
 * (section-binary is part numbers only; BINARY.SIZE has no partial), RFC 7162 section 3.1.4
 * (CHANGEDSINCE implies MODSEQ) and 3.2.6 (VANISHED needs UID FETCH and CHANGEDSINCE).
 */
#include "imap-fetch.h"

#include "buf.h"
#include "imap-write.h"
#include "util.h"
#include "xalloc.h"

#include <string.h>

static const struct {
	const char *name;
	unsigned bits;
} simple_items[] = {
	{"FLAGS", IMAP_FETCH_FLAGS},
	{"INTERNALDATE", IMAP_FETCH_INTERNALDATE},
	{"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE},
	{"ENVELOPE", IMAP_FETCH_ENVELOPE},
	{"BODY", IMAP_FETCH_BODY},
	{"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE},
	{"UID", IMAP_FETCH_UID},
	{"MODSEQ", IMAP_FETCH_MODSEQ},
};

#define FETCH_FAST (IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE)
#define FETCH_ALL (FETCH_FAST | IMAP_FETCH_ENVELOPE)
#define FETCH_FULL (FETCH_ALL | IMAP_FETCH_BODY)

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* One header-fld-name (astring: atom or quoted) of a header-list at s[*pos]. */
static int parse_field(const char *s, size_t len, size_t *pos, struct buf *name)
{
	buf_reset(name);
	if (s[*pos] == '"') {
		for ((*pos)++; *pos < len && s[*pos] != '"'; (*pos)++) {
			if (s[*pos] == '\\' && *pos + 1 < len &&
			    (s[*pos + 1] == '"' || s[*pos + 1] == '\\'))
				(*pos)++;
			else if (s[*pos] == '\\')
				return -1;
			buf_append_char(name, s[*pos]);
		}
		if (*pos >= len)
			return -1;
		(*pos)++;
	} else {
		while (*pos < len && s[*pos] != ' ' && s[*pos] != ')' && s[*pos] != '(' &&
		       s[*pos] != '"')
			buf_append_char(name, s[(*pos)++]);
	}
	/* a field name is printable ASCII without ':' (RFC 5322 section 3.6.8) */
	if (name->len == 0 || strchr(buf_cstr(name), ':') != NULL)
		return -1;
	for (size_t i = 0; i < name->len; i++) {
		if (name->data[i] <= 0x20 || name->data[i] >= 0x7f)
			return -1;
	}
	return 0;
}

/* " (" field *(SP field) ")" to the end of s. */
static int parse_header_list(const char *s, size_t len, struct imap_fetch_body *body,
			     const char **error_r)
{
	struct buf name = BUF_INIT;
	size_t pos = 2;
	*error_r = "Invalid header field list";
	if (len < 4 || s[0] != ' ' || s[1] != '(' || s[len - 1] != ')')
		return -1;
	len--;
	while (pos < len) {
		if (body->field_count >= IMAP_SECTION_MAX_FIELDS ||
		    parse_field(s, len, &pos, &name) < 0)
			goto fail;
		body->fields = x_reallocarray(body->fields, body->field_count + 1,
					      sizeof(*body->fields));
		body->fields[body->field_count++] = buf_steal(&name);
		if (pos < len && (s[pos] != ' ' || ++pos == len))
			goto fail;
	}
	buf_free(&name);
	return body->field_count > 0 ? 0 : -1;
fail:
	buf_free(&name);
	return -1;
}

/* section-part = nz-number *("." nz-number); leaves *pos after a trailing "." if text follows */
static int parse_parts(const char *s, size_t len, size_t *pos, struct imap_fetch_body *body)
{
	while (*pos < len && is_digit(s[*pos])) {
		size_t start = *pos;
		uint64_t n;
		while (*pos < len && is_digit(s[*pos]))
			(*pos)++;
		if (s[start] == '0' || !imap_parse_number(s + start, *pos - start, UINT32_MAX, &n) ||
		    body->part_count >= IMAP_SECTION_MAX_PARTS)
			return -1;
		body->parts[body->part_count++] = (uint32_t)n;
		if (*pos == len)
			break;
		if (s[*pos] != '.' || ++(*pos) == len)
			return -1;
	}
	return 0;
}

int imap_fetch_section_parse(const char *s, size_t len, bool binary,
			     struct imap_fetch_body *body, const char **error_r)
{
	size_t pos = 0;
	body->spec = IMAP_SECTION_ALL;
	*error_r = "Invalid section";
	if (parse_parts(s, len, &pos, body) < 0)
		return -1;
	const char *t = s + pos;
	size_t tl = len - pos;
	if (tl == 0)
		return 0;
	if (binary) {
		*error_r = "BINARY sections are part numbers only";
		return -1;
	}
	if (imap_mem_ieq(t, tl, "HEADER")) {
		body->spec = IMAP_SECTION_HEADER;
	} else if (imap_mem_ieq(t, tl, "TEXT")) {
		body->spec = IMAP_SECTION_TEXT;
	} else if (imap_mem_ieq(t, tl, "MIME") && body->part_count > 0) {
		body->spec = IMAP_SECTION_MIME; /* section-text: MIME only after a part */
	} else if (tl > 17 && imap_mem_ieq(t, 17, "HEADER.FIELDS.NOT")) {
		body->spec = IMAP_SECTION_HEADER_FIELDS_NOT;
		return parse_header_list(t + 17, tl - 17, body, error_r);
	} else if (tl > 13 && imap_mem_ieq(t, 13, "HEADER.FIELDS")) {
		body->spec = IMAP_SECTION_HEADER_FIELDS;
		return parse_header_list(t + 13, tl - 13, body, error_r);
	} else {
		return -1;
	}
	return 0;
}

/* The response name: BODY[1.2.HEADER.FIELDS (A B)] etc. */
static char *section_name(const char *prefix, const struct imap_fetch_body *body)
{
	static const char *const specs[] = {"", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
					    "TEXT", "MIME"};
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s[", prefix);
	for (unsigned i = 0; i < body->part_count; i++)
		buf_printf(&b, "%s%u", i > 0 ? "." : "", body->parts[i]);
	if (body->part_count > 0 && body->spec != IMAP_SECTION_ALL)
		buf_append_char(&b, '.');
	buf_append_str(&b, specs[body->spec]);
	if (body->field_count > 0) {
		buf_append_str(&b, " (");
		for (size_t i = 0; i < body->field_count; i++) {
			if (i > 0)
				buf_append_char(&b, ' ');
			imap_write_astring(&b, body->fields[i], strlen(body->fields[i]), 0);
		}
		buf_append_char(&b, ')');
	}
	buf_append_char(&b, ']');
	return buf_steal(&b);
}

/* "<" number64 "." nz-number64 ">" */
static int parse_partial(const char *s, size_t len, struct imap_fetch_body *body)
{
	const char *dot = memchr(s, '.', len);
	if (len < 5 || s[0] != '<' || s[len - 1] != '>' || dot == NULL)
		return -1;
	size_t l1 = (size_t)(dot - s) - 1, l2 = len - l1 - 3;
	if (!imap_parse_number(s + 1, l1, INT64_MAX, &body->offset) ||
	    !imap_parse_number(dot + 1, l2, INT64_MAX, &body->length) || body->length == 0)
		return -1;
	body->partial = true;
	return 0;
}

static struct imap_fetch_body *body_add(struct imap_fetch *f)
{
	f->bodies = x_reallocarray(f->bodies, f->body_count + 1, sizeof(*f->bodies));
	struct imap_fetch_body *body = &f->bodies[f->body_count++];
	memset(body, 0, sizeof(*body));
	return body;
}

/* RFC822, RFC822.HEADER, RFC822.TEXT: sections with their own response names. */
static bool parse_rfc822(struct imap_fetch *f, const char *s)
{
	enum imap_section_spec spec;
	if (str_ieq(s, "RFC822"))
		spec = IMAP_SECTION_ALL;
	else if (str_ieq(s, "RFC822.HEADER"))
		spec = IMAP_SECTION_HEADER;
	else if (str_ieq(s, "RFC822.TEXT"))
		spec = IMAP_SECTION_TEXT;
	else
		return false;
	struct imap_fetch_body *body = body_add(f);
	body->spec = spec;
	body->peek = spec == IMAP_SECTION_HEADER; /* RFC822.HEADER is BODY.PEEK[HEADER] */
	body->name = x_strdup(spec == IMAP_SECTION_ALL ? "RFC822" : spec == IMAP_SECTION_HEADER
						       ? "RFC822.HEADER" : "RFC822.TEXT");
	return true;
}

/* BODY[...]<p>, BODY.PEEK[...]<p>, BINARY[...]<p>, BINARY.PEEK[...]<p>, BINARY.SIZE[...]. */
static int parse_section_item(struct imap_fetch *f, const char *s, const char **error_r)
{
	const char *open = strchr(s, '['), *close = strchr(s, ']');
	size_t plen = (size_t)(open - s);
	enum imap_fetch_body_kind kind;
	bool peek = false;
	*error_r = "Invalid fetch attribute";
	if (close == NULL || close < open)
		return -1;
	if (imap_mem_ieq(s, plen, "BODY") || (peek = imap_mem_ieq(s, plen, "BODY.PEEK")))
		kind = IMAP_FETCH_BODY_SECTION;
	else if (imap_mem_ieq(s, plen, "BINARY") || (peek = imap_mem_ieq(s, plen, "BINARY.PEEK")))
		kind = IMAP_FETCH_BINARY;
	else if (imap_mem_ieq(s, plen, "BINARY.SIZE"))
		kind = IMAP_FETCH_BINARY_SIZE;
	else
		return -1;
	struct imap_fetch_body *body = body_add(f);
	body->kind = kind;
	body->peek = peek || kind == IMAP_FETCH_BINARY_SIZE;
	if (imap_fetch_section_parse(open + 1, (size_t)(close - open - 1),
				     kind != IMAP_FETCH_BODY_SECTION, body, error_r) < 0)
		return -1;
	size_t rest = strlen(close + 1);
	if (rest > 0 && (kind == IMAP_FETCH_BINARY_SIZE || parse_partial(close + 1, rest, body) < 0)) {
		*error_r = "Invalid partial";
		return -1;
	}
	body->name = section_name(kind == IMAP_FETCH_BODY_SECTION ? "BODY"
				  : kind == IMAP_FETCH_BINARY	  ? "BINARY"
								  : "BINARY.SIZE",
				  body);
	return 0;
}

static int parse_item(struct imap_fetch *f, const struct imap_arg *arg, const char **error_r)
{
	const char *s;
	if (!imap_arg_get_atom(arg, &s)) {
		*error_r = "Invalid fetch attribute";
		return -1;
	}
	for (size_t i = 0; i < sizeof(simple_items) / sizeof(simple_items[0]); i++) {
		if (str_ieq(s, simple_items[i].name)) {
			f->items |= simple_items[i].bits;
			return 0;
		}
	}
	if (parse_rfc822(f, s))
		return 0;
	if (strchr(s, '[') != NULL)
		return parse_section_item(f, s, error_r);
	*error_r = "Unknown fetch attribute";
	return -1;
}

/* fetch-modifiers (RFC 4466): "(" CHANGEDSINCE n / VANISHED ... ")" */
static int parse_modifiers(struct imap_fetch *f, const struct imap_arg *arg, bool uid,
			   const char **error_r)
{
	const struct imap_arg *list;
	size_t count;
	*error_r = "Invalid fetch modifiers";
	if (!imap_arg_get_list(arg, &list, &count) || count == 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (imap_arg_is_atom(&list[i], "CHANGEDSINCE") && !f->changedsince_set &&
		    i + 1 < count && imap_arg_get_number64(&list[i + 1], &f->changedsince)) {
			f->changedsince_set = true;
			f->items |= IMAP_FETCH_MODSEQ; /* RFC 7162 section 3.1.4.1 */
			i++;
		} else if (imap_arg_is_atom(&list[i], "VANISHED") && !f->vanished) {
			f->vanished = true;
		} else {
			return -1;
		}
	}
	if (f->vanished && (!uid || !f->changedsince_set)) {
		/* RFC 7162 section 3.2.6 */
		*error_r = "VANISHED needs UID FETCH and CHANGEDSINCE";
		return -1;
	}
	return 0;
}

int imap_fetch_parse(const struct imap_arg *args, size_t count, bool uid,
		     struct imap_fetch *fetch_r, const char **error_r)
{
	const struct imap_arg *list;
	size_t n;
	memset(fetch_r, 0, sizeof(*fetch_r));
	*error_r = "Missing fetch attributes";
	if (count == 0 || count > 2)
		goto fail;
	if (imap_arg_get_list(&args[0], &list, &n)) {
		if (n == 0)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			if (parse_item(fetch_r, &list[i], error_r) < 0)
				goto fail;
		}
	} else if (imap_arg_is_atom(&args[0], "ALL")) {
		fetch_r->items = FETCH_ALL;
	} else if (imap_arg_is_atom(&args[0], "FAST")) {
		fetch_r->items = FETCH_FAST;
	} else if (imap_arg_is_atom(&args[0], "FULL")) {
		fetch_r->items = FETCH_FULL;
	} else if (parse_item(fetch_r, &args[0], error_r) < 0) {
		goto fail;
	}
	if (count == 2 && parse_modifiers(fetch_r, &args[1], uid, error_r) < 0)
		goto fail;
	if (uid)
		fetch_r->items |= IMAP_FETCH_UID; /* RFC 3501 section 6.4.8 */
	return 0;
fail:
	imap_fetch_free(fetch_r);
	return -1;
}

void imap_fetch_free(struct imap_fetch *fetch)
{
	for (size_t i = 0; i < fetch->body_count; i++) {
		struct imap_fetch_body *body = &fetch->bodies[i];
		for (size_t j = 0; j < body->field_count; j++)
			x_free(&body->fields[j]);
		x_free(&body->fields);
		x_free(&body->name);
	}
	x_free(&fetch->bodies);
	memset(fetch, 0, sizeof(*fetch));
}

static int parse_store_op(const char *s, struct imap_store *st)
{
	size_t len = strlen(s);
	st->op = IMAP_STORE_SET;
	if (s[0] == '+' || s[0] == '-') {
		st->op = s[0] == '+' ? IMAP_STORE_ADD : IMAP_STORE_REMOVE;
		s++;
		len--;
	}
	if (len == 12 && imap_mem_ieq(s, 12, "FLAGS.SILENT"))
		st->silent = true;
	else if (!imap_mem_ieq(s, len, "FLAGS"))
		return -1;
	return 0;
}

int imap_store_parse(const struct imap_arg *args, size_t count, struct imap_store *store_r,
		     const char **error_r)
{
	const struct imap_arg *list;
	const char *s;
	size_t n, i = 0;
	memset(store_r, 0, sizeof(*store_r));
	*error_r = "Invalid STORE arguments";
	if (count > 0 && imap_arg_get_list(&args[0], &list, &n)) {
		/* store-modifiers: RFC 7162 section 3.1.3, mod-sequence-valzer */
		if (n != 2 || !imap_arg_is_atom(&list[0], "UNCHANGEDSINCE") ||
		    !imap_arg_get_number64(&list[1], &store_r->unchangedsince))
			return -1;
		store_r->unchangedsince_set = true;
		i++;
	}
	if (i >= count || !imap_arg_get_atom(&args[i], &s) || parse_store_op(s, store_r) < 0)
		return -1;
	i++;
	if (i + 1 == count && imap_arg_get_list(&args[i], &list, &n))
		return imap_flags_parse(list, n, &store_r->flags, error_r);
	if (i == count) {
		*error_r = "Missing flags";
		return -1;
	}
	return imap_flags_parse(&args[i], count - i, &store_r->flags, error_r);
}

void imap_store_free(struct imap_store *store)
{
	imap_flags_free(&store->flags);
}
