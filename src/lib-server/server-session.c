/* server-session: the output side of a session of the imap, pop3 and managesieve workers:
 * the replies queued in a buf go to the bufferevent in one write; a closing session stops
 * reading and is freed (from the loop) once all its output is handed to the kernel, which
 * after STARTTLS means the TLS filter's output and the plain one under it.
 */
#include "server.h"
#include "buf.h"
#include "log.h"

#include <event2/buffer.h>
#include <event2/event.h>

size_t server_pending(struct bufferevent *bev)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(bev));
	struct bufferevent *under = bufferevent_get_underlying(bev);
	if (under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

void server_flush(struct bufferevent *bev, struct buf *out)
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

void server_close_init(struct server_close *c, struct event_base *base, void (*free_fn)(void *),
		       void *arg)
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

void server_close_start(struct server_close *c, struct bufferevent *bev)
{
	c->bev = bev;
	bufferevent_disable(bev, EV_READ);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	struct bufferevent *under = bufferevent_get_underlying(bev);
	if (under != NULL)
		c->drain_cb = evbuffer_add_cb(bufferevent_get_output(under), close_drained_cb, c);
	server_close_written(c);
}

void server_close_written(struct server_close *c)
{
	if (server_pending(c->bev) == 0)
		event_active(c->kill, 0, 0);
}

void server_close_free(struct server_close *c)
{
	event_free(c->kill);
	c->kill = NULL;
	if (c->drain_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(bufferevent_get_underlying(c->bev)),
					 c->drain_cb);
	c->drain_cb = NULL;
}

void server_tls_log_end(struct bufferevent *bev, short what, const char *ip)
{
	if (what & BEV_EVENT_ERROR)
		server_tls_log_failed(bev, ip);
	else
		log_info("disconnect: ip=[%s] reason=%s during the TLS handshake", ip,
			 what & BEV_EVENT_TIMEOUT ? "timeout" : "eof");
}
