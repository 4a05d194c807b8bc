/* mime-parser: streaming message structure parser (see mime-parser.h).
 *
 * The input is cut into lines. While a line could still be a boundary (it starts with
 * "--" and is short enough) its start is held in `prefix`; otherwise its bytes flow to the
 * open part at once, so memory never depends on line length. Each line goes to the
 * header reader of the innermost open part, or is only counted when that part is in its
 * body. Offsets and line counts are derived from running totals of LFs.
 *
 * Tolerant rules:
 * - a boundary line is "--" boundary ["--"] followed only by spaces/tabs (RFC 2046 5.1.1);
 *   boundaries of all open multiparts are checked, innermost first, and a line matching
 *   an outer one closes the inner parts (their missing close delimiters are flagged);
 * - in the epilogue (after "--b--") the multipart's own boundary is plain text; the
 *   preamble and epilogue belong to the multipart's body;
 * - a part's header ends at its empty line, at a boundary line, or at the end of input;
 * - a multipart without a usable boundary (missing, empty, over MIME_BOUNDARY_MAX) is
 *   text/plain; a multipart that ends with no part gets an empty synthetic one;
 * - multiparts and messages nested max_depth deep, messages with a base64 or QP encoding,
 *   and parts beyond max_parts are application/octet-stream, flagged opaque; once the part
 *   limit is reached, a delimiter that would open a new part is plain text;
 * - a part without Content-Type is text/plain, or message/rfc822 in multipart/digest
 *   (RFC 2046 5.1.5).
 */
#include "mime-parser.h"

#include <assert.h>
#include <string.h>

#include "mime-decode.h"

#include "util.h"
#include "xalloc.h"

#define MIME_BOUNDARY_MAX 200
#define PREFIX_MAX (2 + MIME_BOUNDARY_MAX + 2 + 64 + 2)

enum phase { PH_HEADER, PH_BODY, PH_PREAMBLE, PH_CHILD, PH_EPILOGUE };

/* One open part: the chain from the root to the part now reading lines. */
struct frame {
	struct mime_part *part;
	enum phase phase;
	char *boundary; /* multipart only */
	size_t blen;
	unsigned int depth;
	uint64_t lf_at_hdr, bare_at_hdr, lf_at_body, bare_at_body;
};

/* Where the open parts end: at a boundary line or at the end of input. */
struct endinfo {
	bool at_eof;
	uint64_t pos; /* start of the boundary line, or end of input */
	uint64_t lf, bare_lf;
	bool have_prev, prev_bare;
	uint64_t prev_start, prev_content_len;
	bool ends_with_lf;
};

struct mime_parser {
	struct mime_parser_limits lim;
	mime_parser_field_cb *cb;
	void *cb_ctx;
	struct mime_header_parser hp;
	struct frame *stack;
	size_t nstack, stack_cap;
	struct mime_part *root;
	size_t nparts;
	bool active; /* some multipart is waiting for its boundary */
	bool finished;
	uint64_t offset; /* input bytes received */
	uint64_t lf, bare_lf;
	char cur_byte; /* the last byte received */
	uint64_t line_start;
	bool decided; /* the current line is not a boundary */
	size_t prefix_len;
	char prefix[PREFIX_MAX];
	bool have_prev, prev_bare;
	uint64_t prev_start, prev_content_len;
};

static struct frame *top(struct mime_parser *p)
{
	assert(p->nstack > 0);
	return &p->stack[p->nstack - 1];
}

static void update_active(struct mime_parser *p)
{
	p->active = false;
	for (size_t i = 0; i < p->nstack; i++)
		if (p->stack[i].boundary != NULL && p->stack[i].phase != PH_EPILOGUE)
			p->active = true;
}

