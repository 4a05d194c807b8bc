/* mbox-parse: reading an mbox file line by line with bounded memory: splitting it into
 * messages (mbox_parse), and copying one message in the reader's, the rewriter's or the
 * appender's view (mbox_copy).
 *
 * Rules (doc/store-format.md, RFC 4155): a message starts at a line beginning "From " at
 * the start of the file or after a blank line; it ends before the blank line that precedes
 * the next From_ line (or the end of the file). Content-Length is never used to split:
 * a wrong one cannot swallow mail. Quoting is mboxrd: a line matching ^>*From  gets one
 * more '>' when written and loses one when read. The status headers (Status, X-Status,
 * X-Keywords, X-UID, X-IMAPbase, X-IMAP), Content-Length and Lines are hidden from readers.
 * Only the first MBOX_LINE_LOOK bytes of a line decide what it is, the same way in every
 * view, so sizes computed by the parser match what the reader view writes.
 */
#include "mbox-private.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct reader {
	int fd;
	char *buf;
	size_t pos, len;
	uint64_t off; /* file offset of buf[0] */
	uint64_t end;
	bool line_start;
};

struct piece {
	const char *p;
	size_t n;
	uint64_t off;
	bool start, end; /* the piece starts / ends a line */
};

enum field_class {
	FC_KEEP,
	FC_STATUS,
	FC_XSTATUS,
	FC_KEYWORDS,
	FC_UID,
	FC_IMAPBASE,
	FC_IMAP,
	FC_CLEN,
	FC_LINES
};

static const char *const field_names[] = {
    [FC_STATUS] = "Status",	  [FC_XSTATUS] = "X-Status",	[FC_KEYWORDS] = "X-Keywords",
    [FC_UID] = "X-UID",		  [FC_IMAPBASE] = "X-IMAPbase", [FC_IMAP] = "X-IMAP",
    [FC_CLEN] = "Content-Length", [FC_LINES] = "Lines",
};

static bool fc_ours(enum field_class fc)
{
	return fc >= FC_STATUS && fc <= FC_IMAP;
}

/* Content-Length and Lines: written by mutt and others when they rewrite a file, so hidden
 * from readers (a message must not change under its UID) and left out of the hash. */
static bool fc_length(enum field_class fc)
{
	return fc == FC_CLEN || fc == FC_LINES;
}

uint64_t mbox_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

static void reader_init(struct reader *r, int fd, uint64_t start, uint64_t end)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->buf = x_malloc(MBOX_CHUNK);
	r->off = start;
	r->end = end;
	r->line_start = true;
}

