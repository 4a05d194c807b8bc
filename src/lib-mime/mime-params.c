/* mime-params: Content-Type / Content-Disposition parsing and RFC 2231 decoding.
 *
 * Tolerant rules: an unquoted value runs to the next ";" or "(" (so "boundary=--=_x" and
 * "name=my file.pdf" work) with trailing whitespace removed; a parameter without "=" is
 * skipped; garbage up to the next ";" is skipped; at most MIME_PARAMS_MAX are kept.
 * RFC 2231: sections are joined from *0 upwards and stop at the first missing one
 * (RFC 2231 3); section numbers above RFC2231_MAX_SECTION are ignored.
 */
#include "mime-params.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime-lex.h"
#include "mime-rfc2047.h"
#include "util.h"
#include "xalloc.h"

#define RFC2231_MAX_SECTION 99

void mime_params_add(struct mime_params *ps, const char *name, size_t name_len, const char *value,
		     size_t value_len)
{
	if (ps->count >= MIME_PARAMS_MAX)
		return;
	ps->v = x_reallocarray(ps->v, ps->count + 1, sizeof(*ps->v));
	ps->v[ps->count].name = x_strndup(name, name_len);
	ps->v[ps->count].value = x_strndup(value, value_len);
	ps->count++;
}

void mime_params_free(struct mime_params *ps)
{
	for (size_t i = 0; i < ps->count; i++) {
		x_free(&ps->v[i].name);
		x_free(&ps->v[i].value);
	}
	x_free(&ps->v);
	ps->count = 0;
}

const char *mime_params_get(const struct mime_params *ps, const char *name)
{
	for (size_t i = 0; i < ps->count; i++)
		if (str_ieq(ps->v[i].name, name))
			return ps->v[i].value;
	return NULL;
}

static const char *skip_to_semicolon(const char *p, const char *end)
{
	while (p < end && *p != ';') {
		if (*p == '"')
			p = mime_lex_qstring(p, end, NULL);
		else
			p++;
	}
	return p;
}

