/* imapd-fetch-body: the message bytes of FETCH (RFC 9051 6.4.5: BODY[section]<partial>,
 * BODY.PEEK, RFC822, RFC822.HEADER, RFC822.TEXT; RFC 3516: BINARY[], BINARY.SIZE).
 * Sections are located with the part tree's byte offsets; the bytes are read from the
 * store's fd in chunks and converted on the way (bare LF to CRLF, or the transfer encoding
 * decoded for BINARY), so a message is never held in memory whole. Only HEADER.FIELDS
 * results (a bounded header) are built in memory.
 */
#include "imapd-int.h"
#include "mime-header.h"
#include "mime-part.h"
#include "store.h"
#include "xalloc.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define HEADER_READ_MAX (1024 * 1024)

#define B64_LINE 76

/* Base64 of the 3 (or fewer, at the end) bytes in bs->b64, with a CRLF every 76 chars. */
static void b64_flush(struct imapd_body_stream *bs, struct buf *out)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *b = bs->b64;
	uint32_t v = (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
	char q[4];
	for (int i = 0; i < 4; i++)
		q[i] = (unsigned)i <= bs->b64_n ? alphabet[(v >> (18 - 6 * i)) & 63] : '=';
	buf_append(out, q, 4);
	bs->b64_col += 4;
	if (bs->b64_col >= B64_LINE) {
		buf_append_str(out, "\r\n");
		bs->b64_col = 0;
	}
	memset(bs->b64, 0, sizeof(bs->b64));
	bs->b64_n = 0;
}

/* The size of len bytes as base64 lines. */
static uint64_t b64_size(uint64_t len)
{
	uint64_t chars = (len + 2) / 3 * 4;
	return chars + (chars + B64_LINE - 1) / B64_LINE * 2;
}

/* Transforms raw input by the stream's mode, appending to out. */
static void body_convert(struct imapd_body_stream *bs, const char *p, size_t n, struct buf *out)
{
	if (bs->encode) {
		for (size_t i = 0; i < n; i++) {
			bs->b64[bs->b64_n++] = (unsigned char)p[i];
			if (bs->b64_n == 3)
				b64_flush(bs, out);
		}
		return;
	}
	if (bs->decode) {
		mime_decoder_feed(&bs->dec, p, n, out);
		return;
	}
	if (!bs->crlf) {
		buf_append(out, p, n);
		return;
	}
	/* the runs between line ends are copied whole (a byte at a time was 8% of a FETCH of
	   one message) */
	char *dst = buf_reserve(out, n * 2);
	size_t k = 0;
	const char *q = p, *end = p + n;
	while (q < end) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		size_t run = (size_t)((nl != NULL ? nl : end) - q);
		memcpy(dst + k, q, run);
		k += run;
		if (nl == NULL)
			break;
		if ((nl > p ? nl[-1] : bs->prev) != '\r')
			dst[k++] = '\r';
		dst[k++] = '\n';
		q = nl + 1;
	}
	if (n > 0)
		bs->prev = p[n - 1];
	out->len += k;
	out->data[out->len] = '\0';
}

/* Reads and converts the next chunk into out; false at the end of the input. */
static bool body_read(struct imapd_body_stream *bs, struct buf *out)
{
	if (bs->in_left > 0) {
		char chunk[IMAPD_CHUNK];
		size_t want = bs->in_left < sizeof(chunk) ? (size_t)bs->in_left : sizeof(chunk);
		ssize_t n = pread(bs->fd, chunk, want, (off_t)bs->pos);
		if (n > 0) {
			bs->pos += (uint64_t)n;
			bs->in_left -= (uint64_t)n;
			body_convert(bs, chunk, (size_t)n, out);
			return true;
		}
		bs->in_left = 0;
	}
	if (bs->decode && !bs->finished) {
		bs->finished = true;
		mime_decoder_finish(&bs->dec, out);
		return true;
	}
	if (bs->encode && !bs->finished) {
		bs->finished = true;
		if (bs->b64_n > 0)
			b64_flush(bs, out);
		if (bs->b64_col > 0)
			buf_append_str(out, "\r\n");
		return true;
	}
	return false;
}

