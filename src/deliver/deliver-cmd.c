/* deliver-cmd: `tern deliver`, one message on stdin for one recipient (or, with -s, each
 * message of an mbox on stdin: run_batch), sysexits codes.
 *
 * The message is spooled in memory (a memfd) when it is small, else streamed into an
 * unlinked file in the user's Maildir tmp/ (so that it is never held whole in memory),
 * a leading From_ line is dropped (its sender used when -f is missing), then
 * deliver_local() does the rest. Any doubt is 75 (EX_TEMPFAIL): the caller keeps the
 * message and tries again. With user_source = system the user is a Unix account: started
 * as root (an MTA's mailbox_command) it spools to $TMPDIR or /tmp and delivers in a child
 * that becomes the user (deliver_as_user); started by a user, it delivers only for that
 * user.
 */
#include "deliver-cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "deliver-int.h"
#include "durable.h"
#include "log.h"
#include "mbox-split.h"
#include "queue.h"
#include "sysuser.h"
#include "userdb.h"
#include "util.h"
#include "xalloc.h"

#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_NOUSER 67
#define EX_CANTCREAT 73
#define EX_TEMPFAIL 75
#define EX_NOPERM 77
#define EX_CONFIG 78
#define SPOOL_CHUNK 65536

struct deliver_args {
	const char *sender; /* NULL: from the From_ line, else <> */
	const char *address;
	const char *user;
	const char *conf;
	bool split; /* -s: an mbox of messages on stdin */
};

static int usage(void)
{
	fprintf(stderr, "usage: tern deliver [-s] [-f SENDER] (-a ADDRESS | -d USER) [-c CONF]\n");
	return EX_USAGE;
}

static int parse_args(int argc, char **argv, struct deliver_args *a)
{
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, "f:r:a:d:c:s")) != -1) {
		switch (c) {
		case 'f':
		case 'r':
			a->sender = optarg;
			break;
		case 'a':
			a->address = optarg;
			break;
		case 'd':
			a->user = optarg;
			break;
		case 'c':
			a->conf = optarg;
			break;
		case 's':
			a->split = true;
			break;
		default:
			return -1;
		}
	}
	if (optind != argc || (a->address == NULL && a->user == NULL))
		return -1;
	return 0;
}

static struct conf *load_conf(const char *given)
{
	const char *path = given;
	if (path == NULL || *path == 0)
		path = getenv("TERN_CONF");
	if (path == NULL || *path == 0)
		path = "/etc/tern/tern.conf";
	struct buf err = BUF_INIT;
	struct conf *c = conf_load(path, &err);
	if (c == NULL)
		fprintf(stderr, "%stern deliver: configuration %s is not valid\n", buf_cstr(&err),
			path);
	buf_free(&err);
	return c;
}

/* Where a message read on stdin is spooled: a memfd up to deliver_spool_memory bytes
 * (most messages: a delivery then makes and deletes no file besides the one it
 * delivers), past that an unlinked file in the INBOX's tmp/ (or in tmpdir), so that it is
 * never held whole in memory. */
struct spool {
	const char *inbox, *tmpdir;
	uint64_t mem_max;
	int mem;  /* the memfd, or -1 */
	int file; /* the file, once the message outgrew mem_max (or without memfd), or -1 */
	uint64_t size;
};

static void spool_init(struct spool *s, const struct conf *c, const char *inbox,
		       const char *tmpdir)
{
	*s = (struct spool){.inbox = inbox,
			    .tmpdir = tmpdir,
			    .mem_max = conf_num(c, "deliver_spool_memory"),
			    .mem = memfd_create("tern-deliver", MFD_CLOEXEC),
			    .file = -1};
}

static int spool_fd(const struct spool *s)
{
	return s->file >= 0 ? s->file : s->mem;
}

