/* relay-conn: one outbound connection: from the next hop to a connected socket, and the
 * byte stream under the protocol.
 *
 * RFC 5321 5.1: MX hosts in the order lib-dns gives (preference, random among equals),
 * each host's addresses in turn; a host that cannot be reached, or that greets with an
 * error, makes us try the next. When every host failed, the destination's queued
 * messages are deferred with the last error (when this was its last connection), so a
 * dead destination costs one connection attempt per pass, not one per message.
 * Replies are read line by line (bounded: SMTP_REPLY_LINE_MAX * 16 without a line end
 * is an error) into lib-smtp's incremental reply parser.
 */
#include "relay-int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

#define RELAY_LINE_MAX (SMTP_REPLY_LINE_MAX * 16)

static void relay_conn_try_host(struct relay_conn *c);
static void relay_conn_connect(struct relay_conn *c);

static void relay_conn_reap(evutil_socket_t fd, short what, void *arg)
{
	relay_conn_free(arg);
}

void relay_conn_free(struct relay_conn *c)
{
	dns_cancel(&c->query);
	if (c->ev_idle != NULL)
		event_free(c->ev_idle);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->data_fd >= 0)
		close(c->data_fd);
	smtp_reply_free(&c->reply);
	free(c->mx);
	free(c->addrs);
	free(c->accepted_idx);
	relay_conn_finished(c);
	free(c);
}

void relay_conn_close(struct relay_conn *c, const char *text)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->msg != NULL) {
		for (size_t i = 0; i < c->msg->rcpt_count; i++)
			if (!c->msg->rcpts[i].done)
				relay_rcpt_set_text(&c->msg->rcpts[i], DELIVERY_DEFER, text);
		relay_msg_complete(c->relay, c->msg);
		c->msg = NULL;
	}
	if (c->bev != NULL) {
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	struct timeval zero = {0, 0};
	if (event_base_once(c->relay->base, -1, EV_TIMEOUT, relay_conn_reap, c, &zero) < 0)
		fatal("relay: cannot schedule a timer");
}

void relay_conn_send(struct relay_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add_vprintf(out, fmt, ap);
	evbuffer_add(out, "\r\n", 2);
	va_end(ap);
}

void relay_conn_timeout(struct relay_conn *c, unsigned read_secs)
{
	struct timeval rd = {.tv_sec = read_secs}, wr = {.tv_sec = c->relay->conf.t_block};
	bufferevent_set_timeouts(c->bev, read_secs ? &rd : NULL, &wr);
}

static void relay_conn_read(struct bufferevent *bev, void *arg)
{
	struct relay_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (!c->dead && c->bev == bev) {
		size_t n;
		char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > RELAY_LINE_MAX)
				relay_conn_close(c, "4.4.2 reply line too long");
			return;
		}
		int r = smtp_reply_feed_line(&c->reply, line, n);
		free(line);
		if (r < 0) {
			char *t = x_asprintf("4.4.2 malformed reply from %s", c->peer);
			if (c->state < RS_READY && !c->was_ready)
				relay_conn_next_host(c, t);
			else
				relay_conn_close(c, t);
			free(t);
			return;
		}
		if (r == 1)
			relay_session_reply(c);
	}
}

static void relay_conn_write(struct bufferevent *bev, void *arg)
{
	struct relay_conn *c = arg;
	if (!c->dead && c->state == RS_DATA_STREAM)
		relay_session_stream(c);
}

static const char *relay_state_doing(enum relay_state s)
{
	switch (s) {
	case RS_CONNECT:
		return "connecting";
	case RS_GREETING:
		return "waiting for the greeting";
	case RS_EHLO:
	case RS_HELO:
		return "sending EHLO/HELO";
	case RS_STARTTLS:
	case RS_TLS_HANDSHAKE:
		return "starting TLS";
	case RS_AUTH:
	case RS_AUTH_USER:
	case RS_AUTH_PASS:
		return "authenticating";
	case RS_TRANSACTION:
		return "sending MAIL/RCPT/DATA";
	case RS_DATA_STREAM:
	case RS_BDAT:
		return "sending the message";
	case RS_FINAL:
		return "waiting for the reply to the end of data";
	default:
		return "idle";
	}
}

