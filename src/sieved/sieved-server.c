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
#include "xalloc.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static uint64_t at_least(uint64_t v, uint64_t min)
{
	return v < min ? min : v;
}

static void server_settings(struct sieved_server *srv)
{
	const struct conf *c = srv->core.conf;
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
	srv->core.ports.max_connections = conf_num(c, "managesieve_max_connections");
	srv->core.ports.max_connections_per_ip = conf_num(c, "managesieve_max_connections_per_ip");
}

static void server_accepted(void *arg, struct server_listener *l, struct bufferevent *bev,
			    const struct net_peer *peer)
{
	struct sieved_session *s = sieved_session_new(arg, bev, peer);
	if (l->tls == SERVER_TLS_IMPLICIT)
		s->conn.tls = s->conn.tls_handshake =
		    true; /* the greeting once the handshake is done */
	else {
		s->starttls_ctx = l->ctx;
		sieved_session_start(s);
	}
}

/* SIGHUP, the configuration read again: the options and the login policy. */
static void server_reconfigure(void *arg)
{
	struct sieved_server *srv = arg;
	server_settings(srv);
	server_core_reconfigure(&srv->core);
}

/* A refused client gets BYE (RFC 5804 1.3: TRYLATER). */
static const struct server_proto sieved_proto = {
    .protocol = "managesieve",
    .starttls = "STARTTLS",
    .refuse_fmt = "BYE (TRYLATER) \"%s\"\r\n",
    .accepted = server_accepted,
    .reconfigure = server_reconfigure,
};

int sieved_server_init(struct sieved_server *srv, const char *conf_path)
{
	memset(srv, 0, sizeof(*srv));
	if (server_core_init(&srv->core, "managesieve", conf_path, &sieved_proto, srv) < 0)
		return -1;
	server_settings(srv);
	return 0;
}

void sieved_server_deinit(struct sieved_server *srv)
{
	server_core_deinit(&srv->core);
}

int sieved_main(const char *conf_path)
{
	struct sieved_server srv;
	if (sieved_server_init(&srv, conf_path) < 0)
		return 78;
	int rc = server_core_run(&srv.core, "sieve");
	if (rc != 0)
		return rc;
	sieved_server_deinit(&srv);
	log_info("sieve stopped");
	return 0;
}
