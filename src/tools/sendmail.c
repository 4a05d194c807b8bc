/* sendmail: `tern sendmail` and argv[0] `sendmail`, the classic submission command.
 *
 * Reads a message on standard input (CRLF becomes LF; a lone "." ends it unless -i/-oi;
 * one line policy for both ways into the queue, in sm_read_piece: lines longer than
 * smtp_max_line_length are broken, NUL bytes follow smtp_nul),
 * takes recipients from the arguments and/or the To/Cc/Bcc fields (-t, Bcc removed), adds
 * Received:, and From:/Date:/Message-ID: when missing (RFC 6409 8.1-8.3), and queues it
 * durably (queue_writer_commit), then pokes the queue manager. -bs runs one SMTP session
 * on stdin/stdout, -bp lists the queue. Exit codes are sysexits(3).
 * Only root and the queue's owner write the queue; anyone else's message goes, prepared
 * the same way here, through the local submission socket (sendmail-sock.c), where the
 * server knows the uid from the kernel, writes the same Received: field and rewrites the
 * addresses. When the server cannot be reached: exit 75 and nothing sent, so the caller
 * keeps the message. -f is honoured for root, run_user and sendmail_trusted_users (and
 * "<>" for anyone); others send as LOGIN@first-local-domain.
 * Addresses are rewritten (lib-rewrite: canonical maps, masquerading) like mail from an
 * SMTP client: the envelope always, the header when header_rewrite_clients has "local"
 * (the default); the header section is held anyway (bounded by smtp_max_header_size), and
 * the body streams past untouched.
 * Trusts: nothing on stdin; the invoking user only for the -f sender (as sendmail does).
 */
#include "tools.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "queue.h"
#include "rewrite.h"
#include "sendmail-sock.h"
#include "smtpd.h"
#include "util.h"
#include "xalloc.h"

#define SM_EX_USAGE 64
#define SM_EX_DATAERR 65
#define SM_EX_NOUSER 67
#define SM_EX_UNAVAILABLE 69
#define SM_EX_CANTCREAT 73
#define SM_EX_IOERR 74
#define SM_EX_TEMPFAIL 75
#define SM_CHUNK 65536
#define SM_MAX_RCPTS 10000

enum sm_mode { SM_DELIVER, SM_SMTP, SM_LIST };

struct sm_opts {
	enum sm_mode mode;
	bool from_headers; /* -t */
	bool ignore_dots;  /* -i, -oi */
	bool verbose;
	const char *from;      /* -f / -r */
	const char *full_name; /* -F */
	const char *conf;      /* -c */
	char **rcpts;
	int rcpt_count;
};

/* Standard input, read in chunks: every byte is data (NUL too). */
struct sm_input {
	char *buf; /* SM_CHUNK bytes */
	size_t pos, len;
	bool eof;
	int error; /* errno of a failed read */
};

struct sm_msg {
	struct conf *conf;
	struct rewrite *rewrite;
	bool direct;	/* we write the queue; else through the local submission socket */
	char *qualify;	/* domain for unqualified addresses */
	struct buf header;   /* the header section as read (LF line ends), Bcc removed */
	bool has_from, has_date, has_msgid;
	char **rcpts;
	size_t rcpt_count;
	struct buf body_start; /* a first body line that was not a header, or "" */
	bool ended;            /* input ended inside the header section */
	struct sm_input in;
	/* The line policy (sm_read_piece): lines longer than line_max are broken. */
	size_t line_max;
	size_t col;           /* bytes of the current line given so far */
	bool in_line_start;   /* the next input byte starts a line (for the lone dot) */
	bool at_line_start;   /* the next piece starts a line of the message */
	bool in_header;       /* reading the header section */
	bool folded;          /* the last piece was a line broken at line_max */
	unsigned long breaks; /* input lines broken */
	bool breaking;        /* the current input line was broken */
	bool nul;             /* a NUL byte was read */
};

static int sm_usage(void)
{
	fprintf(stderr, "usage: sendmail [-t] [-i] [-f FROM] [-F NAME] [-bs|-bp|-bm] [-v] "
			"[-c CONF] [--] [RCPT...]\n");
	return SM_EX_USAGE;
}