static void relay_conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct relay_conn *c = arg;
	if (c->dead || bev != c->bev)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == RS_TLS_HANDSHAKE) {
			char desc[128];
			relay_tls_describe(c, desc, sizeof(desc));
			log_info("relay: %s: TLS %s", c->peer, desc);
		}
		relay_session_connected(c);
		return;
	}
	char *t;
	if (c->state == RS_TLS_HANDSHAKE) {
		t = x_malloc(512);
		relay_tls_failure(c, t, 512);
	} else if (what & BEV_EVENT_TIMEOUT)
		t = x_asprintf("4.4.2 timeout with %s while %s", c->peer,
			       relay_state_doing(c->state));
	else if (c->state == RS_CONNECT)
		t = x_asprintf("4.4.1 cannot connect to %s: %s", c->peer,
			       evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	else
		t = x_asprintf("4.4.2 lost connection with %s while %s", c->peer,
			       relay_state_doing(c->state));
	if (c->state == RS_TLS_HANDSHAKE && c->tls_policy == RELAY_TLS_MAY) {
		/* Opportunistic TLS (RFC 7435): a failed handshake is retried in clear text. */
		log_info("relay: %s: %s; trying again without TLS", c->dest->key, t);
		c->tls_policy = RELAY_TLS_NONE;
		bufferevent_free(c->bev);
		c->bev = NULL;
		relay_conn_connect(c);
	} else if (c->state == RS_QUIT)
		relay_conn_close(c, t);
	else if (!c->was_ready)
		relay_conn_next_host(c, t);
	else
		relay_conn_close(c, t);
	free(t);
}

/* The addresses of the current host are known: connect to the next one. */
static void relay_conn_connect(struct relay_conn *c)
{
	struct relay *r = c->relay;
	struct sockaddr_storage ss;
	socklen_t sl;
	char ip[INET6_ADDRSTRLEN] = "";
	if (c->dest->hop.unix_path) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
		memset(sun, 0, sizeof(*sun));
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%.107s", c->dest->hop.host);
		sl = sizeof(*sun);
		snprintf(c->peer, sizeof(c->peer), "%s", c->dest->hop.host);
		c->loopback = true;
	} else {
		ss = c->addrs->addrs[c->addr_idx];
		sl = c->addrs->addr_lens[c->addr_idx];
		uint16_t port = htons((uint16_t)c->dest->hop.port);
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			sin->sin_port = port;
			inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
			c->loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			sin6->sin6_port = port;
			inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
			c->loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
		}
		snprintf(c->peer, sizeof(c->peer), "%s[%s]:%u", c->host, ip, c->dest->hop.port);
	}
	c->bev = bufferevent_socket_new(r->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		fatal("relay: bufferevent_socket_new failed");
	bufferevent_setcb(c->bev, relay_conn_read, relay_conn_write, relay_conn_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, 64 * 1024, 0);
	struct timeval rd = {.tv_sec = r->conf.t_initial}, wr = {.tv_sec = r->conf.t_connect};
	bufferevent_set_timeouts(c->bev, &rd, &wr);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->state = RS_CONNECT;
	smtp_reply_free(&c->reply);
	smtp_reply_init(&c->reply);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss, (int)sl) < 0) {
		/* Reported through the event callback on most errors; here it failed at once. */
		char *t = x_asprintf("4.4.1 cannot connect to %s: %s", c->peer, strerror(errno));
		relay_conn_next_host(c, t);
		free(t);
	}
}

static void relay_conn_addr_cb(const struct dns_addr_result *res, void *arg)
{
	struct relay_conn *c = arg;
	c->query = NULL;
	if (res->status != DNS_OK) {
		char *t = x_asprintf("%s %s", res->enhanced, res->text);
		if (res->status == DNS_PERM) {
			relay_dest_fail_all(c->dest, DELIVERY_BOUNCE, t);
			relay_conn_close(c, t);
		} else {
			c->addrs = NULL;
			relay_conn_next_host(c, t);
		}
		free(t);
		return;
	}
	free(c->addrs);
	c->addrs = x_malloc(sizeof(*c->addrs));
	*c->addrs = *res;
	c->addr_idx = 0;
	relay_conn_connect(c);
}

