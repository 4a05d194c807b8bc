/* net: peer addresses and the master's listening sockets (see net.h). */
#include "net.h"
#include "log.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void net_peer_of_addr(const struct sockaddr *sa, struct net_peer *peer)
{
	memset(peer, 0, sizeof(*peer));
	snprintf(peer->ip, sizeof(peer->ip), "unknown");
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, peer->ip, sizeof(peer->ip));
		peer->port = ntohs(in->sin_port);
		peer->loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, peer->ip, sizeof(peer->ip));
		peer->port = ntohs(in6->sin6_port);
		peer->loopback =
		    IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
	} else if (sa->sa_family == AF_UNIX) {
		snprintf(peer->ip, sizeof(peer->ip), "local");
		peer->local = true;
	}
}

void net_peer_of_fd(int fd, struct net_peer *peer)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
		memset(peer, 0, sizeof(*peer));
		snprintf(peer->ip, sizeof(peer->ip), "local");
		peer->local = true; /* a pipe: the other end is a local process */
		return;
	}
	net_peer_of_addr((struct sockaddr *)&ss, peer);
}

size_t net_listen_fds(const char *list, void (*fn)(int fd, const char *name, void *arg),
		      void *arg)
{
	if (list == NULL)
		list = getenv("TERN_LISTEN_FDS");
	char *copy = x_strdup(list != NULL ? list : ""), *save = NULL;
	size_t n = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		char *end;
		long fd = strtol(tok, &end, 10);
		if (colon == NULL || end != colon || end == tok || fd < 3 || fd > 65535 ||
		    colon[1] == '\0') {
			log_error("TERN_LISTEN_FDS: bad entry '%s'", log_safe(tok, strlen(tok), 80));
			continue;
		}
		fn((int)fd, colon + 1, arg);
		n++;
	}
	free(copy);
	return n;
}
