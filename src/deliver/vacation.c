/* vacation: one message in, at most one answer out (vacation(1), RFC 3834).
 *
 * vacation_process() reads the header section (bounded by vacation_header_max_size):
 * the sender is -s, else Return-Path:, else the From_ line (the envelope sender, RFC
 * 3834 4; never From:); lib-autoreply says whether the sender, a field or the recipient
 * fields rule an answer out; the database (vacation-db.c) whether this sender had one
 * within the interval or is excluded. The answer is the message file (header and body,
 * "$SUBJECT" replaced by the original subject) with To:, In-Reply-To:, References: and
 * Auto-Submitted: auto-replied added (and From:, Subject:, Date:, Message-ID: when the
 * file has none), sent from <> by deliver-autoreply.c; the sender is noted only once it
 * was sent. deliver_vacation() is the delivery agent's use of it for a user whose folder
 * holds .vacation.msg and a Tern .vacation.db.
 */
#include "vacation.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "autoreply.h"
#include "conf.h"
#include "deliver-int.h"
#include "log.h"
#include "mime-header.h"
#include "util.h"
#include "xalloc.h"

#define VAC_DEFAULT_INTERVAL (7 * 86400) /* RFC 3834 2 and vacation(1): a week */
#define VAC_CHUNK 8192

/* What the header section says. */
struct vac_msg {
	char *from_line; /* sender of a leading "From " line */
	char *return_path;
	char *subject, *message_id, *references, *in_reply_to;
	const char *refused; /* a field that rules an answer out */
	bool to_me;
	bool too_big;
};

static uint64_t opt_num(const struct conf *c, const char *name, uint64_t dflt)
{
	return c != NULL ? conf_num(c, name) : dflt;
}

static void vac_msg_free(struct vac_msg *m)
{
	x_free(&m->from_line);
	x_free(&m->return_path);
	x_free(&m->subject);
	x_free(&m->message_id);
	x_free(&m->references);
	x_free(&m->in_reply_to);
}

struct mine_ctx {
	const struct vacation_cfg *cfg;
	const char *delims;
};

static bool mine(void *ctx, const char *addr)
{
	const struct mine_ctx *m = ctx;
	for (size_t i = 0; m->cfg->names[i] != NULL; i++)
		if (autoreply_address_is(addr, m->cfg->names[i], m->delims))
			return true;
	return false;
}

/* "<addr>" or "addr" of a Return-Path: value; "" for <>. */
static char *path_addr(const char *v)
{
	const char *lt = strchr(v, '<');
	if (lt == NULL)
		return x_strndup(v, strcspn(v, " \t"));
	const char *gt = strchr(lt, '>');
	return x_strndup(lt + 1, gt != NULL ? (size_t)(gt - lt - 1) : strlen(lt + 1));
}

static void take(char **slot, const struct mime_header_field *f)
{
	if (*slot == NULL)
		*slot = x_strndup(f->value, f->value_len);
}

static void note_field(struct vac_msg *m, const struct mime_header_field *f,
		       const struct mine_ctx *mc)
{
	if (f->invalid)
		return;
	char *name = x_strndup(f->name, f->name_len);
	if (m->refused == NULL)
		m->refused = autoreply_field_refused(name, f->value);
	if (strcasecmp(name, "Return-Path") == 0)
		take(&m->return_path, f);
	else if (strcasecmp(name, "Subject") == 0)
		take(&m->subject, f);
	else if (strcasecmp(name, "Message-ID") == 0)
		take(&m->message_id, f);
	else if (strcasecmp(name, "References") == 0)
		take(&m->references, f);
	else if (strcasecmp(name, "In-Reply-To") == 0)
		take(&m->in_reply_to, f);
	else if (!m->to_me && autoreply_is_recipient_field(name))
		m->to_me = autoreply_value_has(f->value, mine, (void *)mc);
	x_free(&name);
}

