/* sieved-inetd: one ManageSieve session over stdin/stdout (sieved_inetd,
 * `tern managesieve --inetd [-u USER]`), for inetd, ssh pipes and tests. lib-server's
 * server_inetd_* give the session stdin itself when it is a socket, else a relay over the
 * pipes. A pipe counts as local: as private as TLS for plaintext
 * logins. -u USER starts logged in (preauth; the caller vouches for the user, as the auth
 * process does for a system user): the first line is then OK "Logged in", not the
 * capabilities, and it is the answer the pre-login worker gives to AUTHENTICATE.
 */
#include "sieved.h"
#include "sieved-int.h"
#include "auth.h"
#include "log.h"
#include "login.h"
#include "net.h"
#include "userdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Starts the session, logged in as user when given. */
static int inetd_start(struct sieved_server *srv, struct sieved_session *s, const char *user)
{
	if (user == NULL) {
		sieved_session_start(s);
		return 0;
	}
	struct user_info info;
	int r = server_preauth_lookup(srv->core.conf, auth_userdb(srv->core.auth), user, &info);
	if (r <= 0) {
		sieved_reply(s, "NO", r < 0 ? "TRYLATER" : NULL, "unknown user");
		sieved_session_close(s);
		return -1;
	}
	if (sieved_login_info(s, &info) < 0) {
		sieved_session_close(s);
		return -1;
	}
	srv->preauth = true;
	sieved_reply(s, "OK", NULL, "Logged in");
	sieved_session_flush(s);
	return 0;
}

int sieved_inetd(const char *conf_path, const char *preauth_user)
{
	struct sieved_server srv;
	if (sieved_server_init(&srv, conf_path) < 0)
		return 78;
	server_log_init(srv.core.conf, "sieve");
	srv.core.sessions.inetd = true;
	struct server_inetd in;
	struct bufferevent *bev = server_inetd_open(&in, srv.core.base, preauth_user != NULL,
						    SIEVED_OUT_HIGH, SIEVED_OUT_LOW);
	struct sieved_session *s = sieved_session_new(&srv, bev, &in.peer);
	int rc = inetd_start(&srv, s, preauth_user) < 0 ? 1 : 0;
	server_inetd_run(&in, srv.core.base);
	sieved_server_deinit(&srv);
	return rc;
}

int cmd_managesieve(int argc, char **argv)
{
	const char *conf, *user;
	int rc = server_inetd_args(argc, argv, "managesieve", &conf, &user);
	return rc != 0 ? rc : sieved_inetd(conf, user);
}