bool imapd_body_pump(struct imapd_session *s, struct imapd_body_stream *bs)
{
	struct buf tmp = BUF_INIT;
	while (bs->out_left > 0 && !imapd_output_full(s)) {
		buf_reset(&tmp);
		if (!body_read(bs, &tmp)) {
			/* the file is shorter than announced: keep the protocol in step */
			size_t pad =
			    bs->out_left < IMAPD_CHUNK ? (size_t)bs->out_left : IMAPD_CHUNK;
			memset(buf_reserve(&s->conn.out, pad), ' ', pad);
			s->conn.out.len += pad;
			bs->out_left -= pad;
			continue;
		}
		size_t off = 0;
		if (bs->skip > 0) {
			off = bs->skip < tmp.len ? (size_t)bs->skip : tmp.len;
			bs->skip -= off;
		}
		size_t n = tmp.len - off;
		if (n > bs->out_left)
			n = (size_t)bs->out_left;
		buf_append(&s->conn.out, tmp.data + off, n);
		bs->out_left -= n;
		imapd_session_flush(s);
	}
	buf_free(&tmp);
	return bs->out_left > 0;
}

void imapd_body_close(struct imapd_body_stream *bs)
{
	memset(bs, 0, sizeof(*bs));
	bs->fd = -1;
}

/* The decoded size of a stream (BINARY needs it before the literal). */
static uint64_t body_measure(struct imapd_body_stream bs)
{
	struct buf tmp = BUF_INIT;
	uint64_t size = 0;
	while (buf_reset(&tmp), body_read(&bs, &tmp))
		size += tmp.len;
	buf_free(&tmp);
	return size;
}

static bool field_listed(const struct imap_fetch_body *b, const struct mime_header_field *f)
{
	for (size_t i = 0; i < b->field_count; i++)
		if (mime_header_field_is(f, b->fields[i]))
			return true;
	return false;
}

/* HEADER.FIELDS (...) / HEADER.FIELDS.NOT (...) of the header at [off, off+len). */
static void header_fields(const struct imap_fetch_body *b, int fd, uint64_t off, uint64_t len,
			  struct buf *out)
{
	size_t want = len < HEADER_READ_MAX ? (size_t)len : HEADER_READ_MAX;
	char *hdr = x_malloc(want + 1);
	ssize_t got = pread(fd, hdr, want, (off_t)off);
	struct mime_header_parser hp;
	mime_header_parser_init(&hp, 0);
	struct mime_header_field f;
	size_t pos = 0, used;
	bool not = b->spec == IMAP_SECTION_HEADER_FIELDS_NOT;
	struct imapd_body_stream conv = {.crlf = true};
	int r = MIME_HEADER_MORE;
	while (got > 0 && r != MIME_HEADER_END) {
		r = mime_header_parser_feed(&hp, hdr + pos, (size_t)got - pos, &used, &f);
		pos += used;
		if (r == MIME_HEADER_MORE)
			r = mime_header_parser_finish(&hp, &f);
		if (r == MIME_HEADER_FIELD && !f.invalid &&
		    field_listed(b, &f) != not &&f.offset + f.size <= (uint64_t)got)
			body_convert(&conv, hdr + f.offset, (size_t)f.size, out);
		if (r == MIME_HEADER_MORE)
			break;
	}
	buf_append_str(out, "\r\n");
	mime_header_parser_deinit(&hp);
	x_free(&hdr);
}

