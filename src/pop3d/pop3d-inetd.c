/* pop3d-inetd: one POP3 session over stdin/stdout (pop3d_inetd, `tern pop3 --inetd`).
 *
 * lib-server's server_inetd_* give the session its bufferevent (stdin itself when it is a
 * socket; with pipes or files lib's inetd-relay stands in for it, so a big RETR is still
 * streamed with bounded memory) and parse the command line. -u USER starts
 * logged in (preauth): the caller, not the client, has authenticated the user.
 */
#include "pop3d.h"
#include "pop3d-int.h"
#include "auth.h"
#include "log.h"
#include "login.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Starts the session, logged in as user when given. */
static int inetd_start(struct pop3d_server *srv, struct pop3d_session *s, const char *user)
{
	if (user == NULL) {
		pop3d_session_start(s);
		return 0;
	}
	struct user_info info;
	int r = server_preauth_lookup(srv->core.conf, auth_userdb(srv->core.auth), user, &info);
	if (r <= 0) {
		pop3d_session_err(s, r < 0 ? POP3_CODE_SYS_TEMP : POP3_CODE_AUTH, "unknown user");
		pop3d_session_close(s);
		return -1;
	}
	if (pop3d_login(s, &info) < 0) {
		pop3d_session_close(s);
		return -1;
	}
	pop3d_session_flush(s);
	return 0;
}

int pop3d_inetd(const char *conf_path, const char *preauth_user)
{
	struct pop3d_server srv;
	if (pop3d_server_init(&srv, conf_path) < 0)
		return 78;
	server_log_init(srv.core.conf, "pop3");
	srv.core.sessions.inetd = true;
	struct server_inetd in;
	struct bufferevent *bev = server_inetd_open(&in, srv.core.base, preauth_user != NULL,
						    POP3D_OUT_HIGH, POP3D_OUT_LOW);
	struct pop3d_session *s = pop3d_session_new(&srv, bev, &in.peer);
	int rc = inetd_start(&srv, s, preauth_user) < 0 ? 1 : 0;
	server_inetd_run(&in, srv.core.base);
	pop3d_server_deinit(&srv);
	return rc;
}

int cmd_pop3(int argc, char **argv)
{
	const char *conf, *user;
	int rc = server_inetd_args(argc, argv, "pop3", &conf, &user);
	return rc != 0 ? rc : pop3d_inetd(conf, user);
}
