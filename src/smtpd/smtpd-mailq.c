/* smtpd-mailq: the queue listing of mailq (sendmail -bp, tern queue list), in one format
 * for root and the queue's owner, whose mailq reads the queue itself, and for every other
 * local user, whose mailq asks the smtp worker with XMAILQ on the local submission socket
 * (a private command, RFC 5321 4.1.5, not offered or accepted on network listeners).
 * Like sendmail's and Postfix's mailq, anyone may list the queue unless mailq_users says
 * otherwise.
 *
 * The layout follows Postfix's mailq: per message its queue ID ("!" when held), size,
 * arrival time and sender, then its recipients, each after its state and last deferral
 * reason when it has one; a summary line at the end, or "Mail queue is empty".
 * The listing is made one message at a time (mailq_list_next): the server sends each
 * piece as "211-" reply lines once the client has read the previous ones, so neither side
 * holds more than one message's lines; the server lists at most mailq_max_entries
 * messages (the oldest; the summary says how many more there are).
 * Trusts: nothing in the queue files (every field shown goes through log_safe).
 */
#include "smtpd.h"
#include "smtpd-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "queue.h"
#include "util.h"
#include "xalloc.h"

#define MAILQ_INDENT "                                          "

struct mailq_list {
	char *qdir;
	char **ids;
	size_t count, total, pos, shown;
	uint64_t bytes;
	bool done;
};

struct mailq_list *mailq_list_open(const char *queue_dir, size_t max, struct buf *err)
{
	struct mailq_list *l = X_NEW(struct mailq_list);
	if (queue_list_oldest(queue_dir, max == 0 ? SIZE_MAX : max, &l->ids, &l->count,
			      &l->total, err) < 0) {
		free(l);
		return NULL;
	}
	l->qdir = x_strdup(queue_dir);
	return l;
}

void mailq_list_free(struct mailq_list **lp)
{
	struct mailq_list *l = *lp;
	if (l == NULL)
		return;
	queue_list_free(&l->ids, l->count);
	x_free(&l->qdir);
	x_free(lp);
}

const char *mailq_rcpt_state(const struct queue_rcpt *r)
{
	if (r->state == QUEUE_RCPT_DELIVERED)
		return "delivered";
	if (r->state == QUEUE_RCPT_FAILED)
		return "failed";
	return r->last_error != NULL ? "deferred" : "pending";
}

static void mailq_entry(struct buf *out, const struct queue_envelope *env)
{
	char when[32];
	struct tm tm;
	localtime_r(&env->arrival, &tm);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
	const char *s = env->sender[0] != '\0' ? env->sender : "MAILER-DAEMON";
	buf_printf(out, "%-19s%s %8llu %s  %s\n", env->id, env->held ? "!" : " ",
		   (unsigned long long)env->size, when, log_safe(s, strlen(s), 200));
	for (size_t i = 0; i < env->rcpt_count; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		if (r->last_error != NULL || r->state != QUEUE_RCPT_PENDING)
			buf_printf(out, MAILQ_INDENT "(%s%s%s)\n", mailq_rcpt_state(r),
				   r->last_error ? ": " : "",
				   r->last_error ? log_safe(r->last_error, strlen(r->last_error), 200)
						 : "");
		buf_printf(out, MAILQ_INDENT "%s\n", log_safe(r->addr, strlen(r->addr), 200));
	}
	buf_append_char(out, '\n');
}

/* The summary at the end. */
static void mailq_summary(const struct mailq_list *l, struct buf *out)
{
	if (l->shown == 0 && l->total <= l->count) {
		buf_append_str(out, "Mail queue is empty\n");
		return;
	}
	buf_printf(out, "-- %llu Kbytes in %zu Request%s.\n",
		   (unsigned long long)(l->bytes + 1023) / 1024, l->shown, l->shown == 1 ? "" : "s");
	if (l->total > l->count)
		buf_printf(out, "-- %zu more not listed (mailq_max_entries = %zu)\n",
			   l->total - l->count, l->count);
}

bool mailq_list_next(struct mailq_list *l, struct buf *out)
{
	if (l->done)
		return false;
	struct buf err = BUF_INIT;
	while (l->pos < l->count) {
		const char *id = l->ids[l->pos++];
		struct queue_envelope *env;
		buf_reset(&err);
		enum queue_load r = queue_envelope_load(l->qdir, id, &env, &err);
		if (r == QUEUE_LOAD_MISSING)
			continue; /* delivered meanwhile */
		if (l->shown++ == 0)
			buf_append_str(out, "-Queue ID-           --Size-- ----Arrival Time---- "
					    "-Sender/Recipient-------\n");
		if (r != QUEUE_LOAD_OK) {
			buf_printf(out, "%-19s  (cannot read: %s)\n\n", id, buf_cstr(&err));
		} else {
			l->bytes += env->size;
			mailq_entry(out, env);
			queue_envelope_free(&env);
		}
		buf_free(&err);
		return true;
	}
	buf_free(&err);
	mailq_summary(l, out);
	l->done = true;
	return true;
}