/* Locates the section: raw range and its size in the CRLF form; false: no such part. */
static bool body_locate(const struct imap_fetch_body *b, struct mime_part *tree, uint64_t *off_r,
			uint64_t *len_r, uint64_t *size_r, struct mime_part **part_r)
{
	struct mime_part *p = tree;
	if (b->part_count > 0) {
		char sec[IMAP_SECTION_MAX_PARTS * 11] = "";
		size_t n = 0;
		for (unsigned i = 0; i < b->part_count; i++)
			n += (size_t)snprintf(sec + n, sizeof(sec) - n, "%s%" PRIu32, i ? "." : "",
					      b->parts[i]);
		p = mime_part_find(tree, sec);
		if (p == NULL)
			return false;
	}
	*part_r = p;
	bool header = b->spec == IMAP_SECTION_HEADER || b->spec == IMAP_SECTION_HEADER_FIELDS ||
		      b->spec == IMAP_SECTION_HEADER_FIELDS_NOT;
	if (b->part_count > 0 && (header || b->spec == IMAP_SECTION_TEXT)) {
		if ((p->flags & MIME_PART_F_MESSAGE) == 0 || p->children == NULL)
			return false;
		p = p->children; /* the enclosed message */
	}
	if (header || b->spec == IMAP_SECTION_MIME) {
		*off_r = p->hdr_offset;
		*len_r = mime_part_header_size(p);
		*size_r = *len_r + p->hdr_bare_lf;
	} else {
		*off_r = p->body_offset;
		*len_r = mime_part_body_size(p);
		*size_r = *len_r + p->body_bare_lf;
	}
	return true;
}

/* Writes the literal header (or NIL) and sets the window for the partial. */
static void body_literal(struct imapd_session *s, const struct imap_fetch_body *b, uint64_t size,
			 struct imapd_body_stream *bs)
{
	uint64_t off = b->partial ? b->offset : 0;
	uint64_t n = off >= size ? 0 : size - off;
	if (b->partial && n > b->length)
		n = b->length;
	bs->skip = off;
	bs->out_left = n;
	if (b->partial)
		buf_printf(&s->conn.out, "<%" PRIu64 ">", off);
	buf_append_char(&s->conn.out, ' ');
	imap_write_literal_header(&s->conn.out, n, bs->literal8);
}

/* A whole message that one read takes: read once, its size in the CRLF form counted from
 * its bytes (the index is not asked, nor the file read a second time when the index has
 * no size yet) and converted straight into the output. false: not done (too large for
 * one read, or a short read: the streaming path handles it). */
static bool body_whole_small(struct imapd_session *s, const struct imap_fetch_body *b,
			     const struct store_msg_stream *st, struct imapd_body_stream *bs)
{
	char chunk[IMAPD_CHUNK];
	if (st->length > sizeof(chunk) || b->kind == IMAP_FETCH_BINARY_SIZE)
		return false;
	ssize_t n = pread(st->fd, chunk, (size_t)st->length, (off_t)st->offset);
	if (n < 0 || (uint64_t)n != st->length)
		return false;
	uint64_t size = (uint64_t)n;
	for (const char *q = chunk, *end = chunk + n; q < end; q++) {
		if ((q = memchr(q, '\n', (size_t)(end - q))) == NULL)
			break;
		size += q == chunk || q[-1] != '\r';
	}
	bs->crlf = true;
	body_literal(s, b, size, bs);
	if (bs->skip == 0 && bs->out_left == size) {
		body_convert(bs, chunk, (size_t)n, &s->conn.out);
	} else if (bs->out_left > 0) {
		struct buf tmp = BUF_INIT;
		body_convert(bs, chunk, (size_t)n, &tmp);
		buf_append(&s->conn.out, tmp.data + bs->skip, (size_t)bs->out_left);
		buf_free(&tmp);
	}
	imapd_body_close(bs);
	return true;
}

