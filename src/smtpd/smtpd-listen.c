/* smtpd-listen: the smtp worker: configuration snapshots, the listeners handed over by
 * the master (TERN_LISTEN_FDS), connection limits, and the signals (SIGTERM: stop
 * accepting, 421 4.3.2 to every session, exit when they are done or after a bounded
 * wait; SIGHUP: re-read tern.conf for new sessions, reload the TLS certificates and the
 * login policy; sessions in progress keep their settings and their TLS session).
 */
#include "smtpd.h"
#include "smtpd-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "net.h"
#include "queue.h"
#include "rewrite.h"
#include "userdb.h"
#include "util.h"
#include "xalloc.h"

#define SMTPD_STOP_WAIT_SEC 10

struct smtpd_settings *smtpd_settings_new(struct conf *conf)
{
	struct smtpd_settings *set = X_NEW(struct smtpd_settings);
	set->refs = 1;
	set->conf = conf;
	set->userdb = userdb_open(conf);
	set->hostname = conf_str(conf, "hostname");
	set->banner = conf_str(conf, "smtp_banner");
	set->queue_dir = conf_str(conf, "queue_dir");
	set->max_message_size = conf_num(conf, "smtp_max_message_size");
	set->max_recipients = conf_num(conf, "smtp_max_recipients");
	set->max_command_line = conf_num(conf, "smtp_max_command_line");
	if (set->max_command_line < 512)
		set->max_command_line = 512; /* RFC 5321 4.5.3.1.4 */
	set->max_line_length = conf_num(conf, "smtp_max_line_length");
	set->max_header_size = conf_num(conf, "smtp_max_header_size");
	set->max_errors = conf_num(conf, "smtp_max_errors");
	set->timeout = conf_num(conf, "smtp_timeout");
	set->max_conns = conf_num(conf, "smtp_max_connections");
	set->max_conns_per_ip = conf_num(conf, "smtp_max_connections_per_ip");
	set->vrfy = conf_bool(conf, "smtp_vrfy");
	set->bare_lf_reject = strcmp(conf_str(conf, "smtp_bare_lf"), "reject") == 0;
	set->nul_reject = strcmp(conf_str(conf, "smtp_nul"), "reject") == 0;
	set->auth_on_port25 = conf_bool(conf, "smtp_auth_on_port25");
	set->sender_check = conf_bool(conf, "submission_sender_check");
	set->policy = smtpd_policy_new(conf, set->userdb);
	set->rewrite = rewrite_new(conf);
	set->rewrite_max_field = conf_num(conf, "header_rewrite_max_field");
	return set;
}

void smtpd_settings_ref(struct smtpd_settings *set)
{
	set->refs++;
}

void smtpd_settings_unref(struct smtpd_settings **setp)
{
	struct smtpd_settings *set = *setp;
	*setp = NULL;
	if (set == NULL || --set->refs > 0)
		return;
	smtpd_policy_free(&set->policy);
	rewrite_free(&set->rewrite);
	userdb_close(&set->userdb);
	conf_free(&set->conf);
	free(set);
}

struct smtpd_server *smtpd_server_new(const char *conf_path, struct conf *conf, bool inetd)
{
	struct smtpd_server *srv = X_NEW(struct smtpd_server);
	srv->conf_path = x_strdup(conf_path);
	srv->settings = smtpd_settings_new(conf);
	srv->inetd = inetd;
	struct event_config *cfg = event_config_new();
	/* inetd: stdin may be a pipe or a file, which epoll refuses; poll takes them. */
	if (inetd)
		event_config_avoid_method(cfg, "epoll");
	srv->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (srv->base == NULL)
		fatal("event_base_new failed");
	srv->committer = queue_committer_new(srv->base);
	srv->auth = auth_new(conf);
	return srv;
}

static void smtpd_listeners_close(struct smtpd_server *srv)
{
	for (size_t i = 0; i < srv->nlisteners; i++) {
		if (srv->listeners[i].lev != NULL)
			evconnlistener_free(srv->listeners[i].lev);
		x_free(&srv->listeners[i].name);
	}
	x_free(&srv->listeners);
	srv->nlisteners = 0;
}

