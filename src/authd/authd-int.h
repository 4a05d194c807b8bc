/* authd-int: what the files of the auth role share. */
#ifndef TERN_AUTHD_INT_H
#define TERN_AUTHD_INT_H

#include <stdbool.h>
#include <sys/types.h>

#include "login.h"

struct conf;
struct user_info;

/* A session process this role started (its user and protocol, for the limits). */
struct authd_child {
	pid_t pid;
	enum login_proto proto;
	char *user;
	struct authd_child *next;
};

/* authd-spawn.c: starts `tern PROTO --inetd -u USER -c CONF` as the user on one end of a
 * socketpair; returns the other end, or -1 (logged). exe_fd: this binary, opened at start. */
int authd_spawn(const struct conf *c, const char *conf_path, int exe_fd, const struct user_info *u,
		const struct login_request *req, pid_t *pid_r);

#endif
