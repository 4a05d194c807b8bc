/* master: `tern serve -c CONF`. Binds every listener, starts one worker per role
 * (re-exec of this binary as `tern worker ROLE -c CONF`, listener fds inherited and named
 * in TERN_LISTEN_FDS), restarts a worker that dies (with a growing delay if it keeps
 * dying), turns SIGHUP into a validated reload passed on to the workers, and on SIGTERM
 * or SIGINT stops the workers (they answer 421 to sessions in progress) and waits.
 * The master parses no network input; when started as root it stays root only to bind
 * and to start workers, which drop to run_user before they read anything.
 */
#include "master.h"
#include "master-int.h"
#include "conf.h"
#include "deliver.h"
#include "log.h"
#include "smtpd.h"
#include "sysuser.h"
#include "tools.h"
#include "util.h"
#include "worker.h"
#include "xalloc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MASTER_STOP_WAIT_MS 20000

struct master_role {
	const char *name;
	struct buf fds; /* "FD:NAME,..." */
	size_t nfds;
	pid_t pid;
	uint64_t started_ms, restart_at_ms;
	unsigned fast_deaths;
	bool keep_root; /* deliver (system users): switches to each recipient itself */
};

struct master {
	struct conf *conf;
	char *conf_path;
	struct master_role *roles;
	size_t nroles;
	pid_t *retired; /* replaced at a reload, ending with their last session */
	size_t nretired;
};

/* The first (or a new) entry of a role; roles with listeners get more entries later, one
 * per process. */
static struct master_role *role_get(struct master *m, const char *name)
{
	for (size_t i = 0; i < m->nroles; i++)
		if (strcmp(m->roles[i].name, name) == 0)
			return &m->roles[i];
	m->roles = x_reallocarray(m->roles, m->nroles + 1, sizeof(*m->roles));
	struct master_role *r = &m->roles[m->nroles++];
	memset(r, 0, sizeof(*r));
	r->name = name;
	return r;
}

/* The local submission socket (smtpd-local.c), served by the smtp workers. Without it
 * only root and run_user can send with the sendmail command: a warning, not an error. */
static void master_listen_local(struct master *m)
{
	struct buf err = BUF_INIT;
	int fd = smtpd_local_listen(m->conf, &err);
	if (fd >= 0) {
		struct master_role *r = role_get(m, "smtp");
		buf_printf(&r->fds, "%s%d:%s", r->nfds ? "," : "", fd, SMTPD_LOCAL_LISTENER);
		r->nfds++;
		char *path = smtpd_local_socket_path(m->conf);
		log_info("local submission on %s", path);
		x_free(&path);
	} else if (err.len > 0) {
		log_warn("local submission: %s; only root and run_user can send with sendmail",
			 buf_cstr(&err));
	}
	buf_free(&err);
}

/* Binds every listener and assigns it to the role that serves its protocol. */
static int master_listen(struct master *m)
{
	struct conf *c = m->conf;
	for (size_t i = 0; i < c->listener_count; i++) {
		const struct conf_listener *l = &c->listeners[i];
		const char *proto = conf_listener_str(l, "protocol");
		const char *role = worker_role_for_protocol(proto);
		if (role == NULL) {
			log_warn("listen %s: protocol %s is not served by this version of tern; "
				 "listener not opened", l->name, proto);
			continue;
		}
		struct buf err = BUF_INIT;
		int fd = listen_open(conf_listener_str(l, "address"), &err);
		if (fd < 0) {
			log_error("listen %s: %s", l->name, buf_cstr(&err));
			buf_free(&err);
			return -1;
		}
		struct master_role *r = role_get(m, role);
		buf_printf(&r->fds, "%s%d:%s", r->nfds ? "," : "", fd, l->name);
		r->nfds++;
		log_info("listening on %s (%s, %s)", conf_listener_str(l, "address"), l->name, proto);
	}
	master_listen_local(m);
	role_get(m, "queue");
	if (sysuser_mode(c))
		role_get(m, "auth");
	/* Several processes for the protocol roles: they share the listening sockets, so the
	 * kernel spreads connections over them and a slow step in one (a password hash, a
	 * big SELECT) does not hold up the sessions of the others. */
	uint64_t n = conf_num(c, "worker_processes");
	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 0 ? (uint64_t)cpus : 1;
	}
	size_t base = m->nroles;
	for (size_t i = 0; i < base; i++) {
		if (m->roles[i].nfds == 0)
			continue; /* the queue manager: exactly one */
		for (uint64_t k = 1; k < n && k < 64; k++) {
			m->roles = x_reallocarray(m->roles, m->nroles + 1, sizeof(*m->roles));
			struct master_role *copy = &m->roles[m->nroles++];
			memset(copy, 0, sizeof(*copy));
			copy->name = m->roles[i].name;
			buf_append(&copy->fds, m->roles[i].fds.data, m->roles[i].fds.len);
			copy->nfds = m->roles[i].nfds;
		}
	}
	/* System users: one deliver worker, root, on a socket only run_user may use. */
	if (sysuser_mode(c)) {
		struct buf err = BUF_INIT;
		int fd = deliver_socket_listen(c, &err);
		if (fd < 0) {
			log_error("deliver socket: %s", buf_cstr(&err));
			buf_free(&err);
			return -1;
		}
		struct master_role *d = role_get(m, "deliver");
		buf_printf(&d->fds, "%d:deliver", fd);
		d->nfds = 1;
		d->keep_root = true;
	}
	return 0;
}