void smtpd_server_free(struct smtpd_server **srvp)
{
	struct smtpd_server *srv = *srvp;
	if (srv == NULL)
		return;
	/* Commits still pending finish here and answer their sessions. */
	queue_committer_free(&srv->committer);
	srv->stopping = true;
	while (srv->sessions != NULL)
		smtpd_session_free(srv->sessions);
	smtpd_listeners_close(srv);
	smtpd_tls_free_all(srv);
	auth_free(&srv->auth);
	if (srv->ev_term != NULL)
		event_free(srv->ev_term);
	if (srv->ev_hup != NULL)
		event_free(srv->ev_hup);
	if (srv->ev_stop_timer != NULL)
		event_free(srv->ev_stop_timer);
	smtpd_settings_unref(&srv->settings);
	event_base_free(srv->base);
	x_free(&srv->conf_path);
	x_free(srvp);
}

void smtpd_server_session_gone(struct smtpd_server *srv)
{
	if (srv->inetd || (srv->stopping && srv->nsessions == 0))
		event_base_loopexit(srv->base, NULL);
}

/* Refuses a connection over a limit with one line, without making a session (on an
 * implicit TLS port, where a line in clear would only confuse the client, just closes). */
void smtpd_refuse(int fd, const char *ip, const char *why, bool tls)
{
	static const char msg[] = "421 4.7.0 Error: too many connections\r\n";
	if (!tls) {
		ssize_t w = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
	}
	close(fd);
	log_info("reject: CONNECT from [%s]: 421 4.7.0 too many connections (%s)", ip, why);
}

static void smtpd_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
			    int socklen, void *arg)
{
	struct smtpd_listener *l = arg;
	struct smtpd_server *srv = l->srv;
	if (l->local) {
		smtpd_local_accept(l, fd);
		return;
	}
	struct net_peer peer;
	net_peer_of_addr(sa, &peer);
	const char *ip = peer.ip;
	int port = peer.port;
	const struct smtpd_settings *set = srv->settings;
	if (srv->nsessions >= set->max_conns) {
		smtpd_refuse(fd, ip, "server limit", l->tls_mode == SMTPD_TLS_IMPLICIT);
		return;
	}
	unsigned same = 0;
	for (struct smtpd_session *s = srv->sessions; s != NULL; s = s->next)
		same += strcmp(s->ip, ip) == 0;
	if (same >= set->max_conns_per_ip) {
		smtpd_refuse(fd, ip, "per-address limit", l->tls_mode == SMTPD_TLS_IMPLICIT);
		return;
	}
	smtpd_session_new(srv, fd, -1, ip, port, l, NULL);
}

/* Finds NAME in tern.conf and serves it when it speaks SMTP. */
static void smtpd_listener_add(struct smtpd_server *srv, int fd, const char *name)
{
	const struct conf *c = srv->settings->conf;
	const struct conf_listener *cl = NULL;
	for (size_t i = 0; i < c->listener_count; i++)
		if (strcmp(c->listeners[i].name, name) == 0)
			cl = &c->listeners[i];
	const char *proto = cl ? conf_listener_str(cl, "protocol") : "";
	bool local = cl == NULL && strcmp(name, SMTPD_LOCAL_LISTENER) == 0;
	if (!local && (cl == NULL || (strcmp(proto, "smtp") != 0 && strcmp(proto, "submission") != 0))) {
		log_warn("listener %s: not an SMTP listener here; ignored", name);
		return;
	}
	set_nonblock(fd);
	srv->listeners =
	    x_reallocarray(srv->listeners, srv->nlisteners + 1, sizeof(*srv->listeners));
	struct smtpd_listener *l = &srv->listeners[srv->nlisteners];
	memset(l, 0, sizeof(*l));
	l->srv = srv;
	l->name = x_strdup(name);
	l->submission = strcmp(proto, "submission") == 0;
	l->local = local;
	const char *tls = local ? "none" : conf_listener_str(cl, "tls");
	l->tls_mode = strcmp(tls, "implicit") == 0   ? SMTPD_TLS_IMPLICIT
		      : strcmp(tls, "starttls") == 0 ? SMTPD_TLS_STARTTLS
						     : SMTPD_TLS_NONE;
	l->lev = evconnlistener_new(srv->base, smtpd_accept_cb, NULL,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (l->lev == NULL)
		fatal("listener %s: evconnlistener_new: %s", name, strerror(errno));
	srv->nlisteners++;
}

static void smtpd_listen_one(int fd, const char *name, void *arg)
{
	smtpd_listener_add(arg, fd, name);
}

/* TERN_LISTEN_FDS="FD:NAME,FD:NAME". The listener array is final before callbacks get
 * their argument, since growing it moves the elements. */
static size_t smtpd_listeners_open(struct smtpd_server *srv, const char *env)
{
	net_listen_fds(env, smtpd_listen_one, srv);
	for (size_t i = 0; i < srv->nlisteners; i++)
		evconnlistener_set_cb(srv->listeners[i].lev, smtpd_accept_cb, &srv->listeners[i]);
	smtpd_tls_setup(srv);
	return srv->nlisteners;
}

static void smtpd_stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_server *srv = arg;
	log_warn("%u sessions still open after %d s; stopping anyway", srv->nsessions,
		 SMTPD_STOP_WAIT_SEC);
	event_base_loopexit(srv->base, NULL);
}