/* Reads until the end of the header section (or max bytes) into b. -1 on a read error. */
static int read_header(vacation_read_fn *rd, void *ctx, uint64_t max, struct buf *b)
{
	char chunk[VAC_CHUNK];
	for (;;) {
		size_t scan = b->len > 3 ? b->len - 3 : 0;
		ssize_t n = rd(ctx, chunk, sizeof(chunk));
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		buf_append(b, chunk, (size_t)n);
		const char *d = b->data;
		if ((b->len >= 1 && d[0] == '\n') || (b->len >= 2 && memcmp(d, "\r\n", 2) == 0))
			return 0;
		for (size_t i = scan; i + 1 < b->len; i++)
			if (d[i] == '\n' && (d[i + 1] == '\n' ||
					     (d[i + 1] == '\r' && i + 2 < b->len && d[i + 2] == '\n')))
				return 0;
		if (b->len > max)
			return 0;
	}
}

/* Parses the header section in text (a From_ line first is the envelope sender). */
static void parse_header(const char *text, size_t len, uint64_t max, const struct mine_ctx *mc,
			 struct vac_msg *m)
{
	if (len >= 5 && memcmp(text, "From ", 5) == 0) {
		const char *nl = memchr(text, '\n', len);
		size_t l = nl != NULL ? (size_t)(nl - text) + 1 : len;
		m->from_line = x_strndup(text + 5, strcspn(text + 5, " \t\r\n"));
		text += l;
		len -= l;
	}
	struct mime_header_parser hp;
	mime_header_parser_init(&hp, 0);
	struct mime_header_field f;
	size_t used = 0, off = 0;
	int r = MIME_HEADER_MORE;
	while (off < len && off < max) {
		r = mime_header_parser_feed(&hp, text + off, len - off, &used, &f);
		off += used;
		if (r == MIME_HEADER_FIELD)
			note_field(m, &f, mc);
		if (r == MIME_HEADER_END || (r == MIME_HEADER_MORE && used == 0))
			break;
	}
	m->too_big = r != MIME_HEADER_END && len > max;
	while (r != MIME_HEADER_END && !m->too_big &&
	       (r = mime_header_parser_finish(&hp, &f)) == MIME_HEADER_FIELD)
		note_field(m, &f, mc);
	mime_header_parser_deinit(&hp);
}

static void debug(const struct vacation_cfg *cfg, const char *fmt, const char *a)
{
	if (cfg->debug) {
		fputs("vacation: ", stderr);
		fprintf(stderr, fmt, a != NULL ? log_safe(a, strlen(a), 300) : "");
		fputc('\n', stderr);
	}
}

/* The message file with "$SUBJECT" replaced and CRLF made LF. */
static char *expand_msg(const char *text, const char *subject)
{
	struct buf b = BUF_INIT;
	for (const char *p = text; *p != '\0'; p++) {
		if (strncmp(p, "$SUBJECT", 8) == 0) {
			for (const char *s = subject != NULL ? subject : ""; *s != '\0'; s++)
				buf_append_char(&b, (unsigned char)*s < 0x20 ? ' ' : *s);
			p += 7;
		} else if (!(p[0] == '\r' && p[1] == '\n')) {
			buf_append_char(&b, *p);
		}
	}
	return buf_steal(&b);
}

/* Does text start with a header field ("Name:")? Else it is all body. */
static bool starts_with_field(const char *text)
{
	size_t n = strcspn(text, ":\n \t");
	return n > 0 && text[n] == ':';
}

/* Fields of the file kept in the answer, and which of ours it already has. */
struct msg_head {
	struct buf kept;
	bool from, subject, date, msgid, irt, refs, mime;
	size_t body; /* offset of the body in the text */
};

