/* server-conn: the part of a session that the imap, pop3 and managesieve workers share:
 * the list of a worker's sessions, the bufferevent with its watermarks and timeouts, the
 * replies built in a buf and handed over in one write, the loop that answers every
 * complete command in the input in order while the output stays short (pipelining:
 * RFC 2449 section 6.6, RFC 9051 section 5.5, RFC 5804 section 2), the write and event
 * callbacks (end of a TLS handshake, the client's EOF, idle timeouts, broken connections),
 * the close once the last words are written, and SIGTERM's farewell to every session.
 * The protocol keeps its parser, its replies and its state; it is called back through
 * struct server_conn_ops.
 */
#include "server.h"
#include "buf.h"
#include "log.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

static void conn_free_cb(void *arg)
{
	struct server_conn *c = arg;
	c->ops->free(c->session);
}

void server_conn_init(struct server_conn *c, struct server_sessions *list,
		      const struct server_conn_ops *ops, void *session, struct bufferevent *bev,
		      const struct net_peer *peer, const struct server_conn_limits *lim)
{
	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->session = session;
	c->list = list;
	c->bev = bev;
	c->lim = *lim;
	snprintf(c->ip, sizeof(c->ip), "%s", peer->ip);
	c->loopback = peer->loopback;
	c->local = peer->local;
	buf_init(&c->out, 0);
	server_close_init(&c->close, list->base, conn_free_cb, c);
	c->next = list->head;
	if (list->head != NULL)
		list->head->prev = c;
	list->head = c;
	list->count++;
}

void server_conn_timeouts(struct server_conn *c, uint64_t timeout_s)
{
	struct timeval tv = {(time_t)timeout_s, 0};
	bufferevent_set_timeouts(c->bev, &tv, &tv);
}

void server_conn_setup_bev(struct server_conn *c, uint64_t timeout_s)
{
	struct bufferevent *bev = c->bev;
	bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(bev, EV_READ, 0, c->lim.in_high);
	bufferevent_setwatermark(bev, EV_WRITE, c->lim.out_low, 0);
	/* libevent writes at most 16 KB per readiness by default: a long reply (a FETCH of
	   many BODYSTRUCTUREs, a RETR) would wake the client for every 16 KB */
	bufferevent_set_max_single_write(bev, c->lim.out_high);
	server_conn_timeouts(c, timeout_s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void server_conn_free(struct server_conn *c)
{
	struct server_sessions *list = c->list;
	server_close_free(&c->close);
	bufferevent_free(c->bev);
	c->bev = NULL;
	buf_free(&c->out);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		list->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	list->count--;
	if (list->count == 0 && (list->stopping || list->inetd || list->retiring))
		event_base_loopexit(list->base, NULL);
}

void server_conn_flush(struct server_conn *c)
{
	c->out_bytes += c->out.len;
	server_flush(c->bev, &c->out);
}

bool server_conn_output_full(const struct server_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) + c->out.len >= c->lim.out_high;
}

void server_conn_close(struct server_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	server_conn_flush(c);
	server_close_start(&c->close, c->bev);
}

bool server_conn_peek(struct evbuffer *in, const char **p_r, size_t *len_r)
{
	struct evbuffer_iovec v;
	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		return false;
	*p_r = v.iov_base;
	*len_r = v.iov_len;
	return true;
}

void server_conn_input(struct server_conn *c)
{
	const struct server_conn_ops *ops = c->ops;
	bool began = ops->input_begin != NULL && ops->input_begin(c->session);
	/* the bufferevent is looked up again for each command: STARTTLS and COMPRESS put a
	   filter on top of it */
	while (!c->busy && !c->closing && !server_conn_output_full(c)) {
		if (!ops->consume(c->session, bufferevent_get_input(c->bev)))
			break;
		server_conn_flush(c);
	}
	if (began)
		ops->input_end(c->session);
	server_conn_flush(c);
	if (c->input_eof && !c->busy && !c->closing &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
		if (ops->eof != NULL)
			ops->eof(c->session);
		server_conn_close(c);
	}
}

void server_conn_resume(struct server_conn *c)
{
	c->busy = false;
	server_conn_flush(c);
	if (c->closing)
		return;
	bufferevent_enable(c->bev, EV_READ);
	server_conn_input(c);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	server_conn_input(arg);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct server_conn *c = arg;
	if (c->closing) {
		server_close_written(&c->close);
		return;
	}
	if (c->ops->writable != NULL && c->ops->writable(c->session))
		return;
	if (!c->busy)
		server_conn_input(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct server_conn *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		c->ops->tls_connected(c->session);
		return;
	}
	if (c->tls_handshake) {
		server_tls_log_end(c->bev, what, c->ip);
		c->ops->free(c->session);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !c->closing) {
		c->input_eof = true; /* the client sent all it will: answer it, then close */
		server_conn_input(c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && !c->closing) {
		c->ops->timeout(c->session);	   /* logged, and the goodbye queued */
		bufferevent_enable(bev, EV_WRITE); /* a write timeout disabled it */
		/* a client that reads nothing times out again, soon, and is freed */
		server_conn_timeouts(c, SERVER_STOP_WAIT_S);
		server_conn_close(c);
		return;
	}
	if (!c->closing && c->ops->broken != NULL)
		c->ops->broken(c->session, what);
	c->ops->free(c->session);
}

size_t server_sessions_from(const struct server_sessions *list, const char *ip, size_t *same_r)
{
	for (const struct server_conn *c = list->head; c != NULL; c = c->next)
		*same_r += strcmp(c->ip, ip) == 0;
	return list->count;
}

void server_sessions_stop(struct server_sessions *list, struct server_ports *p)
{
	if (!server_stop_begin(p, &list->stopping, list->count))
		return;
	for (struct server_conn *c = list->head; c != NULL; c = c->next) {
		c->ops->shutdown(c->session);
		server_conn_close(c);
	}
	server_stop_wait(p, list->count);
}

void server_sessions_free(struct server_sessions *list)
{
	while (list->head != NULL)
		list->head->ops->free(list->head->session);
}
