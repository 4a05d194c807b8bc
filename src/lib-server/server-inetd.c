/* server-inetd: one session of a line protocol over stdin/stdout (see server.h): the
 * client's address, the session's bufferevent (the socket itself, or lib's inetd-relay
 * standing in for one over pipes and files), the loop, and the command line of
 * `tern imap|pop3|managesieve --inetd`. The protocol starts the session (preauth or not).
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bufferevent *server_inetd_open(struct server_inetd *in, struct event_base *base,
				      bool preauth, size_t high, size_t low)
{
	memset(in, 0, sizeof(*in));
	net_peer_of_fd(0, &in->peer);
	/* a system user's session started by the auth process: the client's address */
	const char *client_ip = getenv("TERN_CLIENT_IP");
	if (in->peer.local && preauth && client_ip != NULL && client_ip[0] != '\0')
		snprintf(in->peer.ip, sizeof(in->peer.ip), "%s", client_ip);
	if (strcmp(in->peer.ip, "local") != 0) {
		evutil_make_socket_nonblocking(0);
		return bufferevent_socket_new(base, 0, 0);
	}
	return inetd_relay_open(base, &in->relay, high, low);
}

void server_inetd_run(struct server_inetd *in, struct event_base *base)
{
	inetd_relay_file_input(&in->relay);
	event_base_dispatch(base);
	inetd_relay_close(&in->relay);
}

int server_inetd_args(int argc, char **argv, const char *role, const char **conf_r,
		      const char **user_r)
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
		fprintf(stderr, "usage: tern %s --inetd [-u USER] [-c CONF]\n", role);
		return 64;
	}
	if (conf == NULL)
		conf = getenv("TERN_CONF");
	if (conf == NULL || conf[0] == '\0')
		conf = "/etc/tern/tern.conf";
	*conf_r = conf;
	*user_r = user;
	return 0;
}
