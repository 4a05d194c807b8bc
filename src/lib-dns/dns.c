/* dns: asynchronous MX and address lookups on libunbound in a libevent loop.
 *
 * libunbound runs its resolver in a thread (ub_ctx_async 1: the queue manager has
 * threads, so no fork); finished queries make ub_fd(ctx) readable, and ub_process() then
 * calls our callbacks, which turn the ub_result into a struct dns_answer for the pure
 * interpreters of dns-parse.c. A query that cannot even be started fails later from a
 * zero timer, so a caller's callback never runs inside its own lookup call.
 */
#include "dns.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unbound.h>

#include "log.h"
#include "xalloc.h"

struct dns {
	struct ub_ctx *ctx;
	struct event_base *base;
	struct event *ev;
	struct dns_query *queries; /* pending, doubly linked */
};

struct dns_query {
	struct dns *dns;
	struct dns_query *prev, *next;
	char name[DNS_NAME_MAX];
	bool is_mx, implicit;
	struct dns_part {
		struct dns_query *q;
		int idx;
	} parts[2];
	int ids[2]; /* unbound async ids: MX, or A and AAAA; 0 when answered */
	struct ub_result *res[2];
	bool failed[2]; /* that part could not be asked or answered */
	int waiting;
	struct event *ev_fail;
	dns_mx_cb *mx_cb;
	dns_addr_cb *addr_cb;
	void *arg;
};

static unsigned dns_random(void *arg)
{
	unsigned r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (unsigned)random();
	return r;
}

static void dns_to_answer(const struct ub_result *r, bool failed, struct dns_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->failed = failed || r == NULL;
	if (a->failed)
		return;
	a->rcode = r->rcode;
	a->nxdomain = r->nxdomain != 0;
	a->bogus = r->bogus != 0;
	a->data = r->data;
	a->len = r->len;
	while (r->havedata && r->data != NULL && r->data[a->count] != NULL)
		a->count++;
}

static void dns_query_unlink_free(struct dns_query *q)
{
	struct dns *d = q->dns;
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		d->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	for (int i = 0; i < 2; i++) {
		if (q->ids[i] != 0)
			ub_cancel(d->ctx, q->ids[i]);
		if (q->res[i] != NULL)
			ub_resolve_free(q->res[i]);
	}
	if (q->ev_fail != NULL)
		event_free(q->ev_fail);
	free(q);
}

/* Every part answered: interpret, call back, free. */
static void dns_query_finish(struct dns_query *q)
{
	struct dns_answer a[2];
	for (int i = 0; i < 2; i++)
		dns_to_answer(q->res[i], q->failed[i], &a[i]);
	if (q->is_mx) {
		struct dns_mx_result *res = X_NEW(struct dns_mx_result);
		dns_mx_interpret(q->name, &a[0], dns_random, NULL, res);
		q->mx_cb(res, q->arg);
		free(res);
	} else {
		struct dns_addr_result *res = X_NEW(struct dns_addr_result);
		dns_addr_interpret(q->name, &a[0], &a[1], q->implicit, res);
		q->addr_cb(res, q->arg);
		free(res);
	}
	dns_query_unlink_free(q);
}

static void dns_ub_cb(void *mydata, int err, struct ub_result *result)
{
	struct dns_part *pt = mydata;
	struct dns_query *q = pt->q;
	int part = pt->idx;
	q->ids[part] = 0;
	if (err != 0 || result == NULL) {
		log_debug("dns: %s: %s", q->name, ub_strerror(err));
		q->failed[part] = true;
		if (result != NULL)
			ub_resolve_free(result);
	} else {
		q->res[part] = result;
	}
	if (--q->waiting == 0)
		dns_query_finish(q);
}

static void dns_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;
	if (ub_process(d->ctx) != 0)
		log_warn("dns: ub_process failed");
}

static void dns_fail_timer(evutil_socket_t fd, short what, void *arg)
{
	dns_query_finish(arg);
}

