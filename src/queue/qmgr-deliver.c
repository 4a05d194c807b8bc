/* qmgr-deliver: one delivery pass over one queued message.
 *
 * Recipients in a local domain are looked up in the user directory and delivered to
 * their Maildir (deliver_local, in this thread); system users (user_source = system) are
 * handed to the deliver worker, which delivers as the user (deliver_handoff, with the
 * same exactly-once names and outcomes); unknown local users fail with 5.1.1; other domains
 * are routed to the relay (qmgr-relay.c): the pass returns them in a batch, and a
 * finishing pass records the relay's results.
 *
 * Exactly-once without extra fsyncs: the Maildir file's name depends only on the queue
 * ID and the recipient, so a repeated delivery can find the first one. A pass looks for
 * it (in new/ and cur/, where a reader may have moved it) whenever the first may have
 * happened unrecorded: for every message found at an unclean start (no clean-stop mark,
 * see qmgr.c), after a deferral, and for recipients with an "attempt" record from older
 * versions. So a message all of whose recipients were delivered is simply removed, with
 * no state written; outcomes are appended (one write + fdatasync) only when something
 * must be remembered: a deferral or a failure. Messages older than queue_lifetime fail
 * with 5.4.7 after a last try.
 *
 * Notifications to the sender (lib-dsn, through qmgr-relay.c): failures, once per pass;
 * one delay warning for the recipients still deferred delay_warning_time after arrival
 * (RFC 3461 5.2.5), remembered with a "w" record; a success report for recipients
 * delivered here, or relayed to a server without DSN, whose NOTIFY asked for it (RFC
 * 3461 5.2.2 b, 5.2.3 a). Each is queued before the records it stands for (f, w, o)
 * are written, and names them in its own envelope: after a crash in between they are
 * taken from it (qmgr-reconcile.c), so each goes out once.
 */
#include "qmgr-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "deliver.h"
#include "dsn.h"
#include "log.h"
#include "relay.h"
#include "store.h"
#include "userdb.h"
#include "xalloc.h"


static void qmgr_result(struct delivery_result *res, enum delivery_status st,
			const char *text)
{
	res->status = st;
	snprintf(res->enhanced, sizeof(res->enhanced), "%.5s", text);
	snprintf(res->text, sizeof(res->text), "%s", strlen(text) > 6 ? text + 6 : "");
}

/* Seconds since the message arrived, never below 0: the arrival time comes from the
 * precise clock (with the queue ID), `now` from time(2), which can lag it by a tick, so
 * a message just received can look as if it arrived a second in the future. (A negative
 * age cast to unsigned once made a new message "expired" and bounced it with 5.4.7.) */
static uint64_t qmgr_age(const struct queue_envelope *env, time_t now)
{
	return now > env->arrival ? (uint64_t)(now - env->arrival) : 0;
}

static void qmgr_route_rcpt(struct qmgr *q, const char *addr, struct qmgr_route *r)
{
	memset(r, 0, sizeof(*r));
	const char *at = strrchr(addr, '@');
	if (at == NULL || !userdb_is_local_domain(q->udb, at + 1)) {
		r->remote = qmgr_route_remote(q, addr, &r->hop, &r->res) == 0;
		return;
	}
	struct user_info info;
	struct buf err = BUF_INIT;
	int found = userdb_lookup(q->udb, addr, &info, &err);
	if (found > 0) {
		r->local = true;
		r->maildir = x_strdup(info.maildir);
		if (info.system)
			r->login = x_strdup(info.login);
		r->quota_bytes = info.quota_bytes;
		r->quota_messages = info.quota_messages;
		user_info_free(&info);
	} else if (found == 0) {
		qmgr_result(&r->res, DELIVERY_BOUNCE, "5.1.1 no such user here");
	} else {
		char *t = x_asprintf("4.3.0 user directory: %s", buf_cstr(&err));
		qmgr_result(&r->res, DELIVERY_DEFER, t);
		x_free(&t);
	}
	buf_free(&err);
}

static void qmgr_log(const struct queue_envelope *env, const struct queue_rcpt *rc,
		     const struct qmgr_route *r, time_t now)
{
	static const char *const names[] = {"sent", "deferred", "bounced"};
	char hop[RELAY_HOST_MAX + 32] = "none";
	if (r->remote)
		relay_nexthop_key(&r->hop, hop, sizeof(hop));
	log_info("%s: to=<%s>, %s%s, status=%s (%s %s), delay=%llus", env->id,
		 log_safe(rc->addr, strlen(rc->addr), 300), r->local ? "mailbox=" : "relay=",
		 r->local ? r->maildir : hop, names[r->res.status], r->res.enhanced,
		 log_safe(r->res.text, strlen(r->res.text), 300),
		 (unsigned long long)qmgr_age(env, now));
}