static void smtpd_term_cb(evutil_socket_t sig, short what, void *arg)
{
	struct smtpd_server *srv = arg;
	if (srv->stopping)
		return;
	srv->stopping = true;
	log_info("stopping: %u sessions open", srv->nsessions);
	smtpd_listeners_close(srv);
	for (struct smtpd_session *s = srv->sessions, *next; s != NULL; s = next) {
		next = s->next;
		smtpd_session_shutdown(s);
	}
	if (srv->nsessions == 0) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	struct timeval tv = {SMTPD_STOP_WAIT_SEC, 0};
	srv->ev_stop_timer = evtimer_new(srv->base, smtpd_stop_timer_cb, srv);
	evtimer_add(srv->ev_stop_timer, &tv);
}

static void smtpd_hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct smtpd_server *srv = arg;
	struct buf err = BUF_INIT;
	struct conf *c = conf_load(srv->conf_path, &err);
	if (c == NULL) {
		log_error("reload: configuration not valid, keeping the old one: %s",
			  buf_cstr(&err));
		buf_free(&err);
		return;
	}
	buf_free(&err);
	log_set_level((enum log_level)conf_num(c, "log_level"));
	smtpd_settings_unref(&srv->settings);
	srv->settings = smtpd_settings_new(c);
	auth_reconfigure(srv->auth, c);
	smtpd_tls_setup(srv);
	log_info("configuration reloaded; new limits and certificates apply to new sessions");
}

void smtpd_server_signals(struct smtpd_server *srv)
{
	signal(SIGPIPE, SIG_IGN);
	srv->ev_term = evsignal_new(srv->base, SIGTERM, smtpd_term_cb, srv);
	srv->ev_hup = evsignal_new(srv->base, SIGHUP, smtpd_hup_cb, srv);
	evsignal_add(srv->ev_term, NULL);
	evsignal_add(srv->ev_hup, NULL);
}

struct conf *smtpd_conf_load(const char *conf_path, bool use_stderr)
{
	struct buf err = BUF_INIT;
	struct conf *c = conf_load(conf_path, &err);
	if (c == NULL) {
		log_init("smtpd", !use_stderr);
		log_error("%s", buf_cstr(&err));
		buf_free(&err);
		return NULL;
	}
	buf_free(&err);
	log_init("smtpd", !use_stderr || conf_num(c, "log") == 1);
	log_set_level((enum log_level)conf_num(c, "log_level"));
	return c;
}

int smtpd_main(const char *conf_path)
{
	/* A SIGHUP or SIGTERM sent while we start (loading certificates takes a while) waits
	 * for the loop's handlers instead of killing the worker. */
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, NULL);
	struct conf *c = smtpd_conf_load(conf_path, true);
	if (c == NULL)
		return 78;
	const char *env = getenv("TERN_LISTEN_FDS");
	struct smtpd_server *srv = smtpd_server_new(conf_path, c, false);
	if (env == NULL || smtpd_listeners_open(srv, env) == 0) {
		log_error("no SMTP listener to serve (TERN_LISTEN_FDS=%s)", env ? env : "");
		smtpd_server_free(&srv);
		return 78;
	}
	smtpd_server_signals(srv);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	event_base_dispatch(srv->base);
	smtpd_server_free(&srv);
	log_info("stopped");
	return 0;
}