/* The value of an option: the rest of the word, or the next word. */
static const char *sm_optarg(int argc, char **argv, int *i, const char *rest)
{
	if (rest[0] != '\0')
		return rest;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* Parses one "-x..." word; -1 on a usage error. */
static int sm_parse_word(struct sm_opts *o, int argc, char **argv, int *i)
{
	const char *w = argv[*i] + 1;
	const char *v;
	switch (w[0]) {
	case 't': o->from_headers = true; return w[1] == '\0' ? 0 : -1;
	case 'i': o->ignore_dots = true; return w[1] == '\0' ? 0 : -1;
	case 'v': o->verbose = true; return 0;
	case 'o':
		if (strcmp(w, "oi") == 0)
			o->ignore_dots = true;
		return 0; /* -oXXX: sendmail options, ignored */
	case 'b':
		if (strcmp(w, "bs") == 0)
			o->mode = SM_SMTP;
		else if (strcmp(w, "bp") == 0)
			o->mode = SM_LIST;
		else if (strcmp(w, "bm") == 0)
			o->mode = SM_DELIVER;
		else
			return -1;
		return 0;
	case 'f': case 'r': case 'F': case 'c':
	case 'B': case 'N': case 'R': case 'V': case 'O': case 'L': case 'X':
		if ((v = sm_optarg(argc, argv, i, w + 1)) == NULL)
			return -1;
		if (w[0] == 'f' || w[0] == 'r')
			o->from = v;
		else if (w[0] == 'F')
			o->full_name = v;
		else if (w[0] == 'c')
			o->conf = v;
		return 0; /* -B -N -R -V -O -L -X: accepted and ignored */
	case 'q':
		return 0; /* queue runs are the manager's job */
	}
	return -1;
}

static int sm_parse_args(struct sm_opts *o, int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (sm_parse_word(o, argc, argv, &i) < 0)
			return -1;
	}
	o->rcpts = argv + i;
	o->rcpt_count = argc - i;
	return 0;
}

static void sm_add_rcpt(struct sm_msg *m, const char *a, size_t n)
{
	while (n > 0 && (*a == ' ' || *a == '\t'))
		a++, n--;
	while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t'))
		n--;
	if (n == 0 || n > 512 || m->rcpt_count >= SM_MAX_RCPTS)
		return;
	char *addr = memchr(a, '@', n) != NULL ? x_strndup(a, n)
					      : x_asprintf("%.*s@%s", (int)n, a, m->qualify);
	for (size_t i = 0; i < m->rcpt_count; i++)
		if (strcmp(m->rcpts[i], addr) == 0) {
			x_free(&addr);
			return;
		}
	m->rcpts = x_reallocarray(m->rcpts, m->rcpt_count + 1, sizeof(*m->rcpts));
	m->rcpts[m->rcpt_count++] = addr;
}

/* Adds every address of an address-list value (RFC 5322 3.4): splits at commas outside
 * quotes, comments and angle brackets, takes what is inside <...> when present, drops
 * comments and group names ("name: a, b;"). Bounded: works in place on the value. */
static void sm_add_list(struct sm_msg *m, const char *v)
{
	struct buf cur = BUF_INIT, angle = BUF_INIT;
	int comment = 0;
	bool quoted = false, in_angle = false, had_angle = false;
	for (const char *p = v;; p++) {
		char c = *p;
		bool end = c == '\0' || (!quoted && comment == 0 && !in_angle && (c == ',' || c == ';'));
		if (end) {
			if (had_angle)
				sm_add_rcpt(m, angle.data ? angle.data : "", angle.len);
			else
				sm_add_rcpt(m, cur.data ? cur.data : "", cur.len);
			buf_reset(&cur);
			buf_reset(&angle);
			had_angle = false;
			if (c == '\0')
				break;
			continue;
		}
		if (c == '\\' && (quoted || comment) && p[1] != '\0') {
			buf_append_char(in_angle ? &angle : &cur, *++p);
			continue;
		}
		if (!quoted && c == '(') {
			comment++;
		} else if (!quoted && comment > 0 && c == ')') {
			comment--;
		} else if (comment > 0) {
			continue;
		} else if (c == '"') {
			quoted = !quoted;
			buf_append_char(in_angle ? &angle : &cur, c);
		} else if (!quoted && c == '<') {
			in_angle = had_angle = true;
			buf_reset(&angle);
		} else if (!quoted && c == '>') {
			in_angle = false;
		} else if (!quoted && !in_angle && c == ':') {
			buf_reset(&cur); /* a group name */
		} else {
			buf_append_char(in_angle ? &angle : &cur, c);
		}
	}
	buf_free(&cur);
	buf_free(&angle);
}