/* Would the message put the mailbox over its quota? Then the route gets the outcome
 * quota_exceeded asks for (4.2.2 or 5.2.2, RFC 3463) and true is returned. Only users
 * with a quota pay for the count (over every folder). */
static bool qmgr_over_quota(struct qmgr *q, const struct queue_envelope *env,
			    struct qmgr_route *r)
{
	if (r->quota_bytes == 0 && r->quota_messages == 0)
		return false;
	struct store *st = NULL;
	struct buf err = BUF_INIT;
	int over = -1;
	if (store_open(r->maildir, store_detect_format(r->maildir), &st, &err) == 0)
		over = store_quota_check(st, r->quota_bytes, r->quota_messages, env->size, &err);
	store_close(&st);
	char *t = NULL;
	if (over == 1 && conf_num(q->conf, "quota_exceeded") == 1) {
		t = x_asprintf("5.2.2 mailbox full: %s", buf_cstr(&err));
		qmgr_result(&r->res, DELIVERY_BOUNCE, t);
	} else if (over == 1) {
		t = x_asprintf("4.2.2 mailbox full: %s", buf_cstr(&err));
		qmgr_result(&r->res, DELIVERY_DEFER, t);
	} else if (over < 0) {
		t = x_asprintf("4.3.0 cannot count the mailbox for its quota: %s", buf_cstr(&err));
		qmgr_result(&r->res, DELIVERY_DEFER, t);
	}
	x_free(&t);
	buf_free(&err);
	return over != 0;
}

/* Delivers to the local recipients of routes. */
static void qmgr_deliver_local(struct qmgr *q, const struct queue_envelope *env,
			       struct qmgr_route *routes, bool recheck)
{
	bool any = false;
	for (size_t i = 0; i < env->rcpt_count && !any; i++)
		any = routes[i].local;
	if (!any) /* all remote or already done: the relay opens the data itself */
		return;
	int fd = queue_data_open(q->queue_dir, env);
	for (size_t i = 0; i < env->rcpt_count; i++) {
		if (!routes[i].local)
			continue;
		struct delivery_request req = {
			.queue_id = env->id, .rcpt_index = (unsigned)i, .sender = env->sender,
			.recipient = env->rcpts[i].addr, .maildir = routes[i].maildir,
			.message_fd = fd, .message_sized = true, .message_size = env->size,
			.hostname = conf_str(q->conf, "hostname"),
			.queue_time = env->arrival,
			.recheck = recheck || env->rcpts[i].attempting};
		if (fd < 0) {
			char *t = x_asprintf("4.3.0 cannot open the queued message: %s",
					     strerror(errno));
			qmgr_result(&routes[i].res, DELIVERY_DEFER, t);
			x_free(&t);
		} else if (qmgr_over_quota(q, env, &routes[i])) {
			log_warn("%s: to=<%s>: over quota: %s %s", env->id,
				 log_safe(req.recipient, strlen(req.recipient), 300),
				 routes[i].res.enhanced, routes[i].res.text);
		} else if (routes[i].login != NULL) {
			/* A system user: delivered as the user by the deliver worker. */
			deliver_handoff(q->conf, &req, routes[i].login, &routes[i].res);
		} else {
			/* The user's procmail recipes or Sieve script when there are any,
			 * else straight into the INBOX. */
			deliver_local(&(struct deliver_ctx){.conf = q->conf, .req = &req,
							    .unique_names = true},
				      &routes[i].res);
		}
	}
	if (fd >= 0)
		close(fd);
}

/* The wait before the next try: queue_retry_min doubled per attempt, at most _max. */
static time_t qmgr_backoff(const struct qmgr *q, unsigned attempts)
{
	uint64_t min = conf_num(q->conf, "queue_retry_min");
	uint64_t max = conf_num(q->conf, "queue_retry_max");
	uint64_t d = min > 0 ? min : 1;
	for (unsigned i = 0; i < attempts && d < max; i++)
		d *= 2;
	return (time_t)(d < max ? d : max);
}

/* The recipients idx[] are still deferred: when delay_warning_time has passed since
 * arrival, the sender gets one delay warning about those not warned yet, and "w"
 * records (also when NOTIFY or the null sender mean none is due) so that no later pass
 * or restart sends another. Returns the time a warning will be due (a pass should come
 * then), or 0. */