static void scan_msg_head(const char *text, struct msg_head *h)
{
	if (!starts_with_field(text))
		return;
	struct mime_header_parser hp;
	mime_header_parser_init(&hp, 0);
	struct mime_header_field f;
	size_t len = strlen(text), off = 0, used;
	int r = MIME_HEADER_MORE;
	while (off < len && r != MIME_HEADER_END) {
		r = mime_header_parser_feed(&hp, text + off, len - off, &used, &f);
		off += used;
		if (r == MIME_HEADER_MORE && off >= len)
			r = mime_header_parser_finish(&hp, &f);
		if (r != MIME_HEADER_FIELD || f.invalid)
			continue;
		h->from |= mime_header_field_is(&f, "From");
		h->subject |= mime_header_field_is(&f, "Subject");
		h->date |= mime_header_field_is(&f, "Date");
		h->msgid |= mime_header_field_is(&f, "Message-ID");
		h->irt |= mime_header_field_is(&f, "In-Reply-To");
		h->refs |= mime_header_field_is(&f, "References");
		h->mime |= mime_header_field_is(&f, "MIME-Version") ||
			   mime_header_field_is(&f, "Content-Type");
		/* ours: the answer goes to the sender only, and is always auto-replied */
		if (mime_header_field_is(&f, "To") || mime_header_field_is(&f, "Cc") ||
		    mime_header_field_is(&f, "Bcc") || mime_header_field_is(&f, "Auto-Submitted") ||
		    mime_header_field_is(&f, "Return-Path"))
			continue;
		buf_append(&h->kept, f.name, f.name_len);
		buf_append_char(&h->kept, ':');
		buf_append(&h->kept, f.raw, f.raw_len);
		buf_append_char(&h->kept, '\n');
	}
	h->body = off;
	mime_header_parser_deinit(&hp);
}

static bool has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* The whole answer to sender, from the message file's text. */
static void build_answer(const struct vacation_cfg *cfg, const struct vac_msg *m,
			 const char *sender, const char *file, struct buf *out)
{
	char *text = expand_msg(file, m->subject);
	struct msg_head mh = {.kept = BUF_INIT};
	scan_msg_head(text, &mh);
	char *subject = mh.subject ? NULL : autoreply_subject(m->subject);
	char *refs = mh.refs ? NULL
			     : autoreply_references(m->message_id, m->references, m->in_reply_to);
	const char *host = cfg->conf != NULL ? conf_str(cfg->conf, "hostname") : host_name();
	struct autoreply_head h = {.from = mh.from ? NULL : cfg->from,
				   .to = sender,
				   .subject = subject,
				   .date = mh.date ? 0 : time(NULL),
				   .id_host = mh.msgid ? NULL : host,
				   .in_reply_to = mh.irt ? NULL : m->message_id,
				   .references = refs,
				   .auto_submitted = true};
	autoreply_head_write(&h, out);
	buf_append(out, mh.kept.data, mh.kept.len);
	const char *body = text + mh.body;
	if (!mh.mime && has_8bit(text))
		buf_append_str(out, "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
				    "Content-Transfer-Encoding: 8bit\n");
	buf_append_char(out, '\n');
	/* the file's own empty line after its header was consumed with it */
	buf_append_str(out, body);
	if (out->len > 0 && out->data[out->len - 1] != '\n')
		buf_append_char(out, '\n');
	buf_free(&mh.kept);
	x_free(&subject);
	x_free(&refs);
	x_free(&text);
}

/* Sends the answer and notes it in the database (held locked by the caller). */
static int answer(const struct vacation_cfg *cfg, const struct vac_msg *m, const char *sender,
		  const char *file, struct vacation_db *db, int64_t interval, struct buf *err)
{
	struct buf text = BUF_INIT;
	build_answer(cfg, m, sender, file, &text);
	char *rcpts[2] = {(char *)sender, (char *)cfg->cc};
	int rc = deliver_autoreply_send(cfg->conf, cfg->conf_path, rcpts, cfg->cc != NULL ? 2 : 1,
					text.data, text.len, err);
	buf_free(&text);
	if (rc < 0)
		return VAC_EX_TEMPFAIL;
	debug(cfg, "answered %s", sender);
	int64_t now = (int64_t)time(NULL);
	vacation_db_set(db, sender, now, false);
	if (vacation_db_save(cfg->db_path, db, interval, now, err) < 0)
		return VAC_EX_CANTCREAT; /* sent, but it may be sent again */
	return VAC_EX_OK;
}