/* Makes at least need bytes of input available (fewer at its end): how many there are. */
static size_t sm_in_fill(struct sm_input *in, size_t need)
{
	if (in->len - in->pos >= need || in->eof)
		return in->len - in->pos;
	memmove(in->buf, in->buf + in->pos, in->len - in->pos);
	in->len -= in->pos;
	in->pos = 0;
	while (in->len < need && !in->eof) {
		ssize_t n = read(STDIN_FILENO, in->buf + in->len, SM_CHUNK - in->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			in->eof = true;
			in->error = n < 0 ? errno : 0;
		} else {
			in->len += (size_t)n;
		}
	}
	return in->len - in->pos;
}

/* Gives n bytes of input to out as line content. */
static void sm_take(struct sm_msg *m, size_t n, struct buf *out)
{
	const char *p = m->in.buf + m->in.pos;
	m->nul |= memchr(p, '\0', n) != NULL;
	buf_append(out, p, n);
	m->in.pos += n;
	m->col += n;
}

/* The next piece of the message from standard input, into out: the rest of a line with
 * its LF (CRLF becomes LF; a last line without one gets one), or what is buffered of a
 * longer line. The one line policy of both ways into the queue (doc/sendmail.md): a line
 * longer than smtp_max_line_length, which the SMTP server refuses from SMTP clients, is
 * broken after that many bytes and goes on in a new line, in the header section after a
 * space (a folded field, RFC 5322 2.2.3). NUL bytes are data here; smtp_nul is applied
 * by the caller. false at the end of input, or at a lone "." line unless -i. */
static bool sm_read_piece(struct sm_msg *m, const struct sm_opts *o, struct buf *out)
{
	struct sm_input *in = &m->in;
	buf_reset(out);
	size_t n = sm_in_fill(in, 3);
	const char *p = in->buf + in->pos;
	if (m->in_line_start && !o->ignore_dots && n > 0 && p[0] == '.' &&
	    (n == 1 || p[1] == '\n' || (p[1] == '\r' && (n == 2 || p[2] == '\n'))))
		return false;
	if (n == 0 && m->col > 0) {
		buf_append_char(out, '\n'); /* the last line had no LF */
		m->col = 0;
		m->at_line_start = m->in_line_start = true;
		return true;
	}
	if (n == 0)
		return false;
	if (m->folded && m->in_header) {
		buf_append_char(out, ' ');
		m->col = 1;
	}
	m->folded = false;
	m->in_line_start = false;
	const char *nl = memchr(p, '\n', n);
	size_t content = nl != NULL ? (size_t)(nl - p) : n;
	if (content > 0 && p[content - 1] == '\r' && (nl != NULL || !in->eof))
		content--; /* CRLF; or a CR whose LF may come with the next read */
	size_t room = m->line_max - m->col;
	if (content > room) {
		sm_take(m, room, out);
		buf_append_char(out, '\n');
		m->col = 0;
		m->folded = true;
		m->breaks += !m->breaking;
		m->breaking = true;
		m->at_line_start = true;
		return true;
	}
	sm_take(m, content, out);
	if (nl != NULL || in->eof) {
		in->pos = nl != NULL ? (size_t)(nl - in->buf) + 1 : in->len;
		buf_append_char(out, '\n');
		m->col = 0;
		m->in_line_start = true;
		m->breaking = false;
	}
	m->at_line_start = m->col == 0;
	return true;
}

