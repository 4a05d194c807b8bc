/* pop3d-server: the pop3 worker (pop3d_main): configuration and its reload (SIGHUP: the
 * options, the login policy and the TLS certificates), the listeners named in
 * TERN_LISTEN_FDS whose protocol is pop3 (plain, STLS or implicit TLS), accepting
 * connections within pop3_max_connections and pop3_max_connections_per_ip, and the clean
 * stop on SIGTERM (every session gets "-ERR [SYS/TEMP] server shutting down"; none enters
 * UPDATE, so nothing is deleted). See pop3d.h.
 */
#include "pop3d.h"
#include "pop3d-int.h"
#include "auth.h"
#include "log.h"
#include "login.h"
#include "net.h"
#include "util.h"
#include "worker-loop.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define POP3D_STOP_WAIT_S 10

static void server_settings(struct pop3d_server *srv)
{
	const struct conf *c = srv->conf;
	struct pop3d_settings *set = &srv->set;
	set->max_line = (size_t)conf_num(c, "pop3_max_line");
	set->max_arg = (size_t)conf_num(c, "pop3_max_argument");
	if (set->max_arg < POP3_ARG_MAX_RFC)
		set->max_arg = POP3_ARG_MAX_RFC;
	set->timeout_s = conf_num(c, "pop3_timeout");
	if (set->timeout_s < 1)
		set->timeout_s = 1;
	set->max_errors = conf_num(c, "pop3_max_errors");
	if (set->max_errors < 1)
		set->max_errors = 1;
	set->max_connections = conf_num(c, "pop3_max_connections");
	set->max_connections_per_ip = conf_num(c, "pop3_max_connections_per_ip");
}

int pop3d_server_init(struct pop3d_server *srv, const char *conf_path)
{
	memset(srv, 0, sizeof(*srv));
	struct buf err = BUF_INIT;
	srv->conf = login_conf_load(conf_path, &err);
	if (srv->conf == NULL) {
		fprintf(stderr, "tern pop3: %s\n", buf_cstr(&err));
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	srv->conf_path = x_strdup(conf_path);
	srv->base = event_base_new();
	if (srv->base == NULL)
		fatal("event_base_new failed");
	srv->ports.base = srv->base;
	srv->ports.arg = srv;
	server_settings(srv);
	srv->auth = auth_new(srv->conf);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

void pop3d_server_deinit(struct pop3d_server *srv)
{
	while (srv->sessions != NULL)
		pop3d_session_free(srv->sessions);
	for (size_t i = 0; i < srv->ports.count; i++) {
		if (srv->ports.listeners[i].evl != NULL)
			evconnlistener_free(srv->ports.listeners[i].evl);
		x_free(&srv->ports.listeners[i].name);
	}
	server_tls_free(&srv->ports);
	auth_free(&srv->auth);
	conf_free(&srv->conf);
	x_free(&srv->conf_path);
	x_free(&srv->login_socket);
	event_base_free(srv->base);
}

/* The client's address as text, and whether it is loopback or local. */
static void server_peer(const struct sockaddr *sa, struct pop3d_peer *peer)
{
	struct net_peer np;
	net_peer_of_addr(sa, &np);
	snprintf(peer->ip, sizeof(peer->ip), "%s", np.ip);
	peer->loopback = np.loopback;
	peer->local = np.local;
}

void pop3d_peer_of_fd(int fd, struct pop3d_peer *peer)
{
	struct net_peer np;
	net_peer_of_fd(fd, &np);
	snprintf(peer->ip, sizeof(peer->ip), "%s", np.ip);
	peer->loopback = np.loopback;
	peer->local = np.local;
}

/* Refuses a connection at once with a one-line -ERR. */
static void server_refuse(int fd, const char *ip, const char *why)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "-ERR [SYS/TEMP] %s\r\n", why);
	if (send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("refuse ip=[%s]: send failed", ip);
	log_info("refused: ip=[%s] reason=%s", ip, why);
	close(fd);
}

static void server_accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
			     int salen, void *arg)
{
	struct server_listener *l = arg;
	struct pop3d_server *srv = l->ports->arg;
	struct pop3d_peer peer;
	server_peer(sa, &peer);
	const char *ip = peer.ip;
	if (srv->stopping) {
		server_refuse(fd, ip, "server shutting down");
		return;
	}
	if (srv->session_count >= srv->set.max_connections) {
		server_refuse(fd, ip, "too many connections");
		return;
	}
	size_t same = 0;
	for (struct pop3d_session *s = srv->sessions; s != NULL; s = s->next)
		same += strcmp(s->ip, ip) == 0;
	if (same >= srv->set.max_connections_per_ip) {
		server_refuse(fd, ip, "too many connections from your address");
		return;
	}
	evutil_make_socket_nonblocking(fd);
	/* Replies are whole when written: Nagle would hold the tail of a RETR (the part after
	 * the last full segment) until the client's delayed ACK, 40 ms per message. */
	int one = 1;
	if (sa->sa_family != AF_UNIX &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		log_debug("TCP_NODELAY: %s", strerror(errno));
	struct bufferevent *bev;
	if (l->tls == SERVER_TLS_IMPLICIT) {
		bev = server_tls_accept(l, fd);
	} else {
		bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL)
			close(fd);
	}
	if (bev == NULL)
		return;
	log_debug("connect: ip=[%s] listener=%s", ip, l->name);
	struct pop3d_session *s = pop3d_session_new(srv, bev, &peer);
	if (l->tls == SERVER_TLS_IMPLICIT)
		s->tls = s->tls_handshake = true;
	else if (l->tls == SERVER_TLS_STARTTLS)
		s->stls_ctx = l->ctx;
	pop3d_session_start(s);
}

