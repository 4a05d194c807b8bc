/* authd-spawn: the session process of a system user. Forked from the auth process, it
 * becomes the user (groups, gid, uid, no-new-privs: lib's privsep) before it execs the
 * preauthenticated one-session mode of the protocol on its end of a socketpair, so no
 * code of the session ever runs with privilege. The binary is exec'd through a
 * descriptor opened at start: the user needs no access to the path it was started from.
 */
#include "authd-int.h"
#include "conf.h"
#include "log.h"
#include "privsep.h"
#include "xalloc.h"
#include "userdb.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern char **environ;

#define SPAWN_ENV_MAX 256

/* What the child needs, all made before the fork: the auth process has threads (the
 * password checks), so the child may only make system calls until it execs. */
struct spawn_plan {
	struct privsep_ids ids;
	const char *home;
	int exe_fd, conf_fd, sock;
	char *argv[8];
	char *envp[SPAWN_ENV_MAX + 6];
	char *env_own[5]; /* the entries made here, freed after the fork */
};

/* A line for the log from the child, without stdio or locks. */
static void child_fail(const char *what, int code)
{
	char line[160];
	int n =
	    snprintf(line, sizeof(line), "auth: session process: %s: %s\n", what, strerror(errno));
	if (n > 0 && write(2, line, (size_t)n) < 0)
		code = 71;
	_exit(code);
}

/* In the child: never returns. */
static void spawn_child(const struct spawn_plan *p)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	/* out of the way of 0, 1 and LOGIN_CONF_FD, which are about to be replaced */
	int exe_fd = fcntl(p->exe_fd, F_DUPFD_CLOEXEC, 10);
	int conf_fd = fcntl(p->conf_fd, F_DUPFD_CLOEXEC, 10);
	if (exe_fd < 0 || conf_fd < 0 || dup2(p->sock, 0) < 0 || dup2(p->sock, 1) < 0 ||
	    dup2(conf_fd, LOGIN_CONF_FD) < 0)
		child_fail("descriptors", 71);
	if (privsep_become_ids(&p->ids) < 0)
		child_fail("becoming the user", 77);
	if (chdir(p->home) < 0 && chdir("/") < 0)
		child_fail("chdir", 71);
	fexecve(exe_fd, p->argv, p->envp);
	child_fail("exec", 71);
}

/* The environment of the session: ours, with the user's HOME, USER and LOGNAME, the
 * client's address and where its configuration is (login_conf_load). */
static void spawn_env(struct spawn_plan *p, const struct user_info *u,
		      const struct login_request *req)
{
	static const char *const replaced[] = {
	    "HOME=", "USER=", "LOGNAME=", "TERN_CLIENT_IP=", "TERN_CONF_FD="};
	size_t n = 0;
	for (char **e = environ; *e != NULL && n < SPAWN_ENV_MAX; e++) {
		bool keep = true;
		for (size_t i = 0; i < 5 && keep; i++)
			keep = strncmp(*e, replaced[i], strlen(replaced[i])) != 0;
		if (keep)
			p->envp[n++] = *e;
	}
	p->env_own[0] = x_asprintf("HOME=%s", u->home);
	p->env_own[1] = x_asprintf("USER=%s", u->login);
	p->env_own[2] = x_asprintf("LOGNAME=%s", u->login);
	p->env_own[3] = x_asprintf("TERN_CLIENT_IP=%s", req->ip);
	p->env_own[4] = x_strdup("TERN_CONF_FD=3");
	for (size_t i = 0; i < 5; i++)
		p->envp[n++] = p->env_own[i];
	p->envp[n] = NULL;
}

int authd_spawn(const struct conf *c, const char *conf_path, int exe_fd, const struct user_info *u,
		const struct login_request *req, pid_t *pid_r)
{
	struct spawn_plan p = {.home = u->home, .exe_fd = exe_fd, .sock = -1};
	struct buf err = BUF_INIT;
	if (privsep_ids_of(u->login, u->uid, u->gid, conf_str(c, "system_mail_group"), &p.ids,
			   &err) < 0) {
		log_error("session of %s: %s", u->login, buf_cstr(&err));
		buf_free(&err);
		return -1;
	}
	/* tern.conf is not the user's to read: the session gets it open (login_conf_load) */
	p.conf_fd = open(conf_path, O_RDONLY | O_CLOEXEC);
	int sp[2] = {-1, -1};
	if (p.conf_fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		log_error("session of %s: %s", u->login, strerror(errno));
		if (p.conf_fd >= 0)
			close(p.conf_fd);
		return -1;
	}
	p.sock = sp[1];
	char *argv[] = {"tern",
			(char *)login_proto_name(req->proto),
			"--inetd",
			"-u",
			(char *)u->login,
			"-c",
			(char *)conf_path,
			NULL};
	memcpy(p.argv, argv, sizeof(argv));
	spawn_env(&p, u, req);
	pid_t pid = fork();
	if (pid == 0)
		spawn_child(&p);
	int e = errno;
	for (size_t i = 0; i < 5; i++)
		free(p.env_own[i]);
	close(p.conf_fd);
	close(sp[1]);
	if (pid < 0) {
		log_error("session of %s: fork: %s", u->login, strerror(e));
		close(sp[0]);
		return -1;
	}
	*pid_r = pid;
	return sp[0];
}
