/* qmgr-relay: the queue manager's side of outbound delivery.
 *
 * In a delivery pass (a pool thread): each non-local recipient is routed (relay_route:
 * transport_map, relayhost, else its domain's MX on relay_port) and the message's remote
 * recipients are grouped by next hop into relay_msgs, returned in a batch. The loop
 * thread submits them to the relay (qmgr.c), gathers the per-recipient results in the
 * batch, and hands it to a finishing pass that records them like local outcomes.
 * The DSN parameters the message came with go along (lib-dsn reads them from the
 * envelope, the relay sends them to servers that offer DSN).
 * Remote delivery is at-least-once: a crash between the server's 250 and the record
 * means the message is sent again (RFC 5321 6.1 accepts this; the Maildir trick of local
 * delivery has no remote equivalent).
 */
#include "qmgr-int.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "deliver.h"
#include "dsn.h"
#include "log.h"
#include "relay.h"
#include "xalloc.h"

int qmgr_route_remote(struct qmgr *q, const char *addr, struct relay_nexthop *hop,
		      struct delivery_result *res)
{
	const char *at = strrchr(addr, '@');
	struct buf err = BUF_INIT;
	int r = -1;
	if (at == NULL || at[1] == '\0')
		buf_append_str(&err, "no domain in the address");
	else
		r = relay_route(at + 1, conf_str(q->conf, "transport_map"),
				conf_str(q->conf, "relayhost"),
				(unsigned)conf_num(q->conf, "relay_port"), hop, &err);
	if (r < 0) {
		res->status = DELIVERY_DEFER;
		snprintf(res->enhanced, sizeof(res->enhanced), "4.3.5");
		snprintf(res->text, sizeof(res->text), "bad route for %s: %s", at ? at + 1 : addr,
			 buf_cstr(&err));
	}
	buf_free(&err);
	return r;
}

static struct relay_msg *qmgr_relay_msg_new(struct qmgr *q, const struct queue_envelope *env,
					    const struct relay_nexthop *hop)
{
	struct relay_msg *m = X_NEW(struct relay_msg);
	snprintf(m->queue_id, sizeof(m->queue_id), "%s", env->id);
	m->data_path = queue_data_path(q->queue_dir, env);
	m->size = env->size;
	m->sender = x_strdup(env->sender);
	const char *body = queue_envelope_attr(env, "body");
	const char *utf8 = queue_envelope_attr(env, "smtputf8");
	m->eightbit = body != NULL && strcmp(body, "8BITMIME") == 0;
	m->smtputf8 = utf8 != NULL && strcmp(utf8, "yes") == 0;
	m->hop = *hop;
	dsn_msg_params(env, &m->dsn_ret, &m->dsn_envid);
	m->rcpts = x_calloc(env->rcpt_count, sizeof(*m->rcpts));
	return m;
}

struct qmgr_relay_batch *qmgr_relay_build(struct qmgr *q, const struct queue_envelope *env,
					  const bool *remote, const struct relay_nexthop *hops)
{
	struct qmgr_relay_batch *b = X_NEW(struct qmgr_relay_batch);
	snprintf(b->id, sizeof(b->id), "%s", env->id);
	b->rcpt_count = env->rcpt_count;
	b->res = x_calloc(env->rcpt_count, sizeof(*b->res));
	b->has = x_calloc(env->rcpt_count, sizeof(*b->has));
	b->dsn_passed = x_calloc(env->rcpt_count, sizeof(*b->dsn_passed));
	char ki[RELAY_HOST_MAX + 32], kj[RELAY_HOST_MAX + 32];
	bool *taken = x_calloc(env->rcpt_count, sizeof(*taken));
	for (size_t i = 0; i < env->rcpt_count; i++) {
		if (!remote[i] || taken[i])
			continue;
		struct relay_msg *m = qmgr_relay_msg_new(q, env, &hops[i]);
		relay_nexthop_key(&hops[i], ki, sizeof(ki));
		for (size_t j = i; j < env->rcpt_count; j++) {
			if (!remote[j] || taken[j])
				continue;
			relay_nexthop_key(&hops[j], kj, sizeof(kj));
			if (strcmp(ki, kj) != 0)
				continue;
			taken[j] = true;
			struct relay_rcpt *rc = &m->rcpts[m->rcpt_count++];
			rc->index = (unsigned)j;
			rc->addr = x_strdup(env->rcpts[j].addr);
			dsn_rcpt_params(env, j, &rc->notify, &rc->orcpt);
		}
		m->next = b->msgs;
		b->msgs = m;
		b->pending++;
	}
	x_free(&taken);
	return b;
}

