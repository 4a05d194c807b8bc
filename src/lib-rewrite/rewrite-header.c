/* rewrite-header: the header section of one message rewritten as it streams (see
 * rewrite.h).
 *
 * A field is complete when the next line does not start with WSP (RFC 5322 2.2.3); until
 * then its bytes are held (at most max_field: a longer field is let through as it is).
 * A complete field whose name has a class asked for has its value parsed as an address
 * list (lib-mime mime-addrlist, RFC 5322 3.4) and each addr-spec that rewrite_address
 * changes is replaced; every other byte (name, display names, comments, groups, folding,
 * line ends) is kept. Lines that are not fields pass unchanged. The empty line (LF or
 * CRLF) ends the work: the caller writes the body itself, untouched.
 */
#include "rewrite.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mime-addrlist.h"
#include "xalloc.h"

struct rewrite_header {
	struct rewrite *r;
	unsigned classes;
	size_t max_field;
	struct buf field; /* the field being read */
	bool pending;	  /* a field has started */
	bool passing;	  /* it outgrew max_field: its bytes go straight out */
	bool line_start;  /* the next byte starts a line */
	bool cr_start;	  /* a CR started the line; the next byte decides */
	bool done;	  /* the header section has ended */
	bool warned;	  /* a table failure was logged for this message */
	unsigned count;
};

struct rewrite_header *rewrite_header_new(struct rewrite *r, unsigned classes, size_t max_field)
{
	struct rewrite_header *h = X_NEW(struct rewrite_header);
	h->r = r;
	h->classes = classes & REWRITE_HEADER_CLASSES;
	h->max_field = max_field;
	h->line_start = true;
	buf_init(&h->field, 0);
	return h;
}

void rewrite_header_free(struct rewrite_header **hp)
{
	struct rewrite_header *h = *hp;
	if (h == NULL)
		return;
	buf_free(&h->field);
	x_free(hp);
}

bool rewrite_header_done(const struct rewrite_header *h)
{
	return h->done;
}

unsigned rewrite_header_count(const struct rewrite_header *h)
{
	return h->count;
}

struct rewrite_field_ctx {
	struct rewrite_header *h;
	unsigned cls;
};

static bool rewrite_header_spec(void *arg, const struct mime_addrlist_spec *spec,
				struct buf *replacement)
{
	struct rewrite_field_ctx *fc = arg;
	if (spec->domain == NULL)
		return false; /* unqualified: left as written */
	char *addr = x_asprintf("%s@%s", spec->local, spec->domain);
	char *out = NULL;
	struct buf err = BUF_INIT;
	int k = rewrite_address(fc->h->r, fc->cls, addr, &out, &err);
	if (k < 0 && !fc->h->warned) {
		log_warn("header rewriting: %s; addresses left as they are", buf_cstr(&err));
		fc->h->warned = true;
	}
	if (k > 0) {
		buf_append_str(replacement, out);
		fc->h->count++;
	}
	free(out);
	free(addr);
	buf_free(&err);
	return k > 0;
}

/* Writes the held field to out, its addresses rewritten when its class is asked for. */
static void rewrite_header_emit(struct rewrite_header *h, struct buf *out)
{
	const char *f = h->field.data ? h->field.data : "";
	size_t n = h->field.len;
	const char *nl = memchr(f, '\n', n);
	const char *colon = memchr(f, ':', nl ? (size_t)(nl - f) : n);
	unsigned cls = 0;
	if (colon != NULL) {
		size_t name_len = (size_t)(colon - f);
		while (name_len > 0 && (f[name_len - 1] == ' ' || f[name_len - 1] == '\t'))
			name_len--; /* RFC 5322 4.5 obs-optional: WSP before the colon */
		cls = rewrite_field_class(f, name_len) & h->classes;
	}
	if (cls == 0) {
		buf_append(out, f, n);
		return;
	}
	size_t head = (size_t)(colon + 1 - f);
	struct rewrite_field_ctx fc = {h, cls};
	buf_append(out, f, head);
	mime_addrlist_rewrite(f + head, n - head, rewrite_header_spec, &fc, out);
}

/* The current field is complete. */
static void rewrite_header_end_field(struct rewrite_header *h, struct buf *out)
{
	if (h->pending && !h->passing)
		rewrite_header_emit(h, out);
	h->pending = false;
	h->passing = false;
	buf_reset(&h->field);
}

/* Bytes of the current field: held, or let through once it is too long. */
static void rewrite_header_take(struct rewrite_header *h, const char *p, size_t n, struct buf *out)
{
	if (!h->passing && h->field.len + n > h->max_field) {
		buf_append(out, h->field.data ? h->field.data : "", h->field.len);
		buf_reset(&h->field);
		h->passing = true;
	}
	buf_append(h->passing ? out : &h->field, p, n);
}

size_t rewrite_header_feed(struct rewrite_header *h, const char *p, size_t n, struct buf *out)
{
	size_t i = 0;
	if (h->done)
		return 0;
	while (i < n) {
		if (h->cr_start) {
			h->cr_start = false;
			if (p[i] == '\n') {
				buf_append_str(out, "\r\n");
				h->done = true;
				return i + 1;
			}
			h->pending = true; /* a line starting with a lone CR: not a field */
			rewrite_header_take(h, "\r", 1, out);
		} else if (h->line_start) {
			char c = p[i];
			if (!h->pending || (c != ' ' && c != '\t')) {
				rewrite_header_end_field(h, out);
				if (c == '\n') {
					buf_append_char(out, '\n');
					h->done = true;
					return i + 1;
				}
				if (c == '\r') {
					h->cr_start = true;
					i++;
					continue;
				}
				h->pending = true;
			}
		}
		h->line_start = false;
		const char *nl = memchr(p + i, '\n', n - i);
		size_t take = nl ? (size_t)(nl - (p + i)) + 1 : n - i;
		rewrite_header_take(h, p + i, take, out);
		i += take;
		h->line_start = nl != NULL;
	}
	return n;
}

void rewrite_header_finish(struct rewrite_header *h, struct buf *out)
{
	if (h->done)
		return;
	rewrite_header_end_field(h, out);
	if (h->cr_start)
		buf_append_char(out, '\r');
	h->cr_start = false;
	h->done = true;
}
