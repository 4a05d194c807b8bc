/* relay: the outbound client's scheduler and public API (see relay.h).
 *
 * One queue per destination (next hop). A zero-timer "kick" opens connections while a
 * destination has more queued messages than connections still starting, within
 * relay_max_per_destination and relay_max_connections; destinations are served in turn,
 * one new connection each per round, so a slow or dead one never holds up the others.
 * A ready connection takes the next message of its destination (connection reuse) and
 * quits when there is none.
 */
#include "relay-int.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

static void relay_kick(struct relay *r)
{
	if (r->ev_kick != NULL)
		event_active(r->ev_kick, 0, 0);
}

void relay_rcpt_set(struct relay_rcpt *rc, enum delivery_status st, const char *enhanced,
		    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rc->res.status = st;
	snprintf(rc->res.enhanced, sizeof(rc->res.enhanced), "%.15s", enhanced);
	vsnprintf(rc->res.text, sizeof(rc->res.text), fmt, ap);
	va_end(ap);
	rc->done = true;
}

void relay_rcpt_set_text(struct relay_rcpt *rc, enum delivery_status st, const char *text)
{
	char enh[16];
	size_t n = strcspn(text, " ");
	snprintf(enh, sizeof(enh), "%.*s", (int)(n < sizeof(enh) ? n : sizeof(enh) - 1), text);
	relay_rcpt_set(rc, st, enh, "%s", text[n] == ' ' ? text + n + 1 : "");
}

void relay_msg_free(struct relay_msg **mp)
{
	struct relay_msg *m = *mp;
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->rcpt_count; i++) {
		free(m->rcpts[i].addr);
		free(m->rcpts[i].notify);
		free(m->rcpts[i].orcpt);
	}
	free(m->rcpts);
	free(m->sender);
	free(m->dsn_ret);
	free(m->dsn_envid);
	free(m->data_path);
	x_free(mp);
}

void relay_msg_complete(struct relay *r, struct relay_msg *m)
{
	r->pending--;
	m->next = NULL;
	r->done(m, r->done_arg);
}

struct relay_msg *relay_dest_take(struct relay_dest *d)
{
	struct relay_msg *m = d->head;
	if (m != NULL) {
		d->head = m->next;
		if (d->head == NULL)
			d->tail = NULL;
		d->queued--;
		m->next = NULL;
	}
	return m;
}

void relay_dest_fail_all(struct relay_dest *d, enum delivery_status st, const char *text)
{
	struct relay_msg *m;
	while ((m = relay_dest_take(d)) != NULL) {
		for (size_t i = 0; i < m->rcpt_count; i++)
			relay_rcpt_set_text(&m->rcpts[i], st, text);
		relay_msg_complete(d->relay, m);
	}
}

static void relay_dest_free_if_idle(struct relay *r, struct relay_dest *d)
{
	if (d->conns > 0 || d->head != NULL)
		return;
	for (struct relay_dest **pp = &r->dests; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			free(d);
			return;
		}
	}
}

void relay_conn_finished(struct relay_conn *c)
{
	struct relay *r = c->relay;
	for (struct relay_conn **pp = &r->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	r->conn_count--;
	c->dest->conns--;
	if (c->state == RS_IDLE)
		c->dest->idle--;
	if (!c->was_ready)
		c->dest->starting--;
	relay_dest_free_if_idle(r, c->dest);
	relay_kick(r);
}

/* Opens connections where messages wait, one per destination per round. */
static void relay_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;
	bool more = true;
	while (more && r->conn_count < r->conf.max_conns) {
		more = false;
		for (struct relay_dest *d = r->dests; d != NULL; d = d->next) {
			if (r->conn_count >= r->conf.max_conns)
				break;
			if (d->queued > d->starting && d->conns < r->conf.max_per_dest) {
				relay_conn_start(r, d);
				more = true;
			}
		}
	}
}

void relay_submit(struct relay *r, struct relay_msg *m)
{
	char key[sizeof(((struct relay_dest *)0)->key)];
	relay_nexthop_key(&m->hop, key, sizeof(key));
	struct relay_dest *d = r->dests;
	while (d != NULL && strcmp(d->key, key) != 0)
		d = d->next;
	if (d == NULL) {
		d = X_NEW(struct relay_dest);
		d->relay = r;
		snprintf(d->key, sizeof(d->key), "%s", key);
		d->hop = m->hop;
		d->next = r->dests;
		r->dests = d;
	}
	m->next = NULL;
	if (d->tail != NULL)
		d->tail->next = m;
	else
		d->head = m;
	d->tail = m;
	d->queued++;
	r->pending++;
	if (d->idle > 0) {
		for (struct relay_conn *c = r->conns; c != NULL; c = c->next) {
			if (c->dest == d && c->state == RS_IDLE && !c->dead) {
				relay_session_wake(c);
				return;
			}
		}
	}
	relay_kick(r);
}

size_t relay_pending(const struct relay *r)
{
	return r->pending;
}

static void relay_conf_clear(struct relay_conf *rc)
{
	free(rc->hostname);
	free(rc->tls_policy_map);
	if (rc->auth_pass != NULL)
		explicit_bzero(rc->auth_pass, strlen(rc->auth_pass));
	free(rc->auth_user);
	free(rc->auth_pass);
	memset(rc, 0, sizeof(*rc));
}

