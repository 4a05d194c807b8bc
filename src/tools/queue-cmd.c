/* queue-cmd: `tern queue list|show ID|flush|delete ID|hold ID|release ID` and `mailq`.
 *
 * Read-only commands read the envelopes directly (doc/queue-format.md); changes are state
 * records appended to the envelope (hold/release) or removal (delete), followed by a
 * notify datagram so the manager acts at once. The list (smtpd-mailq.c, Postfix's
 * layout) is read from the queue by root and its owner; anyone else's mailq and tern
 * queue list ask the server for it on the local submission socket (XMAILQ), as Postfix's
 * postqueue asks showq, and exit 75 when it is not running.
 */
#include "tools.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "queue.h"
#include "sendmail-sock.h"
#include "smtpd.h"
#include "util.h"
#include "xalloc.h"

static int qc_usage(void)
{
	fprintf(stderr, "usage: tern queue list|show ID|flush|delete ID|hold ID|release ID "
			"[-c CONF]\n");
	return 64;
}

/* The listing, read from the queue (root, the queue's owner). */
static int qc_list(const char *qdir)
{
	struct buf err = BUF_INIT, piece = BUF_INIT;
	struct mailq_list *l = mailq_list_open(qdir, 0, &err);
	if (l == NULL) {
		fprintf(stderr, "mailq: %s\n", buf_cstr(&err));
		buf_free(&err);
		return 75;
	}
	while (mailq_list_next(l, &piece)) {
		fwrite(piece.data, 1, piece.len, stdout);
		buf_reset(&piece);
	}
	mailq_list_free(&l);
	buf_free(&piece);
	buf_free(&err);
	return fflush(stdout) == 0 ? 0 : 74;
}

/* The listing from the server, for users who may not read the queue: exit status as
 * sendmail's mailq (75 when the server is not running, 77 when not allowed). */
static int qc_list_remote(const struct conf *c)
{
	struct buf err = BUF_INIT;
	int r = sm_sock_mailq(c, stdout, &err);
	int status = 0;
	if (r < 0) {
		fprintf(stderr, "mailq: %s; without the mail server only root and the queue's "
				"owner can list the queue (try again later)\n", buf_cstr(&err));
		status = 75;
	} else if (r == 550) {
		fprintf(stderr, "mailq: you are not allowed to list the queue (%s)\n",
			buf_cstr(&err));
		status = 77;
	} else if (r > 0) {
		fprintf(stderr, "mailq: %s\n", buf_cstr(&err));
		status = r >= 500 ? 69 : 75;
	}
	buf_free(&err);
	return fflush(stdout) == 0 ? status : 74;
}

/* mailq and tern queue list: read the queue when we may, else ask the server. */
static int qc_list_any(const char *conf_path, const char *prog)
{
	struct conf *c = tool_load_conf(conf_path);
	log_init(prog, false);
	const char *qdir = conf_str(c, "queue_dir");
	struct buf err = BUF_INIT;
	int r;
	if (!sm_queue_direct(qdir)) {
		r = qc_list_remote(c);
	} else if (queue_become_owner(qdir, &err) < 0) {
		fprintf(stderr, "%s: %s\n", prog, buf_cstr(&err));
		r = 73;
	} else {
		r = qc_list(qdir);
	}
	buf_free(&err);
	conf_free(&c);
	return r;
}

static void qc_show_envelope(const struct queue_envelope *env)
{
	char when[64];
	rfc5322_date(env->arrival, when, sizeof(when));
	printf("id: %s\narrival: %s\nsize: %llu\nsender: <%s>\nattempts: %u\nheld: %s\n",
	       env->id, when, (unsigned long long)env->size, env->sender, env->attempts,
	       env->held ? "yes" : "no");
	if (env->next_try != 0) {
		rfc5322_date(env->next_try, when, sizeof(when));
		printf("next try: %s\n", when);
	}
	for (size_t i = 0; i < env->attr_count; i++)
		printf("attr %s: %s\n", env->attrs[i].name, env->attrs[i].value);
	for (size_t i = 0; i < env->rcpt_count; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		printf("recipient %zu: <%s> (orcpt %s) %s%s%s\n", i, r->addr, r->orcpt,
		       mailq_rcpt_state(r), r->last_error ? ": " : "", r->last_error ? r->last_error : "");
	}
}

/* Loads ID for a command; prints why not. */
static struct queue_envelope *qc_load(const char *qdir, const char *id)
{
	struct queue_envelope *env = NULL;
	struct buf err = BUF_INIT;
	if (!queue_id_valid(id))
		fprintf(stderr, "tern queue: %s: not a queue ID\n", log_safe(id, strlen(id), 40));
	else if (queue_envelope_load(qdir, id, &env, &err) == QUEUE_LOAD_MISSING)
		fprintf(stderr, "tern queue: %s: no such message in the queue\n", id);
	else if (env == NULL)
		fprintf(stderr, "tern queue: %s: %s\n", id, buf_cstr(&err));
	buf_free(&err);
	return env;
}

