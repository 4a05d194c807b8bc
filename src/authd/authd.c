/* authd: role auth (see authd.h). One event loop: the listening socket, one short-lived
 * connection per login attempt (one request, one reply, then closed), SIGCHLD for the
 * session processes, SIGHUP (reload) and SIGTERM. Password checks (crypt(3) against
 * shadow, or PAM: tens of milliseconds each) run in lib-auth's thread pool, so one slow
 * check holds up no other request; session processes are forked from the loop thread
 * with everything they need prepared first (authd-spawn.c). Only run_user's workers and
 * root may connect (SO_PEERCRED).
 */
#include "authd.h"
#include "authd-int.h"
#include "auth.h"
#include "conf.h"
#include "log.h"
#include "sysuser.h"
#include "userdb.h"
#include "util.h"
#include "worker-loop.h"
#include "xalloc.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define AUTHD_REQUEST_TIMEOUT_S 10

struct authd {
	struct event_base *base;
	struct conf *conf;
	char *conf_path;
	struct auth *auth; /* the login policy: lockout and failure delay (lib-auth) */
	int listen_fd;
	struct event *listen_ev;
	uid_t worker_uid;
	gid_t worker_gid;
	int exe_fd;
	struct authd_child *children;
};

/* One worker's request: read, then (while the password is checked in lib-auth's thread
 * pool) waiting, then answered and closed. */
struct authd_conn {
	struct authd *d;
	int fd;
	struct event *ev;
	struct auth_job *job;
	struct buf store; /* the request's strings; the password is wiped once handed on */
	struct login_request req;
	char *login; /* the account the request names, or the name as given when unknown */
};

static size_t authd_sessions(struct authd *d, enum login_proto proto, const char *user)
{
	size_t n = 0;
	for (struct authd_child *ch = d->children; ch != NULL; ch = ch->next)
		n += ch->proto == proto && strcmp(ch->user, user) == 0;
	return n;
}

/* A name that may go into an argument list and the log as it is. */
static bool authd_name_ok(const char *user)
{
	if (user[0] == '\0' || user[0] == '-' || strlen(user) > 255)
		return false;
	for (const char *p = user; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == '/' || *p == 0x7f)
			return false;
	return true;
}

/* A checked user: the session limit, then the session process. */
static enum login_status authd_start_session(struct authd *d, const struct login_request *req,
					     const struct user_info *u, int *fd_r)
{
	uint64_t max = conf_num(d->conf, "imap_max_sessions_per_user");
	pid_t pid;
	if (req->proto == LOGIN_PROTO_IMAP && max > 0 &&
	    authd_sessions(d, req->proto, u->login) >= max) {
		log_info("login: user=<%s> ip=[%s] result=too-many-sessions", u->login, req->ip);
		return LOGIN_LIMIT;
	}
	*fd_r = authd_spawn(d->conf, d->conf_path, d->exe_fd, u, req, &pid);
	if (*fd_r < 0)
		return LOGIN_TEMPFAIL;
	struct authd_child *ch = X_NEW(struct authd_child);
	ch->pid = pid;
	ch->proto = req->proto;
	ch->user = x_strdup(u->login);
	ch->next = d->children;
	d->children = ch;
	log_info("session: proto=%s, user=<%s>, ip=[%s], pid=%ld, uid=%ld",
		 login_proto_name(req->proto), u->login, req->ip, (long)pid, (long)u->uid);
	return LOGIN_OK;
}

static void conn_free(struct authd_conn *c)
{
	if (c->job != NULL)
		auth_job_cancel(c->job);
	event_free(c->ev);
	close(c->fd);
	sasl_buf_wipe(&c->store);
	free(c->login);
	free(c);
}

/* Sends the answer (with the session's socket, which is then ours no more) and ends. */
static void conn_reply(struct authd_conn *c, enum login_status status, uint64_t delay_ms,
		       int session)
{
	struct login_reply rep = {status, (uint32_t)delay_ms};
	unsigned char out[8];
	login_reply_marshal(&rep, out);
	if (login_send_fd(c->fd, out, sizeof(out), session) < 0)
		log_error("login: answering the worker: %s", strerror(errno));
	if (session >= 0)
		close(session); /* the worker has it now; a session without one sees EOF */
	conn_free(c);
}