void qmgr_relay_batch_free(struct qmgr_relay_batch **bp)
{
	struct qmgr_relay_batch *b = *bp;
	if (b == NULL)
		return;
	while (b->msgs != NULL) {
		struct relay_msg *m = b->msgs;
		b->msgs = m->next;
		relay_msg_free(&m);
	}
	x_free(&b->res);
	x_free(&b->has);
	x_free(&b->dsn_passed);
	x_free(bp);
}

void qmgr_relay_take_result(struct qmgr_relay_batch *b, const struct relay_msg *m)
{
	for (size_t i = 0; i < m->rcpt_count; i++) {
		unsigned idx = m->rcpts[i].index;
		if (idx < b->rcpt_count) {
			b->res[idx] = m->rcpts[i].res;
			b->has[idx] = true;
			b->dsn_passed[idx] = m->rcpts[i].dsn_passed;
		}
	}
}

int qmgr_notify(struct qmgr *q, const struct queue_envelope *env,
		const struct qmgr_route *routes, const size_t *idx, size_t count,
		enum dsn_action action)
{
	static const char *const what[] = {"non-delivery", "delay", "delivery", "delivery"};
	struct dsn_config cfg;
	dsn_config_from_conf(q->conf, &cfg);
	struct dsn_item *items = x_calloc(count, sizeof(*items));
	for (size_t k = 0; k < count; k++) {
		const struct qmgr_route *r = &routes[idx[k]];
		enum dsn_action a = action;
		if (a == DSN_ACTION_DELIVERED && r->remote)
			a = DSN_ACTION_RELAYED;
		items[k] = (struct dsn_item){idx[k], a, r->res.enhanced, r->res.text, NULL};
	}
	char id[QUEUE_ID_MAX];
	struct buf err = BUF_INIT;
	int r = dsn_send(&cfg, env, items, count, id, &err);
	if (r == 1)
		log_info("%s: sender %s notification: %s", env->id, what[action], id);
	else if (r == 0 && action == DSN_ACTION_FAILED)
		log_info("%s: no non-delivery notification is due (null sender or NOTIFY)",
			 env->id);
	else if (r < 0)
		log_error("%s: cannot queue the %s notification: %s", env->id, what[action],
			  buf_cstr(&err));
	free(items);
	buf_free(&err);
	return r;
}

bool qmgr_bounce(struct qmgr *q, const struct queue_envelope *env,
		 const struct qmgr_route *routes, const size_t *failed, size_t count,
		 struct buf *recs)
{
	int r = qmgr_notify(q, env, routes, failed, count, DSN_ACTION_FAILED);
	/* The failures are recorded only once their notification is safe in the queue;
	 * otherwise they stay deferred and the next pass tries again. */
	for (size_t k = 0; k < count; k++) {
		const struct delivery_result *res = &routes[failed[k]].res;
		char *t = x_asprintf("%s %s", res->enhanced, res->text);
		if (r >= 0)
			queue_rec_failed(recs, (unsigned)failed[k], t);
		else
			queue_rec_deferred(recs, (unsigned)failed[k], t);
		x_free(&t);
	}
	return r >= 0;
}