static bool sm_field_is(const char *line, const char *name)
{
	size_t n = strlen(name);
	return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* Notes what a complete header field (folded lines in f) is; keeps it unless Bcc. */
static void sm_take_field(struct sm_msg *m, const struct sm_opts *o, struct buf *f)
{
	if (f->len == 0)
		return;
	const char *s = buf_cstr(f);
	m->has_from |= sm_field_is(s, "From");
	m->has_date |= sm_field_is(s, "Date");
	m->has_msgid |= sm_field_is(s, "Message-ID");
	bool bcc = sm_field_is(s, "Bcc");
	if (o->from_headers && (sm_field_is(s, "To") || sm_field_is(s, "Cc") || bcc)) {
		char *v = x_strdup(strchr(s, ':') + 1);
		for (char *p = v; *p != '\0'; p++)
			if (*p == '\n' || *p == '\r' || *p == '\t')
				*p = ' ';
		sm_add_list(m, v);
		x_free(&v);
	}
	if (!bcc)
		buf_append(&m->header, f->data, f->len);
	buf_reset(f);
}

static bool sm_is_field_start(const char *s)
{
	size_t n = strspn(s, "!\"#$%&'()*+,-./0123456789;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
			     "abcdefghijklmnopqrstuvwxyz{|}~");
	return n > 0 && s[n] == ':';
}

/* Reads the header section. -1 when it is larger than max. */
static int sm_read_header(struct sm_msg *m, const struct sm_opts *o, uint64_t max)
{
	struct buf piece = BUF_INIT, f = BUF_INIT;
	int r = 0;
	bool line_start = true;
	for (;;) {
		if (!sm_read_piece(m, o, &piece)) {
			m->ended = true;
			break;
		}
		const char *s = buf_cstr(&piece);
		if (!line_start || s[0] == ' ' || s[0] == '\t') {
			buf_append(&f, piece.data, piece.len);
		} else if (strcmp(s, "\n") == 0) {
			break;
		} else if (sm_is_field_start(s)) {
			sm_take_field(m, o, &f);
			buf_append(&f, piece.data, piece.len);
		} else {
			/* Not a header line: the body starts here (sendmail does the same). */
			buf_append(&m->body_start, piece.data, piece.len);
			break;
		}
		line_start = m->at_line_start;
		if (m->header.len + f.len > max) {
			r = -1;
			break;
		}
	}
	sm_take_field(m, o, &f);
	if (m->header.len > 0 && m->header.data[m->header.len - 1] != '\n')
		buf_append_char(&m->header, '\n');
	buf_free(&piece);
	buf_free(&f);
	return r;
}

static uid_t sm_real_uid;

/* The invoking user's login name and full name (from passwd), found on the first call,
 * before the switch to the queue's owner. */
static const char *sm_user(const char **gecos_r)
{
	static char name[64], gecos[128];
	*gecos_r = gecos;
	if (name[0] != '\0')
		return name;
	sm_real_uid = getuid();
	struct passwd *pw = getpwuid(sm_real_uid);
	const char *login = getenv("LOGNAME");
	if (pw != NULL) {
		snprintf(name, sizeof(name), "%s", pw->pw_name);
		snprintf(gecos, sizeof(gecos), "%.*s", (int)strcspn(pw->pw_gecos, ","),
			 pw->pw_gecos);
	} else {
		snprintf(name, sizeof(name), "%s", login != NULL ? login : "nobody");
	}
	return name;
}

/* Our trace (written by the server when the message goes through the socket) and the
 * fields a local submission may lack (RFC 6409 8). */
static void sm_added_fields(struct sm_msg *m, const struct sm_opts *o, const char *id,
			    struct buf *out)
{
	const char *host = conf_str(m->conf, "hostname");
	const char *gecos;
	const char *user = sm_user(&gecos);
	char date[64];
	rfc5322_date(time(NULL), date, sizeof(date));
	if (m->direct)
		smtpd_local_received(out, host, (long)sm_real_uid, id,
				     m->rcpt_count == 1 ? m->rcpts[0] : NULL);
	buf_append(out, m->header.data, m->header.len);
	if (!m->has_from) {
		const char *full = o->full_name != NULL ? o->full_name : gecos;
		if (full[0] != '\0' && strpbrk(full, "\"\\\r\n") == NULL)
			buf_printf(out, "From: \"%s\" <%s@%s>\n", full, user, m->qualify);
		else
			buf_printf(out, "From: %s@%s\n", user, m->qualify);
	}
	if (!m->has_date)
		buf_printf(out, "Date: %s\n", date);
	if (!m->has_msgid)
		buf_printf(out, "Message-ID: <%s@%s>\n", id, host);
}

/* Rewrites the addresses of the header section in head (a whole header, its empty line
 * included), when local mail gets header rewriting. */
static void sm_rewrite_header(struct sm_msg *m, struct buf *head)
{
	struct rewrite_client local = {true, false, false};
	if (!rewrite_headers_for(m->rewrite, &local))
		return;
	struct rewrite_header *h = rewrite_header_new(m->rewrite, REWRITE_HEADER_CLASSES,
						      conf_num(m->conf, "header_rewrite_max_field"));
	struct buf out = BUF_INIT;
	size_t used = rewrite_header_feed(h, head->data, head->len, &out);
	rewrite_header_finish(h, &out);
	buf_append(&out, head->data + used, head->len - used);
	rewrite_header_free(&h);
	buf_free(head);
	*head = out;
}

/* Rewrites an envelope address in place: 0, or -1 (a table could not be read). */
static int sm_rewrite_envelope(struct sm_msg *m, enum rewrite_class cls, char **address)
{
	char *out = NULL;
	struct buf err = BUF_INIT;
	int k = rewrite_address(m->rewrite, cls, *address, &out, &err);
	if (k < 0)
		fprintf(stderr, "sendmail: address rewriting: %s\n", buf_cstr(&err));
	buf_free(&err);
	if (k > 0) {
		free(*address);
		*address = out;
	}
	return k < 0 ? -1 : 0;
}

/* The envelope after rewriting: -1 when a table could not be read. */
static int sm_rewrite_envelopes(struct sm_msg *m, char **sender)
{
	if (sm_rewrite_envelope(m, REWRITE_ENVELOPE_SENDER, sender) < 0)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < m->rcpt_count; i++) {
		if (sm_rewrite_envelope(m, REWRITE_ENVELOPE_RECIPIENT, &m->rcpts[i]) < 0)
			return -1;
		bool seen = false; /* two recipients may have become one */
		for (size_t j = 0; j < k && !seen; j++)
			seen = strcmp(m->rcpts[j], m->rcpts[i]) == 0;
		if (seen)
			x_free(&m->rcpts[i]);
		else
			m->rcpts[k++] = m->rcpts[i];
	}
	m->rcpt_count = k;
	return 0;
}