/* relayhost_auth: USER:PASSWORD, or the path of a file holding that (first line). */
static int relay_conf_auth(struct relay_conf *rc, const char *spec, struct buf *err)
{
	if (spec[0] == '\0')
		return 0;
	char *text = spec[0] == '/' ? read_file_small(spec, 4096, NULL) : x_strdup(spec);
	if (text == NULL) {
		buf_printf(err, "relayhost_auth: cannot read %s", spec);
		return -1;
	}
	text[strcspn(text, "\r\n")] = '\0';
	char *colon = strchr(text, ':');
	if (colon == NULL || colon == text) {
		buf_printf(err, "relayhost_auth: expected USER:PASSWORD");
		explicit_bzero(text, strlen(text));
		free(text);
		return -1;
	}
	rc->auth_user = x_strndup(text, (size_t)(colon - text));
	rc->auth_pass = x_strdup(colon + 1);
	explicit_bzero(text, strlen(text));
	free(text);
	return 0;
}

static int relay_conf_load(struct relay_conf *rc, const struct conf *c, struct buf *err)
{
	memset(rc, 0, sizeof(*rc));
	rc->hostname = x_strdup(conf_str(c, "hostname"));
	rc->tls_policy_map = x_strdup(conf_str(c, "tls_policy_map"));
	rc->tls_policy = (enum relay_tls)conf_num(c, "tls_policy");
	rc->max_conns = conf_num(c, "relay_max_connections");
	rc->max_per_dest = conf_num(c, "relay_max_per_destination");
	rc->max_msgs_per_conn = conf_num(c, "relay_max_messages_per_connection");
	rc->cache_time = (unsigned)conf_num(c, "relay_connection_cache_time");
	if (rc->max_conns == 0)
		rc->max_conns = 1;
	if (rc->max_per_dest == 0)
		rc->max_per_dest = 1;
	if (rc->max_msgs_per_conn == 0)
		rc->max_msgs_per_conn = 1;
	rc->bounce_8bit = conf_num(c, "relay_8bitmime") == 1;
	rc->max_line = conf_num(c, "relay_max_line_length");
	rc->t_connect = (unsigned)conf_num(c, "relay_timeout_connect");
	rc->t_initial = (unsigned)conf_num(c, "relay_timeout_initial");
	rc->t_mail = (unsigned)conf_num(c, "relay_timeout_mail");
	rc->t_rcpt = (unsigned)conf_num(c, "relay_timeout_rcpt");
	rc->t_data = (unsigned)conf_num(c, "relay_timeout_data");
	rc->t_block = (unsigned)conf_num(c, "relay_timeout_data_block");
	rc->t_final = (unsigned)conf_num(c, "relay_timeout_final");
	if (relay_conf_auth(rc, conf_str(c, "relayhost_auth"), err) < 0) {
		relay_conf_clear(rc);
		return -1;
	}
	return 0;
}

struct relay *relay_new(struct event_base *base, const struct conf *conf, relay_done_cb *done,
			void *arg, struct buf *err)
{
	struct relay *r = X_NEW(struct relay);
	r->base = base;
	r->done = done;
	r->done_arg = arg;
	if (relay_conf_load(&r->conf, conf, err) < 0)
		goto fail;
	r->dns = dns_new(base, conf_str(conf, "dns_resolver"), err);
	if (r->dns == NULL)
		goto fail;
	r->ssl_ctx = relay_tls_ctx_new(err);
	if (r->ssl_ctx == NULL)
		goto fail;
	r->ev_kick = event_new(base, -1, 0, relay_kick_cb, r);
	if (r->ev_kick == NULL) {
		buf_append_str(err, "cannot create an event");
		goto fail;
	}
	return r;
fail:
	relay_free(&r);
	return NULL;
}

int relay_reconfigure(struct relay *r, const struct conf *conf, struct buf *err)
{
	struct relay_conf rc;
	if (relay_conf_load(&rc, conf, err) < 0)
		return -1;
	struct dns *d = dns_new(r->base, conf_str(conf, "dns_resolver"), err);
	if (d == NULL) {
		relay_conf_clear(&rc);
		return -1;
	}
	/* Connections still resolving lose their lookups: close them first. */
	for (struct relay_conn *c = r->conns; c != NULL; c = c->next)
		if (c->query != NULL)
			relay_conn_close(c, "4.3.2 reconfigured");
	dns_free(&r->dns);
	r->dns = d;
	relay_conf_clear(&r->conf);
	r->conf = rc;
	relay_kick(r);
	return 0;
}

void relay_free(struct relay **rp)
{
	struct relay *r = *rp;
	if (r == NULL)
		return;
	r->ev_kick != NULL ? event_free(r->ev_kick) : (void)0;
	r->ev_kick = NULL;
	while (r->conns != NULL) {
		struct relay_conn *c = r->conns;
		relay_conn_close(c, "4.3.2 shutting down");
		relay_conn_free(c); /* the scheduled reap must not run: see relay_conn_close */
	}
	while (r->dests != NULL) {
		struct relay_dest *d = r->dests;
		relay_dest_fail_all(d, DELIVERY_DEFER, "4.3.2 shutting down");
		r->dests = d->next;
		free(d);
	}
	dns_free(&r->dns);
	if (r->ssl_ctx != NULL)
		SSL_CTX_free(r->ssl_ctx);
	relay_conf_clear(&r->conf);
	x_free(rp);
}
