/* sieved-inetd: one ManageSieve session over stdin/stdout (sieved_inetd,
 * `tern managesieve --inetd`), for inetd, ssh pipes and tests. When stdin is a socket
 * the session uses it directly; with two pipes the shared relay (inetd-relay.h) stands
 * in for the socket. A pipe counts as local: as private as TLS for plaintext logins.
 */
#include "sieved.h"
#include "sieved-int.h"
#include "inetd-relay.h"
#include "log.h"
#include "net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sieved_inetd(const char *conf_path)
{
	struct sieved_server srv;
	if (sieved_server_init(&srv, conf_path) < 0)
		return 78;
	log_init("sieve", conf_num(srv.conf, "log") == 1);
	log_set_level((enum log_level)conf_num(srv.conf, "log_level"));
	srv.inetd = true;
	struct net_peer peer;
	net_peer_of_fd(0, &peer);
	struct inetd_relay relay = {NULL, NULL, NULL, 0};
	struct bufferevent *bev;
	if (!peer.local) {
		evutil_make_socket_nonblocking(0);
		bev = bufferevent_socket_new(srv.base, 0, 0);
	} else {
		bev = inetd_relay_open(srv.base, &relay, SIEVED_OUT_HIGH, SIEVED_OUT_LOW);
	}
	struct sieved_session *s = sieved_session_new(&srv, bev, peer.ip, peer.loopback, peer.local);
	sieved_session_start(s);
	if (relay.pair != NULL && relay.in == NULL)
		inetd_relay_file_input(&relay);
	event_base_dispatch(srv.base);
	if (relay.pair != NULL)
		inetd_relay_close(&relay);
	sieved_server_deinit(&srv);
	return 0;
}

int cmd_managesieve(int argc, char **argv)
{
	const char *conf = NULL;
	bool inetd = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--inetd") == 0)
			inetd = true;
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else
			inetd = false, i = argc;
	}
	if (!inetd) {
		fprintf(stderr, "usage: tern managesieve --inetd [-c CONF]\n");
		return 64;
	}
	if (conf == NULL)
		conf = getenv("TERN_CONF");
	if (conf == NULL || conf[0] == '\0')
		conf = "/etc/tern/tern.conf";
	return sieved_inetd(conf);
}