struct dns *dns_new(struct event_base *base, const char *resolver, struct buf *err)
{
	struct dns *d = X_NEW(struct dns);
	d->base = base;
	d->ctx = ub_ctx_create();
	int r = d->ctx == NULL ? -1 : ub_ctx_async(d->ctx, 1);
	if (r == 0 && resolver != NULL && resolver[0] != '\0') {
		r = ub_ctx_set_fwd(d->ctx, resolver);
		if (r == 0)
			r = ub_ctx_set_option(d->ctx, "do-not-query-localhost:", "no");
		/* unbound answers the special-use name test. itself (RFC 6761); a resolver
		 * named here (a test's dnsmasq) gets to answer for it. This finalizes the
		 * context: no option may be set after it. */
		if (r == 0)
			r = ub_ctx_zone_remove(d->ctx, "test.");
	} else if (r == 0) {
		r = ub_ctx_resolvconf(d->ctx, NULL);
		if (r == 0)
			r = ub_ctx_set_option(d->ctx, "do-not-query-localhost:", "no");
		if (r == 0)
			ub_ctx_hosts(d->ctx, NULL); /* a missing /etc/hosts is no error */
	}
	if (r != 0) {
		buf_printf(err, "resolver %s: %s", resolver && *resolver ? resolver : "(system)",
			   d->ctx == NULL ? "cannot create the context" : ub_strerror(r));
		dns_free(&d);
		return NULL;
	}
	d->ev = event_new(base, ub_fd(d->ctx), EV_READ | EV_PERSIST, dns_readable, d);
	if (d->ev == NULL || event_add(d->ev, NULL) < 0) {
		buf_append_str(err, "cannot watch the resolver's descriptor");
		dns_free(&d);
		return NULL;
	}
	return d;
}

void dns_free(struct dns **dp)
{
	struct dns *d = *dp;
	if (d == NULL)
		return;
	while (d->queries != NULL)
		dns_query_unlink_free(d->queries);
	if (d->ev != NULL)
		event_free(d->ev);
	if (d->ctx != NULL)
		ub_ctx_delete(d->ctx);
	x_free(dp);
}

static struct dns_query *dns_query_new(struct dns *d, const char *name)
{
	struct dns_query *q = X_NEW(struct dns_query);
	q->dns = d;
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->next = d->queries;
	if (d->queries != NULL)
		d->queries->prev = q;
	d->queries = q;
	return q;
}

static void dns_query_start(struct dns_query *q, int part, int rrtype)
{
	q->waiting++;
	q->parts[part].q = q;
	q->parts[part].idx = part;
	int r = ub_resolve_async(q->dns->ctx, q->name, rrtype, 1, &q->parts[part], dns_ub_cb,
				 &q->ids[part]);
	if (r != 0) {
		log_warn("dns: cannot ask for %s: %s", q->name, ub_strerror(r));
		q->ids[part] = 0;
		q->failed[part] = true;
		q->waiting--;
	}
}

/* After starting the parts: when none is pending, report from a zero timer. */
static struct dns_query *dns_query_check(struct dns_query *q)
{
	if (q->waiting == 0) {
		struct timeval tv = {0, 0};
		q->ev_fail = evtimer_new(q->dns->base, dns_fail_timer, q);
		if (q->ev_fail == NULL || evtimer_add(q->ev_fail, &tv) < 0)
			fatal("dns: cannot set a timer");
	}
	return q;
}

struct dns_query *dns_lookup_mx(struct dns *d, const char *domain, dns_mx_cb *cb, void *arg)
{
	struct dns_query *q = dns_query_new(d, domain);
	q->is_mx = true;
	q->mx_cb = cb;
	q->arg = arg;
	q->failed[1] = true; /* unused part */
	dns_query_start(q, 0, DNS_TYPE_MX);
	return dns_query_check(q);
}

struct dns_query *dns_lookup_addr(struct dns *d, const char *host, bool implicit, dns_addr_cb *cb,
				  void *arg)
{
	struct dns_query *q = dns_query_new(d, host);
	q->implicit = implicit;
	q->addr_cb = cb;
	q->arg = arg;
	dns_query_start(q, 0, DNS_TYPE_A);
	dns_query_start(q, 1, DNS_TYPE_AAAA);
	return dns_query_check(q);
}

void dns_cancel(struct dns_query **qp)
{
	if (*qp != NULL)
		dns_query_unlink_free(*qp);
	*qp = NULL;
}
