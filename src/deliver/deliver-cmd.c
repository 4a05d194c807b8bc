/* deliver-cmd: `tern deliver`, one message on stdin for one recipient, sysexits codes.
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
};

static int usage(void)
{
	fprintf(stderr, "usage: tern deliver [-f SENDER] (-a ADDRESS | -d USER) [-c CONF]\n");
	return EX_USAGE;
}

static int parse_args(int argc, char **argv, struct deliver_args *a)
{
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, "f:r:a:d:c:")) != -1) {
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

/* Where the spooling of stdin is: the From_ line state and the bytes written so far. */
struct spool {
	bool started, in_from;
	uint64_t size;
};

/* Copies stdin to fd without a leading From_ line (whose sender goes to from_r): 1 at the
 * end of stdin, 0 as soon as fd holds more than max bytes, -1 on an error. */
static int spool_copy(int fd, struct spool *s, uint64_t max, struct buf *from_r)
{
	char *buf = x_malloc(SPOOL_CHUNK);
	int r = 0;
	while (s->size <= max) {
		ssize_t n = read(0, buf, SPOOL_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -1 : 1;
			break;
		}
		size_t skip = 0;
		if (!s->started && n >= 5 && memcmp(buf, "From ", 5) == 0)
			s->in_from = true;
		s->started = true;
		if (s->in_from) {
			const char *nl = memchr(buf, '\n', (size_t)n);
			skip = nl != NULL ? (size_t)(nl - buf) + 1 : (size_t)n;
			buf_append(from_r, buf, nl != NULL ? skip - 1 : skip);
			s->in_from = nl == NULL;
		}
		if (write_full(fd, buf + skip, (size_t)n - skip) < 0) {
			r = -1;
			break;
		}
		s->size += (uint64_t)n - skip;
	}
	x_free(&buf);
	return r;
}

/* An unlinked spool file in the INBOX's tmp/ (or in tmpdir) holding stdin: first what
 * is in mem (s->size bytes, when mem >= 0), then the rest of stdin. fd, or -1 with
 * *code_r. */
static int spool_file(const char *inbox, const char *tmpdir, int mem, struct spool *s,
		      struct buf *from_r, int *code_r)
{
	char *tmp = tmpdir != NULL ? x_strdup(tmpdir) : x_asprintf("%s/tmp", inbox);
	int fd = -1;
	if (mkdir_p(tmp, 0700) < 0) {
		*code_r = errno == EACCES || errno == EPERM ? EX_NOPERM : EX_CANTCREAT;
		fprintf(stderr, "tern deliver: cannot create %s: %s\n", tmp, strerror(errno));
		x_free(&tmp);
		return -1;
	}
	char *path =
	    x_asprintf("%s/deliver.%ld.%llu", tmp, (long)getpid(), (unsigned long long)now_ms());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct deliver_src held = {.fd = mem, .fd_len = mem >= 0 ? s->size : 0};
	if (fd < 0) {
		*code_r = errno == EACCES || errno == EPERM ? EX_NOPERM : EX_CANTCREAT;
		fprintf(stderr, "tern deliver: cannot create %s: %s\n", path, strerror(errno));
	} else if (unlink(path),
		   deliver_src_write(fd, &held) < 0 || spool_copy(fd, s, UINT64_MAX, from_r) < 0) {
		*code_r = EX_TEMPFAIL;
		fprintf(stderr, "tern deliver: cannot spool the message: %s\n", strerror(errno));
		close(fd);
		fd = -1;
	}
	x_free(&tmp);
	x_free(&path);
	return fd;
}

/* A folder where the spool file would go that may not be written is 77 (EX_NOPERM), as
 * when the file is made there: the user's folder is not ours to write (a missing one is
 * made at delivery). */
static bool tmp_unwritable(const char *inbox, const char *tmpdir, int *code_r)
{
	char *tmp = tmpdir != NULL ? x_strdup(tmpdir) : x_asprintf("%s/tmp", inbox);
	bool no =
	    faccessat(AT_FDCWD, tmp, W_OK, AT_EACCESS) < 0 && (errno == EACCES || errno == EPERM);
	if (no) {
		*code_r = EX_NOPERM;
		fprintf(stderr, "tern deliver: cannot write in %s: %s\n", tmp, strerror(errno));
	}
	x_free(&tmp);
	return no;
}

/* stdin, spooled: up to deliver_spool_memory bytes (most messages) in memory, a memfd,
 * so that a delivery makes and deletes no file besides the one it delivers; a bigger
 * message goes on to an unlinked file in the INBOX's tmp/ (or in tmpdir), and is never
 * held whole in memory. fd, or -1 with *code_r. */
static int spool_stdin(const struct conf *c, const char *inbox, const char *tmpdir,
		       struct buf *from_r, int *code_r)
{
	struct spool s = {0};
	int mem = memfd_create("tern-deliver", MFD_CLOEXEC), fd = mem, r = 0;
	if (mem >= 0)
		r = spool_copy(mem, &s, conf_num(c, "deliver_spool_memory"), from_r);
	if (r == 0) { /* too big for memory (or no memfd): a file */
		fd = spool_file(inbox, tmpdir, mem, &s, from_r, code_r);
		if (mem >= 0)
			close(mem);
	} else if (r < 0) {
		*code_r = EX_TEMPFAIL;
		fprintf(stderr, "tern deliver: cannot spool the message: %s\n", strerror(errno));
		close(mem);
		fd = -1;
	}
	if (fd == mem && fd >= 0 && tmp_unwritable(inbox, tmpdir, code_r)) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0 && s.size == 0) {
		*code_r = EX_DATAERR;
		fprintf(stderr, "tern deliver: 5.6.0 empty message\n");
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The envelope sender: -f (without <>), else the From_ line's, else <>. */
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
		return x_strndup(s, strcspn(s, " \t"));
	}
	return x_strdup("");
}

/* The system user's spool folder: $TMPDIR, else /tmp (an mbox INBOX has no tmp/). */
static const char *system_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	return t != NULL && t[0] == '/' ? t : "/tmp";
}

/* Delivers stdin for u; info: the system user when started as root (the delivery then
 * runs in a child as that user, see deliver_as_user), else NULL. */
static int run_delivery(const struct conf *c, const struct deliver_args *a,
			const struct deliver_user *u, const struct user_info *info)
{
	struct buf from = BUF_INIT;
	int code = EX_TEMPFAIL;
	int fd = spool_stdin(c, u->inbox, u->virtual_user ? NULL : system_tmpdir(), &from, &code);
	if (fd < 0) {
		buf_free(&from);
		return code;
	}
	char *sender = pick_sender(a->sender, &from);
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
	struct delivery_result res;
	if (info != NULL)
		code = deliver_as_user(c, info, &req, false, &res);
	else
		code = deliver_local(&ctx, &res);
	if (code != 0)
		fprintf(stderr, "tern deliver: %s %s\n", res.enhanced, res.text);
	log_info("%s: to=<%s>, from=<%s>, status=%s (%s %s)", id, req.recipient, sender,
		 code == 0	       ? "sent"
		 : code == EX_TEMPFAIL ? "deferred"
				       : "bounced",
		 res.enhanced, res.text);
	close(fd);
	x_free(&sender);
	buf_free(&from);
	return code;
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
		code = run_delivery(c, a, &u, geteuid() == 0 ? &info : NULL);
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
		code = run_delivery(c, &a, &u, NULL);
		deliver_user_free(&u);
	}
	buf_free(&err);
	conf_free(&c);
	return code;
}
