/* server-conn: the part of a session that the imap, pop3 and managesieve workers share:
 * the list of a worker's sessions, the bufferevent with its watermarks and timeouts, the
 * replies built in a buf and handed over in one write, the loop that answers every
 * complete command in the input in order while the output stays short (pipelining:
 * RFC 2449 section 6.6, RFC 9051 section 5.5, RFC 5804 section 2), the write and event
 * callbacks (end of a TLS handshake, the client's EOF, idle timeouts, broken connections),
 * the close once the last words are written, and SIGTERM's farewell to every session.
 * The protocol keeps its parser, its replies and its state; it is called back through
 * struct server_conn_ops. A closing session is freed (from the loop) once all its output
 * is handed to the kernel, which after STARTTLS means the TLS filter's output and the
 * plain one under it.
 */
#include "server.h"
#include "buf.h"
#include "log.h"

#include <event2/event.h>

#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Octets queued on bev and not yet handed to the kernel; after STARTTLS the TLS filter's
 * output and the plain one under it both count. */
static size_t server_pending(struct bufferevent *bev)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(bev));
	struct bufferevent *under = bufferevent_get_underlying(bev);
	if (under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

/* Hands the replies queued in out to bev in one write. */
static void server_flush(struct bufferevent *bev, struct buf *out)
{
	if (out->len > 0) {
		bufferevent_write(bev, out->data, out->len);
		buf_reset(out);
	}
}

static void close_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_close *c = arg;
	c->free_fn(c->arg);
}

static void server_close_init(struct server_close *c, struct event_base *base,
			      void (*free_fn)(void *), void *arg)
{
	c->bev = NULL;
	c->drain_cb = NULL;
	c->free_fn = free_fn;
	c->arg = arg;
	c->kill = event_new(base, -1, 0, close_kill_cb, c);
}

/* The plain output under a TLS filter drained (the filter's write callback does not say). */
static void close_drained_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct server_close *c = arg;
	if (info->n_deleted > 0 && server_pending(c->bev) == 0)
		event_active(c->kill, 0, 0);
}

static void server_close_written(struct server_close *c);

/* The close (once; the replies already flushed into bev): reads no more, and frees the
 * session as soon as nothing of its output is pending. */
static void server_close_start(struct server_close *c, struct bufferevent *bev)
{
	c->bev = bev;
	bufferevent_disable(bev, EV_READ);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	struct bufferevent *under = bufferevent_get_underlying(bev);
	if (under != NULL)
		c->drain_cb = evbuffer_add_cb(bufferevent_get_output(under), close_drained_cb, c);
	server_close_written(c);
}

/* The write callback of a closing session: frees it when all is written. */
static void server_close_written(struct server_close *c)
{
	if (server_pending(c->bev) == 0)
		event_active(c->kill, 0, 0);
}

static void server_close_free(struct server_close *c)
{
	event_free(c->kill);
	c->kill = NULL;
	if (c->drain_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(bufferevent_get_underlying(c->bev)),
					 c->drain_cb);
	c->drain_cb = NULL;
}

/* A connection that ended during its TLS handshake: why, in the log. */
static void server_tls_log_end(struct bufferevent *bev, short what, const char *ip)
{
	if (what & BEV_EVENT_ERROR)
		server_tls_log_failed(bev, ip);
	else
		log_info("disconnect: ip=[%s] reason=%s during the TLS handshake", ip,
			 what & BEV_EVENT_TIMEOUT ? "timeout" : "eof");
}

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
	c->timeout_s = timeout_s;
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

/* A plain socket and a protocol that allows it: replies may be sent by the session
 * itself, without libevent (see conn_turn_end). */
static bool conn_direct_ok(const struct server_conn *c)
{
	return c->ops->direct_ok != NULL && !c->tls && !c->closing && !c->list->inetd &&
	       bufferevent_get_underlying(c->bev) == NULL && c->ops->direct_ok(c->session);
}

void server_conn_flush(struct server_conn *c)
{
	/* within a turn the output waits in c->out, which server_conn_output_full counts */
	if (c->turn > 0 && conn_direct_ok(c))
		return;
	c->out_bytes += c->out.len;
	server_flush(c->bev, &c->out);
}

/* The end of a read or write callback: what the turn wrote is sent at once when nothing is
 * queued (one send; only what the kernel does not take goes to the bufferevent). Through
 * libevent each reply armed and disarmed the socket's write event (two epoll_ctl) and
 * waited a loop turn; and one send per turn, not per flush, keeps the replies of a turn
 * in one segment (two small ones would wait for the client's delayed ACK, Nagle). */
static void conn_turn_end(struct server_conn *c)
{
	if (--c->turn > 0)
		return;
	bool direct = conn_direct_ok(c);
	if (c->out.len > 0 && direct && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		evutil_socket_t fd = bufferevent_getfd(c->bev);
		ssize_t n =
		    fd < 0 ? -1 : send(fd, c->out.data, c->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) { /* else EAGAIN or an error, which libevent's write sees */
			c->out_bytes += (size_t)n;
			buf_consume(&c->out, (size_t)n);
		}
	}
	server_conn_flush(c);
	if (c->ops->direct_ok == NULL)
		return;
	if (!c->busy && c->out.cap > c->lim.out_low)
		buf_free(&c->out); /* a big reply grew it: no idle session keeps that */
	if (c->busy && direct && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		/* all of a busy command's output was sent: no write event comes to go on with
		   it, so go on in this loop turn, after the other callbacks */
		bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
	}
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
	struct server_conn *c = arg;
	c->turn++;
	server_conn_input(c);
	conn_turn_end(c);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct server_conn *c = arg;
	if (c->closing) {
		server_close_written(&c->close);
		return;
	}
	c->turn++;
	if (!(c->ops->writable != NULL && c->ops->writable(c->session)) && !c->busy)
		server_conn_input(c);
	conn_turn_end(c);
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

void server_sessions_free(struct server_sessions *list)
{
	while (list->head != NULL)
		list->head->ops->free(list->head->session);
}
