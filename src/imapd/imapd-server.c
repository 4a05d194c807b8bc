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
#include "xalloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void server_settings(struct imapd_server *srv)
{
	const struct conf *c = srv->core.conf;
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
	srv->core.ports.max_connections = conf_num(c, "imap_max_connections");
	srv->core.ports.max_connections_per_ip = conf_num(c, "imap_max_connections_per_ip");
	set->max_sessions_per_user = conf_num(c, "imap_max_sessions_per_user");
	set->idle_check_s = conf_num(c, "imap_idle_check_interval");
	if (set->idle_check_s < 1)
		set->idle_check_s = 1;
}

static void server_accepted(void *arg, struct server_listener *l, struct bufferevent *bev,
			    const struct net_peer *peer)
{
	struct imapd_session *s = imapd_session_new(arg, bev, peer);
	if (l->tls == SERVER_TLS_IMPLICIT)
		s->conn.tls = s->conn.tls_handshake = true;
	else if (l->tls == SERVER_TLS_STARTTLS)
		s->stls_ctx = l->ctx;
	imapd_session_start(s, false);
}

/* SIGHUP, the configuration read again: the options and the login policy. */
static void server_reconfigure(void *arg)
{
	struct imapd_server *srv = arg;
	server_settings(srv);
	server_core_reconfigure(&srv->core);
}

/* RFC 9051 7.1.5: a refused client gets "* BYE". */
static const struct server_proto imapd_proto = {
    .protocol = "imap",
    .starttls = "STARTTLS",
    .refuse_fmt = "* BYE [UNAVAILABLE] %s\r\n",
    .accepted = server_accepted,
    .reconfigure = server_reconfigure,
};

int imapd_server_init(struct imapd_server *srv, const char *conf_path)
{
	memset(srv, 0, sizeof(*srv));
	if (server_core_init(&srv->core, "imap", conf_path, &imapd_proto, srv) < 0)
		return -1;
	server_settings(srv);
	store_share_snapshots(true); /* sessions on one folder share its snapshot */
	store_async_checkpoints(true); /* a FETCH's cache writes wait for no flush */
	return 0;
}

void imapd_server_deinit(struct imapd_server *srv)
{
	imapd_idle_watches_free(srv); /* first: it has an event of the core's base */
	server_core_deinit(&srv->core);
}

int imapd_main(const char *conf_path)
{
	struct imapd_server srv;
	if (imapd_server_init(&srv, conf_path) < 0)
		return 78;
	int rc = server_core_run(&srv.core, "imap");
	if (rc != 0)
		return rc;
	imapd_server_deinit(&srv);
	log_info("imap stopped");
	return 0;
}
