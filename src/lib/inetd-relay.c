/* inetd-relay: stdin/stdout relays for one session over pipes or files (see inetd-relay.h).
 */
#include "inetd-relay.h"
#include "log.h"
#include "util.h"

#include <event2/buffer.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#define INETD_FILE_INPUT_MAX (1024 * 1024)

/* Moves what src has read to dst, pausing src while dst's output is full. */
static void relay_move(struct bufferevent *src, struct bufferevent *dst, size_t high)
{
	struct evbuffer *o = bufferevent_get_output(dst);
	evbuffer_add_buffer(o, bufferevent_get_input(src));
	if (evbuffer_get_length(o) >= high)
		bufferevent_disable(src, EV_READ);
}

static void relay_in_read(struct bufferevent *bev, void *arg)
{
	struct inetd_relay *r = arg;
	relay_move(r->in, r->pair, r->high);
}

static void relay_pair_read(struct bufferevent *bev, void *arg)
{
	struct inetd_relay *r = arg;
	if (r->out != NULL) {
		relay_move(r->pair, r->out, r->high);
		return;
	}
	struct evbuffer *in = bufferevent_get_input(r->pair);
	while (evbuffer_get_length(in) > 0 && evbuffer_write(in, 1) > 0)
		;
	evbuffer_drain(in, (size_t)-1);
}

/* Can libevent watch fd? (epoll refuses regular files and /dev/null) */
static bool relay_pollable(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(fd));
}

void inetd_relay_file_input(struct inetd_relay *r)
{
	if (r->pair == NULL || r->in != NULL)
		return;
	struct evbuffer *o = bufferevent_get_output(r->pair);
	int n;
	while (evbuffer_get_length(o) < INETD_FILE_INPUT_MAX &&
	       (n = evbuffer_read(o, 0, 65536)) > 0)
		;
	bufferevent_flush(r->pair, EV_WRITE, BEV_FINISHED);
}

static void relay_out_drained(struct bufferevent *bev, void *arg)
{
	struct inetd_relay *r = arg;
	bufferevent_enable(r->pair, EV_READ);
}

static void relay_pair_drained(struct bufferevent *bev, void *arg)
{
	struct inetd_relay *r = arg;
	if (r->in != NULL)
		bufferevent_enable(r->in, EV_READ);
}

static void relay_in_event(struct bufferevent *bev, short what, void *arg)
{
	struct inetd_relay *r = arg;
	/* stdin ended: pass the end on after the data, so pipelined input is still answered */
	bufferevent_disable(r->in, EV_READ);
	bufferevent_flush(r->pair, EV_WRITE, BEV_FINISHED);
}

static void relay_out_event(struct bufferevent *bev, short what, void *arg)
{
	struct inetd_relay *r = arg;
	bufferevent_flush(r->pair, EV_WRITE, BEV_FINISHED); /* the client is gone */
	bufferevent_disable(r->pair, EV_READ);
	evbuffer_drain(bufferevent_get_output(r->out), (size_t)-1);
}

struct bufferevent *inetd_relay_open(struct event_base *base, struct inetd_relay *r,
				     size_t high, size_t low)
{
	struct bufferevent *pair[2];
	r->high = high;
	if (bufferevent_pair_new(base, 0, pair) < 0)
		fatal("bufferevent_pair_new failed");
	r->pair = pair[1];
	bufferevent_setcb(r->pair, relay_pair_read, relay_pair_drained, NULL, r);
	bufferevent_setwatermark(r->pair, EV_WRITE, low, 0);
	bufferevent_enable(r->pair, EV_READ | EV_WRITE);
	if (relay_pollable(1)) {
		evutil_make_socket_nonblocking(1);
		r->out = bufferevent_socket_new(base, 1, 0);
		bufferevent_setcb(r->out, NULL, relay_out_drained, relay_out_event, r);
		bufferevent_setwatermark(r->out, EV_WRITE, low, 0);
		bufferevent_enable(r->out, EV_WRITE);
	}
	if (relay_pollable(0)) {
		evutil_make_socket_nonblocking(0);
		r->in = bufferevent_socket_new(base, 0, 0);
		bufferevent_setcb(r->in, relay_in_read, NULL, relay_in_event, r);
		bufferevent_enable(r->in, EV_READ);
	}
	return pair[0];
}

/* Writes all of b to fd, blocking; b may belong to a bufferevent (frozen for draining),
 * so it is read with peek and left as it is. */
static void relay_write_all(struct evbuffer *b, int fd)
{
	struct evbuffer_ptr pos;
	struct evbuffer_iovec v;
	evbuffer_ptr_set(b, &pos, 0, EVBUFFER_PTR_SET);
	while (evbuffer_peek(b, -1, &pos, &v, 1) > 0 && v.iov_len > 0) {
		if (write_full(fd, v.iov_base, v.iov_len) < 0)
			return;
		if (evbuffer_ptr_set(b, &pos, v.iov_len, EVBUFFER_PTR_ADD) < 0)
			return;
	}
}

void inetd_relay_close(struct inetd_relay *r)
{
	if (r->pair == NULL)
		return;
	int flags = fcntl(1, F_GETFL);
	if (flags >= 0)
		fcntl(1, F_SETFL, flags & ~O_NONBLOCK);
	if (r->out != NULL)
		relay_write_all(bufferevent_get_output(r->out), 1);
	relay_write_all(bufferevent_get_input(r->pair), 1);
	if (r->in != NULL)
		bufferevent_free(r->in);
	if (r->out != NULL)
		bufferevent_free(r->out);
	bufferevent_free(r->pair);
}