/* An address that can go on an envelope and into the database as it is: no blanks,
 * controls, brackets or list separators (a broken Return-Path: gets no answer). */
static bool sender_usable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || strchr("<>,;\"()", *s) != NULL)
			return false;
	return true;
}

/* The decision once the header is read: 0 answer, 1 no answer (debug says why). */
static int refuse(const struct vacation_cfg *cfg, const struct vac_msg *m, const char *sender,
		  const struct mine_ctx *mc)
{
	const char *why = autoreply_sender_refused(sender);
	if (why != NULL) {
		debug(cfg, "no answer: the sender is %s", why);
		return 1;
	}
	if (!sender_usable(sender)) {
		debug(cfg, "no answer: the sender address \"%s\" is not usable", sender);
		return 1;
	}
	if (m->refused != NULL) {
		debug(cfg, "no answer: the message has %s", m->refused);
		return 1;
	}
	if (m->too_big) {
		debug(cfg, "no answer: the header is bigger than vacation_header_max_size", NULL);
		return 1;
	}
	for (size_t i = 0; cfg->names[i] != NULL; i++)
		if (strchr(cfg->names[i], '@') != NULL &&
		    autoreply_address_is(sender, cfg->names[i], mc->delims)) {
			debug(cfg, "no answer: %s is the user's own address", sender);
			return 1;
		}
	if (!m->to_me && !cfg->any_recipient) {
		debug(cfg, "no answer: the user is not in To, Cc, Bcc or Resent-*", NULL);
		return 1;
	}
	return 0;
}

/* With the database locked: answers unless the sender was answered within the interval. */
static int with_db(const struct vacation_cfg *cfg, const struct vac_msg *m, const char *sender,
		   const char *file, struct buf *err)
{
	struct vacation_db db;
	int e = 0;
	if (vacation_db_open(cfg->db_path, opt_num(cfg->conf, "vacation_db_max_size", 4 << 20),
			     (unsigned)opt_num(cfg->conf, "vacation_lock_timeout", 30), false, &db,
			     &e, err) < 0)
		return e == ENOLCK ? VAC_EX_TEMPFAIL : e == EINVAL ? VAC_EX_DATAERR : VAC_EX_CANTCREAT;
	if (cfg->interval != VACATION_UNSET)
		db.interval = cfg->interval;
	int64_t interval = db.interval != VACATION_UNSET
			       ? db.interval
			       : (int64_t)opt_num(cfg->conf, "vacation_interval", VAC_DEFAULT_INTERVAL);
	int64_t now = (int64_t)time(NULL);
	int rc = VAC_EX_OK;
	if (vacation_db_recent(&db, sender, interval, now)) {
		debug(cfg, "no answer: %s was answered within the interval, or is excluded", sender);
		if (cfg->interval != VACATION_UNSET &&
		    vacation_db_save(cfg->db_path, &db, interval, now, err) < 0)
			rc = VAC_EX_CANTCREAT;
	} else {
		rc = answer(cfg, m, sender, file, &db, interval, err);
	}
	vacation_db_close(&db);
	return rc;
}

