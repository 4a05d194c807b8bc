/* imapd-bodystructure: ENVELOPE, BODY and BODYSTRUCTURE (RFC 9051 7.5.2, RFC 3501 7.4.2)
 * written from lib-mime's part tree, which the store caches serialised
 * (store_msg_cache_get/put), so a message is parsed once. The finished ENVELOPE and
 * BODYSTRUCTURE texts are cached too, so a FETCH of them is a lookup; the parse that
 * fills the cache also keeps the header fields SEARCH reads (imapd_search_fields_add).
 * Sizes are those of the CRLF form the client fetches (the part's bytes plus its bare LFs).
 */
#include "imapd-int.h"
#include "log.h"
#include "mime-parser.h"
#include "mime-part.h"
#include "mime-serial.h"
#include "store.h"
#include "xalloc.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

static unsigned wflags(struct imapd_session *s)
{
	return s->utf8 ? IMAP_WRITE_UTF8 : 0;
}

static void nstr(struct imapd_session *s, struct buf *out, const char *v)
{
	imap_write_nstring(out, v, v != NULL ? strlen(v) : 0, wflags(s));
}

/* The parser's header fields: the top-level ones SEARCH reads are kept. */
static void parts_field(void *ctx, struct mime_part *part, const struct mime_header_field *f)
{
	if (part->parent == NULL)
		imapd_search_fields_add(ctx, f);
}

/* Parses message uid by streaming it through lib-mime; caches its search fields. */
static struct mime_part *parts_parse(struct imapd_session *s, uint32_t uid, struct buf *err)
{
	struct store_msg_stream st;
	if (store_msg_open_whole(s->folder, uid, &st, err) < 0)
		return NULL;
	struct mime_parser *p = mime_parser_new(NULL);
	struct buf fields = BUF_INIT;
	mime_parser_set_field_cb(p, parts_field, &fields);
	char chunk[IMAPD_CHUNK];
	uint64_t done = 0;
	bool to_eof = st.length == STORE_MSG_TO_EOF, whole = !to_eof && st.length == 0;
	while (!whole) {
		size_t want =
		    st.length - done < sizeof(chunk) ? (size_t)(st.length - done) : sizeof(chunk);
		ssize_t n = pread(st.fd, chunk, want, st.offset + (off_t)done);
		if (n < 0 || (n == 0 && !to_eof))
			break;
		mime_parser_feed(p, chunk, (size_t)n);
		done += (uint64_t)n;
		/* the end: the length read, or (to_eof) a short read of the file */
		whole = to_eof ? (size_t)n < want : done == st.length;
	}
	close(st.fd);
	if (to_eof)
		st.length = done;
	struct mime_part *root = mime_parser_finish(p);
	mime_parser_free(&p);
	if (root != NULL && imapd_search_fields_complete(root->body_offset))
		store_msg_cache_put(s->folder, uid, STORE_CACHE_FIELDS, fields.data, fields.len,
				    NULL);
	/* the whole message went through the parser: its CRLF size too (no second read) */
	if (root != NULL && whole && root->hdr_offset == 0 &&
	    root->end_offset == st.length)
		store_msg_vsize_set(s->folder, uid,
				    st.length + root->hdr_bare_lf + root->body_bare_lf, NULL);
	buf_free(&fields);
	return root;
}

static bool text_ascii(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if ((unsigned char)b->data[i] >= 0x80)
			return false;
	return true;
}

bool imapd_msg_text(struct imapd_session *s, uint32_t uid, int kind,
		    struct mime_part **tree, struct buf *out)
{
	/* The cache holds the text as written without UTF8=ACCEPT; after ENABLE UTF8=ACCEPT
	   it is the same when it is all ASCII (8-bit strings are literals without it and
	   quoted with it, RFC 6855 3). */
	struct buf err = BUF_INIT;
	int r = store_msg_cache_get(s->folder, uid, (enum store_cache_kind)kind, out, &err);
	if (r == 1 && (!s->utf8 || text_ascii(out))) {
		buf_free(&err);
		return true;
	}
	buf_reset(&err);
	if (*tree == NULL && (*tree = imapd_msg_parts(s, uid, &err)) == NULL) {
		buf_free(&err);
		return false;
	}
	buf_free(&err);
	buf_reset(out);
	if (kind == STORE_CACHE_ENVELOPE)
		imapd_envelope_write(s, out, *tree);
	else
		imapd_bodystructure_write(s, out, *tree, true);
	if (!s->utf8 || text_ascii(out))
		store_msg_cache_put(s->folder, uid, (enum store_cache_kind)kind, out->data, out->len,
				    NULL);
	return true;
}

struct mime_part *imapd_msg_parts(struct imapd_session *s, uint32_t uid, struct buf *err)
{
	struct buf blob = BUF_INIT;
	struct mime_part *root = NULL;
	const char *error;
	if (store_msg_cache_get(s->folder, uid, STORE_CACHE_PARTS, &blob, err) == 1 &&
	    mime_deserialize(blob.data, blob.len, &root, &error) == 0) {
		buf_free(&blob);
		return root;
	}
	buf_reset(err);
	root = parts_parse(s, uid, err);
	if (root != NULL) {
		buf_reset(&blob);
		buf_reserve(&blob, 1023); /* most trees: one allocation, not four */
		mime_serialize(root, &blob);
		struct buf e2 = BUF_INIT;
		if (store_msg_cache_put(s->folder, uid, STORE_CACHE_PARTS, blob.data, blob.len, &e2) < 0)
			log_debug("cache put uid=%" PRIu32 ": %s", uid, buf_cstr(&e2));
		buf_free(&e2);
	}
	buf_free(&blob);
	return root;
}

