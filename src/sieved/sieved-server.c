/* sieved-server: the sieve worker (sieved_main): configuration and its reload (SIGHUP:
 * the options, the login policy and the TLS certificates), the listeners named in
 * TERN_LISTEN_FDS whose protocol is managesieve (plain with STARTTLS, or implicit TLS),
 * accepting connections within managesieve_max_connections and
 * managesieve_max_connections_per_ip, and the clean stop on SIGTERM (every session gets
 * BYE; a script being written is written whole or not at all). In system mode it chroots
 * into DATA/login once its listeners are ready, like imap and pop3 (lib-login), and a
 * reload retires it (the master starts a new one). See sieved.h.
 */
#include "sieved.h"
#include "sieved-int.h"
#include "auth.h"
#include "log.h"
#include "login.h"
#include "net.h"
#include "tls.h"
#include "sieve.h"
#include "worker-loop.h"
#include "xalloc.h"

#include <event2/listener.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SIEVED_STOP_WAIT_S 10

static uint64_t at_least(uint64_t v, uint64_t min)
{
	return v < min ? min : v;
}

static void server_settings(struct sieved_server *srv)
{
	const struct conf *c = srv->conf;
	struct sieved_settings *set = &srv->set;
	set->max_line = (size_t)conf_num(c, "managesieve_max_line");
	set->max_literal = (size_t)conf_num(c, "managesieve_max_literal");
	set->max_script = (size_t)conf_num(c, "managesieve_max_script_size");
	if (set->max_script > SIEVE_MAX_SCRIPT_SIZE)
		set->max_script = SIEVE_MAX_SCRIPT_SIZE;
	set->max_scripts = conf_num(c, "managesieve_max_scripts");
	set->timeout_s = at_least(conf_num(c, "managesieve_timeout"), 1);
	set->login_timeout_s = at_least(conf_num(c, "managesieve_login_timeout"), 1);
	set->max_errors = at_least(conf_num(c, "managesieve_max_errors"), 1);
	set->max_connections = conf_num(c, "managesieve_max_connections");
	set->max_connections_per_ip = conf_num(c, "managesieve_max_connections_per_ip");
}

int sieved_server_init(struct sieved_server *srv, const char *conf_path)
{
	memset(srv, 0, sizeof(*srv));
	struct buf err = BUF_INIT;
	srv->conf = login_conf_load(conf_path, &err);
	if (srv->conf == NULL) {
		fprintf(stderr, "tern managesieve: %s\n", buf_cstr(&err));
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

void sieved_server_deinit(struct sieved_server *srv)
{
	while (srv->sessions != NULL)
		sieved_session_free(srv->sessions);
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

/* Refuses a connection at once with a BYE. */
static void server_refuse(int fd, const char *ip, const char *why)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "BYE (TRYLATER) \"%s\"\r\n", why);
	if (send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("refuse ip=[%s]: send failed", ip);
	log_info("refused: ip=[%s] reason=%s", ip, why);
	close(fd);
}

static void server_accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
			     int salen, void *arg)
{
	struct server_listener *l = arg;
	struct sieved_server *srv = l->ports->arg;
	struct net_peer peer;
	net_peer_of_addr(sa, &peer);
	size_t same = 0;
	for (struct sieved_session *s = srv->sessions; s != NULL; s = s->next)
		same += strcmp(s->ip, peer.ip) == 0;
	if (srv->stopping || srv->session_count >= srv->set.max_connections ||
	    same >= srv->set.max_connections_per_ip) {
		server_refuse(fd, peer.ip,
			      srv->stopping ? "server shutting down"
			      : same >= srv->set.max_connections_per_ip
				  ? "too many connections from your address"
				  : "too many connections");
		return;
	}
	evutil_make_socket_nonblocking(fd);
	struct bufferevent *bev =
	    l->tls == SERVER_TLS_IMPLICIT ? tls_accept_fd(l->ctx, srv->base, fd, 0)
			    : bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_error("listen %s: cannot serve a connection", l->name);
		close(fd);
		return;
	}
	log_debug("connect: ip=[%s] listener=%s", peer.ip, l->name);
	struct sieved_session *s =
	    sieved_session_new(srv, bev, peer.ip, peer.loopback, peer.local);
	if (l->tls == SERVER_TLS_IMPLICIT)
		s->tls = s->tls_handshake = true;
	else
		s->starttls_ctx = l->ctx;
	if (l->tls != SERVER_TLS_IMPLICIT)
		sieved_session_start(s); /* under TLS: once the handshake is done */
}