static void server_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct pop3d_server *srv = arg;
	if (srv->stopping)
		return;
	srv->stopping = true;
	log_info("stopping: %zu sessions", srv->session_count);
	for (struct pop3d_session *s = srv->sessions; s != NULL; s = s->next) {
		pop3d_stream_abort(s); /* a half-sent message: the client sees the connection end */
		if (s->proxy != NULL) {
			/* a system user's session: its process sees the end of its socket */
			pop3d_syslogin_free(s);
			pop3d_session_setup_bev(s);
		} else if (!s->busy)
			pop3d_session_err(s, POP3_CODE_SYS_TEMP, "server shutting down");
		pop3d_session_close(s);
	}
	struct timeval tv = {POP3D_STOP_WAIT_S, 0};
	event_base_loopexit(srv->base, srv->session_count == 0 ? NULL : &tv);
}

static void server_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct pop3d_server *srv = arg;
	if (srv->chrooted) {
		/* it cannot read the new configuration: the master has started a new worker */
		log_info("reload: retiring (chrooted): no new connections, %zu sessions go on",
			 srv->session_count);
		for (size_t i = 0; i < srv->ports.count; i++)
			evconnlistener_disable(srv->ports.listeners[i].evl);
		srv->retiring = true;
		if (srv->session_count == 0)
			event_base_loopexit(srv->base, NULL);
		return;
	}
	struct buf err = BUF_INIT;
	struct conf *c = conf_load(srv->conf_path, &err);
	if (c == NULL) {
		log_error("reload: %s; keeping the old configuration", buf_cstr(&err));
		buf_free(&err);
		return;
	}
	buf_free(&err);
	conf_free(&srv->conf);
	srv->conf = c;
	server_settings(srv);
	auth_reconfigure(srv->auth, srv->conf);
	server_tls_reload(&srv->ports, srv->conf);
	log_info("configuration reloaded");
}

/* Watches fd for the pop3 listener l: with its TLS mode and context. 0, or -1 if the
 * listener cannot be served (implicit TLS without a certificate: better no service than
 * a plaintext one where clients expect TLS). */
static int server_listener_add(struct pop3d_server *srv, const struct conf_listener *cl, int fd)
{
	struct server_listener *l = &srv->ports.listeners[srv->ports.count];
	memset(l, 0, sizeof(*l));
	l->ports = &srv->ports;
	const char *mode = conf_listener_str(cl, "tls");
	l->tls = strcmp(mode, "implicit") == 0	 ? SERVER_TLS_IMPLICIT
		 : strcmp(mode, "starttls") == 0 ? SERVER_TLS_STARTTLS
						 : SERVER_TLS_NONE;
	if (l->tls != SERVER_TLS_NONE) {
		l->ctx = server_tls_ctx(&srv->ports, srv->conf, cl);
		l->own_ctx = l->ctx != NULL && l->ctx != srv->ports.tls;
		if (l->ctx == NULL && l->tls == SERVER_TLS_IMPLICIT) {
			log_error("listen %s: no TLS certificate; not serving it", cl->name);
			close(fd);
			return -1;
		}
		if (l->ctx == NULL)
			log_error("listen %s: no TLS certificate; STLS not offered", cl->name);
	}
	evutil_make_socket_nonblocking(fd);
	l->evl = evconnlistener_new(srv->base, server_accept_cb, l, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (l->evl == NULL)
		fatal("listen %s: cannot watch fd %d", cl->name, fd);
	l->name = x_strdup(cl->name);
	srv->ports.count++;
	return 0;
}

/* Opens the pop3 listeners of TERN_LISTEN_FDS; returns how many. */
/* One entry of TERN_LISTEN_FDS: served when tern.conf says it speaks pop3. */
static void server_listen_one(int fd, const char *name, void *arg)
{
	struct pop3d_server *srv = arg;
	if (srv->ports.count >= SERVER_LISTENERS_MAX)
		return;
	for (size_t i = 0; i < srv->conf->listener_count; i++) {
		const struct conf_listener *l = &srv->conf->listeners[i];
		if (strcmp(l->name, name) == 0 &&
		    strcmp(conf_listener_str(l, "protocol"), "pop3") == 0)
			server_listener_add(srv, l, fd);
	}
}

static size_t server_listen(struct pop3d_server *srv)
{
	net_listen_fds(NULL, server_listen_one, srv);
	return srv->ports.count;
}

int pop3d_main(const char *conf_path)
{
	struct pop3d_server srv;
	if (pop3d_server_init(&srv, conf_path) < 0)
		return 78;
	log_init("pop3", conf_num(srv.conf, "log") == 1);
	log_set_level((enum log_level)conf_num(srv.conf, "log_level"));
	size_t nls = server_listen(&srv);
	/* system mode: certificates and listeners ready, chroot and drop (lib-login) */
	if (auth_system_users(srv.auth) &&
	    login_confine(srv.conf, &srv.chrooted, &srv.login_socket) < 0)
		return 71;
	log_info("pop3 started: %zu listeners", nls);
	worker_loop_run(srv.base, server_stop_cb, server_reload_cb, &srv);
	pop3d_server_deinit(&srv);
	log_info("pop3 stopped");
	return 0;
}