/* One "name=value" at p (after CFWS); returns the position after it. */
static const char *parse_one(const char *p, const char *end, struct mime_params *params)
{
	const char *name = p;
	while (p < end && mime_lex_is_token_char(*p))
		p++;
	size_t name_len = (size_t)(p - name);
	p = mime_lex_skip_cfws(p, end, NULL);
	if (name_len == 0 || p >= end || *p != '=')
		return skip_to_semicolon(p, end);
	p = mime_lex_skip_cfws(p + 1, end, NULL);
	struct buf v = BUF_INIT;
	if (p < end && *p == '"') {
		p = mime_lex_qstring(p, end, &v);
	} else {
		const char *start = p;
		while (p < end && *p != ';' && *p != '(')
			p++;
		const char *e = p;
		while (e > start &&
		       (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
			e--;
		buf_append(&v, start, (size_t)(e - start));
	}
	mime_params_add(params, name, name_len, buf_cstr(&v), v.len);
	buf_free(&v);
	return skip_to_semicolon(p, end);
}

void mime_params_parse(const char *p, const char *end, struct mime_params *params)
{
	p = skip_to_semicolon(p, end);
	while (p < end) {
		p = mime_lex_skip_cfws(p + 1, end, NULL); /* after ';' */
		if (p < end && *p != ';')
			p = parse_one(p, end, params);
	}
}

/* A token at p, after CFWS: returns it lower-cased (fresh) or NULL, advancing *pp. */
static char *read_token(const char **pp, const char *end)
{
	const char *p = mime_lex_skip_cfws(*pp, end, NULL);
	const char *start = p;
	while (p < end && mime_lex_is_token_char(*p))
		p++;
	*pp = mime_lex_skip_cfws(p, end, NULL);
	if (p == start)
		return NULL;
	return str_lower(x_strndup(start, (size_t)(p - start)));
}

int mime_content_type_parse(const char *s, size_t len, char **type_r, char **subtype_r,
			    struct mime_params *params, const char **error_r)
{
	const char *p = s, *end = s + len;
	char *type = read_token(&p, end);
	char *subtype = NULL;
	if (type != NULL && p < end && *p == '/') {
		p++;
		subtype = read_token(&p, end);
	}
	mime_params_parse(p, end, params);
	if (type == NULL || subtype == NULL || (p < end && *p != ';')) {
		x_free(&type);
		x_free(&subtype);
		*error_r = "invalid content type";
		return -1;
	}
	*type_r = type;
	*subtype_r = subtype;
	return 0;
}

int mime_disposition_parse(const char *s, size_t len, char **disp_r, struct mime_params *params,
			   const char **error_r)
{
	const char *p = s, *end = s + len;
	char *disp = read_token(&p, end);
	mime_params_parse(p, end, params);
	if (disp == NULL) {
		*error_r = "invalid content disposition";
		return -1;
	}
	*disp_r = disp;
	return 0;
}

/* The RFC 2231 form of a parameter name: base length, section (-1: none), extended. */
struct pname {
	size_t base_len;
	int section;
	bool ext;
};

static void pname_parse(const char *name, struct pname *pn)
{
	size_t n = strlen(name);
	pn->ext = n > 1 && name[n - 1] == '*';
	if (pn->ext)
		n--;
	pn->section = -1;
	pn->base_len = n;
	const char *star = memchr(name, '*', n);
	if (star == NULL || star == name)
		return;
	size_t digits = n - (size_t)(star + 1 - name);
	if (digits == 0 || digits > 2 || strspn(star + 1, "0123456789") < digits ||
	    (digits == 2 && star[1] == '0'))
		return; /* not a section number: treat the name as it is */
	pn->section = atoi(star + 1);
	pn->base_len = (size_t)(star - name);
}

static bool same_base(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && strncasecmp(a, b, alen) == 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c & ~0x20);
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Appends an extended value with %XX decoded (RFC 2231 4). */
static void percent_decode(const char *v, struct buf *out)
{
	for (; *v != '\0'; v++) {
		if (*v == '%' && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
			buf_append_char(out, (char)(hexval(v[1]) * 16 + hexval(v[2])));
			v += 2;
		} else {
			buf_append_char(out, *v);
		}
	}
}

/* Index of the raw parameter with this base and section, or -1. */
static int find_section(const struct mime_params *raw, const char *base, size_t base_len,
			int section, struct pname *pn_r)
{
	for (size_t i = 0; i < raw->count; i++) {
		pname_parse(raw->v[i].name, pn_r);
		if (pn_r->section == section && (section >= 0 || pn_r->ext) &&
		    same_base(raw->v[i].name, pn_r->base_len, base, base_len))
			return (int)i;
	}
	return -1;
}

/* Joins the sections of an RFC 2231 parameter and converts it to UTF-8 into out. */
static void assemble_2231(const struct mime_params *raw, const char *base, size_t base_len,
			  bool sectioned, struct buf *out)
{
	struct buf bytes = BUF_INIT;
	char *charset = NULL;
	for (int sec = sectioned ? 0 : -1; sec <= RFC2231_MAX_SECTION; sec++) {
		struct pname pn;
		int i = find_section(raw, base, base_len, sec, &pn);
		if (i < 0)
			break;
		const char *v = raw->v[i].value;
		if (pn.ext && sec <= 0) {
			/* charset'language'value (RFC 2231 4) */
			const char *q1 = strchr(v, '\'');
			const char *q2 = q1 != NULL ? strchr(q1 + 1, '\'') : NULL;
			if (q2 != NULL) {
				charset = x_strndup(v, (size_t)(q1 - v));
				v = q2 + 1;
			}
		}
		if (pn.ext)
			percent_decode(v, &bytes);
		else
			buf_append_str(&bytes, v);
		if (sec < 0)
			break;
	}
	if (charset == NULL || *charset == '\0' ||
	    mime_charset_to_utf8(charset, bytes.data, bytes.len, out) < 0)
		mime_charset_to_utf8("utf-8", buf_cstr(&bytes), bytes.len, out);
	x_free(&charset);
	buf_free(&bytes);
}

/* True if some parameter uses the RFC 2231 syntax for this base name. */
static bool has_2231(const struct mime_params *raw, const char *base, size_t base_len)
{
	for (size_t i = 0; i < raw->count; i++) {
		struct pname pn;
		pname_parse(raw->v[i].name, &pn);
		if ((pn.section >= 0 || pn.ext) &&
		    same_base(raw->v[i].name, pn.base_len, base, base_len))
			return true;
	}
	return false;
}

void mime_params_decode(const struct mime_params *raw, struct mime_params *out)
{
	for (size_t i = 0; i < raw->count; i++) {
		const char *name = raw->v[i].name;
		struct pname pn;
		pname_parse(name, &pn);
		char *base = str_lower(x_strndup(name, pn.base_len));
		bool is_2231 = pn.section >= 0 || pn.ext;
		struct buf v = BUF_INIT;
		if (mime_params_get(out, base) != NULL ||
		    (!is_2231 && has_2231(raw, base, pn.base_len))) {
			x_free(&base);
			continue;
		}
		if (is_2231) {
			bool sectioned = find_section(raw, base, pn.base_len, 0, &pn) >= 0;
			assemble_2231(raw, base, pn.base_len, sectioned, &v);
		} else {
			mime_rfc2047_decode(raw->v[i].value, strlen(raw->v[i].value), &v);
		}
		mime_params_add(out, base, strlen(base), buf_cstr(&v), v.len);
		buf_free(&v);
		x_free(&base);
	}
}