static void clear_cloexec_list(const char *list)
{
	for (const char *p = list; *p != '\0';) {
		int fd = atoi(p);
		set_cloexec(fd, false);
		p = strchr(p, ',');
		if (p == NULL)
			break;
		p++;
	}
}

/* The roles whose workers parse commands up to a login and, in system mode, hand the
 * session over to a process of the user (lib-login). */
static bool prelogin_role(const char *role)
{
	return strcmp(role, "imap") == 0 || strcmp(role, "pop3") == 0 ||
	       strcmp(role, "sieve") == 0;
}

/* Roles that give up root themselves: auth keeps it (it checks passwords and starts
 * sessions as the users); in system mode the pre-login roles first load their
 * certificates, then chroot into DATA/login and drop to run_user (login_confine). */
static bool master_drops_itself(const struct master *m, const char *role)
{
	return strcmp(role, "auth") == 0 || (sysuser_mode(m->conf) && prelogin_role(role));
}

static void master_start(struct master *m, struct master_role *r)
{
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		r->restart_at_ms = now_ms() + 1000;
		return;
	}
	if (pid == 0) {
		/* SIGHUP stays blocked across exec until the worker's handlers are in place
		 * (signals_ready()): a reload asked for while it starts then waits for it. */
		sigset_t hup;
		sigemptyset(&hup);
		sigaddset(&hup, SIGHUP);
		sigprocmask(SIG_SETMASK, &hup, NULL);
		const char *user = conf_str(m->conf, "run_user");
		if (geteuid() == 0 && !r->keep_root && !master_drops_itself(m, r->name)) {
			struct buf err = BUF_INIT;
			if (privdrop_to(user, &err) < 0)
				fatal("worker %s: %s", r->name, buf_cstr(&err));
		}
		clear_cloexec_list(buf_cstr(&r->fds));
		setenv("TERN_LISTEN_FDS", buf_cstr(&r->fds), 1);
		char *argv[] = {"tern", "worker", (char *)r->name, "-c", m->conf_path, NULL};
		execv("/proc/self/exe", argv);
		fatal("exec worker %s: %s", r->name, strerror(errno));
	}
	r->pid = pid;
	r->started_ms = now_ms();
	r->restart_at_ms = 0;
	log_info("started worker %s, pid %ld", r->name, (long)pid);
}

/* Reaps dead workers and schedules their restart. */
static void master_reap(struct master *m, bool stopping)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < m->nretired; i++)
			if (m->retired[i] == pid)
				m->retired[i] = m->retired[--m->nretired];
		for (size_t i = 0; i < m->nroles; i++) {
			struct master_role *r = &m->roles[i];
			if (r->pid != pid)
				continue;
			r->pid = 0;
			if (stopping)
				break;
			if (WIFSIGNALED(status))
				log_error("worker %s (pid %ld) killed by signal %d", r->name,
					  (long)pid, WTERMSIG(status));
			else
				log_error("worker %s (pid %ld) exited with status %d", r->name,
					  (long)pid, WEXITSTATUS(status));
			uint64_t now = now_ms();
			r->fast_deaths = now - r->started_ms < 10000 ? r->fast_deaths + 1 : 0;
			uint64_t delay = 500u << (r->fast_deaths < 6 ? r->fast_deaths : 6);
			r->restart_at_ms = now + delay;
		}
	}
}

