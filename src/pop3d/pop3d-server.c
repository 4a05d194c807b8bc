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
#include "xalloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* SIGHUP, the configuration read again: the options and the login policy. */
static void server_reconfigure(void *arg)
{
	struct pop3d_server *srv = arg;
	server_settings(srv);
	auth_reconfigure(srv->auth, srv->conf);
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
    .reconfigure = server_reconfigure,
};

int pop3d_server_init(struct pop3d_server *srv, const char *conf_path)
{
	memset(srv, 0, sizeof(*srv));
	if (server_init_base("pop3", conf_path, &srv->conf, &srv->conf_path, &srv->base) < 0)
		return -1;
	server_ports_init(&srv->ports, &pop3d_proto, srv, srv->base);
	server_settings(srv);
	srv->auth = auth_new(srv->conf);
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
	if (!server_stop_begin(&srv->ports, &srv->stopping, srv->session_count))
		return;
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
	server_stop_wait(&srv->ports, srv->session_count);
}

static void server_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct pop3d_server *srv = arg;
	server_reload(&srv->ports, &srv->conf, srv->conf_path, srv->chrooted, &srv->retiring,
		      srv->session_count);
}

int pop3d_main(const char *conf_path)
{
	struct pop3d_server srv;
	if (pop3d_server_init(&srv, conf_path) < 0)
		return 78;
	int rc = server_run(&srv.ports, srv.conf, "pop3", auth_system_users(srv.auth),
			    &srv.chrooted, &srv.login_socket, server_stop_cb, server_reload_cb);
	if (rc != 0)
		return rc;
	pop3d_server_deinit(&srv);
	log_info("pop3 stopped");
	return 0;
}
