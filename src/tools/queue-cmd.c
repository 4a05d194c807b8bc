/* queue-cmd: `tern queue list|show ID|flush|delete ID|hold ID|release ID` and `mailq`.
 *
 * Read-only commands read the envelopes directly (doc/queue-format.md); changes are state
 * records appended to the envelope (hold/release) or removal (delete), followed by a
 * notify datagram so the manager acts at once. The list layout follows Postfix's mailq.
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
#include "util.h"
#include "xalloc.h"

#define QC_INDENT "                                          "

static int qc_usage(void)
{
	fprintf(stderr, "usage: tern queue list|show ID|flush|delete ID|hold ID|release ID "
			"[-c CONF]\n");
	return 64;
}

static const char *qc_state(const struct queue_rcpt *r)
{
	if (r->state == QUEUE_RCPT_DELIVERED)
		return "delivered";
	if (r->state == QUEUE_RCPT_FAILED)
		return "failed";
	return r->last_error != NULL ? "deferred" : "pending";
}

static void qc_print_entry(const struct queue_envelope *env)
{
	char when[32];
	struct tm tm;
	localtime_r(&env->arrival, &tm);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
	const char *s = env->sender[0] != '\0' ? env->sender : "MAILER-DAEMON";
	printf("%-19s%s %8llu %s  %s\n", env->id, env->held ? "!" : " ",
	       (unsigned long long)env->size, when, log_safe(s, strlen(s), 200));
	for (size_t i = 0; i < env->rcpt_count; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		if (r->last_error != NULL || r->state != QUEUE_RCPT_PENDING)
			printf(QC_INDENT "(%s%s%s)\n", qc_state(r), r->last_error ? ": " : "",
			       r->last_error ? log_safe(r->last_error, strlen(r->last_error), 200)
					     : "");
		printf(QC_INDENT "%s\n", log_safe(r->addr, strlen(r->addr), 200));
	}
	printf("\n");
}

static int qc_list(const char *qdir)
{
	char **ids;
	size_t n, shown = 0;
	uint64_t bytes = 0;
	struct buf err = BUF_INIT;
	if (queue_list(qdir, &ids, &n, &err) < 0) {
		fprintf(stderr, "mailq: %s\n", buf_cstr(&err));
		buf_free(&err);
		return 75;
	}
	for (size_t i = 0; i < n; i++) {
		struct queue_envelope *env;
		buf_reset(&err);
		enum queue_load r = queue_envelope_load(qdir, ids[i], &env, &err);
		if (r == QUEUE_LOAD_MISSING)
			continue; /* delivered meanwhile */
		if (r != QUEUE_LOAD_OK) {
			printf("%-19s  (cannot read: %s)\n\n", ids[i], buf_cstr(&err));
			continue;
		}
		if (shown++ == 0)
			printf("-Queue ID-           --Size-- ----Arrival Time---- "
			       "-Sender/Recipient-------\n");
		bytes += env->size;
		qc_print_entry(env);
		queue_envelope_free(&env);
	}
	if (shown == 0)
		printf("Mail queue is empty\n");
	else
		printf("-- %llu Kbytes in %zu Request%s.\n",
		       (unsigned long long)(bytes + 1023) / 1024, shown, shown == 1 ? "" : "s");
	queue_list_free(&ids, n);
	buf_free(&err);
	return 0;
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
		       qc_state(r), r->last_error ? ": " : "", r->last_error ? r->last_error : "");
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
	int fd = queue_data_open(qdir, id);
	char buf[65536];
	ssize_t n;
	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		if (write_full(STDOUT_FILENO, buf, (size_t)n) < 0)
			break;
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
	struct conf *c = qc_open(conf, "mailq");
	if (c == NULL)
		return 73;
	int r = qc_list(conf_str(c, "queue_dir"));
	conf_free(&c);
	return r;
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
	struct conf *c = qc_open(conf, "tern queue");
	if (c == NULL)
		return 73;
	const char *qdir = conf_str(c, "queue_dir");
	int r = 0;
	if (strcmp(verb, "list") == 0) {
		r = qc_list(qdir);
	} else if (strcmp(verb, "flush") == 0) {
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