static time_t qmgr_delay_warning(struct qmgr *q, const struct queue_envelope *env,
				 const struct qmgr_route *routes, const size_t *idx, size_t n,
				 time_t now, struct buf *recs)
{
	uint64_t after = conf_num(q->conf, "delay_warning_time");
	size_t *due = x_calloc(n + 1, sizeof(*due)), ndue = 0;
	for (size_t k = 0; k < n; k++)
		if (!env->rcpts[idx[k]].warned)
			due[ndue++] = idx[k];
	time_t at = after > 0 && ndue > 0 ? env->arrival + (time_t)after : 0;
	if (at != 0 && at <= now) {
		if (qmgr_notify(q, env, routes, due, ndue, DSN_ACTION_DELAYED) >= 0)
			for (size_t k = 0; k < ndue; k++)
				queue_rec_warned(recs, (unsigned)due[k]);
		at = 0;
	}
	free(due);
	return at;
}

/* Records outcomes, expires, schedules; returns whether the message is finished.
 * relaying: remote recipients are out with the relay (no outcome, no retry time yet). */
static bool qmgr_record(struct qmgr *q, struct queue_envelope *env,
			struct qmgr_route *routes, time_t now, struct qmgr_entry *e,
			bool relaying)
{
	bool expired = qmgr_age(env, now) >= conf_num(q->conf, "queue_lifetime");
	struct buf recs = BUF_INIT, err = BUF_INIT;
	bool finished = true, all_sent = true;
	size_t *failed = x_calloc(env->rcpt_count, sizeof(*failed)), nfailed = 0;
	size_t *deferred = x_calloc(env->rcpt_count, sizeof(*deferred)), ndeferred = 0;
	size_t *sent = x_calloc(env->rcpt_count, sizeof(*sent)), nsent = 0;
	for (size_t i = 0; i < env->rcpt_count; i++) {
		struct queue_rcpt *rc = &env->rcpts[i];
		if (rc->state != QUEUE_RCPT_PENDING)
			continue;
		if (relaying && routes[i].remote) {
			finished = false;
			continue;
		}
		struct delivery_result *res = &routes[i].res;
		if (res->status == DELIVERY_DEFER && expired) {
			char *t = x_asprintf("5.4.7 delivery time expired, last error: %s %s",
					     res->enhanced, res->text);
			qmgr_result(res, DELIVERY_BOUNCE, t);
			x_free(&t);
		}
		char *t = x_asprintf("%s %s", res->enhanced, res->text);
		all_sent &= res->status == DELIVERY_OK;
		if (routes[i].local && res->status == DELIVERY_DEFER)
			e->recheck = true;
		if (res->status == DELIVERY_OK) {
			queue_rec_delivered(&recs, (unsigned)i, t);
			if (!routes[i].dsn_passed && dsn_wanted(env, i, DSN_ACTION_DELIVERED))
				sent[nsent++] = i;
		} else if (res->status == DELIVERY_BOUNCE) {
			failed[nfailed++] = i; /* recorded once the bounce is queued */
		} else {
			queue_rec_deferred(&recs, (unsigned)i, t), finished = false;
			deferred[ndeferred++] = i;
		}
		x_free(&t);
		qmgr_log(env, rc, &routes[i], now);
	}
	if (nfailed > 0 && !qmgr_bounce(q, env, routes, failed, nfailed, &recs))
		finished = false;
	if (nsent > 0) /* not retried: the deliveries are done */
		qmgr_notify(q, env, routes, sent, nsent, DSN_ACTION_DELIVERED);
	/* With recipients out at the relay, the finishing pass warns, about them and the
	 * local ones deferred now together: one warning for the message. */
	time_t warn_at =
	    relaying ? 0 : qmgr_delay_warning(q, env, routes, deferred, ndeferred, now, &recs);
	if (!finished && !relaying) {
		e->next_try = now + qmgr_backoff(q, env->attempts);
		if (warn_at > now && warn_at < e->next_try)
			e->next_try = warn_at;
		queue_rec_retry(&recs, e->next_try, env->attempts + 1);
	}
	/* Delivered to everyone: removing the message is the only record needed. */
	if (finished && all_sent)
		buf_reset(&recs);
	if (recs.len > 0 && queue_append_records(q->queue_dir, env->id, &recs, &err) < 0) {
		/* Only the bookkeeping is lost: a retry finds what was delivered. */
		log_warn("%s: %s", env->id, buf_cstr(&err));
		e->next_try = now + qmgr_backoff(q, 0);
	}
	buf_free(&recs);
	buf_free(&err);
	free(failed);
	free(deferred);
	free(sent);
	return finished;
}