/* Where the message goes: the queue file, or the local submission session. */
struct sm_sink {
	struct queue_writer *w;
	struct sm_sock *sock;
	uint64_t size;
};

static int sm_sink_write(struct sm_sink *k, const char *p, size_t n)
{
	k->size += n;
	return k->w != NULL ? queue_writer_write(k->w, p, n) : sm_sock_write(k->sock, p, n);
}

enum sm_copy { SM_COPY_OK, SM_COPY_WRITE, SM_COPY_TOO_LARGE, SM_COPY_NUL, SM_COPY_READ };

/* Does smtp_nul refuse this message? (The sendmail command follows the server's policy
 * on both ways into the queue: doc/sendmail.md.) */
static bool sm_nul_refused(const struct sm_msg *m)
{
	return m->nul && strcmp(conf_str(m->conf, "smtp_nul"), "reject") == 0;
}

/* Writes the header section (head) and streams the body after it; stops at the first
 * thing that makes the message fail (SM_COPY_WRITE: errno says why). */
static enum sm_copy sm_copy_message(struct sm_msg *m, const struct sm_opts *o,
				    const struct buf *head, struct sm_sink *k)
{
	uint64_t max = conf_num(m->conf, "smtp_max_message_size");
	struct buf piece = BUF_INIT;
	enum sm_copy r = SM_COPY_OK;
	if (sm_sink_write(k, head->data, head->len) < 0 ||
	    (m->body_start.len > 0 && sm_sink_write(k, m->body_start.data, m->body_start.len) < 0))
		r = SM_COPY_WRITE;
	while (r == SM_COPY_OK && !sm_nul_refused(m) && !m->ended &&
	       sm_read_piece(m, o, &piece)) {
		if (sm_sink_write(k, piece.data, piece.len) < 0)
			r = SM_COPY_WRITE;
		else if (k->size > max)
			r = SM_COPY_TOO_LARGE;
	}
	if (r == SM_COPY_OK && sm_nul_refused(m))
		r = SM_COPY_NUL;
	else if (r == SM_COPY_OK && m->in.error != 0)
		r = SM_COPY_READ;
	buf_free(&piece);
	return r;
}

