/* imapd-inetd: one IMAP session over stdin/stdout (imapd_inetd, `tern imap --inetd`).
 *
 * When stdin is a socket (inetd, systemd Accept=yes) the session uses it directly; with
 * pipes or files (ssh, tests) lib's inetd-relay stands in for the socket, so a big FETCH
 * is still streamed with bounded memory. -u USER starts logged in (preauth): the
 * caller, not the client, has authenticated the user.
 */
#include "imapd.h"
#include "imapd-int.h"
#include "auth.h"
#include "inetd-relay.h"
#include "log.h"
#include "login.h"
#include "util.h"

#include <event2/buffer.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Starts the session, logged in as user when given (RFC 9051 7.1.4 PREAUTH). */
static int inetd_start(struct imapd_server *srv, struct imapd_session *s, const char *user)
{
	if (user == NULL) {
		imapd_session_start(s, false);
		return 0;
	}
	struct user_info info;
	struct buf err = BUF_INIT;
	int r = login_user_info(srv->conf, auth_userdb(srv->auth), user, &info, &err);
	if (r > 0 && imapd_login(s, &info, &err) == 0) {
		buf_free(&err);
		log_info("login: user=<%s> ip=[%s] result=ok method=preauth", s->user.address,
			 s->ip);
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
	log_init("imap", conf_num(srv.conf, "log") == 1);
	log_set_level((enum log_level)conf_num(srv.conf, "log_level"));
	srv.inetd = true;
	char ip[IMAPD_IP_MAX];
	bool loopback, local;
	imapd_peer_of_fd(0, ip, sizeof(ip), &loopback, &local);
	/* a system user's session started by the auth process: the client's address */
	const char *client_ip = getenv("TERN_CLIENT_IP");
	if (local && preauth_user != NULL && client_ip != NULL && client_ip[0] != '\0')
		snprintf(ip, sizeof(ip), "%s", client_ip);
	struct inetd_relay relay = {NULL, NULL, NULL, 0};
	struct bufferevent *bev;
	if (strcmp(ip, "local") != 0) {
		evutil_make_socket_nonblocking(0);
		bev = bufferevent_socket_new(srv.base, 0, 0);
	} else {
		bev = inetd_relay_open(srv.base, &relay, IMAPD_OUT_HIGH, IMAPD_OUT_LOW);
	}
	struct imapd_session *s = imapd_session_new(&srv, bev, ip, loopback, local);
	int rc = inetd_start(&srv, s, preauth_user) < 0 ? 1 : 0;
	inetd_relay_file_input(&relay);
	event_base_dispatch(srv.base);
	inetd_relay_close(&relay);
	imapd_server_deinit(&srv);
	return rc;
}

int cmd_imap(int argc, char **argv)
{
	const char *conf = NULL, *user = NULL;
	bool inetd = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--inetd") == 0)
			inetd = true;
		else if (strcmp(argv[i], "-u") == 0 && i + 1 < argc)
			user = argv[++i];
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else
			inetd = false, i = argc;
	}
	if (!inetd || argc > 6) {
		fprintf(stderr, "usage: tern imap --inetd [-u USER] [-c CONF]\n");
		return 64;
	}
	if (conf == NULL)
		conf = getenv("TERN_CONF");
	if (conf == NULL || conf[0] == '\0')
		conf = "/etc/tern/tern.conf";
	return imapd_inetd(conf, user);
}