void imapd_fetch_body_start(struct imapd_session *s, const struct imap_fetch_body *b, uint32_t uid,
			    struct mime_part *tree, const struct store_msg_stream *st,
			    struct imapd_body_stream *bs, bool *streaming_r)
{
	uint64_t off = 0, len = st->length, size = 0;
	struct mime_part *part = tree;
	*streaming_r = false;
	imapd_body_close(bs);
	buf_printf(&s->conn.out, " %s", b->name);
	bool whole = b->part_count == 0 && b->spec == IMAP_SECTION_ALL;
	if (whole && body_whole_small(s, b, st, bs))
		return;
	if (whole) {
		struct buf err = BUF_INIT;
		if (store_msg_vsize(s->folder, uid, &size, &err) < 0)
			size = st->length;
		buf_free(&err);
	} else if (tree == NULL || !body_locate(b, tree, &off, &len, &size, &part)) {
		buf_append_str(&s->conn.out, b->kind == IMAP_FETCH_BINARY_SIZE ? " 0" : " NIL");
		return;
	}
	bs->fd = st->fd;
	bs->pos = (uint64_t)st->offset + off;
	bs->in_left = len;
	bs->crlf = true;
	if (b->kind != IMAP_FETCH_BODY_SECTION && !whole) {
		enum mime_cte cte = mime_cte_parse(part->encoding);
		if (cte == MIME_CTE_BASE64 || cte == MIME_CTE_QP || cte == MIME_CTE_BINARY) {
			bs->crlf = false;
			bs->decode = cte != MIME_CTE_BINARY;
			bs->literal8 = b->kind == IMAP_FETCH_BINARY;
			mime_decoder_init(&bs->dec, cte);
			size = bs->decode ? body_measure(*bs) : len;
		}
	}
	if (b->kind == IMAP_FETCH_BODY_SECTION && b->part_count > 0 &&
	    b->spec == IMAP_SECTION_ALL && part->children == NULL &&
	    mime_cte_parse(part->encoding) == MIME_CTE_BINARY) {
		/* binary content may hold NUL, which only literal8 carries: base64 it */
		bs->crlf = false;
		bs->encode = true;
		size = b64_size(len);
	}
	if (b->kind == IMAP_FETCH_BINARY_SIZE) {
		buf_printf(&s->conn.out, " %" PRIu64, size);
		imapd_body_close(bs);
		return;
	}
	if (b->spec == IMAP_SECTION_HEADER_FIELDS || b->spec == IMAP_SECTION_HEADER_FIELDS_NOT) {
		struct buf h = BUF_INIT;
		header_fields(b, st->fd, bs->pos, len, &h);
		uint64_t o = b->partial ? b->offset : 0, n = o >= h.len ? 0 : h.len - o;
		if (b->partial && n > b->length)
			n = b->length;
		if (b->partial)
			buf_printf(&s->conn.out, "<%" PRIu64 ">", o);
		buf_append_char(&s->conn.out, ' ');
		imap_write_literal(&s->conn.out, h.data + o, (size_t)n);
		buf_free(&h);
		imapd_body_close(bs);
		return;
	}
	body_literal(s, b, size, bs);
	*streaming_r = bs->out_left > 0;
}

int imapd_section_copy(const struct imap_fetch_body *b, struct mime_part *tree,
		       const struct store_msg_stream *st, imapd_sink_fn *sink, void *ctx)
{
	uint64_t off = 0, len = st->length, size = 0;
	struct mime_part *part = tree;
	bool whole = b->part_count == 0 && b->spec == IMAP_SECTION_ALL;
	if (!whole && (tree == NULL || !body_locate(b, tree, &off, &len, &size, &part)))
		return -1;
	struct imapd_body_stream bs;
	imapd_body_close(&bs);
	bs.fd = st->fd;
	bs.pos = (uint64_t)st->offset + off;
	bs.in_left = len;
	bs.crlf = true;
	bs.skip = b->partial ? b->offset : 0;
	bs.out_left = b->partial && b->length > 0 ? b->length : UINT64_MAX;
	struct buf tmp = BUF_INIT;
	int ret = 0;
	if (b->spec == IMAP_SECTION_HEADER_FIELDS || b->spec == IMAP_SECTION_HEADER_FIELDS_NOT) {
		header_fields(b, st->fd, bs.pos, len, &tmp);
		bs.in_left = 0;
	} else if (!body_read(&bs, &tmp)) {
		bs.out_left = 0;
	}
	while (ret == 0 && bs.out_left > 0 && tmp.len > 0) {
		size_t o = bs.skip < tmp.len ? (size_t)bs.skip : tmp.len;
		bs.skip -= o;
		size_t n = tmp.len - o < bs.out_left ? tmp.len - o : (size_t)bs.out_left;
		if (n > 0)
			ret = sink(ctx, tmp.data + o, n);
		bs.out_left -= n;
		buf_reset(&tmp);
		if (!body_read(&bs, &tmp))
			break;
	}
	buf_free(&tmp);
	return ret;
}
