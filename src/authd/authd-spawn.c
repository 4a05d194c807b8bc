/* authd-spawn: the session process of a system user. Forked from the auth process, it
 * becomes the user (groups, gid, uid, no-new-privs: lib's privsep) before it execs the
 * preauthenticated one-session mode of the protocol on its end of a socketpair, so no
 * code of the session ever runs with privilege. The binary is exec'd through a
 * descriptor opened at start: the user needs no access to the path it was started from.
 */
#include "authd-int.h"
#include "conf.h"
#include "log.h"
#include "userdb.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern char **environ;

/* In the child: never returns. */
static void spawn_child(const struct conf *c, const char *conf_path, int exe_fd,
			const struct user_info *u, const struct login_request *req, int fd)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	/* out of the way of 0, 1 and LOGIN_CONF_FD, which are about to be replaced */
	exe_fd = fcntl(exe_fd, F_DUPFD_CLOEXEC, 10);
	if (exe_fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
		_exit(71);
	/* tern.conf is not the user's to read: the session gets it open (login_conf_load) */
	int cfd = open(conf_path, O_RDONLY);
	if (cfd < 0 || dup2(cfd, LOGIN_CONF_FD) < 0) {
		log_error("session of %s: %s: %s", u->login, conf_path, strerror(errno));
		_exit(71);
	}
	if (cfd != LOGIN_CONF_FD)
		close(cfd);
	setenv("TERN_CONF_FD", "3", 1);
	struct buf err = BUF_INIT;
	if (login_become(c, u, &err) < 0) {
		log_error("session of %s: %s", u->login, buf_cstr(&err));
		_exit(77);
	}
	if (chdir(u->home) < 0 && chdir("/") < 0)
		_exit(71);
	setenv("HOME", u->home, 1);
	setenv("USER", u->login, 1);
	setenv("LOGNAME", u->login, 1);
	setenv("TERN_CLIENT_IP", req->ip, 1);
	char *argv[] = {"tern",
			(char *)login_proto_name(req->proto),
			"--inetd",
			"-u",
			(char *)u->login,
			"-c",
			(char *)conf_path,
			NULL};
	fexecve(exe_fd, argv, environ);
	log_error("session of %s: exec: %s", u->login, strerror(errno));
	_exit(71);
}

int authd_spawn(const struct conf *c, const char *conf_path, int exe_fd, const struct user_info *u,
		const struct login_request *req, pid_t *pid_r)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		log_error("session of %s: socketpair: %s", u->login, strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_error("session of %s: fork: %s", u->login, strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pid == 0) {
		close(sp[0]);
		spawn_child(c, conf_path, exe_fd, u, req, sp[1]);
	}
	close(sp[1]);
	*pid_r = pid;
	return sp[0];
}