/* Says why a copy failed: the exit status. */
static int sm_copy_failed(const struct sm_msg *m, enum sm_copy r, const char *where)
{
	switch (r) {
	case SM_COPY_TOO_LARGE:
		fprintf(stderr, "sendmail: message larger than %llu bytes\n",
			(unsigned long long)conf_num(m->conf, "smtp_max_message_size"));
		return SM_EX_DATAERR;
	case SM_COPY_NUL:
		fprintf(stderr, "sendmail: the message contains NUL bytes, which this mail system "
				"refuses (smtp_nul = reject); nothing was sent\n");
		return SM_EX_DATAERR;
	case SM_COPY_READ:
		fprintf(stderr, "sendmail: reading the message: %s; nothing was sent\n",
			strerror(m->in.error));
		return SM_EX_IOERR;
	default:
		fprintf(stderr, "sendmail: %s: %s\n", where, strerror(errno));
		return SM_EX_TEMPFAIL;
	}
}

/* Writes, commits and announces the message. Returns the exit status. */
static int sm_queue(struct sm_msg *m, const struct sm_opts *o, const char *sender)
{
	const char *qdir = conf_str(m->conf, "queue_dir");
	struct buf err = BUF_INIT, head = BUF_INIT;
	struct queue_writer *w = queue_writer_open(qdir, &err);
	if (w == NULL) {
		fprintf(stderr, "sendmail: %s\n", buf_cstr(&err));
		buf_free(&err);
		return SM_EX_CANTCREAT;
	}
	sm_added_fields(m, o, queue_writer_id(w), &head);
	buf_append_char(&head, '\n');
	sm_rewrite_header(m, &head);
	struct sm_sink sink = {.w = w};
	enum sm_copy r = sm_copy_message(m, o, &head, &sink);
	int status = 0;
	if (r != SM_COPY_OK) {
		status = sm_copy_failed(m, r, "cannot write to the queue");
	} else {
		queue_writer_set_sender(w, sender);
		for (size_t i = 0; i < m->rcpt_count; i++)
			queue_writer_add_rcpt(w, m->rcpts[i], m->rcpts[i]);
		queue_writer_set_attr(w, "origin", "sendmail");
		char uid[32];
		snprintf(uid, sizeof(uid), "%ld", (long)sm_real_uid);
		queue_writer_set_attr(w, "uid", uid);
		if (queue_writer_commit(w, &err) < 0) {
			fprintf(stderr, "sendmail: %s\n", buf_cstr(&err));
			status = SM_EX_TEMPFAIL;
		}
	}
	if (status == 0) {
		queue_notify(qdir, queue_writer_id(w));
		if (o->verbose)
			fprintf(stderr, "sendmail: queued as %s\n", queue_writer_id(w));
		queue_writer_free(&w);
	} else {
		queue_writer_abort(&w);
	}
	buf_free(&err);
	buf_free(&head);
	return status;
}

static void sm_msg_free(struct sm_msg *m)
{
	for (size_t i = 0; i < m->rcpt_count; i++)
		x_free(&m->rcpts[i]);
	x_free(&m->rcpts);
	buf_free(&m->header);
	buf_free(&m->body_start);
	x_free(&m->in.buf);
	rewrite_free(&m->rewrite);
	x_free(&m->qualify);
}

/* The envelope sender: -f's value ("<>" or "" is the null sender), or user@domain. Through
 * the socket, -f is for trusted users only (the server would refuse another sender with
 * 553 5.7.1): anyone else's is ignored with a warning, but for the null sender. */
static char *sm_sender(const struct sm_msg *m, const struct sm_opts *o)
{
	const char *gecos;
	const char *user = sm_user(&gecos);
	char *own = x_asprintf("%s@%s", user, m->qualify);
	if (o->from == NULL)
		return own;
	const char *f = o->from;
	size_t n = strlen(f);
	if (n >= 2 && f[0] == '<' && f[n - 1] == '>')
		f++, n -= 2;
	char *given = n > 0 && memchr(f, '@', n) == NULL
			  ? x_asprintf("%.*s@%s", (int)n, f, m->qualify)
			  : x_strndup(f, n);
	if (!m->direct && given[0] != '\0' && strcasecmp(given, own) != 0 &&
	    !smtpd_local_trusted(m->conf, sm_real_uid, user)) {
		fprintf(stderr, "sendmail: -f %s ignored: only root, run_user and "
				"sendmail_trusted_users may choose the sender; sending as %s\n",
			given, own);
		x_free(&given);
		return own;
	}
	x_free(&own);
	return given;
}

