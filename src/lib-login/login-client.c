/* login-client: one login attempt of a pre-login worker (login.h): connect to the auth
 * socket, send the request, wait for the reply and, with LOGIN_OK, for the session's
 * first line. Everything is asynchronous: the worker's other sessions go on meanwhile.
 * An auth process that is not listening yet (starting or restarting) is tried again every
 * 100 ms for up to 5 seconds before the attempt fails as temporary. */
#include "login.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define LOGIN_CONNECT_RETRY_MS 100
#define LOGIN_CONNECT_WAIT_MS 5000

struct login_client {
	int sock;
	struct buf msg;	       /* the request, until it is sent (wiped) */
	struct sockaddr_un sun;
	uint64_t connect_until; /* the auth process may be starting: retry until then */
	bool check_only; /* LOGIN_PROTO_SMTP: no session comes with LOGIN_OK */
	struct event *ev;
	struct bufferevent *session;
	struct login_reply rep;
	login_client_done_cb *done;
	void *arg;
};

static void client_free(struct login_client *lc)
{
	sasl_buf_wipe(&lc->msg);
	if (lc->ev != NULL)
		event_free(lc->ev);
	if (lc->sock >= 0)
		close(lc->sock);
	if (lc->session != NULL)
		bufferevent_free(lc->session);
	free(lc);
}

/* Ends the attempt: done once, then the attempt is gone. */
static void client_finish(struct login_client *lc, enum login_status status, const char *line)
{
	struct bufferevent *session = NULL;
	if (status == LOGIN_OK && lc->check_only) {
		lc->rep.status = status;
	} else if (status == LOGIN_OK) {
		session = lc->session;
		lc->session = NULL;
		bufferevent_setcb(session, NULL, NULL, NULL, NULL);
		bufferevent_set_timeouts(session, NULL, NULL);
	} else {
		lc->rep.status = status;
	}
	login_client_done_cb *done = lc->done;
	void *arg = lc->arg;
	struct login_reply rep = lc->rep;
	client_free(lc);
	done(arg, &rep, session, line);
}

static void ready_read_cb(struct bufferevent *bev, void *arg)
{
	struct login_client *lc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > LOGIN_READY_LINE_MAX) {
			log_error("login: the session's first line is too long");
			client_finish(lc, LOGIN_TEMPFAIL, NULL);
		}
		return;
	}
	client_finish(lc, LOGIN_OK, line);
	free(line);
}

static void ready_event_cb(struct bufferevent *bev, short what, void *arg)
{
	log_error("login: the session process %s before it was ready",
		  what & BEV_EVENT_TIMEOUT ? "timed out" : "went away");
	client_finish(arg, LOGIN_TEMPFAIL, NULL);
}

static void reply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct login_client *lc = arg;
	if (what & EV_TIMEOUT) {
		log_error("login: no answer from the auth process");
		client_finish(lc, LOGIN_TEMPFAIL, NULL);
		return;
	}
	unsigned char msg[16];
	int sfd;
	ssize_t n = login_recv_fd(lc->sock, msg, sizeof(msg), &sfd);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		event_add(lc->ev, NULL);
		return;
	}
	if (n <= 0 || login_reply_unmarshal(msg, (size_t)n, &lc->rep) < 0 ||
	    (lc->rep.status == LOGIN_OK && !lc->check_only) != (sfd >= 0)) {
		log_error("login: bad or no answer from the auth process");
		if (sfd >= 0)
			close(sfd);
		client_finish(lc, LOGIN_TEMPFAIL, NULL);
		return;
	}
	close(lc->sock);
	lc->sock = -1;
	if (lc->rep.status != LOGIN_OK || lc->check_only) {
		client_finish(lc, lc->rep.status, NULL);
		return;
	}
	evutil_make_socket_nonblocking(sfd);
	lc->session = bufferevent_socket_new(event_get_base(lc->ev), sfd, BEV_OPT_CLOSE_ON_FREE);
	if (lc->session == NULL) {
		close(sfd);
		client_finish(lc, LOGIN_TEMPFAIL, NULL);
		return;
	}
	struct timeval tv = {LOGIN_REPLY_TIMEOUT_S, 0};
	bufferevent_setcb(lc->session, ready_read_cb, NULL, ready_event_cb, lc);
	bufferevent_set_timeouts(lc->session, &tv, NULL);
	bufferevent_enable(lc->session, EV_READ);
}

/* Connects and sends the request: 0 sent, 1 try again later (the auth process is not
 * listening yet: starting or restarting), -1 failed. */
static int client_send(struct login_client *lc)
{
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sock >= 0 && connect(sock, (struct sockaddr *)&lc->sun, sizeof(lc->sun)) == 0 &&
	    login_send_fd(sock, lc->msg.data, lc->msg.len, -1) == 0) {
		sasl_buf_wipe(&lc->msg);
		lc->sock = sock;
		return 0;
	}
	int e = errno;
	if (sock >= 0)
		close(sock);
	if ((e == ENOENT || e == ECONNREFUSED || e == EAGAIN) && now_ms() < lc->connect_until)
		return 1;
	log_error("login: auth process at %s: %s", lc->sun.sun_path, strerror(e));
	return -1;
}

/* Waits for the reply (the request went out). */
static void client_wait_reply(struct login_client *lc, struct event_base *base)
{
	if (lc->ev != NULL)
		event_free(lc->ev);
	lc->ev = event_new(base, lc->sock, EV_READ, reply_cb, lc);
	struct timeval tv = {LOGIN_REPLY_TIMEOUT_S, 0};
	event_add(lc->ev, &tv);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct login_client *lc = arg;
	int r = client_send(lc);
	if (r < 0) {
		client_finish(lc, LOGIN_TEMPFAIL, NULL);
	} else if (r == 0) {
		client_wait_reply(lc, event_get_base(lc->ev));
	} else {
		struct timeval tv = {0, LOGIN_CONNECT_RETRY_MS * 1000};
		event_add(lc->ev, &tv);
	}
}

struct login_client *login_client_start(struct event_base *base, const char *socket_path,
					const struct login_request *req, login_client_done_cb *done,
					void *arg)
{
	struct login_client *lc = X_NEW(struct login_client);
	lc->sock = -1;
	lc->sun.sun_family = AF_UNIX;
	if (strlen(socket_path) >= sizeof(lc->sun.sun_path) ||
	    login_request_marshal(req, &lc->msg) < 0) {
		client_free(lc);
		return NULL;
	}
	strcpy(lc->sun.sun_path, socket_path);
	lc->check_only = req->proto == LOGIN_PROTO_SMTP;
	lc->done = done;
	lc->arg = arg;
	lc->connect_until = now_ms() + LOGIN_CONNECT_WAIT_MS;
	int r = client_send(lc);
	if (r < 0) {
		client_free(lc);
		return NULL;
	}
	if (r == 0) {
		client_wait_reply(lc, base);
	} else {
		lc->ev = evtimer_new(base, retry_cb, lc);
		struct timeval tv = {0, LOGIN_CONNECT_RETRY_MS * 1000};
		event_add(lc->ev, &tv);
	}
	return lc;
}

void login_client_cancel(struct login_client **lcp)
{
	if (*lcp != NULL)
		client_free(*lcp);
	*lcp = NULL;
}
