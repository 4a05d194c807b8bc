/* imapd-server: the imap worker (imapd_main): configuration and its reload (SIGHUP), the
 * listeners named in TERN_LISTEN_FDS whose protocol is imap, accepting connections within
 * imap_max_connections and imap_max_connections_per_ip (RFC 9051 7.1.5: a refused client
 * gets "* BYE"), and the clean stop on SIGTERM ("* BYE server shutting down" to all).
 */
#include "imapd.h"
#include "imapd-int.h"
#include "store.h"
#include "auth.h"
#include "log.h"
#include "login.h"
#include "net.h"
#include "util.h"
#include "worker-loop.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IMAPD_STOP_WAIT_S 10

static void server_settings(struct imapd_server *srv)
{
	const struct conf *c = srv->conf;
	struct imapd_settings *set = &srv->set;
	set->max_line = (size_t)conf_num(c, "imap_max_line");
	if (set->max_line < 8192)
		set->max_line = 8192;
	set->max_literal = conf_num(c, "imap_max_literal");
	set->timeout_s = conf_num(c, "imap_timeout");
	set->login_timeout_s = conf_num(c, "imap_login_timeout");
	if (set->timeout_s < 1)
		set->timeout_s = 1;
	if (set->login_timeout_s < 1)
		set->login_timeout_s = 1;
	set->max_errors = conf_num(c, "imap_max_errors");
	if (set->max_errors < 1)
		set->max_errors = 1;
	set->max_connections = conf_num(c, "imap_max_connections");
	set->max_connections_per_ip = conf_num(c, "imap_max_connections_per_ip");
	set->max_sessions_per_user = conf_num(c, "imap_max_sessions_per_user");
}

int imapd_server_init(struct imapd_server *srv, const char *conf_path)
{
	memset(srv, 0, sizeof(*srv));
	struct buf err = BUF_INIT;
	srv->conf = login_conf_load(conf_path, &err);
	if (srv->conf == NULL) {
		fprintf(stderr, "tern imap: %s\n", buf_cstr(&err));
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
	store_share_snapshots(true); /* sessions on one folder share its snapshot */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

void imapd_server_deinit(struct imapd_server *srv)
{
	while (srv->sessions != NULL)
		imapd_session_free(srv->sessions);
	for (size_t i = 0; i < srv->ports.count; i++) {
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

/* The client's address as text; *loopback_r: a loopback address; *local_r: a Unix socket. */
static void server_peer(const struct sockaddr *sa, char *ip, size_t iplen, bool *loopback_r,
			bool *local_r)
{
	struct net_peer np;
	net_peer_of_addr(sa, &np);
	snprintf(ip, iplen, "%s", np.ip);
	*loopback_r = np.loopback;
	*local_r = np.local;
}

void imapd_peer_of_fd(int fd, char *ip, size_t iplen, bool *loopback_r, bool *local_r)
{
	struct net_peer np;
	net_peer_of_fd(fd, &np);
	snprintf(ip, iplen, "%s", np.ip);
	*loopback_r = np.loopback;
	*local_r = np.local;
}

/* Refuses a connection at once with "* BYE". */
static void server_refuse(int fd, const char *ip, const char *why)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "* BYE [UNAVAILABLE] %s\r\n", why);
	if (send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("refuse ip=[%s]: send failed", ip);
	log_info("refused: ip=[%s] reason=%s", ip, why);
	close(fd);
}

static void server_accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
			     int salen, void *arg)
{
	struct server_listener *l = arg;
	struct imapd_server *srv = l->ports->arg;
	char ip[IMAPD_IP_MAX];
	bool loopback, local;
	server_peer(sa, ip, sizeof(ip), &loopback, &local);
	if (srv->stopping) {
		server_refuse(fd, ip, "server shutting down");
		return;
	}
	if (srv->session_count >= srv->set.max_connections) {
		server_refuse(fd, ip, "too many connections");
		return;
	}
	size_t same = 0;
	for (struct imapd_session *s = srv->sessions; s != NULL; s = s->next)
		same += strcmp(s->ip, ip) == 0;
	if (same >= srv->set.max_connections_per_ip) {
		server_refuse(fd, ip, "too many connections from your address");
		return;
	}
	evutil_make_socket_nonblocking(fd);
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
	struct imapd_session *s = imapd_session_new(srv, bev, ip, loopback, local);
	if (l->tls == SERVER_TLS_IMPLICIT)
		s->tls = s->tls_handshake = true;
	else if (l->tls == SERVER_TLS_STARTTLS)
		s->stls_ctx = l->ctx;
	imapd_session_start(s, false);
}

static void server_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct imapd_server *srv = arg;
	if (srv->stopping)
		return;
	srv->stopping = true;
	log_info("stopping: %zu sessions", srv->session_count);
	for (struct imapd_session *s = srv->sessions; s != NULL; s = s->next) {
		if (s->proxy != NULL) {
			/* a system user's session: its process sees the end of its socket */
			imapd_syslogin_free(s);
			imapd_session_setup_bev(s);
		} else if (s->job == NULL) {
			imapd_untagged(s, "BYE server shutting down");
		}
		imapd_session_close(s);
	}
	struct timeval tv = {IMAPD_STOP_WAIT_S, 0};
	event_base_loopexit(srv->base, srv->session_count == 0 ? NULL : &tv);
}

static void server_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct imapd_server *srv = arg;
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

/* Watches fd for the imap listener cl, with its TLS mode and context. 0, or -1 if it cannot
 * be served (implicit TLS without a certificate: better no service than a plaintext one
 * where clients expect TLS). */
static int server_listener_add(struct imapd_server *srv, const struct conf_listener *cl, int fd)
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
			log_error("listen %s: no TLS certificate; STARTTLS not offered", cl->name);
	}
	evutil_make_socket_nonblocking(fd);
	l->evl = evconnlistener_new(srv->base, server_accept_cb, l, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (l->evl == NULL)
		fatal("listen %s: cannot watch fd %d", cl->name, fd);
	l->name = x_strdup(cl->name);
	srv->ports.count++;
	return 0;
}

/* One entry of TERN_LISTEN_FDS: served when tern.conf says it speaks imap. */
static void server_listen_one(int fd, const char *name, void *arg)
{
	struct imapd_server *srv = arg;
	if (srv->ports.count >= SERVER_LISTENERS_MAX)
		return;
	for (size_t i = 0; i < srv->conf->listener_count; i++) {
		const struct conf_listener *l = &srv->conf->listeners[i];
		if (strcmp(l->name, name) == 0 &&
		    strcmp(conf_listener_str(l, "protocol"), "imap") == 0)
			server_listener_add(srv, l, fd);
	}
}

static size_t server_listen(struct imapd_server *srv)
{
	net_listen_fds(NULL, server_listen_one, srv);
	return srv->ports.count;
}

int imapd_main(const char *conf_path)
{
	struct imapd_server srv;
	if (imapd_server_init(&srv, conf_path) < 0)
		return 78;
	log_init("imap", conf_num(srv.conf, "log") == 1);
	log_set_level((enum log_level)conf_num(srv.conf, "log_level"));
	size_t nls = server_listen(&srv);
	/* system mode: certificates and listeners ready, chroot and drop (lib-login) */
	if (auth_system_users(srv.auth) &&
	    login_confine(srv.conf, &srv.chrooted, &srv.login_socket) < 0)
		return 71;
	log_info("imap started: %zu listeners", nls);
	worker_loop_run(srv.base, server_stop_cb, server_reload_cb, &srv);
	imapd_server_deinit(&srv);
	log_info("imap stopped");
	return 0;
}