/* A recipient's refusal over the socket: the exit status it calls for (0: accepted). */
static int sm_sock_rcpt_status(struct sm_sock *k, const char *rcpt, int code)
{
	if (code >= 200 && code < 300)
		return 0;
	if (code < 0)
		fprintf(stderr, "sendmail: <%s>: connection lost\n", rcpt);
	else
		fprintf(stderr, "sendmail: <%s>: %d %s\n", rcpt, code, sm_sock_text(k));
	return code >= 500 ? SM_EX_NOUSER : SM_EX_TEMPFAIL;
}

/* The exit status for a failed reply of the server (-1: the connection). */
static int sm_sock_fail(struct sm_sock *k, const char *what, int code)
{
	if (code < 0) {
		fprintf(stderr, "sendmail: the mail server went away during %s; the message "
				"was not sent\n", what);
		return SM_EX_TEMPFAIL;
	}
	fprintf(stderr, "sendmail: %s: %d %s\n", what, code, sm_sock_text(k));
	if (code < 500)
		return SM_EX_TEMPFAIL;
	return code == 552 || code == 550 ? SM_EX_DATAERR : SM_EX_UNAVAILABLE;
}

/* MAIL and RCPT; the status so far (SM_EX_NOUSER or 75 when some recipient was refused),
 * or -status when nothing can be sent. */
static int sm_sock_envelope(struct sm_msg *m, struct sm_sock *k, const char *sender)
{
	bool utf8 = false;
	for (const char *p = sender; *p != '\0'; p++)
		utf8 |= (unsigned char)*p >= 0x80;
	for (size_t i = 0; i < m->rcpt_count; i++)
		for (const char *p = m->rcpts[i]; *p != '\0'; p++)
			utf8 |= (unsigned char)*p >= 0x80;
	int code = sm_sock_cmd(k, "MAIL FROM:<%s>%s", sender, utf8 ? " SMTPUTF8" : "");
	if (code != 250)
		return -sm_sock_fail(k, "MAIL", code);
	int status = 0;
	size_t accepted = 0;
	for (size_t i = 0; i < m->rcpt_count; i++) {
		code = sm_sock_cmd(k, "RCPT TO:<%s>", m->rcpts[i]);
		if (code < 0)
			return -sm_sock_fail(k, "RCPT", code);
		int st = sm_sock_rcpt_status(k, m->rcpts[i], code);
		accepted += st == 0;
		if (st != 0 && status != SM_EX_TEMPFAIL)
			status = st;
	}
	return accepted == 0 ? -status : status;
}

/* Sends the message through the local submission socket. Returns the exit status. */
static int sm_via_socket(struct sm_msg *m, const struct sm_opts *o, const char *sender)
{
	struct buf err = BUF_INIT, head = BUF_INIT;
	struct sm_sock *k = sm_sock_open(m->conf, &err);
	if (k == NULL) {
		fprintf(stderr, "sendmail: %s; the message was not sent (try again later)\n",
			buf_cstr(&err));
		buf_free(&err);
		return SM_EX_TEMPFAIL;
	}
	int status = sm_sock_envelope(m, k, sender);
	int code = status < 0 ? 0 : sm_sock_data(k);
	if (status >= 0 && code != 354)
		status = -sm_sock_fail(k, "DATA", code);
	if (status < 0) {
		sm_sock_close(&k, true);
		return -status;
	}
	char id[QUEUE_ID_MAX];
	queue_id_new(id); /* for the Message-ID: the server's queue ID is not known yet */
	sm_added_fields(m, o, id, &head);
	buf_append_char(&head, '\n');
	struct sm_sink sink = {.sock = k};
	enum sm_copy r = sm_copy_message(m, o, &head, &sink);
	buf_free(&head);
	if (r != SM_COPY_OK) {
		/* Cut inside DATA: the server drops the transaction, nothing is queued. */
		sm_sock_close(&k, false);
		return sm_copy_failed(m, r, "sending to the mail server");
	}
	code = sm_sock_data_end(k);
	if (code != 250)
		status = sm_sock_fail(k, "end of data", code);
	else if (o->verbose)
		fprintf(stderr, "sendmail: %s\n", sm_sock_text(k));
	sm_sock_close(&k, code > 0);
	return status;
}