static int reader_fill(struct reader *r, struct buf *err)
{
	memmove(r->buf, r->buf + r->pos, r->len - r->pos);
	r->off += r->pos;
	r->len -= r->pos;
	r->pos = 0;
	while (r->len < MBOX_CHUNK && r->off + r->len < r->end) {
		uint64_t left = r->end - (r->off + r->len);
		size_t want = MBOX_CHUNK - r->len < left ? MBOX_CHUNK - r->len : (size_t)left;
		ssize_t n = pread(r->fd, r->buf + r->len, want, (off_t)(r->off + r->len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return store_err_errno(err, "read", "mbox");
		if (n == 0) { /* shorter than we were told: it ends here */
			r->end = r->off + r->len;
			break;
		}
		r->len += (size_t)n;
	}
	return 0;
}

/* The next piece of a line; at a line start it holds MBOX_LINE_LOOK bytes when the line
 * has them. 1, 0 at the end, -1 error. */
static int reader_piece(struct reader *r, struct piece *pc, struct buf *err)
{
	size_t avail = r->len - r->pos;
	bool more = r->off + r->len < r->end;
	if (more && (avail == 0 || (r->line_start && avail < MBOX_LINE_LOOK))) {
		if (reader_fill(r, err) < 0)
			return -1;
		avail = r->len - r->pos;
	}
	if (avail == 0)
		return 0;
	const char *p = r->buf + r->pos;
	const char *nl = memchr(p, '\n', avail);
	size_t n = nl != NULL ? (size_t)(nl - p) + 1 : avail;
	pc->p = p;
	pc->n = n;
	pc->off = r->off + r->pos;
	pc->start = r->line_start;
	pc->end = nl != NULL || r->off + r->len >= r->end;
	r->pos += n;
	r->line_start = pc->end;
	return 1;
}

static bool piece_blank(const struct piece *pc)
{
	return pc->start && pc->end &&
	       ((pc->n == 1 && pc->p[0] == '\n') ||
		(pc->n == 2 && pc->p[0] == '\r' && pc->p[1] == '\n'));
}

static bool piece_from(const struct piece *pc)
{
	return pc->start && pc->n >= 5 && memcmp(pc->p, "From ", 5) == 0;
}

/* ^>+From  (a quoted From_ line). */
static bool piece_quoted(const struct piece *pc)
{
	size_t i = 0;
	while (i < pc->n && pc->p[i] == '>')
		i++;
	return pc->start && i > 0 && pc->n - i >= 5 && memcmp(pc->p + i, "From ", 5) == 0;
}

/* ^>*From  (a line the writer must quote). */
static bool piece_needs_quote(const struct piece *pc)
{
	return piece_from(pc) || piece_quoted(pc);
}

static enum field_class field_classify(const struct piece *pc)
{
	const char *colon = memchr(pc->p, ':', pc->n);
	if (colon == NULL)
		return FC_KEEP;
	size_t len = (size_t)(colon - pc->p);
	for (size_t i = FC_STATUS; i <= FC_LINES; i++)
		if (strlen(field_names[i]) == len && strncasecmp(pc->p, field_names[i], len) == 0)
			return (enum field_class)i;
	return FC_KEEP;
}

/* --- splitting --- */

struct parse {
	struct mbox_msg m;
	int part; /* 0 the From_ line, 1 header, 2 body */
	enum field_class fc;
	struct buf field;
	struct buf from;
	uint64_t stripped, quoted, blank_off;
	bool in_msg, prev_blank;
};

static void field_done(struct parse *ps)
{
	struct buf *f = &ps->field;
	if (ps->fc == FC_KEEP || f->len == 0 || f->overflow)
		goto out;
	char *v = strchr(f->data, ':') + 1;
	for (char *p = v; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n' || *p == '\t')
			*p = ' ';
	while (*v == ' ')
		v++;
	struct mbox_msg *m = &ps->m;
	for (const char *p = v; ps->fc == FC_STATUS && *p != '\0'; p++)
		m->flags |= *p == 'R' ? STORE_FLAG_SEEN : 0;
	for (const char *p = v; ps->fc == FC_XSTATUS && *p != '\0'; p++)
		m->flags |= *p == 'A'	? STORE_FLAG_ANSWERED
			    : *p == 'F' ? STORE_FLAG_FLAGGED
			    : *p == 'T' ? STORE_FLAG_DRAFT
			    : *p == 'D' ? STORE_FLAG_DELETED
					: 0;
	if (ps->fc == FC_KEYWORDS && m->keywords == NULL)
		m->keywords = x_strdup(v);
	if (ps->fc == FC_UID)
		m->uid = (uint32_t)strtoul(v, NULL, 10);
	if (ps->fc == FC_IMAPBASE && m->base_validity == 0) {
		char *end;
		m->base_validity = (uint32_t)strtoul(v, &end, 10);
		m->base_next = (uint32_t)strtoul(end, &end, 10);
		m->base_keywords = x_strdup(end);
	}
out:
	buf_reset(f);
	f->overflow = false;
}

/* The date of a From_ line "From SENDER Www Mmm dd hh:mm:ss yyyy". */
static int64_t from_date(const char *line)
{
	static const char *const months = "JanFebMarAprMayJunJulAugSepOctNovDec";
	for (const char *p = line + 5; *p != '\0'; p++) {
		if (p[0] != ' ' || strlen(p) < 21 || p[4] != ' ' || p[8] != ' ')
			continue;
		const char *mon = strstr(months, (char[]){p[5], p[6], p[7], 0});
		if (mon == NULL || (mon - months) % 3 != 0)
			continue;
		struct tm tm = {.tm_mon = (int)(mon - months) / 3};
		int year;
		if (sscanf(p + 9, "%d %d:%d:%d %d", &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			   &tm.tm_sec, &year) != 5)
			continue;
		tm.tm_year = year - 1900;
		return (int64_t)timegm(&tm);
	}
	return 0;
}

static int msg_done(struct parse *ps, uint64_t end, int (*cb)(void *, const struct mbox_msg *),
		    void *ctx)
{
	struct mbox_msg *m = &ps->m;
	field_done(ps);
	if (ps->part == 0)
		m->hdr_off = end;
	m->end_off = end;
	m->content_end = ps->prev_blank && ps->blank_off >= m->hdr_off ? ps->blank_off : end;
	uint64_t span = m->content_end - m->hdr_off, cut = ps->stripped + ps->quoted;
	m->size = span > cut ? span - cut : 0;
	m->idate = from_date(buf_cstr(&ps->from));
	int r = cb(ctx, m);
	x_free(&m->keywords);
	x_free(&m->base_keywords);
	return r;
}

static void msg_begin(struct parse *ps, const struct piece *pc)
{
	memset(&ps->m, 0, sizeof(ps->m));
	ps->m.from_off = pc->off;
	ps->m.hash = MBOX_HASH_INIT;
	ps->m.from_hash = MBOX_HASH_INIT;
	ps->part = 0;
	ps->fc = FC_KEEP;
	ps->stripped = ps->quoted = 0;
	ps->in_msg = true;
	buf_reset(&ps->from);
}

/* A piece that starts a line: message boundaries, header fields, quoting. */
static int parse_line_start(struct parse *ps, const struct piece *pc,
			    int (*cb)(void *, const struct mbox_msg *), void *ctx)
{
	if ((!ps->in_msg || ps->prev_blank) && piece_from(pc)) {
		if (ps->in_msg && msg_done(ps, pc->off, cb, ctx) < 0)
			return -1;
		msg_begin(ps, pc);
	} else if (!ps->in_msg) {
		return 1;
	} else if (ps->part == 1) {
		if (piece_blank(pc)) {
			field_done(ps);
			ps->part = 2;
			ps->fc = FC_KEEP;
		} else if (pc->p[0] != ' ' && pc->p[0] != '\t') {
			field_done(ps);
			ps->fc = field_classify(pc);
		}
	}
	if (ps->part >= 1 && piece_quoted(pc))
		ps->quoted++;
	ps->prev_blank = piece_blank(pc);
	if (ps->prev_blank)
		ps->blank_off = pc->off;
	return 0;
}

static void parse_bytes(struct parse *ps, const struct piece *pc)
{
	struct mbox_msg *m = &ps->m;
	if (ps->part == 0) {
		if (ps->from.len < MBOX_LINE_LOOK)
			buf_append(&ps->from, pc->p, pc->n);
		m->hash = mbox_hash(m->hash, pc->p, pc->n);
		if (pc->start) /* as mbox_line_hash sees it: the first MBOX_LINE_LOOK bytes */
			m->from_hash = mbox_hash(MBOX_HASH_INIT, pc->p,
						 pc->n < MBOX_LINE_LOOK ? pc->n : MBOX_LINE_LOOK);
		if (pc->end) {
			ps->part = 1;
			m->hdr_off = pc->off + pc->n;
		}
		return;
	}
	if (ps->part != 1)
		return;
	if (fc_ours(ps->fc) || fc_length(ps->fc))
		ps->stripped += pc->n;
	if (ps->fc == FC_CLEN)
		m->has_content_length = true;
	if (fc_ours(ps->fc))
		buf_append(&ps->field, pc->p, pc->n);
	else if (!fc_length(ps->fc))
		m->hash = mbox_hash(m->hash, pc->p, pc->n);
}

int mbox_parse(int fd, uint64_t start, uint64_t end, int (*cb)(void *ctx, const struct mbox_msg *m),
	       void *ctx, struct buf *err)
{
	struct reader r;
	reader_init(&r, fd, start, end);
	struct parse ps = {0};
	buf_init(&ps.field, MBOX_FIELD_MAX);
	struct piece pc;
	int ret = 0, got;
	while (ret == 0 && (got = reader_piece(&r, &pc, err)) > 0) {
		if (pc.start)
			ret = parse_line_start(&ps, &pc, cb, ctx);
		if (ret == 0)
			parse_bytes(&ps, &pc);
	}
	if (ret == 0 && got < 0)
		ret = -1;
	if (ret == 0 && ps.in_msg)
		ret = msg_done(&ps, r.end, cb, ctx);
	buf_free(&ps.field);
	buf_free(&ps.from);
	x_free(&r.buf);
	return ret;
}

int mbox_line_hash(int fd, uint64_t off, uint64_t *hash_r, struct buf *err)
{
	char line[MBOX_LINE_LOOK];
	ssize_t n = pread(fd, line, sizeof(line), (off_t)off);
	if (n < 0)
		return store_err_errno(err, "read", "mbox");
	char *nl = memchr(line, '\n', (size_t)n);
	if (n < 5 || memcmp(line, "From ", 5) != 0)
		return store_err(err, "no From_ line at %llu", (unsigned long long)off);
	*hash_r = mbox_hash(MBOX_HASH_INIT, line, nl != NULL ? (size_t)(nl - line) + 1 : (size_t)n);
	return 0;
}

/* --- copying --- */

struct out {
	int fd;
	struct buf b;
	uint64_t total;
	bool last_nl; /* the last byte written was '\n' */
	int failed;   /* errno of a failed write */
};

static void out_write(struct out *o, const void *p, size_t n)
{
	if (n == 0 || o->failed)
		return;
	buf_append(&o->b, p, n);
	o->total += n;
	o->last_nl = ((const char *)p)[n - 1] == '\n';
	if (o->b.len >= MBOX_CHUNK) {
		if (write_full(o->fd, o->b.data, o->b.len) < 0)
			o->failed = errno ? errno : EIO;
		buf_reset(&o->b);
	}
}

static int out_flush(struct out *o, struct buf *err)
{
	if (!o->failed && o->b.len > 0 && write_full(o->fd, o->b.data, o->b.len) < 0)
		o->failed = errno ? errno : EIO;
	buf_free(&o->b);
	if (o->failed) {
		errno = o->failed;
		return store_err_errno(err, "write", "mailbox");
	}
	return 0;
}

struct copy {
	enum mbox_view view;
	const char *status;
	struct out o;
	int part; /* 0 the From_ line, 1 header, 2 body */
	enum field_class fc;
};

/* One piece in the copy's view. */
static void copy_piece(struct copy *c, const struct piece *pc)
{
	size_t skip = 0;
	if (pc->start && c->part == 1) {
		if (piece_blank(pc)) {
			out_write(&c->o, c->status, strlen(c->status));
			c->part = 2;
			c->fc = FC_KEEP;
		} else if (pc->p[0] != ' ' && pc->p[0] != '\t') {
			c->fc = field_classify(pc);
		}
	}
	if (pc->start && c->part >= 1) {
		if (c->view == MBOX_VIEW_READER && piece_quoted(pc))
			skip = 1;
		if (c->view == MBOX_VIEW_APPEND && piece_needs_quote(pc))
			out_write(&c->o, ">", 1);
	}
	bool drop =
	    c->part == 1 && (fc_ours(c->fc) || (c->view == MBOX_VIEW_READER && fc_length(c->fc)));
	if (!drop)
		out_write(&c->o, pc->p + skip, pc->n - skip);
	if (c->part == 0 && pc->end)
		c->part = 1;
}

int mbox_copy(int fd, uint64_t start, uint64_t end, enum mbox_view view, const char *status,
	      int out_fd, uint64_t *written_r, struct buf *err)
{
	struct reader r;
	reader_init(&r, fd, start, end);
	struct copy c = {.view = view,
			 .status = status ? status : "",
			 .o = {.fd = out_fd},
			 .part = view == MBOX_VIEW_REWRITE ? 0 : 1};
	struct piece pc;
	int got;
	while ((got = reader_piece(&r, &pc, err)) > 0)
		copy_piece(&c, &pc);
	x_free(&r.buf);
	if (view != MBOX_VIEW_READER && !c.o.last_nl && c.o.total > 0)
		out_write(&c.o, "\n", 1);
	if (view != MBOX_VIEW_READER && c.part < 2) { /* a header without an end */
		out_write(&c.o, c.status, strlen(c.status));
		if (view == MBOX_VIEW_REWRITE)
			out_write(&c.o, "\n", 1);
	}
	if (written_r != NULL)
		*written_r = c.o.total;
	if (got < 0) {
		buf_free(&c.o.b);
		return -1;
	}
	return out_flush(&c.o, err);
}

void mbox_status_format(struct buf *out, uint32_t flags, const char *keywords, uint32_t uid)
{
	if (flags & STORE_FLAG_SEEN)
		buf_append_str(out, "Status: RO\n");
	if (flags &
	    (STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED | STORE_FLAG_DRAFT | STORE_FLAG_DELETED)) {
		buf_append_str(out, "X-Status: ");
		if (flags & STORE_FLAG_ANSWERED)
			buf_append_char(out, 'A');
		if (flags & STORE_FLAG_FLAGGED)
			buf_append_char(out, 'F');
		if (flags & STORE_FLAG_DRAFT)
			buf_append_char(out, 'T');
		if (flags & STORE_FLAG_DELETED)
			buf_append_char(out, 'D');
		buf_append_char(out, '\n');
	}
	if (keywords != NULL && keywords[0] != '\0')
		buf_printf(out, "X-Keywords: %s\n", keywords);
	if (uid != 0)
		buf_printf(out, "X-UID: %u\n", uid);
}

void mbox_from_line(struct buf *out, const char *sender, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	char date[64];
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	bool ok = sender != NULL && sender[0] != '\0' && strlen(sender) < MBOX_LINE_LOOK / 2;
	for (const char *p = sender; ok && *p != '\0'; p++)
		ok = (unsigned char)*p > ' ' && *p != 0x7f;
	buf_printf(out, "From %s %s\n", ok ? sender : "MAILER-DAEMON", date);
}