/* Opens a part whose header starts at the current position. */
static struct frame *push_part(struct mime_parser *p, struct mime_part *parent, uint64_t at,
			       bool message_root)
{
	assert(p->nstack < p->stack_cap);
	struct frame *f = &p->stack[p->nstack++];
	memset(f, 0, sizeof(*f));
	f->part = mime_part_new(parent);
	f->part->hdr_offset = at;
	if (message_root)
		f->part->envelope = X_NEW(struct mime_envelope);
	f->phase = PH_HEADER;
	f->depth = p->nstack - 1;
	f->lf_at_hdr = p->lf;
	f->bare_at_hdr = p->bare_lf;
	p->nparts++;
	mime_header_parser_reset(&p->hp);
	return f;
}

struct mime_parser *mime_parser_new(const struct mime_parser_limits *limits)
{
	struct mime_parser *p = X_NEW(struct mime_parser);
	if (limits != NULL)
		p->lim = *limits;
	if (p->lim.max_depth == 0)
		p->lim.max_depth = 20;
	if (p->lim.max_field == 0)
		p->lim.max_field = MIME_HEADER_DEFAULT_MAX_FIELD;
	if (p->lim.max_parts == 0)
		p->lim.max_parts = 5000;
	mime_header_parser_init(&p->hp, p->lim.max_field);
	p->stack_cap = p->lim.max_depth + 2;
	p->stack = x_calloc(p->stack_cap, sizeof(*p->stack));
	p->root = push_part(p, NULL, 0, true)->part;
	p->decided = true;
	p->cur_byte = '\n';
	return p;
}

void mime_parser_set_field_cb(struct mime_parser *p, mime_parser_field_cb *cb, void *ctx)
{
	p->cb = cb;
	p->cb_ctx = ctx;
}

static void set_type(struct mime_part *pt, const char *type, const char *subtype)
{
	x_free(&pt->type);
	x_free(&pt->subtype);
	pt->type = x_strdup(type);
	pt->subtype = x_strdup(subtype);
}

static void make_opaque(struct mime_part *pt)
{
	set_type(pt, "application", "octet-stream");
	pt->flags |= MIME_PART_F_OPAQUE;
}

/* Content-Type defaults (RFC 2045 5.2, RFC 2046 5.1.5). */
static void apply_default_type(struct mime_part *pt)
{
	if (pt->type != NULL)
		return;
	const struct mime_part *parent = pt->parent;
	if ((pt->flags & MIME_PART_F_BAD_CONTENT_TYPE) == 0)
		pt->flags |= MIME_PART_F_NO_CONTENT_TYPE;
	if (parent != NULL && str_ieq(parent->type, "multipart") &&
	    str_ieq(parent->subtype, "digest"))
		set_type(pt, "message", "rfc822");
	else
		set_type(pt, "text", "plain");
}

static bool limit_reached(const struct mime_parser *p, const struct frame *f)
{
	return f->depth >= p->lim.max_depth || p->nparts >= p->lim.max_parts;
}

/* The header of f is complete: decides how its body is read. */
static void header_done(struct mime_parser *p, struct frame *f)
{
	struct mime_part *pt = f->part;
	apply_default_type(pt);
	f->phase = PH_BODY;
	if (str_ieq(pt->type, "multipart")) {
		const char *b = mime_params_get(&pt->params, "boundary");
		if (b == NULL || *b == '\0' || strlen(b) > MIME_BOUNDARY_MAX) {
			set_type(pt, "text", "plain");
			pt->flags |= MIME_PART_F_BAD_CONTENT_TYPE;
		} else if (limit_reached(p, f)) {
			make_opaque(pt);
		} else {
			f->boundary = x_strdup(b);
			f->blen = strlen(b);
			f->phase = PH_PREAMBLE;
			update_active(p);
		}
	} else if (str_ieq(pt->type, "message") &&
		   (str_ieq(pt->subtype, "rfc822") || str_ieq(pt->subtype, "global"))) {
		enum mime_cte cte = mime_cte_parse(pt->encoding);
		if (cte != MIME_CTE_7BIT && cte != MIME_CTE_8BIT && cte != MIME_CTE_BINARY) {
			make_opaque(pt);
		} else if (limit_reached(p, f)) {
			make_opaque(pt);
		} else {
			pt->flags |= MIME_PART_F_MESSAGE;
			struct frame *c = push_part(p, pt, pt->body_offset, true);
			c->lf_at_hdr = f->lf_at_body;
			c->bare_at_hdr = f->bare_at_body;
		}
	}
}

