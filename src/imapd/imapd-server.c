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
	srv->ports.max_connections = conf_num(c, "imap_max_connections");
	srv->ports.max_connections_per_ip = conf_num(c, "imap_max_connections_per_ip");
	set->max_sessions_per_user = conf_num(c, "imap_max_sessions_per_user");
}

/* The sessions open, and in *same_r those from ip (for the connection limits). */
static size_t server_sessions(void *arg, const char *ip, size_t *same_r)
{
	struct imapd_server *srv = arg;
	for (struct imapd_session *s = srv->sessions; s != NULL; s = s->next)
		*same_r += strcmp(s->ip, ip) == 0;
	return srv->session_count;
}

static void server_accepted(void *arg, struct server_listener *l, struct bufferevent *bev,
			    const struct net_peer *peer)
{
	struct imapd_session *s =
	    imapd_session_new(arg, bev, peer->ip, peer->loopback, peer->local);
	if (l->tls == SERVER_TLS_IMPLICIT)
		s->tls = s->tls_handshake = true;
	else if (l->tls == SERVER_TLS_STARTTLS)
		s->stls_ctx = l->ctx;
	imapd_session_start(s, false);
}

/* SIGHUP, the configuration read again: the options and the login policy. */
static void server_reconfigure(void *arg)
{
	struct imapd_server *srv = arg;
	server_settings(srv);
	auth_reconfigure(srv->auth, srv->conf);
}

/* RFC 9051 7.1.5: a refused client gets "* BYE". */
static const struct server_proto imapd_proto = {
    .protocol = "imap",
    .starttls = "STARTTLS",
    .refuse_fmt = "* BYE [UNAVAILABLE] %s\r\n",
    .sessions = server_sessions,
    .accepted = server_accepted,
    .reconfigure = server_reconfigure,
};

int imapd_server_init(struct imapd_server *srv, const char *conf_path)
{
	memset(srv, 0, sizeof(*srv));
	if (server_init_base("imap", conf_path, &srv->conf, &srv->conf_path, &srv->base) < 0)
		return -1;
	server_ports_init(&srv->ports, &imapd_proto, srv, srv->base);
	server_settings(srv);
	srv->auth = auth_new(srv->conf);
	store_share_snapshots(true); /* sessions on one folder share its snapshot */
	return 0;
}

void imapd_server_deinit(struct imapd_server *srv)
{
	while (srv->sessions != NULL)
		imapd_session_free(srv->sessions);
	server_ports_free(&srv->ports);
	auth_free(&srv->auth);
	conf_free(&srv->conf);
	x_free(&srv->conf_path);
	x_free(&srv->login_socket);
	event_base_free(srv->base);
}

static void server_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct imapd_server *srv = arg;
	if (!server_stop_begin(&srv->ports, &srv->stopping, srv->session_count))
		return;
	for (struct imapd_session *s = srv->sessions; s != NULL; s = s->next) {
		if (s->syslogin.proxy != NULL) {
			/* a system user's session: its process sees the end of its socket */
			server_syslogin_free(&s->syslogin);
			imapd_session_setup_bev(s);
		} else if (s->job == NULL) {
			imapd_untagged(s, "BYE server shutting down");
		}
		imapd_session_close(s);
	}
	server_stop_wait(&srv->ports, srv->session_count);
}

static void server_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct imapd_server *srv = arg;
	server_reload(&srv->ports, &srv->conf, srv->conf_path, srv->chrooted, &srv->retiring,
		      srv->session_count);
}

int imapd_main(const char *conf_path)
{
	struct imapd_server srv;
	if (imapd_server_init(&srv, conf_path) < 0)
		return 78;
	int rc = server_run(&srv.ports, srv.conf, "imap", auth_system_users(srv.auth),
			    &srv.chrooted, &srv.login_socket, server_stop_cb, server_reload_cb);
	if (rc != 0)
		return rc;
	imapd_server_deinit(&srv);
	log_info("imap stopped");
	return 0;
}