static void master_signal_all(struct master *m, int sig)
{
	for (size_t i = 0; i < m->nroles; i++)
		if (m->roles[i].pid > 0)
			kill(m->roles[i].pid, sig);
	for (size_t i = 0; i < m->nretired; i++)
		kill(m->retired[i], sig);
}

/* The chrooted workers of system mode cannot read the new configuration: on SIGHUP they
 * stop accepting and end with their last session, and new ones start now. */
static void master_replace_chrooted(struct master *m)
{
	if (!sysuser_mode(m->conf))
		return;
	for (size_t i = 0; i < m->nroles; i++) {
		struct master_role *r = &m->roles[i];
		if (r->pid <= 0 || !prelogin_role(r->name))
			continue;
		m->retired = x_reallocarray(m->retired, m->nretired + 1, sizeof(*m->retired));
		m->retired[m->nretired++] = r->pid;
		master_start(m, r);
	}
}

static void master_reload(struct master *m)
{
	struct buf err = BUF_INIT;
	struct conf *c = conf_load(m->conf_path, &err);
	if (c == NULL) {
		log_error("reload refused, configuration not valid:\n%s", buf_cstr(&err));
		buf_free(&err);
		return;
	}
	conf_free(&m->conf);
	m->conf = c;
	log_set_level((enum log_level)conf_num(c, "log_level"));
	log_info("configuration reloaded (listener changes need a restart)");
	master_signal_all(m, SIGHUP);
	master_replace_chrooted(m);
}

static void master_stop(struct master *m)
{
	log_info("stopping");
	master_signal_all(m, SIGTERM);
	uint64_t deadline = now_ms() + MASTER_STOP_WAIT_MS;
	for (;;) {
		master_reap(m, true);
		bool alive = m->nretired > 0;
		for (size_t i = 0; i < m->nroles; i++)
			alive |= m->roles[i].pid > 0;
		if (!alive)
			break;
		if (now_ms() > deadline) {
			log_warn("workers did not stop in time; killing them");
			master_signal_all(m, SIGKILL);
			deadline = UINT64_MAX;
		}
		usleep(20000);
	}
	log_info("stopped");
}

/* The signals the master's loop takes with sigtimedwait. */
static void master_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGCHLD);
}

static int master_loop(struct master *m)
{
	sigset_t set;
	master_signal_set(&set);
	for (size_t i = 0; i < m->nroles; i++)
		master_start(m, &m->roles[i]);
	for (;;) {
		struct timespec ts = {0, 200 * 1000000};
		int sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			master_stop(m);
			return 0;
		}
		if (sig == SIGHUP)
			master_reload(m);
		master_reap(m, false);
		uint64_t now = now_ms();
		for (size_t i = 0; i < m->nroles; i++) {
			struct master_role *r = &m->roles[i];
			if (r->pid == 0 && r->restart_at_ms != 0 && now >= r->restart_at_ms)
				master_start(m, r);
		}
	}
}

int cmd_serve(int argc, char **argv)
{
	const char *path = NULL;
	int ch;
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c') {
			fprintf(stderr, "usage: tern serve [-c CONF]\n");
			return 64;
		}
		path = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: tern serve [-c CONF]\n");
		return 64;
	}
	/* Blocked from the start: a client sees the listeners as soon as they are bound, and
	 * a SIGHUP (reload) or SIGTERM sent then waits for the loop instead of killing us. */
	sigset_t set;
	master_signal_set(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	struct master m = {0};
	m.conf = tool_load_conf(path);
	m.conf_path = x_strdup(m.conf->path);
	log_init("master", conf_num(m.conf, "log") == 1);
	if (geteuid() == 0 && conf_str(m.conf, "run_user")[0] == '\0') {
		log_error("started as root: set run_user in %s to the account workers run as",
			  m.conf_path);
		return 78;
	}
	if (sysuser_mode(m.conf) && geteuid() != 0) {
		log_error("user_source = system: tern serve must start as root (to deliver as "
			  "each user)");
		return 78;
	}
	if (master_listen(&m) < 0)
		return 71;
	log_info("tern serving %s (host %s, domains %s)", m.conf_path, conf_str(m.conf, "hostname"),
		 conf_str(m.conf, "domains"));
	int ret = master_loop(&m);
	for (size_t i = 0; i < m.nroles; i++)
		buf_free(&m.roles[i].fds);
	free(m.roles);
	free(m.retired);
	free(m.conf_path);
	conf_free(&m.conf);
	return ret;
}
