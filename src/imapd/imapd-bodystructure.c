/* imapd-bodystructure: ENVELOPE, BODY and BODYSTRUCTURE (RFC 9051 7.5.2, RFC 3501 7.4.2)
 * written from lib-mime's part tree, which the store caches serialised
 * (store_msg_cache_get/put), so a message is parsed once. The finished ENVELOPE and
 * BODYSTRUCTURE texts are cached too, so a FETCH of them is a lookup; the parse that
 * fills the cache also keeps the header fields SEARCH reads (imapd_search_fields_add).
 * An ENVELOPE asked for without the structure is written from the top-level header alone,
 * the body only counted for the CRLF size (the structure is parsed when first needed).
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
#include <stdint.h>
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

/* Where the top-level header ends: the byte after its empty line ("\n" or "\r\n" at the
 * start of a line, where lib-mime's header reader ends it too), or SIZE_MAX when not in
 * these bytes; *state carries over between the chunks of one message. */
enum { HE_START, HE_CR, HE_LINE };
static size_t header_end_find(const char *d, size_t n, int *state)
{
	size_t i = 0;
	while (i < n) {
		if (*state == HE_LINE) {
			const char *nl = memchr(d + i, '\n', n - i);
			if (nl == NULL)
				return SIZE_MAX;
			i = (size_t)(nl - d) + 1;
			*state = HE_START;
			continue;
		}
		char c = d[i++];
		if (c == '\n')
			return i;
		*state = *state == HE_START && c == '\r' ? HE_CR : HE_LINE;
	}
	return SIZE_MAX;
}

/* The LFs without a CR before them (*prev: the byte before these, 0 at the start). */
static uint64_t bare_lf_count(const char *d, size_t n, char *prev)
{
	uint64_t k = 0;
	for (const char *p = d, *end = d + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL;
	     p++)
		k += (p > d ? p[-1] : *prev) != '\r';
	if (n > 0)
		*prev = d[n - 1];
	return k;
}

/* Parses message uid by streaming it through lib-mime; caches its search fields and its
 * CRLF size. header_only: the parser gets the top-level header alone and the body is only
 * counted (what ENVELOPE and RFC822.SIZE need: the structure of the body is left for
 * when it is asked for); the tree then has no body and is not to be cached. */
static struct mime_part *parts_parse(struct imapd_session *s, uint32_t uid, bool header_only,
				     struct buf *err)
{
	struct store_msg_stream st;
	if (store_msg_open(s->folder, uid, &st, err) < 0)
		return NULL;
	struct mime_parser *p = mime_parser_new(NULL);
	struct buf fields = BUF_INIT;
	mime_parser_set_field_cb(p, parts_field, &fields);
	char chunk[IMAPD_CHUNK];
	uint64_t done = 0, bare = 0;
	int hstate = HE_START;
	bool in_header = true;
	char prev = 0;
	while (done < st.length) {
		size_t want =
		    st.length - done < sizeof(chunk) ? (size_t)(st.length - done) : sizeof(chunk);
		ssize_t n = pread(st.fd, chunk, want, st.offset + (off_t)done);
		if (n <= 0)
			break;
		size_t feed = (size_t)n;
		if (header_only) {
			size_t end = in_header ? header_end_find(chunk, feed, &hstate) : 0;
			if (end != SIZE_MAX) {
				feed = end;
				in_header = false;
			}
			bare += bare_lf_count(chunk, (size_t)n, &prev);
		}
		if (feed > 0)
			mime_parser_feed(p, chunk, feed);
		done += (uint64_t)n;
	}
	close(st.fd);
	struct mime_part *root = mime_parser_finish(p);
	mime_parser_free(&p);
	if (root != NULL && imapd_search_fields_complete(root->body_offset))
		store_msg_cache_put(s->folder, uid, STORE_CACHE_FIELDS, fields.data, fields.len,
				    NULL);
	/* the whole message went through the parser (or the count): its CRLF size too (no
	   second read) */
	if (root != NULL && header_only && done == st.length)
		store_msg_vsize_set(s->folder, uid, st.length + bare, NULL);
	else if (root != NULL && done == st.length && root->hdr_offset == 0 &&
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

/* The structure from the cache (*whole_r true), or parsed: whole and cached, or with
 * header_only the top-level header alone (*whole_r false). */
static struct mime_part *msg_parts(struct imapd_session *s, uint32_t uid, bool header_only,
				   bool *whole_r, struct buf *err)
{
	struct buf blob = BUF_INIT;
	struct mime_part *root = NULL;
	const char *error;
	*whole_r = true;
	if (store_msg_cache_get(s->folder, uid, STORE_CACHE_PARTS, &blob, err) == 1 &&
	    mime_deserialize(blob.data, blob.len, &root, &error) == 0) {
		buf_free(&blob);
		return root;
	}
	buf_reset(err);
	root = parts_parse(s, uid, header_only, err);
	*whole_r = !header_only;
	if (root != NULL && !header_only) {
		buf_reset(&blob);
		mime_serialize(root, &blob);
		struct buf e2 = BUF_INIT;
		if (store_msg_cache_put(s->folder, uid, STORE_CACHE_PARTS, blob.data, blob.len, &e2) < 0)
			log_debug("cache put uid=%" PRIu32 ": %s", uid, buf_cstr(&e2));
		buf_free(&e2);
	}
	buf_free(&blob);
	return root;
}

bool imapd_msg_text(struct imapd_session *s, uint32_t uid, int kind, bool header_only_ok,
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
	struct mime_part *header = NULL;
	if (*tree == NULL) {
		bool whole;
		struct mime_part *t =
		    msg_parts(s, uid, header_only_ok && kind == STORE_CACHE_ENVELOPE, &whole, &err);
		if (t == NULL) {
			buf_free(&err);
			return false;
		}
		*(whole ? tree : &header) = t;
	}
	buf_free(&err);
	buf_reset(out);
	if (kind == STORE_CACHE_ENVELOPE)
		imapd_envelope_write(s, out, header != NULL ? header : *tree);
	else
		imapd_bodystructure_write(s, out, *tree, true);
	mime_part_free(&header);
	if (!s->utf8 || text_ascii(out))
		store_msg_cache_put(s->folder, uid, (enum store_cache_kind)kind, out->data, out->len,
				    NULL);
	return true;
}

struct mime_part *imapd_msg_parts(struct imapd_session *s, uint32_t uid, struct buf *err)
{
	bool whole;
	return msg_parts(s, uid, false, &whole, err);
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