static void on_field(struct mime_parser *p, struct mime_part *pt,
		     const struct mime_header_field *fld)
{
	if (fld->truncated)
		pt->flags |= MIME_PART_F_HEADER_TRUNCATED;
	if (p->cb != NULL)
		p->cb(p->cb_ctx, pt, fld);
	mime_part_apply_field(pt, fld);
}

/* The header of f ended at the current position (with lf/bare counts given). */
static void header_end(struct mime_parser *p, struct frame *f, uint64_t lf, uint64_t bare)
{
	struct mime_part *pt = f->part;
	pt->body_offset = pt->hdr_offset + mime_header_parser_offset(&p->hp);
	f->lf_at_body = lf;
	f->bare_at_body = bare;
	pt->hdr_lines = lf - f->lf_at_hdr;
	pt->hdr_bare_lf = bare - f->bare_at_hdr;
	header_done(p, f);
}

/* Gives bytes of a non-boundary line to the innermost part. */
static void deliver(struct mime_parser *p, const char *data, size_t n)
{
	while (n > 0) {
		struct frame *f = top(p);
		if (f->phase != PH_HEADER)
			return;
		struct mime_header_field fld;
		size_t used;
		int r = mime_header_parser_feed(&p->hp, data, n, &used, &fld);
		data += used;
		n -= used;
		if (r == MIME_HEADER_FIELD)
			on_field(p, f->part, &fld);
		else if (r == MIME_HEADER_END)
			header_end(p, f, p->lf, p->bare_lf);
	}
}

/* Body end and line counts of a part closed as ei says. */
static void set_end(struct mime_part *pt, const struct frame *f, const struct endinfo *ei)
{
	uint64_t lfs, bares;
	bool ends_lf;
	if (ei->at_eof) {
		pt->end_offset = ei->pos;
		lfs = ei->lf - f->lf_at_body;
		bares = ei->bare_lf - f->bare_at_body;
		ends_lf = ei->ends_with_lf;
	} else if (ei->have_prev && ei->prev_start >= pt->body_offset) {
		/* the line break before the boundary belongs to it (RFC 2046 5.1.1) */
		pt->end_offset = ei->prev_start + ei->prev_content_len;
		lfs = ei->lf - f->lf_at_body - 1;
		bares = ei->bare_lf - f->bare_at_body - (ei->prev_bare ? 1 : 0);
		ends_lf = ei->prev_content_len == 0 && ei->prev_start > pt->body_offset;
	} else {
		pt->end_offset = pt->body_offset;
		lfs = bares = 0;
		ends_lf = true;
	}
	pt->body_lines = lfs + (pt->end_offset > pt->body_offset && !ends_lf ? 1 : 0);
	pt->body_bare_lf = bares;
}

/* Ends the header of a part cut short by a boundary or the end of input. */
static void close_header(struct mime_parser *p, struct frame *f, const struct endinfo *ei)
{
	struct mime_header_field fld;
	while (mime_header_parser_finish(&p->hp, &fld) == MIME_HEADER_FIELD)
		on_field(p, f->part, &fld);
	f->part->flags |= MIME_PART_F_NO_HEADER_END;
	header_end(p, f, ei->lf, ei->bare_lf);
}

/* Closes the innermost open part. */
static void pop_frame(struct mime_parser *p, const struct endinfo *ei)
{
	struct frame *f = top(p);
	struct mime_part *pt = f->part;
	if (f->phase == PH_HEADER) {
		close_header(p, f, ei);
		if (top(p) != f)
			return; /* a message part opened its (empty) enclosed message */
	}
	set_end(pt, f, ei);
	if (f->boundary != NULL && f->phase != PH_EPILOGUE)
		pt->flags |= MIME_PART_F_NO_END_BOUNDARY;
	if (f->boundary != NULL && pt->children == NULL) {
		struct mime_part *c = mime_part_new(pt);
		c->hdr_offset = c->body_offset = c->end_offset = pt->end_offset;
		c->type = x_strdup("text");
		c->subtype = x_strdup("plain");
		c->flags = MIME_PART_F_SYNTHETIC | MIME_PART_F_NO_CONTENT_TYPE;
	}
	x_free(&f->boundary);
	p->nstack--;
}