/* The password check came back (loop thread): the failure delay, or the session. */
static void conn_checked(void *arg, enum sasl_lookup r, const char *address)
{
	struct authd_conn *c = arg;
	struct authd *d = c->d;
	const struct login_request *req = &c->req;
	const char *proto = login_proto_name(req->proto);
	c->job = NULL;
	if (r == SASL_LOOKUP_TEMPFAIL) {
		log_error("auth: proto=%s, mech=%s, user=<%s>, ip=[%s], result=tempfail", proto,
			  req->mech, c->login, req->ip);
		conn_reply(c, LOGIN_TEMPFAIL, 0, -1);
		return;
	}
	if (r != SASL_LOOKUP_OK) {
		const char *why = r == SASL_LOOKUP_UNKNOWN ? "unknown-user" : "bad-credentials";
		conn_reply(
		    c, LOGIN_FAILED,
		    auth_record(d->auth, proto, req->mech, req->ip, c->login, false, why, NULL),
		    -1);
		return;
	}
	auth_record(d->auth, proto, req->mech, req->ip, c->login, true, NULL, NULL);
	if (req->proto == LOGIN_PROTO_SMTP) { /* SMTP AUTH asks for the check only */
		conn_reply(c, LOGIN_OK, 0, -1);
		return;
	}
	struct user_info info;
	struct buf err = BUF_INIT;
	enum login_status st = LOGIN_TEMPFAIL;
	int session = -1;
	if (userdb_lookup(auth_userdb(d->auth), address, &info, &err) > 0) {
		if (info.system)
			st = authd_start_session(d, req, &info, &session);
		user_info_free(&info);
	} else {
		log_error("login: user=<%s> ip=[%s] result=tempfail: the account vanished %s",
			  c->login, req->ip, buf_cstr(&err));
	}
	buf_free(&err);
	conn_reply(c, st, 0, session);
}

/* The policy of lib-auth around sysuser_verify. The name may be ACCOUNT or
 * ACCOUNT@local-domain (userdb's system lookup); the account is what is checked, counted
 * and locked. The check itself runs in lib-auth's thread pool (auth_password_async): a
 * crypt(3) or PAM check takes tens of milliseconds, and other requests go on meanwhile. */
static void conn_request(struct authd_conn *c)
{
	struct authd *d = c->d;
	const struct login_request *req = &c->req;
	const char *proto = login_proto_name(req->proto);
	if (!authd_name_ok(req->user)) {
		conn_reply(
		    c, LOGIN_FAILED,
		    auth_record(d->auth, proto, req->mech, req->ip, "", false, "malformed", NULL),
		    -1);
		return;
	}
	struct user_info info;
	struct buf err = BUF_INIT;
	int found = userdb_lookup(auth_userdb(d->auth), req->user, &info, &err);
	if (found < 0 || (found > 0 && !info.system)) {
		log_error("auth: proto=%s, user=<%s>, ip=[%s], result=tempfail: %s", proto,
			  req->user, req->ip, found < 0 ? buf_cstr(&err) : "not a system user");
		buf_free(&err);
		if (found > 0)
			user_info_free(&info);
		conn_reply(c, LOGIN_TEMPFAIL, 0, -1);
		return;
	}
	buf_free(&err);
	c->login = x_strdup(found > 0 ? info.login : req->user);
	if (found > 0)
		user_info_free(&info);
	if (auth_locked_ms(d->auth, req->ip, c->login) > 0) {
		log_warn("auth: proto=%s, mech=%s, user=<%s>, ip=[%s], result=locked-out", proto,
			 req->mech, c->login, req->ip);
		conn_reply(c, LOGIN_LOCKED, 0, -1);
		return;
	}
	c->job = auth_password_async(d->auth, d->base, req->user, req->password, conn_checked, c);
	explicit_bzero((char *)req->password, strlen(req->password));
	if (c->job == NULL) {
		conn_reply(c, LOGIN_TEMPFAIL, 0, -1);
		return;
	}
	event_del(c->ev); /* one request per connection: nothing more is read */
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct authd_conn *c = arg;
	if (what & EV_TIMEOUT) {
		conn_free(c);
		return;
	}
	unsigned char msg[LOGIN_MSG_MAX + 1];
	int junk;
	ssize_t n = login_recv_fd(fd, msg, sizeof(msg), &junk);
	if (junk >= 0)
		close(junk);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	int r = n > 0 ? login_request_unmarshal(msg, (size_t)n, &c->req, &c->store) : -1;
	explicit_bzero(msg, sizeof(msg));
	if (n == 0) {
		conn_free(c); /* the worker went away */
	} else if (r < 0) {
		log_error("login: a malformed request from a worker; refused");
		conn_reply(c, LOGIN_TEMPFAIL, 0, -1);
	} else {
		conn_request(c);
	}
}

/* Only run_user's workers and root may ask. */
static bool peer_allowed(struct authd *d, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == d->worker_uid;
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct authd *d = arg;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_error("accept: %s", strerror(errno));
			return;
		}
		if (!peer_allowed(d, fd)) {
			log_warn("login: a connection from a process of another user; refused");
			close(fd);
			continue;
		}
		struct authd_conn *c = X_NEW(struct authd_conn);
		c->d = d;
		c->fd = fd;
		c->ev = event_new(d->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
		struct timeval tv = {AUTHD_REQUEST_TIMEOUT_S, 0};
		event_add(c->ev, &tv);
	}
}