static void addresses(struct imapd_session *s, struct buf *out, const struct mime_address_list *l)
{
	if (l->count == 0) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_append_char(out, '(');
	for (size_t i = 0; i < l->count; i++) {
		const struct mime_address *a = &l->v[i];
		buf_append_char(out, '(');
		nstr(s, out, a->name);
		buf_append_char(out, ' ');
		nstr(s, out, a->route);
		buf_append_char(out, ' ');
		nstr(s, out, a->mailbox);
		buf_append_char(out, ' ');
		nstr(s, out, a->host);
		buf_append_char(out, ')');
	}
	buf_append_char(out, ')');
}

void imapd_envelope_write(struct imapd_session *s, struct buf *out, const struct mime_part *p)
{
	const struct mime_envelope *e = p->envelope;
	if (e == NULL) {
		buf_append_str(out, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		return;
	}
	buf_append_char(out, '(');
	nstr(s, out, e->date);
	buf_append_char(out, ' ');
	nstr(s, out, e->subject);
	const struct mime_address_list *lists[] = {
	    &e->from,
	    e->sender.count ? &e->sender : &e->from,
	    e->reply_to.count ? &e->reply_to : &e->from,
	    &e->to,
	    &e->cc,
	    &e->bcc,
	};
	for (size_t i = 0; i < 6; i++) {
		buf_append_char(out, ' ');
		addresses(s, out, lists[i]);
	}
	buf_append_char(out, ' ');
	nstr(s, out, e->in_reply_to);
	buf_append_char(out, ' ');
	nstr(s, out, e->message_id);
	buf_append_char(out, ')');
}

static void params(struct imapd_session *s, struct buf *out, const struct mime_params *ps)
{
	if (ps->count == 0) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_append_char(out, '(');
	for (size_t i = 0; i < ps->count; i++) {
		if (i > 0)
			buf_append_char(out, ' ');
		nstr(s, out, ps->v[i].name);
		buf_append_char(out, ' ');
		nstr(s, out, ps->v[i].value);
	}
	buf_append_char(out, ')');
}

/* body-ext-1part / body-ext-mpart after md5 or params: disposition, language, location. */
static void extension(struct imapd_session *s, struct buf *out, const struct mime_part *p)
{
	buf_append_char(out, ' ');
	if (p->disposition == NULL) {
		buf_append_str(out, "NIL");
	} else {
		buf_append_char(out, '(');
		nstr(s, out, p->disposition);
		buf_append_char(out, ' ');
		params(s, out, &p->disp_params);
		buf_append_char(out, ')');
	}
	buf_append_char(out, ' ');
	nstr(s, out, p->language);
	buf_append_char(out, ' ');
	nstr(s, out, p->location);
}

static void encoding(struct buf *out, const char *enc)
{
	char up[64];
	size_t n = 0;
	for (const char *c = enc != NULL ? enc : "7bit"; *c != '\0' && n + 1 < sizeof(up); c++)
		up[n++] = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
	up[n] = '\0';
	imap_write_string(out, up, n, 0);
}

static void part_write(struct imapd_session *s, struct buf *out, const struct mime_part *p,
		       bool ext, unsigned depth)
{
	buf_append_char(out, '(');
	if (mime_part_is_multipart(p) && depth < MIME_SERIAL_MAX_DEPTH) {
		for (const struct mime_part *c = p->children; c != NULL; c = c->next)
			part_write(s, out, c, ext, depth + 1);
		buf_append_char(out, ' ');
		nstr(s, out, p->subtype);
		if (ext) {
			buf_append_char(out, ' ');
			params(s, out, &p->params);
			extension(s, out, p);
		}
		buf_append_char(out, ')');
		return;
	}
	nstr(s, out, p->type);
	buf_append_char(out, ' ');
	nstr(s, out, p->subtype);
	buf_append_char(out, ' ');
	params(s, out, &p->params);
	buf_append_char(out, ' ');
	nstr(s, out, p->id);
	buf_append_char(out, ' ');
	nstr(s, out, p->description);
	buf_append_char(out, ' ');
	encoding(out, p->encoding);
	buf_printf(out, " %" PRIu64, mime_part_body_size(p) + p->body_bare_lf);
	if ((p->flags & MIME_PART_F_MESSAGE) && p->children != NULL &&
	    depth < MIME_SERIAL_MAX_DEPTH) {
		buf_append_char(out, ' ');
		imapd_envelope_write(s, out, p->children);
		buf_append_char(out, ' ');
		part_write(s, out, p->children, ext, depth + 1);
		buf_printf(out, " %" PRIu64, p->body_lines);
	} else if (strcmp(p->type, "text") == 0) {
		buf_printf(out, " %" PRIu64, p->body_lines);
	}
	if (ext) {
		buf_append_char(out, ' ');
		nstr(s, out, p->md5);
		extension(s, out, p);
	}
	buf_append_char(out, ')');
}

void imapd_bodystructure_write(struct imapd_session *s, struct buf *out, const struct mime_part *p,
			       bool extended)
{
	part_write(s, out, p, extended, 0);
}