/* An unlinked file in the INBOX's tmp/ (or in tmpdir). fd, or -1 with *code_r. */
static int spool_file(const struct spool *s, int *code_r)
{
	char *tmp = s->tmpdir != NULL ? x_strdup(s->tmpdir) : x_asprintf("%s/tmp", s->inbox);
	char *path = NULL;
	int fd = -1;
	if (mkdir_p(tmp, 0700) < 0) {
		*code_r = errno == EACCES || errno == EPERM ? EX_NOPERM : EX_CANTCREAT;
		fprintf(stderr, "tern deliver: cannot create %s: %s\n", tmp, strerror(errno));
	} else {
		path = x_asprintf("%s/deliver.%ld.%llu", tmp, (long)getpid(),
				  (unsigned long long)now_ms());
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			*code_r = errno == EACCES || errno == EPERM ? EX_NOPERM : EX_CANTCREAT;
			fprintf(stderr, "tern deliver: cannot create %s: %s\n", path,
				strerror(errno));
		} else {
			unlink(path);
		}
	}
	x_free(&tmp);
	x_free(&path);
	return fd;
}

/* Appends n bytes to the message. 0, or -1 with *code_r (and a line on stderr). */
static int spool_write(struct spool *s, const char *p, size_t n, int *code_r)
{
	if (n == 0)
		return 0;
	if (s->file < 0 && (s->mem < 0 || s->size + n > s->mem_max)) {
		s->file = spool_file(s, code_r);
		if (s->file < 0)
			return -1;
		struct deliver_src held = {.fd = s->mem, .fd_len = s->mem >= 0 ? s->size : 0};
		if (deliver_src_write(s->file, &held) < 0)
			goto fail;
	}
	if (write_full(spool_fd(s), p, n) < 0)
		goto fail;
	s->size += n;
	return 0;
fail:
	*code_r = EX_TEMPFAIL;
	fprintf(stderr, "tern deliver: cannot spool the message: %s\n", strerror(errno));
	return -1;
}

/* Empty again, for the next message. */
static void spool_reset(struct spool *s)
{
	if (s->file >= 0)
		close(s->file);
	s->file = -1;
	if (s->mem >= 0 && (ftruncate(s->mem, 0) < 0 || lseek(s->mem, 0, SEEK_SET) < 0)) {
		close(s->mem);
		s->mem = -1; /* the next message goes to a file */
	}
	s->size = 0;
}

static void spool_free(struct spool *s)
{
	spool_reset(s);
	if (s->mem >= 0)
		close(s->mem);
	s->mem = -1;
}

/* A folder where the spool file would go that may not be written is 77 (EX_NOPERM), as
 * when the file is made there: the user's folder is not ours to write (a missing one is
 * made at delivery). */
static bool tmp_unwritable(const struct spool *s, int *code_r)
{
	char *tmp = s->tmpdir != NULL ? x_strdup(s->tmpdir) : x_asprintf("%s/tmp", s->inbox);
	bool no =
	    faccessat(AT_FDCWD, tmp, W_OK, AT_EACCESS) < 0 && (errno == EACCES || errno == EPERM);
	if (no) {
		*code_r = EX_NOPERM;
		fprintf(stderr, "tern deliver: cannot write in %s: %s\n", tmp, strerror(errno));
	}
	x_free(&tmp);
	return no;
}

/* A read of stdin: bytes, 0 at its end, -1 with *code_r. */
static ssize_t read_stdin(char *buf, int *code_r)
{
	for (;;) {
		ssize_t n = read(0, buf, SPOOL_CHUNK);
		if (n >= 0)
			return n;
		if (errno != EINTR) {
			*code_r = EX_TEMPFAIL;
			fprintf(stderr, "tern deliver: cannot read the message: %s\n",
				strerror(errno));
			return -1;
		}
	}
}

/* The one message on stdin, spooled without a leading From_ line (which goes to from_r).
 * 0, or -1 with *code_r. */
