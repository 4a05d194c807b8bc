/* sieve-message: what the tests see of the message: header fields, addresses and body.
 *
 * The header section is read once through sieve_message.read with the streaming reader
 * of mime-header.h (at most SIEVE_MAX_HEADER bytes). RFC 5228 2.7.4 and 5.1 (address
 * parts, header values with RFC 2047 decoding), RFC 5233 (subaddress: user "+" detail),
 * RFC 5173 (body: :raw, :content with MIME parts decoded, :text), reading at most
 * max_body bytes of the message.
 */
#include <stdlib.h>
#include <string.h>

#include "mime-decode.h"
#include "mime-header.h"
#include "mime-parser.h"
#include "mime-rfc2047.h"
#include "sieve-run.h"
#include "xalloc.h"

static void add_header(struct sieve_run *r, const struct mime_header_field *f)
{
	if (f->invalid)
		return;
	r->hdrs = x_reallocarray(r->hdrs, r->nhdrs + 1, sizeof(*r->hdrs));
	r->hdrs[r->nhdrs].name = x_strndup(f->name, f->name_len);
	r->hdrs[r->nhdrs].value = x_strndup(f->value, f->value_len);
	r->nhdrs++;
}

int sieve_load_headers(struct sieve_run *r)
{
	if (r->hdrs_loaded)
		return 0;
	r->hdrs_loaded = true;
	struct mime_header_parser hp;
	struct mime_header_field f;
	char chunk[8192];
	uint64_t off = 0;
	int res = MIME_HEADER_MORE;
	mime_header_parser_init(&hp, 0);
	while (res != MIME_HEADER_END && off < SIEVE_MAX_HEADER && r->msg != NULL) {
		ssize_t n = sieve_message_read(r->msg, chunk, sizeof(chunk), off);
		if (n < 0) {
			mime_header_parser_deinit(&hp);
			return sieve_runtime_error(r, 0, "cannot read the message");
		}
		if (n == 0)
			break;
		size_t pos = 0;
		while (pos < (size_t)n) {
			size_t used = 0;
			res = mime_header_parser_feed(&hp, chunk + pos, (size_t)n - pos, &used, &f);
			pos += used;
			if (res == MIME_HEADER_FIELD)
				add_header(r, &f);
			else
				break;
		}
		off += (uint64_t)n;
		if (res == MIME_HEADER_END)
			break;
	}
	while (res != MIME_HEADER_END &&
	       (res = mime_header_parser_finish(&hp, &f)) == MIME_HEADER_FIELD)
		add_header(r, &f);
	mime_header_parser_deinit(&hp);
	return 0;
}

void sieve_header_values(struct sieve_run *r, const char *name, bool decode, struct sieve_strs *out)
{
	if (sieve_load_headers(r) < 0)
		return;
	for (size_t i = 0; i < r->nhdrs; i++) {
		if (strcasecmp(r->hdrs[i].name, name) != 0)
			continue;
		if (!decode) {
			sieve_strs_add(out, r->hdrs[i].value, strlen(r->hdrs[i].value));
			continue;
		}
		char *d = mime_rfc2047_decode_str(r->hdrs[i].value);
		sieve_strs_add(out, d, strlen(d));
		free(d);
	}
}

const char *sieve_header_first(struct sieve_run *r, const char *name)
{
	if (sieve_load_headers(r) < 0)
		return NULL;
	for (size_t i = 0; i < r->nhdrs; i++)
		if (strcasecmp(r->hdrs[i].name, name) == 0)
			return r->hdrs[i].value;
	return NULL;
}

/* Local part without surrounding quotes. */
static void local_part(const char *addr, size_t len, struct buf *out)
{
	if (len >= 2 && addr[0] == '"' && addr[len - 1] == '"') {
		for (size_t i = 1; i + 1 < len; i++) {
			if (addr[i] == '\\' && i + 2 < len)
				i++;
			buf_append_char(out, addr[i]);
		}
		return;
	}
	buf_append(out, addr, len);
}