static void relay_conn_try_host(struct relay_conn *c)
{
	snprintf(c->host, sizeof(c->host), "%s", c->mx->hosts[c->mx_idx].name);
	c->state = RS_RESOLVE_ADDR;
	/* An IP address as the host (a literal next hop) needs no lookup. */
	struct dns_addr_result res = {.status = DNS_OK};
	struct sockaddr_in *sin = (struct sockaddr_in *)&res.addrs[0];
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&res.addrs[0];
	if (inet_pton(AF_INET, c->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		res.addr_lens[0] = sizeof(*sin);
		res.count = 1;
	} else if (inet_pton(AF_INET6, c->host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		res.addr_lens[0] = sizeof(*sin6);
		res.count = 1;
	}
	if (res.count > 0) {
		relay_conn_addr_cb(&res, c);
		return;
	}
	c->query = dns_lookup_addr(c->relay->dns, c->host, c->mx->implicit, relay_conn_addr_cb, c);
}

void relay_conn_next_host(struct relay_conn *c, const char *text)
{
	/* A refused connection says less than a server's or TLS's error: keep those. */
	if (strncmp(text, "4.4.1", 5) != 0 || c->last_error[0] == '\0' ||
	    strncmp(c->last_error, "4.4.1", 5) == 0)
		snprintf(c->last_error, sizeof(c->last_error), "%s", text);
	log_info("relay: %s: %s", c->dest->key, text);
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->addrs != NULL && ++c->addr_idx < c->addrs->count) {
		relay_conn_connect(c);
		return;
	}
	if (c->mx != NULL && ++c->mx_idx < c->mx->count) {
		relay_conn_try_host(c);
		return;
	}
	/* Every host failed: the destination is down, and its queued messages wait for the
	 * next retry (connections already sending finish their messages). Waiting for the
	 * last connection to fail instead would let each failure start another attempt. */
	relay_dest_fail_all(c->dest, DELIVERY_DEFER, c->last_error);
	relay_conn_close(c, c->last_error);
}

static void relay_conn_mx_cb(const struct dns_mx_result *res, void *arg)
{
	struct relay_conn *c = arg;
	c->query = NULL;
	if (res->status != DNS_OK) {
		char *t = x_asprintf("%s %s", res->enhanced, res->text);
		relay_dest_fail_all(c->dest,
				    res->status == DNS_PERM ? DELIVERY_BOUNCE : DELIVERY_DEFER, t);
		relay_conn_close(c, t);
		free(t);
		return;
	}
	c->mx = x_malloc(sizeof(*c->mx));
	*c->mx = *res;
	c->mx_idx = 0;
	relay_conn_try_host(c);
}

struct relay_conn *relay_conn_start(struct relay *r, struct relay_dest *d)
{
	struct relay_conn *c = X_NEW(struct relay_conn);
	c->relay = r;
	c->dest = d;
	c->data_fd = -1;
	c->lmtp = d->hop.proto == RELAY_LMTP;
	c->tls_policy = d->hop.unix_path ? RELAY_TLS_NONE
					 : relay_tls_policy(d->hop.host, r->conf.tls_policy_map,
							    r->conf.tls_policy);
	smtp_reply_init(&c->reply);
	c->next = r->conns;
	r->conns = c;
	r->conn_count++;
	d->conns++;
	d->starting++;
	if (d->hop.unix_path) {
		snprintf(c->host, sizeof(c->host), "localhost");
		relay_conn_connect(c);
	} else if (d->hop.mx) {
		c->state = RS_RESOLVE_MX;
		c->query = dns_lookup_mx(r->dns, d->hop.host, relay_conn_mx_cb, c);
	} else {
		/* A host without MX lookup: one "MX" of its own, missing = temporary. */
		c->mx = X_NEW(struct dns_mx_result);
		c->mx->count = 1;
		snprintf(c->mx->hosts[0].name, sizeof(c->mx->hosts[0].name), "%s", d->hop.host);
		relay_conn_try_host(c);
	}
	return c;
}
