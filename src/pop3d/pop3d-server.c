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

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	srv->ports.max_connections = conf_num(c, "pop3_max_connections");
	srv->ports.max_connections_per_ip = conf_num(c, "pop3_max_connections_per_ip");
}

/* The sessions open, and in *same_r those from ip (for the connection limits). */
static size_t server_sessions(void *arg, const char *ip, size_t *same_r)
{
	struct pop3d_server *srv = arg;
	for (struct pop3d_session *s = srv->sessions; s != NULL; s = s->next)
		*same_r += strcmp(s->ip, ip) == 0;
	return srv->session_count;
}

static void server_accepted(void *arg, struct server_listener *l, struct bufferevent *bev,
			    const struct net_peer *np)
{
	struct pop3d_peer peer = {.loopback = np->loopback, .local = np->local};
	snprintf(peer.ip, sizeof(peer.ip), "%s", np->ip);
	struct pop3d_session *s = pop3d_session_new(arg, bev, &peer);
	if (l->tls == SERVER_TLS_IMPLICIT)
		s->tls = s->tls_handshake = true;
	else if (l->tls == SERVER_TLS_STARTTLS)
		s->stls_ctx = l->ctx;
	pop3d_session_start(s);
}

/* A refused client gets one -ERR line; replies are written whole, so no Nagle delay
 * (it would hold the tail of a RETR until the client's delayed ACK). */
static const struct server_proto pop3d_proto = {
    .protocol = "pop3",
    .starttls = "STLS",
    .refuse_fmt = "-ERR [SYS/TEMP] %s\r\n",
    .nodelay = true,
    .sessions = server_sessions,
    .accepted = server_accepted,
};

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
	server_ports_init(&srv->ports, &pop3d_proto, srv, srv->base);
	server_settings(srv);
	srv->auth = auth_new(srv->conf);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

void pop3d_server_deinit(struct pop3d_server *srv)
{
	while (srv->sessions != NULL)
		pop3d_session_free(srv->sessions);
	server_ports_free(&srv->ports);
	auth_free(&srv->auth);
	conf_free(&srv->conf);
	x_free(&srv->conf_path);
	x_free(&srv->login_socket);
	event_base_free(srv->base);
}

static void server_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct pop3d_server *srv = arg;
	if (srv->stopping)
		return;
	srv->stopping = srv->ports.stopping = true;
	log_info("stopping: %zu sessions", srv->session_count);
	for (struct pop3d_session *s = srv->sessions; s != NULL; s = s->next) {
		pop3d_stream_abort(s); /* a half-sent message: the client sees the connection end */
		if (s->syslogin.proxy != NULL) {
			/* a system user's session: its process sees the end of its socket */
			server_syslogin_free(&s->syslogin);
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
		srv->retiring = true;
		server_retire(&srv->ports, srv->session_count);
		return;
	}
	if (server_conf_reload(&srv->conf, srv->conf_path) < 0)
		return;
	server_settings(srv);
	auth_reconfigure(srv->auth, srv->conf);
	server_tls_reload(&srv->ports, srv->conf);
	log_info("configuration reloaded");
}

int pop3d_main(const char *conf_path)
{
	struct pop3d_server srv;
	if (pop3d_server_init(&srv, conf_path) < 0)
		return 78;
	log_init("pop3", conf_num(srv.conf, "log") == 1);
	log_set_level((enum log_level)conf_num(srv.conf, "log_level"));
	size_t nls = server_listen(&srv.ports, srv.conf);
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