bool sieve_address_part(const char *addr, enum sieve_addrpart part, struct buf *out)
{
	const char *at = strrchr(addr, '@');
	size_t llen = at != NULL ? (size_t)(at - addr) : strlen(addr);
	struct buf lp = BUF_INIT;
	bool ok = true;
	local_part(addr, llen, &lp);
	const char *l = lp.data != NULL ? lp.data : "";
	const char *plus = strchr(l, '+');
	switch (part) {
	case SIEVE_ADDR_ALL:
		buf_append(out, l, lp.len);
		if (at != NULL)
			buf_append_str(out, at);
		break;
	case SIEVE_ADDR_LOCAL:
		buf_append(out, l, lp.len);
		break;
	case SIEVE_ADDR_DOMAIN:
		buf_append_str(out, at != NULL ? at + 1 : "");
		break;
	case SIEVE_ADDR_USER:
		buf_append(out, l, plus != NULL ? (size_t)(plus - l) : lp.len);
		break;
	case SIEVE_ADDR_DETAIL:
		ok = plus != NULL;
		if (ok)
			buf_append_str(out, plus + 1);
		break;
	}
	buf_free(&lp);
	return ok;
}

/* Reads up to max_body bytes of the message and parses its structure. */
static int load_body(struct sieve_run *r)
{
	if (r->body_loaded)
		return 0;
	r->body_loaded = true;
	uint64_t max = r->ops->max_body != 0 ? r->ops->max_body : SIEVE_MAX_BODY;
	buf_init(&r->data, 0);
	while (r->data.len < max) {
		size_t want = max - r->data.len < 65536 ? (size_t)(max - r->data.len) : 65536;
		char *p = buf_reserve(&r->data, want);
		ssize_t n = sieve_message_read(r->msg, p, want, r->data.len);
		if (n < 0)
			return sieve_runtime_error(r, 0, "cannot read the message");
		if (n == 0)
			break;
		r->data.len += (size_t)n;
		r->data.data[r->data.len] = '\0';
	}
	r->tree = mime_parse(r->data.data != NULL ? r->data.data : "", r->data.len, NULL);
	return 0;
}

static bool content_wanted(const struct mime_part *p, const struct sieve_opts *o)
{
	if (o->bodyxf == SIEVE_BODY_TEXT)
		return strcmp(p->type, "text") == 0;
	for (size_t i = 0; i < o->content->count; i++) {
		const char *c = o->content->strs[i];
		const char *slash = strchr(c, '/');
		if (c[0] == '\0')
			return true;
		if (slash == NULL && strcasecmp(c, p->type) == 0)
			return true;
		if (slash != NULL && strncasecmp(c, p->type, (size_t)(slash - c)) == 0 &&
		    p->type[slash - c] == '\0' && strcasecmp(slash + 1, p->subtype) == 0)
			return true;
	}
	return false;
}

/* A leaf part's body decoded from its transfer encoding and charset to UTF-8. */
static void part_text(struct sieve_run *r, const struct mime_part *p, struct sieve_strs *out)
{
	uint64_t end = p->end_offset < r->data.len ? p->end_offset : r->data.len;
	if (p->body_offset >= end) {
		sieve_strs_add(out, "", 0);
		return;
	}
	struct mime_decoder d;
	struct buf raw = BUF_INIT, text = BUF_INIT;
	mime_decoder_init(&d, mime_cte_parse(p->encoding));
	mime_decoder_feed(&d, r->data.data + p->body_offset, end - p->body_offset, &raw);
	mime_decoder_finish(&d, &raw);
	const char *cs = mime_params_get(&p->params, "charset");
	if (strcmp(p->type, "text") != 0 || cs == NULL || strcasecmp(cs, "utf-8") == 0 ||
	    strcasecmp(cs, "us-ascii") == 0 ||
	    mime_charset_to_utf8(cs, raw.data != NULL ? raw.data : "", raw.len, &text) < 0)
		buf_append(&text, raw.data != NULL ? raw.data : "", raw.len);
	sieve_strs_add(out, text.data != NULL ? text.data : "", text.len);
	buf_free(&raw);
	buf_free(&text);
}

static void walk_parts(struct sieve_run *r, const struct mime_part *p, const struct sieve_opts *o,
		       struct sieve_strs *out)
{
	for (; p != NULL; p = p->next) {
		if (p->children != NULL) {
			walk_parts(r, p->children, o, out);
			continue;
		}
		if (content_wanted(p, o))
			part_text(r, p, out);
	}
}

int sieve_body_texts(struct sieve_run *r, const struct sieve_opts *o, struct sieve_strs *out)
{
	if (load_body(r) < 0)
		return -1;
	if (r->tree == NULL)
		return 0;
	if (o->bodyxf == SIEVE_BODY_RAW) {
		uint64_t off =
		    r->tree->body_offset < r->data.len ? r->tree->body_offset : r->data.len;
		sieve_strs_add(out, r->data.data + off, r->data.len - off);
		return 0;
	}
	walk_parts(r, r->tree, o, out);
	return 0;
}
