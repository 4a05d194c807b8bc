/* server-main: the start and stop of the imap, pop3 and managesieve workers: the
 * configuration and the event base, the login policy, the reload on SIGHUP, the order of
 * the worker's life (logging set up from the configuration, the listeners, the chroot of
 * system mode, the loop) and the wait for the last sessions on SIGTERM (struct
 * server_core). The protocol keeps its settings and what each session is told at the stop.
 */
#include "server.h"
#include "auth.h"
#include "conf.h"
#include "log.h"
#include "login.h"
#include "util.h"
#include "worker-loop.h"
#include "xalloc.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static int server_init_base(const char *role, const char *conf_path, struct conf **conf_r,
			    char **conf_path_r, struct event_base **base_r)
{
	struct buf err = BUF_INIT;
	*conf_r = login_conf_load(conf_path, &err);
	if (*conf_r == NULL) {
		fprintf(stderr, "tern %s: %s\n", role, buf_cstr(&err));
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	*conf_path_r = x_strdup(conf_path);
	*base_r = event_base_new();
	if (*base_r == NULL)
		fatal("event_base_new failed");
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void server_reload(struct server_ports *p, struct conf **conf, const char *conf_path,
			  bool chrooted, bool *retiring, size_t sessions)
{
	if (chrooted) {
		/* it cannot read the new configuration: the master has started a new worker */
		*retiring = true;
		server_retire(p, sessions);
		return;
	}
	if (server_conf_reload(conf, conf_path) < 0)
		return;
	p->proto->reconfigure(p->arg);
	server_tls_reload(p, *conf);
	log_info("configuration reloaded");
}

static bool server_stop_begin(struct server_ports *p, bool *stopping, size_t sessions)
{
	if (*stopping)
		return false;
	*stopping = p->stopping = true;
	log_info("stopping: %zu sessions", sessions);
	return true;
}

static void server_stop_wait(struct server_ports *p, size_t sessions)
{
	struct timeval tv = {SERVER_STOP_WAIT_S, 0};
	event_base_loopexit(p->base, sessions == 0 ? NULL : &tv);
}

void server_log_init(const struct conf *c, const char *name)
{
	log_init(name, conf_num(c, "log") == 1);
	log_set_level((enum log_level)conf_num(c, "log_level"));
}

int server_preauth_lookup(const struct conf *c, struct userdb *db, const char *user,
			  struct user_info *info)
{
	struct buf err = BUF_INIT;
	int r = login_user_info(c, db, user, info, &err);
	if (r <= 0)
		log_error("preauth: user=<%s>: %s", log_safe(user, strlen(user), 100),
			  r < 0 ? buf_cstr(&err) : "unknown user");
	buf_free(&err);
	return r;
}

int server_core_init(struct server_core *core, const char *role, const char *conf_path,
		     const struct server_proto *proto, void *arg)
{
	memset(core, 0, sizeof(*core));
	if (server_init_base(role, conf_path, &core->conf, &core->conf_path, &core->base) < 0)
		return -1;
	core->sessions.base = core->base;
	server_ports_init(&core->ports, proto, arg, core->base);
	core->ports.sessions = &core->sessions;
	core->auth = auth_new(core->conf);
	return 0;
}

void server_core_deinit(struct server_core *core)
{
	server_sessions_free(&core->sessions);
	server_ports_free(&core->ports);
	auth_free(&core->auth);
	conf_free(&core->conf);
	x_free(&core->conf_path);
	x_free(&core->login_socket);
	event_base_free(core->base);
	core->base = NULL;
}

/* SIGTERM: every session's farewell, then its close; the loop ends with the last one or
 * after SERVER_STOP_WAIT_S. */
static void core_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server_core *core = arg;
	struct server_sessions *list = &core->sessions;
	if (!server_stop_begin(&core->ports, &list->stopping, list->count))
		return;
	for (struct server_conn *c = list->head; c != NULL; c = c->next) {
		c->ops->shutdown(c->session);
		server_conn_close(c);
	}
	server_stop_wait(&core->ports, list->count);
}

static void core_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server_core *core = arg;
	server_reload(&core->ports, &core->conf, core->conf_path, core->chrooted,
		      &core->sessions.retiring, core->sessions.count);
}

void server_core_reconfigure(struct server_core *core)
{
	auth_reconfigure(core->auth, core->conf);
}

int server_core_run(struct server_core *core, const char *name)
{
	server_log_init(core->conf, name);
	size_t nls = server_listen(&core->ports, core->conf);
	/* system mode: certificates and listeners ready, chroot and drop (lib-login) */
	if (auth_system_users(core->auth) &&
	    login_confine(core->conf, &core->chrooted, &core->login_socket) < 0)
		return 71;
	log_info("%s started: %zu listeners", name, nls);
	worker_loop_run(core->base, core_stop_cb, core_reload_cb, core);
	return 0;
}