static int spool_stdin(struct spool *s, struct buf *from_r, int *code_r)
{
	char *buf = x_malloc(SPOOL_CHUNK);
	bool started = false, in_from = false;
	ssize_t n;
	int r = 0;
	while (r == 0 && (n = read_stdin(buf, code_r)) != 0) {
		if (n < 0) {
			r = -1;
			break;
		}
		size_t skip = 0;
		if (!started && n >= 5 && memcmp(buf, "From ", 5) == 0)
			in_from = true;
		started = true;
		if (in_from) {
			const char *nl = memchr(buf, '\n', (size_t)n);
			skip = nl != NULL ? (size_t)(nl - buf) + 1 : (size_t)n;
			buf_append(from_r, buf, nl != NULL ? skip - 1 : skip);
			in_from = nl == NULL;
		}
		r = spool_write(s, buf + skip, (size_t)n - skip, code_r);
	}
	x_free(&buf);
	if (r == 0 && s->file < 0 && tmp_unwritable(s, code_r))
		r = -1;
	if (r == 0 && s->size == 0) {
		*code_r = EX_DATAERR;
		fprintf(stderr, "tern deliver: 5.6.0 empty message\n");
		r = -1;
	}
	return r;
}

/* The envelope sender: -f (without <>), else the From_ line's (MAILER-DAEMON there is
 * <>), else <>. */
static char *pick_sender(const char *given, const struct buf *from_line)
{
	if (given != NULL) {
		size_t n = strlen(given);
		if (n >= 2 && given[0] == '<' && given[n - 1] == '>')
			return x_strndup(given + 1, n - 2);
		return x_strdup(given);
	}
	if (from_line->len > 5) {
		const char *s = from_line->data + 5;
		char *sender = x_strndup(s, strcspn(s, " \t"));
		if (strcmp(sender, "MAILER-DAEMON") == 0) /* what mbox writers put for <> */
			sender[0] = 0;
		return sender;
	}
	return x_strdup("");
}

/* The system user's spool folder: $TMPDIR, else /tmp (an mbox INBOX has no tmp/). */
static const char *system_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	return t != NULL && t[0] == '/' ? t : "/tmp";
}

/* Delivers the spooled message for u; info: the system user when started as root (the
 * delivery then runs in a child as that user, see deliver_as_user), else NULL. The
 * sysexits code, with res. */
static int deliver_spooled(const struct conf *c, const struct deliver_args *a,
			   const struct deliver_user *u, const struct user_info *info, int fd,
			   const struct buf *from, struct delivery_result *res)
{
	char *sender = pick_sender(a->sender, from);
	char id[QUEUE_ID_MAX];
	queue_id_new(id);
	struct delivery_request req = {.queue_id = id,
				       .sender = sender,
				       .recipient = a->address != NULL ? a->address : u->address,
				       .maildir = u->inbox,
				       .message_fd = fd,
				       .hostname = conf_str(c, "hostname"),
				       .queue_time = time(NULL)};
	struct deliver_ctx ctx = {.conf = c, .req = &req, .user = u};
	int code;
	if (info != NULL)
		code = deliver_as_user(c, info, &req, false, res);
	else
		code = deliver_local(&ctx, res);
	log_info("%s: to=<%s>, from=<%s>, status=%s (%s %s)", id, req.recipient, sender,
		 code == 0	       ? "sent"
		 : code == EX_TEMPFAIL ? "deferred"
				       : "bounced",
		 res->enhanced, res->text);
	x_free(&sender);
	return code;
}

/* Delivers the message on stdin for u (info: see deliver_spooled). */
static int run_delivery(const struct conf *c, const struct deliver_args *a,
			const struct deliver_user *u, const struct user_info *info)
{
	struct buf from = BUF_INIT;
	struct spool s;
	spool_init(&s, c, u->inbox, u->virtual_user ? NULL : system_tmpdir());
	int code = EX_TEMPFAIL;
	if (spool_stdin(&s, &from, &code) == 0) {
		struct delivery_result res;
		code = deliver_spooled(c, a, u, info, spool_fd(&s), &from, &res);
		if (code != 0)
			fprintf(stderr, "tern deliver: %s %s\n", res.enhanced, res.text);
	}
	spool_free(&s);
	buf_free(&from);
	return code;
}

