/* imapd-inetd: one IMAP session over stdin/stdout (imapd_inetd, `tern imap --inetd`).
 *
 * lib-server's server_inetd_* give the session its bufferevent (stdin itself when it is a
 * socket; with pipes or files lib's inetd-relay stands in for it, so a big FETCH is still
 * streamed with bounded memory) and parse the command line. -u USER starts logged in (preauth): the
 * caller, not the client, has authenticated the user.
 */
#include "imapd.h"
#include "imapd-int.h"
#include "auth.h"
#include "log.h"
#include "login.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Starts the session, logged in as user when given (RFC 9051 7.1.4 PREAUTH). */
static int inetd_start(struct imapd_server *srv, struct imapd_session *s, const char *user)
{
	if (user == NULL) {
		imapd_session_start(s, false);
		return 0;
	}
	struct user_info info;
	struct buf err = BUF_INIT;
	int r = login_user_info(srv->core.conf, auth_userdb(srv->core.auth), user, &info, &err);
	if (r > 0 && imapd_login(s, &info, &err) == 0) {
		buf_free(&err);
		log_info("login: user=<%s> ip=[%s] result=ok method=preauth", s->user.address,
			 s->conn.ip);
		imapd_session_start(s, true);
		return 0;
	}
	log_error("preauth: user=<%s>: %s", log_safe(user, strlen(user), 100),
		  r < 0 || buf_cstr(&err)[0] != '\0' ? buf_cstr(&err) : "unknown user");
	imapd_untagged(s, "BYE [UNAVAILABLE] cannot open the mailbox of that user");
	buf_free(&err);
	imapd_session_close(s);
	return -1;
}

int imapd_inetd(const char *conf_path, const char *preauth_user)
{
	struct imapd_server srv;
	if (imapd_server_init(&srv, conf_path) < 0)
		return 78;
	server_log_init(srv.core.conf, "imap");
	srv.core.sessions.inetd = true;
	struct server_inetd in;
	struct bufferevent *bev = server_inetd_open(&in, srv.core.base, preauth_user != NULL,
						    IMAPD_OUT_HIGH, IMAPD_OUT_LOW);
	struct imapd_session *s = imapd_session_new(&srv, bev, &in.peer);
	int rc = inetd_start(&srv, s, preauth_user) < 0 ? 1 : 0;
	server_inetd_run(&in, srv.core.base);
	imapd_server_deinit(&srv);
	return rc;
}

int cmd_imap(int argc, char **argv)
{
	const char *conf, *user;
	int rc = server_inetd_args(argc, argv, "imap", &conf, &user);
	return rc != 0 ? rc : imapd_inetd(conf, user);
}