static void child_cb(evutil_socket_t sig, short what, void *arg)
{
	struct authd *d = arg;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (struct authd_child **pp = &d->children; *pp != NULL; pp = &(*pp)->next) {
			struct authd_child *ch = *pp;
			if (ch->pid != pid)
				continue;
			log_info("session ended: proto=%s, user=<%s>, pid=%ld, %s %d",
				 login_proto_name(ch->proto), ch->user, (long)pid,
				 WIFSIGNALED(status) ? "signal" : "status",
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			*pp = ch->next;
			free(ch->user);
			free(ch);
			break;
		}
	}
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct authd *d = arg;
	log_info("stopping");
	event_base_loopexit(d->base, NULL);
}

static void reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct authd *d = arg;
	struct buf err = BUF_INIT;
	struct conf *c = conf_load(d->conf_path, &err);
	if (c == NULL) {
		log_error("reload: %s; keeping the old configuration", buf_cstr(&err));
		buf_free(&err);
		return;
	}
	conf_free(&d->conf);
	d->conf = c;
	sysuser_configure(c);
	auth_reconfigure(d->auth, c);
	log_set_level((enum log_level)conf_num(c, "log_level"));
	log_info("configuration reloaded");
}

/* DATA/login/auth, for root and run_user's group only. */
static int authd_listen(struct authd *d, struct buf *err)
{
	char *dir = login_dir(d->conf);
	char *path = x_asprintf("%s/%s", dir, LOGIN_SOCKET_NAME);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int r = -1;
	if (login_dir_prepare(dir, err) < 0)
		goto out;
	if (strlen(path) + 4 >= sizeof(sun.sun_path)) { /* and its ".new" */
		buf_printf(err, "%s: path too long for a socket", path);
		goto out;
	}
	/* Made under a temporary name and renamed into place once it has its owner, mode
	 * and backlog: a worker connecting at that moment (the first login right after a
	 * start) finds either the old socket or the finished new one, never one it may not
	 * use yet. */
	char *tmp = x_asprintf("%s.new", path);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", tmp);
	unlink(tmp);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	mode_t old = umask(0077);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chown(tmp, 0, d->worker_gid) < 0 || chmod(tmp, 0660) < 0 || listen(fd, 128) < 0 ||
	    rename(tmp, path) < 0) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	} else {
		d->listen_fd = fd;
		r = 0;
	}
	umask(old);
	x_free(&tmp);
out:
	x_free(&path);
	x_free(&dir);
	return r;
}

static int authd_init(struct authd *d, const char *conf_path)
{
	struct buf err = BUF_INIT;
	d->conf = conf_load(conf_path, &err);
	if (d->conf == NULL) {
		fprintf(stderr, "tern auth: %s\n", buf_cstr(&err));
		buf_free(&err);
		return 78;
	}
	d->conf_path = x_strdup(conf_path);
	log_init("auth", conf_num(d->conf, "log") == 1);
	log_set_level((enum log_level)conf_num(d->conf, "log_level"));
	if (!sysuser_mode(d->conf) || geteuid() != 0) {
		log_error("the auth role serves user_source = system and must start as root");
		return 78;
	}
	struct passwd *pw = getpwnam(conf_str(d->conf, "run_user"));
	if (pw == NULL) {
		log_error("run_user %s: no such account", conf_str(d->conf, "run_user"));
		return 78;
	}
	d->worker_uid = pw->pw_uid;
	d->worker_gid = pw->pw_gid;
	d->exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (d->exe_fd < 0) {
		log_error("/proc/self/exe: %s", strerror(errno));
		return 71;
	}
	if (authd_listen(d, &err) < 0) {
		log_error("%s", buf_cstr(&err));
		buf_free(&err);
		return 71;
	}
	sysuser_configure(d->conf);
	d->auth = auth_new(d->conf);
	d->base = event_base_new();
	if (d->base == NULL)
		fatal("event_base_new failed");
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int authd_main(const char *conf_path)
{
	struct authd d = {.listen_fd = -1, .exe_fd = -1};
	int rc = authd_init(&d, conf_path);
	if (rc != 0)
		return rc;
	d.listen_ev = event_new(d.base, d.listen_fd, EV_READ | EV_PERSIST, accept_cb, &d);
	event_add(d.listen_ev, NULL);
	struct event *sigchld = evsignal_new(d.base, SIGCHLD, child_cb, &d);
	evsignal_add(sigchld, NULL);
	log_info("auth started: system users, socket %s/%s", conf_str(d.conf, "data_dir"),
		 "login/" LOGIN_SOCKET_NAME);
	worker_loop_run(d.base, stop_cb, reload_cb, &d);
	event_free(sigchld);
	event_free(d.listen_ev);
	close(d.listen_fd);
	close(d.exe_fd);
	while (d.children != NULL) {
		struct authd_child *ch = d.children;
		d.children = ch->next;
		free(ch->user);
		free(ch);
	}
	auth_free(&d.auth);
	conf_free(&d.conf);
	free(d.conf_path);
	event_base_free(d.base);
	log_info("auth stopped");
	return 0;
}