/* Index+1 of the multipart whose boundary the line is, 0 if none; *close_r for "--b--". */
static size_t match_boundary(const struct mime_parser *p, const char *line, size_t len,
			     bool *close_r)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len < 3 || line[0] != '-' || line[1] != '-')
		return 0;
	for (size_t i = p->nstack; i > 0; i--) {
		const struct frame *f = &p->stack[i - 1];
		if (f->boundary == NULL || f->phase == PH_EPILOGUE ||
		    memcmp(line + 2, f->boundary, f->blen < len - 2 ? f->blen : len - 2) != 0)
			continue;
		if (len == 2 + f->blen + 2 && line[len - 1] == '-' && line[len - 2] == '-') {
			*close_r = true;
			return i;
		}
		if (len == 2 + f->blen && p->nparts < p->lim.max_parts) {
			*close_r = false;
			return i;
		}
	}
	return 0;
}

static void save_end(const struct mime_parser *p, struct endinfo *ei, bool at_eof)
{
	ei->at_eof = at_eof;
	ei->pos = at_eof ? p->offset : p->line_start;
	ei->lf = p->lf;
	ei->bare_lf = p->bare_lf;
	ei->have_prev = p->have_prev;
	ei->prev_bare = p->prev_bare;
	ei->prev_start = p->prev_start;
	ei->prev_content_len = p->prev_content_len;
	ei->ends_with_lf = p->cur_byte == '\n';
}

/* A boundary line of the multipart at stack index k-1 was read (its LF not yet counted). */
static void boundary_seen(struct mime_parser *p, size_t k, bool close, const struct endinfo *ei)
{
	while (p->nstack > k)
		pop_frame(p, ei);
	struct frame *f = top(p);
	f->phase = close ? PH_EPILOGUE : PH_CHILD;
	update_active(p);
}

/* The line just read ends here (the LF at offset-1 has been received). */
static void count_lf(struct mime_parser *p, bool cr_before)
{
	p->lf++;
	if (!cr_before)
		p->bare_lf++;
}

static void finish_line(struct mime_parser *p, bool cr_before)
{
	p->have_prev = true;
	p->prev_start = p->line_start;
	p->prev_content_len = p->offset - 1 - p->line_start - (cr_before ? 1 : 0);
	p->prev_bare = !cr_before;
	p->line_start = p->offset;
	p->prefix_len = 0;
	p->decided = !p->active;
}

/* The held prefix is a whole line (ending in LF). */
static void prefix_line(struct mime_parser *p)
{
	bool close = false;
	bool cr = p->prefix_len >= 2 && p->prefix[p->prefix_len - 2] == '\r';
	size_t k = match_boundary(p, p->prefix, p->prefix_len, &close);
	if (k == 0) {
		count_lf(p, cr);
		deliver(p, p->prefix, p->prefix_len);
		finish_line(p, cr);
		return;
	}
	struct endinfo ei;
	save_end(p, &ei, false);
	boundary_seen(p, k, close, &ei);
	count_lf(p, cr);
	if (!close)
		push_part(p, top(p)->part, p->offset, false);
	finish_line(p, cr);
}

static bool could_be_boundary(const struct mime_parser *p)
{
	return p->prefix_len < PREFIX_MAX && p->prefix[0] == '-' &&
	       (p->prefix_len < 2 || p->prefix[1] == '-');
}

/* Holds bytes of an undecided line; returns how many were used. */
static size_t feed_prefix(struct mime_parser *p, const char *data, size_t len)
{
	size_t n = 0;
	while (n < len) {
		char c = data[n++];
		p->prefix[p->prefix_len++] = c;
		p->offset++;
		p->cur_byte = c;
		if (c == '\n') {
			prefix_line(p);
			return n;
		}
		if (!could_be_boundary(p)) {
			p->decided = true;
			deliver(p, p->prefix, p->prefix_len);
			p->prefix_len = 0;
			return n;
		}
	}
	return n;
}