/* A run of -s (run_batch). */
struct batch {
	const struct conf *c;
	const struct deliver_args *a;
	const struct deliver_user *u;
	struct spool s;
	struct buf from;     /* the From_ line of the message being read */
	uint64_t number;     /* its number (from 1) */
	uint64_t start;	     /* the input's byte where it begins */
	uint64_t done;	     /* messages delivered */
	bool in_msg;	     /* a message is being read */
};

/* Bytes of the message being read (opened by them when the input does not begin with a
 * From_ line). 0, or the sysexits code. */
static int batch_take(struct batch *b, struct buf *out)
{
	int code = 0;
	if (out->len > 0 && !b->in_msg) {
		b->in_msg = true;
		b->number++;
	}
	if (spool_write(&b->s, out->data, out->len, &code) < 0)
		return code;
	buf_reset(out);
	return 0;
}

/* The message being read is whole: delivered (an empty one is skipped). 0, or the
 * sysexits code of its failure. */
static int batch_finish(struct batch *b)
{
	if (!b->in_msg)
		return 0;
	struct delivery_result res;
	int code = 0;
	if (b->s.size == 0)
		fprintf(stderr, "tern deliver: message %llu (byte %llu of the input) is empty: "
				"skipped\n",
			(unsigned long long)b->number, (unsigned long long)b->start);
	else if ((code = deliver_spooled(b->c, b->a, b->u, NULL, spool_fd(&b->s), &b->from,
					 &res)) == 0)
		b->done++;
	else
		fprintf(stderr,
			"tern deliver: message %llu (byte %llu of the input) not delivered: %s %s; "
			"%llu delivered before it, the rest not tried\n",
			(unsigned long long)b->number, (unsigned long long)b->start, res.enhanced,
			res.text, (unsigned long long)b->done);
	spool_reset(&b->s);
	b->in_msg = false;
	return code;
}

/* A From_ line was read: a new message begins there. */
static void batch_start(struct batch *b, const struct mbox_split *sp, struct buf *from_line)
{
	b->in_msg = true;
	b->number++;
	b->start = sp->from_offset;
	struct buf t = b->from; /* the line becomes ours, the splitter gets a buffer back */
	b->from = *from_line;
	*from_line = t;
}

/* -s: the messages of the mbox on stdin (mbox-split.c), one after the other, each as a
 * message of its own (its own envelope sender from its From_ line unless -f is given).
 * The first that is not delivered stops the run: what came before it is delivered (and
 * durable: each delivery flushes as a single one does), it and the rest are not, and the
 * line on stderr says where it starts in the input, so that nothing is lost or delivered
 * twice when the rest is delivered again. An empty message is skipped with a warning. */
static int run_batch(const struct conf *c, const struct deliver_args *a,
		     const struct deliver_user *u)
{
	struct batch b = {.c = c, .a = a, .u = u, .from = BUF_INIT};
	spool_init(&b.s, c, u->inbox, u->virtual_user ? NULL : system_tmpdir());
	struct mbox_split sp;
	mbox_split_init(&sp);
	struct buf out = BUF_INIT, from_line = BUF_INIT;
	char *chunk = x_malloc(SPOOL_CHUNK);
	int code = 0;
	if (b.s.mem >= 0 && tmp_unwritable(&b.s, &code))
		goto out;
	for (;;) {
		ssize_t n = read_stdin(chunk, &code);
		if (n < 0)
			break;
		if (n == 0) { /* the end: the last message, and one a last From_ line began */
			bool next = mbox_split_end(&sp, &out);
			if ((code = batch_take(&b, &out)) == 0 && (code = batch_finish(&b)) == 0 &&
			    next) {
				batch_start(&b, &sp, &from_line);
				code = batch_finish(&b);
			}
			break;
		}
		for (size_t pos = 0; code == 0 && pos < (size_t)n;) {
			bool next;
			pos += mbox_split_feed(&sp, chunk + pos, (size_t)n - pos, &out, &from_line,
					       &next);
			if ((code = batch_take(&b, &out)) == 0 && next &&
			    (code = batch_finish(&b)) == 0)
				batch_start(&b, &sp, &from_line);
		}
		if (code != 0)
			break;
	}
out:
	x_free(&chunk);
	buf_free(&out);
	buf_free(&b.from);
	buf_free(&from_line);
	spool_free(&b.s);
	return code;
}

