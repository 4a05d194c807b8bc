/* net: what the protocol workers need to know about their sockets, in one place.
 *
 * net_peer: a peer address as text, whether it is loopback (127.0.0.0/8, ::1, or a
 * v4-mapped 127.x) and whether it is local (a Unix socket, or a pipe when the session runs
 * over stdin/stdout). net_listen_fds: the listening sockets the master hands a worker, in
 * TERN_LISTEN_FDS ("FD:NAME,FD:NAME"), each entry checked; a bad one is logged and skipped.
 */
#ifndef TERN_NET_H
#define TERN_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define NET_IP_MAX 64

struct net_peer {
	char ip[NET_IP_MAX]; /* "unknown", an address, or "local" */
	int port;	     /* 0 when there is none */
	bool loopback;
	bool local;
};

void net_peer_of_addr(const struct sockaddr *sa, struct net_peer *peer);
/* The peer of fd; a descriptor without one (a pipe) is local. */
void net_peer_of_fd(int fd, struct net_peer *peer);

/* Calls fn(fd, name, arg) for every valid entry of list (NULL: the environment's
 * TERN_LISTEN_FDS); returns how many entries were valid. */
size_t net_listen_fds(const char *list, void (*fn)(int fd, const char *name, void *arg),
		      void *arg);

#endif