/* Loads e's envelope; NULL when the pass has nothing to do now. */
static struct queue_envelope *qmgr_load(struct qmgr *q, struct qmgr_entry *e, time_t now,
					enum qmgr_outcome *out)
{
	struct queue_envelope *env = NULL;
	struct buf err = BUF_INIT;
	*out = QMGR_KEEP;
	switch (queue_envelope_load(q->queue_dir, e->id, &env, &err)) {
	case QUEUE_LOAD_OK:
		break;
	case QUEUE_LOAD_MISSING:
		*out = QMGR_GONE;
		break;
	case QUEUE_LOAD_DAMAGED:
		log_error("%s: damaged envelope, moved to corrupt/: %s", e->id, buf_cstr(&err));
		buf_reset(&err);
		if (queue_move_corrupt(q->queue_dir, e->id, &err) < 0)
			fatal("%s: %s", e->id, buf_cstr(&err));
		*out = QMGR_GONE;
		break;
	case QUEUE_LOAD_ERROR:
		log_error("%s: %s", e->id, buf_cstr(&err));
		e->next_try = now + qmgr_backoff(q, 0);
		break;
	}
	buf_free(&err);
	if (env != NULL && env->held) {
		e->held = true;
		queue_envelope_free(&env);
	} else if (env != NULL && !e->forced && env->next_try > now) {
		e->next_try = env->next_try;
		queue_envelope_free(&env);
	}
	return env;
}

/* Routes the pending recipients, or (finishing pass) takes the relay's results. */
static bool qmgr_routes(struct qmgr *q, const struct queue_envelope *env,
			struct qmgr_route *routes, const struct qmgr_relay_batch *relay_in)
{
	bool any_remote = false;
	for (size_t i = 0; i < env->rcpt_count; i++) {
		const struct queue_rcpt *rc = &env->rcpts[i];
		if (rc->state != QUEUE_RCPT_PENDING)
			continue;
		if (relay_in == NULL) {
			qmgr_route_rcpt(q, rc->addr, &routes[i]);
			any_remote |= routes[i].remote;
		} else if (i < relay_in->rcpt_count && relay_in->has[i]) {
			routes[i].remote = qmgr_route_remote(q, rc->addr, &routes[i].hop,
							     &routes[i].res) == 0;
			routes[i].res = relay_in->res[i];
			routes[i].dsn_passed = relay_in->dsn_passed[i];
		} else {
			/* Tried by the first pass, already recorded: keep its deferral. */
			qmgr_result(&routes[i].res, DELIVERY_DEFER,
				    rc->last_error ? rc->last_error : "4.0.0 pending");
		}
	}
	return any_remote;
}

enum qmgr_outcome qmgr_process(struct qmgr *q, struct qmgr_entry *e, time_t now,
			       const struct qmgr_relay_batch *relay_in,
			       struct qmgr_relay_batch **batch_r)
{
	enum qmgr_outcome out;
	*batch_r = NULL;
	struct queue_envelope *env = qmgr_load(q, e, now, &out);
	if (env == NULL)
		return out;
	e->forced = false;
	/* A notification: its original holds the records it stands for before it goes out
	 * (qmgr-reconcile.c); until then it waits. */
	struct buf rerr = BUF_INIT;
	if (qmgr_reconcile(q, env, &rerr) < 0) {
		log_error("%s: not delivered yet: %s", env->id, buf_cstr(&rerr));
		e->next_try = now + qmgr_backoff(q, 0);
		buf_free(&rerr);
		queue_envelope_free(&env);
		return QMGR_KEEP;
	}
	buf_free(&rerr);
	struct qmgr_route *routes = x_calloc(env->rcpt_count, sizeof(*routes));
	bool relaying = qmgr_routes(q, env, routes, relay_in);
	if (relay_in == NULL) {
		qmgr_deliver_local(q, env, routes, e->recheck);
		e->recheck = false;
	}
	if (qmgr_record(q, env, routes, now, e, relaying)) {
		struct buf err = BUF_INIT;
		if (queue_remove_recycle(q->queue_dir, q->recycler, env, &err) == 0) {
			log_info("%s: removed", env->id);
			out = QMGR_GONE;
		} else {
			log_error("%s: %s", env->id, buf_cstr(&err));
			e->next_try = now + qmgr_backoff(q, 0);
		}
		buf_free(&err);
	} else if (relaying) {
		bool *remote = x_calloc(env->rcpt_count, sizeof(*remote));
		struct relay_nexthop *hops = x_calloc(env->rcpt_count, sizeof(*hops));
		for (size_t i = 0; i < env->rcpt_count; i++) {
			remote[i] = routes[i].remote && env->rcpts[i].state == QUEUE_RCPT_PENDING;
			hops[i] = routes[i].hop;
		}
		*batch_r = qmgr_relay_build(q, env, remote, hops);
		x_free(&remote);
		x_free(&hops);
		out = QMGR_RELAY;
	}
	for (size_t i = 0; i < env->rcpt_count; i++) {
		x_free(&routes[i].maildir);
		x_free(&routes[i].login);
	}
	x_free(&routes);
	queue_envelope_free(&env);
	return out;
}