int vacation_process(const struct vacation_cfg *cfg, vacation_read_fn *rd, void *ctx,
		     struct buf *err)
{
	uint64_t max = opt_num(cfg->conf, "vacation_header_max_size", 256 << 10);
	struct buf head = BUF_INIT;
	if (read_header(rd, ctx, max, &head) < 0) {
		buf_printf(err, "cannot read the message: %s", strerror(errno));
		buf_free(&head);
		return VAC_EX_TEMPFAIL;
	}
	struct mine_ctx mc = {cfg, cfg->conf != NULL ? conf_str(cfg->conf, "recipient_delimiter")
						     : "+"};
	struct vac_msg m = {0};
	parse_header(head.data != NULL ? head.data : "", head.len, max, &mc, &m);
	buf_free(&head);
	char *sender = cfg->sender != NULL	? x_strdup(cfg->sender)
		       : m.return_path != NULL	? path_addr(m.return_path)
		       : m.from_line != NULL	? x_strdup(m.from_line)
						: NULL;
	int rc = VAC_EX_OK;
	char *file = NULL;
	if (sender == NULL) {
		buf_append_str(err, "no sender: the message has neither Return-Path: nor a From_ "
				    "line (give it with -s)");
		rc = VAC_EX_DATAERR;
	} else if (refuse(cfg, &m, sender, &mc) == 0) {
		file = read_file_small(cfg->msg_path,
				       (size_t)opt_num(cfg->conf, "vacation_msg_max_size", 64 << 10),
				       NULL);
		if (file == NULL) {
			buf_printf(err, "cannot read the message file %s: %s", cfg->msg_path,
				   errno == EFBIG ? "bigger than vacation_msg_max_size"
						  : strerror(errno));
			rc = errno == ENOENT ? VAC_EX_NOINPUT : VAC_EX_DATAERR;
		} else {
			rc = with_db(cfg, &m, sender, file, err);
		}
	}
	x_free(&file);
	x_free(&sender);
	vac_msg_free(&m);
	return rc;
}

/* ---- the delivery agent's own vacation answer ---- */

struct agent_reader {
	const struct deliver_msg *m;
	uint64_t off;
};

/* The message as delivered: the added header lines, then the spool file. */
static ssize_t agent_read(void *ctx, void *buf, size_t len)
{
	struct agent_reader *a = ctx;
	size_t hl = strlen(a->m->head);
	ssize_t n;
	if (a->off < hl) {
		n = (ssize_t)(hl - a->off < len ? hl - a->off : len);
		memcpy(buf, a->m->head + a->off, (size_t)n);
	} else {
		/* m->size bytes only: a queue file goes on with its envelope. */
		uint64_t left = a->off - hl < a->m->size ? a->m->size - (a->off - hl) : 0;
		if (left < len)
			len = (size_t)left;
		n = 0;
		while (len > 0 && (n = pread(a->m->fd, buf, len, (off_t)(a->off - hl))) < 0 &&
		       errno == EINTR)
			;
	}
	if (n > 0)
		a->off += (uint64_t)n;
	return n;
}

int deliver_vacation_run(struct deliver_msg *m, const struct vacation_cfg *cfg, struct buf *err)
{
	struct agent_reader r = {.m = m};
	return vacation_process(cfg, agent_read, &r, err);
}

void deliver_vacation(struct deliver_msg *m)
{
	char *msg = x_asprintf("%s/" VACATION_MSG_FILE, m->user->root);
	char *db = x_asprintf("%s/" VACATION_DB_FILE, m->user->root);
	struct stat st;
	/* a dbm .vacation.db is another program's (run from a .forward): not ours to use */
	if (stat(msg, &st) == 0 && S_ISREG(st.st_mode) && vacation_db_is_ours(db)) {
		const char *names[] = {m->req->recipient, m->user->address, NULL};
		struct vacation_cfg cfg = {.conf = m->ctx->conf,
					   .db_path = db,
					   .msg_path = msg,
					   .names = names,
					   .sender = m->req->sender,
					   .from = m->user->address,
					   .interval = VACATION_UNSET};
		struct buf err = BUF_INIT;
		if (deliver_vacation_run(m, &cfg, &err) != 0)
			log_warn("%s: vacation for %s: %s (the message itself is delivered)",
				 m->req->queue_id, m->user->address, buf_cstr(&err));
		buf_free(&err);
	}
	x_free(&msg);
	x_free(&db);
}