/* What stdin holds, for u (info: see deliver_spooled). */
static int deliver_for(const struct conf *c, const struct deliver_args *a,
		       const struct deliver_user *u, const struct user_info *info)
{
	if (!a->split)
		return run_delivery(c, a, u, info);
	if (info != NULL) { /* root for a system user: each delivery would be a child as
			     * the user, and this process would no longer be root after one */
		fprintf(stderr, "tern deliver: -s delivers one's own mail: run it as %s\n",
			info->login);
		return EX_USAGE;
	}
	return run_batch(c, a, u);
}

/* Started as root (a mailbox_command, a .forward of root) on an instance whose data
 * belongs to its run_user: become that account, so that the files written stay the
 * workers' to read. 0, or -1 + err. */
static int become_data_owner(const struct conf *c, struct buf *err)
{
	return become_owner_of(conf_str(c, "data_dir"), err);
}

/* user_source = system: root delivers as the user (a child switches to it); anyone else
 * only for themselves. */
static int deliver_system(const struct conf *c, const struct deliver_args *a, const char *who)
{
	struct userdb *db = userdb_open(c);
	struct user_info info;
	struct buf err = BUF_INIT;
	int code, found = userdb_lookup(db, who, &info, &err);
	if (found < 0) {
		fprintf(stderr, "tern deliver: 4.3.0 %s\n", buf_cstr(&err));
		code = EX_TEMPFAIL;
	} else if (found == 0) {
		fprintf(stderr, "tern deliver: 5.1.1 unknown user %s\n", who);
		code = EX_NOUSER;
	} else if (geteuid() != 0 && getuid() != info.uid) {
		fprintf(stderr, "tern deliver: 5.7.1 only root may deliver for %s\n", info.login);
		code = EX_NOPERM;
	} else {
		struct deliver_user u;
		deliver_user_system(c, &info, &u);
		code = deliver_for(c, a, &u, geteuid() == 0 ? &info : NULL);
		deliver_user_free(&u);
	}
	if (found > 0)
		user_info_free(&info);
	userdb_close(&db);
	buf_free(&err);
	return code;
}

int cmd_deliver(int argc, char **argv)
{
	struct deliver_args a = {0};
	if (parse_args(argc, argv, &a) < 0)
		return usage();
	struct conf *c = load_conf(a.conf);
	if (c == NULL)
		return EX_CONFIG;
	/* One message per process: a syncfs here would serve no other delivery (no group
	 * commit) and would wait for every other program's dirty data on the file system.
	 * fsync of the file and of its folder, as Dovecot's LDA does. */
	durable_set_method(DURABLE_FSYNC);
	log_init("deliver", conf_num(c, "log") == 1);
	log_set_level((enum log_level)conf_num(c, "log_level"));
	if (sysuser_mode(c)) {
		int code = deliver_system(c, &a, a.user != NULL ? a.user : a.address);
		conf_free(&c);
		return code;
	}
	struct deliver_user u;
	struct buf err = BUF_INIT;
	int found = -1, code;
	if (become_data_owner(c, &err) == 0)
		found = deliver_user_lookup(c, a.user != NULL ? a.user : a.address, &u, &err);
	if (found < 0) {
		fprintf(stderr, "tern deliver: 4.3.0 %s\n", buf_cstr(&err));
		code = EX_TEMPFAIL;
	} else if (found == 0) {
		fprintf(stderr, "tern deliver: 5.1.1 unknown user %s\n",
			a.user != NULL ? a.user : a.address);
		code = EX_NOUSER;
	} else {
		code = deliver_for(c, &a, &u, NULL);
		deliver_user_free(&u);
	}
	buf_free(&err);
	conf_free(&c);
	return code;
}
