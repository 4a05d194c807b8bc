/* pop3d-inetd: one POP3 session over stdin/stdout (pop3d_inetd, `tern pop3 --inetd`).
 *
 * When stdin is a socket (inetd, systemd Accept=yes) the session uses it directly. With
 * two pipes (ssh, tests) a bufferevent pair stands in for the socket and two relays
 * copy stdin to it and it to stdout, each pausing while the far side is full, so a big
 * RETR is still streamed with bounded memory. -u USER starts logged in (preauth): the
 * caller, not the client, has authenticated the user.
 */
#include "pop3d.h"
#include "pop3d-int.h"
#include "auth.h"
#include "log.h"
#include "util.h"

#include <event2/buffer.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INETD_FILE_INPUT_MAX (1024 * 1024)

struct inetd_relay {
	struct bufferevent *in;	  /* stdin, or NULL when it is a file (read at once) */
	struct bufferevent *out;  /* stdout, or NULL when it is a file (written blocking) */
	struct bufferevent *pair; /* our end of the pair; the session has the other */
};

/* Moves what src has read to dst, pausing src while dst's output is full. */
static void relay_move(struct bufferevent *src, struct bufferevent *dst)
{
	struct evbuffer *o = bufferevent_get_output(dst);
	evbuffer_add_buffer(o, bufferevent_get_input(src));
	if (evbuffer_get_length(o) >= POP3D_OUT_HIGH)
		bufferevent_disable(src, EV_READ);
}

static void relay_in_read(struct bufferevent *bev, void *arg)
{
	struct inetd_relay *r = arg;
	relay_move(r->in, r->pair);
}

static void relay_pair_read(struct bufferevent *bev, void *arg)
{
	struct inetd_relay *r = arg;
	if (r->out != NULL) {
		relay_move(r->pair, r->out);
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

/* stdin is a file: its commands (bounded) are handed over at once, then its end. */
static void relay_file_input(struct inetd_relay *r)
{
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

/* Sets up the pair and relays; returns the session's end. */
static struct bufferevent *relay_open(struct pop3d_server *srv, struct inetd_relay *r)
{
	struct bufferevent *pair[2];
	if (bufferevent_pair_new(srv->base, 0, pair) < 0)
		fatal("bufferevent_pair_new failed");
	r->pair = pair[1];
	bufferevent_setcb(r->pair, relay_pair_read, relay_pair_drained, NULL, r);
	bufferevent_setwatermark(r->pair, EV_WRITE, POP3D_OUT_LOW, 0);
	bufferevent_enable(r->pair, EV_READ | EV_WRITE);
	if (relay_pollable(1)) {
		evutil_make_socket_nonblocking(1);
		r->out = bufferevent_socket_new(srv->base, 1, 0);
		bufferevent_setcb(r->out, NULL, relay_out_drained, relay_out_event, r);
		bufferevent_setwatermark(r->out, EV_WRITE, POP3D_OUT_LOW, 0);
		bufferevent_enable(r->out, EV_WRITE);
	}
	if (relay_pollable(0)) {
		evutil_make_socket_nonblocking(0);
		r->in = bufferevent_socket_new(srv->base, 0, 0);
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

/* Writes what is left for stdout once the loop has ended. */
static void relay_close(struct inetd_relay *r)
{
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

/* Starts the session, logged in as user when given. */
static int inetd_start(struct pop3d_server *srv, struct pop3d_session *s, const char *user)
{
	if (user == NULL) {
		pop3d_session_start(s);
		return 0;
	}
	struct user_info info;
	struct buf err = BUF_INIT;
	int r = userdb_lookup(auth_userdb(srv->auth), user, &info, &err);
	if (r <= 0) {
		log_error("preauth: user=<%s>: %s", log_safe(user, strlen(user), 100),
			  r < 0 ? buf_cstr(&err) : "unknown user");
		pop3d_session_err(s, r < 0 ? POP3_CODE_SYS_TEMP : POP3_CODE_AUTH, "unknown user");
		buf_free(&err);
		pop3d_session_close(s);
		return -1;
	}
	buf_free(&err);
	if (pop3d_login(s, &info) < 0) {
		pop3d_session_close(s);
		return -1;
	}
	pop3d_session_flush(s);
	return 0;
}

int pop3d_inetd(const char *conf_path, const char *preauth_user)
{
	struct pop3d_server srv;
	if (pop3d_server_init(&srv, conf_path) < 0)
		return 78;
	log_init("pop3", conf_num(srv.conf, "log") == 1);
	log_set_level((enum log_level)conf_num(srv.conf, "log_level"));
	srv.inetd = true;
	struct pop3d_peer peer;
	pop3d_peer_of_fd(0, &peer);
	struct inetd_relay relay = {NULL, NULL, NULL};
	struct bufferevent *bev;
	if (!peer.local) {
		evutil_make_socket_nonblocking(0);
		bev = bufferevent_socket_new(srv.base, 0, 0);
	} else {
		bev = relay_open(&srv, &relay);
	}
	struct pop3d_session *s = pop3d_session_new(&srv, bev, &peer);
	int rc = inetd_start(&srv, s, preauth_user) < 0 ? 1 : 0;
	if (relay.pair != NULL && relay.in == NULL)
		relay_file_input(&relay);
	event_base_dispatch(srv.base);
	if (relay.pair != NULL)
		relay_close(&relay);
	pop3d_server_deinit(&srv);
	return rc;
}

int cmd_pop3(int argc, char **argv)
{
	const char *conf = NULL, *user = NULL;
	bool inetd = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--inetd") == 0)
			inetd = true;
		else if (strcmp(argv[i], "-u") == 0 && i + 1 < argc)
			user = argv[++i];
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else
			inetd = false, i = argc;
	}
	if (!inetd || argc > 6) {
		fprintf(stderr, "usage: tern pop3 --inetd [-u USER] [-c CONF]\n");
		return 64;
	}
	if (conf == NULL)
		conf = getenv("TERN_CONF");
	if (conf == NULL || conf[0] == '\0')
		conf = "/etc/tern/tern.conf";
	return pop3d_inetd(conf, user);
}