/* Body bytes while no multipart waits for a boundary (no line can be one) and the open
 * part is past its header (no line goes to a header reader): only the LFs are counted, and
 * the last line is remembered as finish_line would. The same state as line by line. */
static void feed_body_run(struct mime_parser *p, const char *s, size_t len)
{
	const char *end = s + len, *last_nl = NULL;
	char before_last = 0;
	uint64_t lfs = 0, bare = 0;
	for (const char *q = s; q < end;) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		if (nl == NULL)
			break;
		char before = nl > s ? nl[-1] : p->cur_byte;
		lfs++;
		bare += before != '\r';
		last_nl = nl;
		before_last = before;
		q = nl + 1;
	}
	p->lf += lfs;
	p->bare_lf += bare;
	if (last_nl != NULL) {
		uint64_t nl_at = p->offset + (uint64_t)(last_nl - s); /* offset of the last LF */
		bool cr = before_last == '\r';
		p->have_prev = true;
		/* the last whole line starts after the LF before it, or where the line open
		   before this run started */
		const char *q = last_nl;
		while (q > s && q[-1] != '\n')
			q--;
		uint64_t start = q > s ? p->offset + (uint64_t)(q - s) : p->line_start;
		p->prev_start = start;
		p->prev_content_len = nl_at - start - (cr ? 1 : 0);
		p->prev_bare = !cr;
		p->line_start = nl_at + 1;
		p->prefix_len = 0;
	}
	p->offset += len;
	p->cur_byte = end[-1];
}

void mime_parser_feed(struct mime_parser *p, const void *data, size_t len)
{
	const char *s = data;
	assert(!p->finished);
	while (len > 0) {
		size_t n;
		if (p->decided && !p->active && top(p)->phase != PH_HEADER) {
			feed_body_run(p, s, len);
			return;
		}
		if (!p->decided) {
			n = feed_prefix(p, s, len);
		} else {
			const char *nl = memchr(s, '\n', len);
			n = nl != NULL ? (size_t)(nl - s) + 1 : len;
			char before = nl == NULL ? 0 : nl > s ? nl[-1] : p->cur_byte;
			p->offset += n;
			p->cur_byte = s[n - 1];
			if (nl != NULL)
				count_lf(p, before == '\r');
			deliver(p, s, n);
			if (nl != NULL)
				finish_line(p, before == '\r');
		}
		s += n;
		len -= n;
	}
}

struct mime_part *mime_parser_finish(struct mime_parser *p)
{
	struct endinfo ei;
	assert(!p->finished);
	p->finished = true;
	if (p->prefix_len > 0) {
		/* a last line without LF: maybe "--b--" */
		bool close = false;
		size_t k = match_boundary(p, p->prefix, p->prefix_len, &close);
		if (k == 0) {
			deliver(p, p->prefix, p->prefix_len);
		} else {
			save_end(p, &ei, false);
			boundary_seen(p, k, close, &ei);
			if (!close)
				push_part(p, top(p)->part, p->offset, false);
		}
	}
	save_end(p, &ei, true);
	ei.ends_with_lf = p->cur_byte == '\n';
	while (p->nstack > 0)
		pop_frame(p, &ei);
	struct mime_part *root = p->root;
	p->root = NULL;
	return root;
}

void mime_parser_free(struct mime_parser **pp)
{
	struct mime_parser *p = *pp;
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nstack; i++)
		x_free(&p->stack[i].boundary);
	x_free(&p->stack);
	mime_header_parser_deinit(&p->hp);
	mime_part_free(&p->root);
	x_free(pp);
}

struct mime_part *mime_parse(const void *data, size_t len, const struct mime_parser_limits *l)
{
	struct mime_parser *p = mime_parser_new(l);
	mime_parser_feed(p, data, len);
	struct mime_part *root = mime_parser_finish(p);
	mime_parser_free(&p);
	return root;
}
