/* pop3d-inetd: one POP3 session over stdin/stdout (pop3d_inetd, `tern pop3 --inetd`).
 *
 * When stdin is a socket (inetd, systemd Accept=yes) the session uses it directly. With
 * two pipes (ssh, tests) the shared stdin/stdout relay (src/lib/inetd-relay.h) stands in
 * for the socket, so a big RETR is still streamed with bounded memory. -u USER starts
 * logged in (preauth): the caller, not the client, has authenticated the user.
 */
#include "pop3d.h"
#include "pop3d-int.h"
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

/* Starts the session, logged in as user when given. */
static int inetd_start(struct pop3d_server *srv, struct pop3d_session *s, const char *user)
{
	if (user == NULL) {
		pop3d_session_start(s);
		return 0;
	}
	struct user_info info;
	struct buf err = BUF_INIT;
	int r = login_user_info(srv->conf, auth_userdb(srv->auth), user, &info, &err);
	if (r <= 0) {
		log_error("preauth: user=<%s>: %s", log_safe(user, strlen(user), 100),
			  r < 0 ? buf_cstr(&err) : "unknown user");
		pop3d_session_err(s, r < 0 ? POP3_CODE_SYS_TEMP : POP3_CODE_AUTH, "unknown user");
		buf_free(&err);
		pop3d_session_close(s);
		return -1;
	}
	buf_free(&err);
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
	log_init("pop3", conf_num(srv.conf, "log") == 1);
	log_set_level((enum log_level)conf_num(srv.conf, "log_level"));
	srv.inetd = true;
	struct pop3d_peer peer;
	pop3d_peer_of_fd(0, &peer);
	/* a system user's session started by the auth process: the client's address */
	const char *client_ip = getenv("TERN_CLIENT_IP");
	if (peer.local && preauth_user != NULL && client_ip != NULL && client_ip[0] != '\0')
		snprintf(peer.ip, sizeof(peer.ip), "%s", client_ip);
	struct inetd_relay relay = {NULL, NULL, NULL, 0};
	struct bufferevent *bev;
	if (!peer.local) {
		evutil_make_socket_nonblocking(0);
		bev = bufferevent_socket_new(srv.base, 0, 0);
	} else {
		bev = inetd_relay_open(srv.base, &relay, POP3D_OUT_HIGH, POP3D_OUT_LOW);
	}
	struct pop3d_session *s = pop3d_session_new(&srv, bev, &peer);
	int rc = inetd_start(&srv, s, preauth_user) < 0 ? 1 : 0;
	if (relay.pair != NULL && relay.in == NULL)
		inetd_relay_file_input(&relay);
	event_base_dispatch(srv.base);
	if (relay.pair != NULL)
		inetd_relay_close(&relay);
	pop3d_server_deinit(&srv);
	return rc;
}

int cmd_pop3(int argc, char **argv)
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
		fprintf(stderr, "usage: tern pop3 --inetd [-u USER] [-c CONF]\n");
		return 64;
	}
	if (conf == NULL)
		conf = getenv("TERN_CONF");
	if (conf == NULL || conf[0] == '\0')
		conf = "/etc/tern/tern.conf";
	return pop3d_inetd(conf, user);
}