/* Reads, queues (or sends through the socket); the -bm mode. */
static int sm_submit(const struct sm_opts *o, struct conf *c, bool direct)
{
	struct sm_msg m = {.conf = c, .rewrite = rewrite_new(c), .at_line_start = true,
			   .in_line_start = true, .direct = direct,
			   .qualify = smtpd_local_qualify(c)};
	m.in.buf = x_malloc(SM_CHUNK);
	off_t start = lseek(STDIN_FILENO, 0, SEEK_CUR); /* -1: a pipe */
	uint64_t line_max = conf_num(c, "smtp_max_line_length");
	m.line_max = line_max < 2 ? 2 : line_max > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)line_max;
	for (int i = 0; i < o->rcpt_count; i++)
		sm_add_list(&m, o->rcpts[i]);
	int status = 0;
	m.in_header = true;
	int hr = sm_read_header(&m, o, conf_num(c, "smtp_max_header_size"));
	m.in_header = false;
	if (m.in.error != 0) {
		status = sm_copy_failed(&m, SM_COPY_READ, NULL);
	} else if (hr < 0) {
		fprintf(stderr, "sendmail: header section too large\n");
		status = SM_EX_DATAERR;
	} else if (m.rcpt_count == 0) {
		fprintf(stderr, "sendmail: no recipients%s\n",
			o->from_headers ? " in To:, Cc: or Bcc:" : " given");
		status = SM_EX_DATAERR;
	} else if (!direct) {
		/* The server rewrites the addresses, as for any local client. */
		char *sender = sm_sender(&m, o);
		status = sm_via_socket(&m, o, sender);
		x_free(&sender);
	} else {
		char *sender = sm_sender(&m, o);
		if (sm_rewrite_envelopes(&m, &sender) < 0)
			status = SM_EX_TEMPFAIL;
		else
			status = sm_queue(&m, o, sender);
		x_free(&sender);
	}
	/* A failed message stays where it was: a caller that gave it as a file (mail(1)
	 * does) reads it all again from there, for its dead.letter. */
	if (status != 0 && start >= 0)
		(void)lseek(STDIN_FILENO, start, SEEK_SET);
	if (status == 0 && m.breaks > 0)
		fprintf(stderr, "sendmail: %lu line%s longer than %zu bytes (smtp_max_line_length) "
				"broken in two or more\n", m.breaks, m.breaks == 1 ? "" : "s",
			m.line_max);
	sm_msg_free(&m);
	return status;
}

int (*sendmail_smtpd)(const char *conf_path, const char *local_user);
int (*sendmail_full_program)(void);

int cmd_sendmail(int argc, char **argv)
{
	struct sm_opts o = {.mode = SM_DELIVER};
	if (sm_parse_args(&o, argc, argv) < 0)
		return sm_usage();
	if (o.mode == SM_LIST) {
		char *args[] = {"mailq", "-c", (char *)tool_conf_path(o.conf), NULL};
		return cmd_mailq(3, args);
	}
	const char *gecos;
	char *user = x_strdup(sm_user(&gecos));
	struct conf *c = tool_load_conf(o.conf);
	log_init("sendmail", false);
	struct buf err = BUF_INIT;
	int status;
	/* Root (as the queue's owner) and the owner write the queue; anyone else goes
	 * through the local submission socket. */
	bool direct = sm_queue_direct(conf_str(c, "queue_dir"));
	if (o.mode == SM_SMTP && direct && sendmail_smtpd == NULL) {
		/* The lean `tern` has no SMTP server: tern-core, with these arguments. */
		status = SM_EX_UNAVAILABLE;
		if (sendmail_full_program != NULL)
			status = sendmail_full_program();
		else
			fprintf(stderr, "sendmail: -bs: this program has no SMTP server\n");
	} else if (direct && queue_become_owner(conf_str(c, "queue_dir"), &err) < 0) {
		fprintf(stderr, "sendmail: %s\n", buf_cstr(&err));
		status = SM_EX_CANTCREAT;
	} else if (o.mode == SM_SMTP && direct) {
		status = sendmail_smtpd(tool_conf_path(o.conf), user);
	} else if (o.mode == SM_SMTP) {
		status = 0;
		if (sm_sock_proxy(c, &err) < 0) {
			fprintf(stderr, "sendmail: %s\n", buf_cstr(&err));
			status = SM_EX_TEMPFAIL;
		}
	} else {
		status = sm_submit(&o, c, direct);
	}
	x_free(&user);
	buf_free(&err);
	conf_free(&c);
	return status;
}
