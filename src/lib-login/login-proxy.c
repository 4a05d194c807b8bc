/* login-proxy: after a system user's login, the pre-login worker only copies bytes between
 * the client (plain or TLS) and the session process running as the user (login.h).
 * Flow control: a side stops being read while the other side has `high` bytes waiting,
 * and starts again when those drop below half, so memory per session is bounded whatever
 * the sizes of FETCH or APPEND. No timeouts here: the session process has the protocol's
 * (it logs the client out when idle, which ends the proxy). */
#include "login.h"
#include "xalloc.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>

struct login_proxy {
	struct bufferevent *client, *session;
	size_t high;
	login_proxy_done_cb *done;
	void *arg;
};

/* Copies what from has read to to, pausing from when to is full. */
static void proxy_move(struct login_proxy *p, struct bufferevent *from, struct bufferevent *to)
{
	struct evbuffer *out = bufferevent_get_output(to);
	evbuffer_add_buffer(out, bufferevent_get_input(from));
	if (evbuffer_get_length(out) >= p->high)
		bufferevent_disable(from, EV_READ);
}

static void proxy_read_cb(struct bufferevent *bev, void *arg)
{
	struct login_proxy *p = arg;
	if (bev == p->client)
		proxy_move(p, p->client, p->session);
	else
		proxy_move(p, p->session, p->client);
}

/* to drained below the low mark: read its source again. */
static void proxy_write_cb(struct bufferevent *bev, void *arg)
{
	struct login_proxy *p = arg;
	bufferevent_enable(bev == p->client ? p->session : p->client, EV_READ);
}

static void proxy_end(struct login_proxy *p, bool client_gone)
{
	login_proxy_done_cb *done = p->done;
	void *arg = p->arg;
	if (!client_gone) /* what the session said last still goes out */
		evbuffer_add_buffer(bufferevent_get_output(p->client),
				    bufferevent_get_input(p->session));
	bufferevent_setcb(p->client, NULL, NULL, NULL, NULL);
	bufferevent_free(p->session);
	free(p);
	done(arg, client_gone);
}

static void proxy_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct login_proxy *p = arg;
	proxy_end(p, bev == p->client);
}

struct login_proxy *login_proxy_start(struct bufferevent *client, struct bufferevent *session,
				      size_t high, login_proxy_done_cb *done, void *arg)
{
	struct login_proxy *p = X_NEW(struct login_proxy);
	p->client = client;
	p->session = session;
	p->high = high;
	p->done = done;
	p->arg = arg;
	struct bufferevent *both[2] = {client, session};
	for (size_t i = 0; i < 2; i++) {
		bufferevent_setcb(both[i], proxy_read_cb, proxy_write_cb, proxy_event_cb, p);
		bufferevent_setwatermark(both[i], EV_READ, 0, high);
		bufferevent_setwatermark(both[i], EV_WRITE, high / 2, 0);
		bufferevent_set_timeouts(both[i], NULL, NULL);
		bufferevent_enable(both[i], EV_READ | EV_WRITE);
	}
	/* commands the client sent behind its login, and what the session said after its
	 * first line, are on their way at once */
	proxy_move(p, client, session);
	proxy_move(p, session, client);
	return p;
}

void login_proxy_free(struct login_proxy **pp)
{
	struct login_proxy *p = *pp;
	if (p == NULL)
		return;
	bufferevent_setcb(p->client, NULL, NULL, NULL, NULL);
	bufferevent_free(p->session);
	x_free(pp);
}
