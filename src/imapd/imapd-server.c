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

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* RFC 9051 7.1.5: a refused client gets "* BYE". */
static const struct server_proto imapd_proto = {
    .protocol = "imap",
    .starttls = "STARTTLS",
    .refuse_fmt = "* BYE [UNAVAILABLE] %s\r\n",
    .sessions = server_sessions,
    .accepted = server_accepted,
};

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
	server_ports_init(&srv->ports, &imapd_proto, srv, srv->base);
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
	if (srv->stopping)
		return;
	srv->stopping = srv->ports.stopping = true;
	log_info("stopping: %zu sessions", srv->session_count);
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
	struct timeval tv = {IMAPD_STOP_WAIT_S, 0};
	event_base_loopexit(srv->base, srv->session_count == 0 ? NULL : &tv);
}

static void server_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct imapd_server *srv = arg;
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

int imapd_main(const char *conf_path)
{
	struct imapd_server srv;
	if (imapd_server_init(&srv, conf_path) < 0)
		return 78;
	log_init("imap", conf_num(srv.conf, "log") == 1);
	log_set_level((enum log_level)conf_num(srv.conf, "log_level"));
	size_t nls = server_listen(&srv.ports, srv.conf);
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
