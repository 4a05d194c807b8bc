/* listen: opening the listening sockets of tern.conf's `listen` blocks.
 * Addresses: IPv4 `1.2.3.4:25`, IPv6 `[::1]:25`, `*:25` (all IPv4 and IPv6), or a bare
 * `:25` (all IPv4). Sockets are non-blocking, close-on-exec (cleared for the worker that
 * inherits them), with SO_REUSEADDR. */
#include "master-int.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Splits "host:port" (host may be [v6] or * or empty). */
static int split_address(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon = strrchr(addr, ':');
	if (colon == NULL)
		return -1;
	size_t hl = (size_t)(colon - addr);
	const char *h = addr;
	if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= hostlen || strlen(colon + 1) >= portlen || colon[1] == '\0')
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

int listen_open(const char *address, struct buf *err)
{
	char host[256], port[16];
	if (split_address(address, host, sizeof(host), port, sizeof(port)) < 0) {
		buf_printf(err, "bad listen address '%s'", address);
		return -1;
	}
	bool any6 = strcmp(host, "*") == 0;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST,
				 .ai_family = any6 ? AF_INET6 : AF_UNSPEC};
	struct addrinfo *res;
	int gai = getaddrinfo(host[0] && !any6 ? host : NULL, port, &hints, &res);
	if (gai != 0) {
		buf_printf(err, "listen address '%s': %s", address, gai_strerror(gai));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, zero = 0;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (res->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, any6 ? &zero : &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		buf_printf(err, "listen on %s: %s", address, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}
