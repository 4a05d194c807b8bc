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
	const struct conf *c = srv->core.conf;
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
	srv->core.ports.max_connections = conf_num(c, "pop3_max_connections");
	srv->core.ports.max_connections_per_ip = conf_num(c, "pop3_max_connections_per_ip");
}

static void server_accepted(void *arg, struct server_listener *l, struct bufferevent *bev,
			    const struct net_peer *np)
{
	struct pop3d_session *s = pop3d_session_new(arg, bev, np);
	if (l->tls == SERVER_TLS_IMPLICIT)
		s->conn.tls = s->conn.tls_handshake = true;
	else if (l->tls == SERVER_TLS_STARTTLS)
		s->stls_ctx = l->ctx;
	pop3d_session_start(s);
}

/* SIGHUP, the configuration read again: the options and the login policy. */
static void server_reconfigure(void *arg)
{
	struct pop3d_server *srv = arg;
	server_settings(srv);
	server_core_reconfigure(&srv->core);
}

/* A refused client gets one -ERR line; replies are written whole, so no Nagle delay
 * (it would hold the tail of a RETR until the client's delayed ACK). */
static const struct server_proto pop3d_proto = {
    .protocol = "pop3",
    .starttls = "STLS",
    .refuse_fmt = "-ERR [SYS/TEMP] %s\r\n",
    .nodelay = true,
    .accepted = server_accepted,
    .reconfigure = server_reconfigure,
};

int pop3d_server_init(struct pop3d_server *srv, const char *conf_path)
{
	memset(srv, 0, sizeof(*srv));
	if (server_core_init(&srv->core, "pop3", conf_path, &pop3d_proto, srv) < 0)
		return -1;
	server_settings(srv);
	return 0;
}

void pop3d_server_deinit(struct pop3d_server *srv)
{
	server_core_deinit(&srv->core);
}

int pop3d_main(const char *conf_path)
{
	struct pop3d_server srv;
	if (pop3d_server_init(&srv, conf_path) < 0)
		return 78;
	int rc = server_core_run(&srv.core, "pop3");
	if (rc != 0)
		return rc;
	pop3d_server_deinit(&srv);
	log_info("pop3 stopped");
	return 0;
}
