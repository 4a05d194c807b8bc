/* sieved-inetd: one ManageSieve session over stdin/stdout (sieved_inetd,
 * `tern managesieve --inetd [-u USER]`), for inetd, ssh pipes and tests. When stdin is a
 * socket the session uses it directly; with two pipes the shared relay (inetd-relay.h)
 * stands in for the socket. A pipe counts as local: as private as TLS for plaintext
 * logins. -u USER starts logged in (preauth; the caller vouches for the user, as the auth
 * process does for a system user): the first line is then OK "Logged in", not the
 * capabilities, and it is the answer the pre-login worker gives to AUTHENTICATE.
 */
#include "sieved.h"
#include "sieved-int.h"
#include "auth.h"
#include "inetd-relay.h"
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
	struct buf err = BUF_INIT;
	int r = login_user_info(srv->conf, auth_userdb(srv->auth), user, &info, &err);
	if (r <= 0) {
		log_error("preauth: user=<%s>: %s", log_safe(user, strlen(user), 100),
			  r < 0 ? buf_cstr(&err) : "unknown user");
		sieved_reply(s, "NO", r < 0 ? "TRYLATER" : NULL, "unknown user");
		buf_free(&err);
		sieved_session_close(s);
		return -1;
	}
	buf_free(&err);
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
	log_init("sieve", conf_num(srv.conf, "log") == 1);
	log_set_level((enum log_level)conf_num(srv.conf, "log_level"));
	srv.inetd = true;
	struct net_peer peer;
	net_peer_of_fd(0, &peer);
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
		bev = inetd_relay_open(srv.base, &relay, SIEVED_OUT_HIGH, SIEVED_OUT_LOW);
	}
	struct sieved_session *s = sieved_session_new(&srv, bev, peer.ip, peer.loopback, peer.local);
	int rc = inetd_start(&srv, s, preauth_user) < 0 ? 1 : 0;
	if (relay.pair != NULL && relay.in == NULL)
		inetd_relay_file_input(&relay);
	event_base_dispatch(srv.base);
	if (relay.pair != NULL)
		inetd_relay_close(&relay);
	sieved_server_deinit(&srv);
	return rc;
}

int cmd_managesieve(int argc, char **argv)
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
	if (!inetd) {
		fprintf(stderr, "usage: tern managesieve --inetd [-u USER] [-c CONF]\n");
		return 64;
	}
	if (conf == NULL)
		conf = getenv("TERN_CONF");
	if (conf == NULL || conf[0] == '\0')
		conf = "/etc/tern/tern.conf";
	return sieved_inetd(conf, user);
}