static int qc_show(const char *qdir, const char *id)
{
	struct queue_envelope *env = qc_load(qdir, id);
	if (env == NULL)
		return 1;
	qc_show_envelope(env);
	printf("\n");
	fflush(stdout);
	int fd = queue_data_open(qdir, env);
	char buf[65536];
	ssize_t n;
	/* The data only: a queue file goes on with its envelope. */
	for (uint64_t left = env->size; fd >= 0 && left > 0; left -= (uint64_t)n) {
		n = read(fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));
		if (n <= 0 || write_full(STDOUT_FILENO, buf, (size_t)n) < 0)
			break;
	}
	if (fd >= 0)
		close(fd);
	queue_envelope_free(&env);
	return 0;
}

/* delete, hold, release. */
static int qc_change(const char *qdir, const char *verb, const char *id)
{
	struct queue_envelope *env = qc_load(qdir, id);
	if (env == NULL)
		return 1;
	queue_envelope_free(&env);
	struct buf err = BUF_INIT, recs = BUF_INIT;
	int r;
	if (strcmp(verb, "delete") == 0) {
		r = queue_remove(qdir, id, &err);
	} else {
		queue_rec_hold(&recs, strcmp(verb, "hold") == 0);
		r = queue_append_records(qdir, id, &recs, &err);
	}
	if (r < 0) {
		fprintf(stderr, "tern queue: %s: %s\n", id, buf_cstr(&err));
	} else {
		queue_notify(qdir, id);
		printf("%s: %s\n", id, strcmp(verb, "delete") == 0 ? "deleted"
				       : strcmp(verb, "hold") == 0 ? "held" : "released");
	}
	buf_free(&err);
	buf_free(&recs);
	return r < 0 ? 75 : 0;
}

/* Splits "-c CONF" out of argv; the other words go to words[]. -1 on a bad option. */
static int qc_args(int argc, char **argv, const char **conf_r, const char **words, int max,
		   int *nwords_r)
{
	*nwords_r = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			*conf_r = argv[++i];
		else if (strncmp(argv[i], "-c", 2) == 0 && argv[i][2] != '\0')
			*conf_r = argv[i] + 2;
		else if (argv[i][0] == '-' || *nwords_r == max)
			return -1;
		else
			words[(*nwords_r)++] = argv[i];
	}
	return 0;
}

/* Loads the configuration and takes the queue owner's identity. NULL: exit 73. */
static struct conf *qc_open(const char *conf_path, const char *prog)
{
	struct conf *c = tool_load_conf(conf_path);
	log_init(prog, false);
	struct buf err = BUF_INIT;
	if (queue_become_owner(conf_str(c, "queue_dir"), &err) < 0) {
		fprintf(stderr, "%s: %s\n", prog, buf_cstr(&err));
		conf_free(&c);
	}
	buf_free(&err);
	return c;
}

int cmd_mailq(int argc, char **argv)
{
	const char *conf = NULL, *words[1];
	int n;
	if (qc_args(argc, argv, &conf, words, 0, &n) < 0) {
		fprintf(stderr, "usage: mailq [-c CONF]\n");
		return 64;
	}
	return qc_list_any(conf, "mailq");
}

int cmd_queue(int argc, char **argv)
{
	const char *conf = NULL, *words[2];
	int n;
	if (qc_args(argc, argv, &conf, words, 2, &n) < 0 || n == 0)
		return qc_usage();
	const char *verb = words[0];
	bool needs_id = strcmp(verb, "show") == 0 || strcmp(verb, "delete") == 0 ||
			strcmp(verb, "hold") == 0 || strcmp(verb, "release") == 0;
	bool no_id = strcmp(verb, "list") == 0 || strcmp(verb, "flush") == 0;
	if ((!needs_id && !no_id) || (needs_id && n != 2) || (no_id && n != 1))
		return qc_usage();
	if (strcmp(verb, "list") == 0)
		return qc_list_any(conf, "tern queue");
	struct conf *c = qc_open(conf, "tern queue");
	if (c == NULL)
		return 73;
	const char *qdir = conf_str(c, "queue_dir");
	int r = 0;
	if (strcmp(verb, "flush") == 0) {
		queue_notify_send(qdir, "flush");
		printf("flush requested\n");
	} else if (strcmp(verb, "show") == 0) {
		r = qc_show(qdir, words[1]);
	} else {
		r = qc_change(qdir, verb, words[1]);
	}
	conf_free(&c);
	return r;
}