static void server_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sieved_server *srv = arg;
	if (srv->stopping)
		return;
	srv->stopping = true;
	log_info("stopping: %zu sessions", srv->session_count);
	for (struct sieved_session *s = srv->sessions; s != NULL; s = s->next) {
		if (s->proxy != NULL) {
			/* a system user's session: its process sees the end of its socket */
			sieved_syslogin_free(s);
			sieved_session_setup_bev(s);
		} else if (!s->busy)
			sieved_reply(s, "BYE", "TRYLATER", "server shutting down");
		sieved_session_close(s);
	}
	struct timeval tv = {SIEVED_STOP_WAIT_S, 0};
	event_base_loopexit(srv->base, srv->session_count == 0 ? NULL : &tv);
}

static void server_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sieved_server *srv = arg;
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

/* One entry of TERN_LISTEN_FDS: served when tern.conf says it speaks managesieve. */
static void server_listen_one(int fd, const char *name, void *arg)
{
	struct sieved_server *srv = arg;
	for (size_t i = 0; i < srv->conf->listener_count; i++) {
		const struct conf_listener *cl = &srv->conf->listeners[i];
		if (strcmp(cl->name, name) != 0 ||
		    strcmp(conf_listener_str(cl, "protocol"), "managesieve") != 0 ||
		    srv->ports.count >= SERVER_LISTENERS_MAX)
			continue;
		struct server_listener *l = &srv->ports.listeners[srv->ports.count];
		memset(l, 0, sizeof(*l));
		l->ports = &srv->ports;
		const char *mode = conf_listener_str(cl, "tls");
		l->tls = strcmp(mode, "implicit") == 0	 ? SERVER_TLS_IMPLICIT
			 : strcmp(mode, "starttls") == 0 ? SERVER_TLS_STARTTLS
							 : SERVER_TLS_NONE;
		if (strcmp(mode, "none") != 0) {
			l->ctx = server_tls_ctx(&srv->ports, srv->conf, cl);
			l->own_ctx = l->ctx != NULL && l->ctx != srv->ports.tls;
		}
		if (l->ctx == NULL && l->tls == SERVER_TLS_IMPLICIT) {
			log_error("listen %s: no TLS certificate; not serving it", cl->name);
			close(fd);
			return;
		}
		if (l->ctx == NULL && strcmp(mode, "starttls") == 0)
			log_error("listen %s: no TLS certificate; STARTTLS not offered", cl->name);
		evutil_make_socket_nonblocking(fd);
		l->evl = evconnlistener_new(srv->base, server_accept_cb, l, LEV_OPT_CLOSE_ON_FREE,
					    -1, fd);
		if (l->evl == NULL)
			fatal("listen %s: cannot watch fd %d", cl->name, fd);
		l->name = x_strdup(cl->name);
		srv->ports.count++;
	}
}

int sieved_main(const char *conf_path)
{
	struct sieved_server srv;
	if (sieved_server_init(&srv, conf_path) < 0)
		return 78;
	log_init("sieve", conf_num(srv.conf, "log") == 1);
	log_set_level((enum log_level)conf_num(srv.conf, "log_level"));
	net_listen_fds(NULL, server_listen_one, &srv);
	/* system mode: certificates and listeners ready, chroot and drop (lib-login) */
	if (auth_system_users(srv.auth) &&
	    login_confine(srv.conf, &srv.chrooted, &srv.login_socket) < 0)
		return 71;
	log_info("sieve started: %zu listeners", srv.ports.count);
	worker_loop_run(srv.base, server_stop_cb, server_reload_cb, &srv);
	sieved_server_deinit(&srv);
	log_info("sieve stopped");
	return 0;
}
