/* server-listen: the listeners of a line-protocol worker (see server.h): the entries of
 * TERN_LISTEN_FDS whose tern.conf block names the worker's protocol, each with its TLS
 * mode; accepting a connection within max_connections and max_connections_per_ip (a
 * refused client gets the protocol's refusal line, sent without waiting, and the socket
 * is closed); retiring a chrooted worker at a reload; re-reading the configuration.
 */
#include "server.h"
#include "conf.h"
#include "log.h"
#include "net.h"
#include "xalloc.h"

#include <errno.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void server_ports_init(struct server_ports *p, const struct server_proto *proto, void *arg,
		       struct event_base *base)
{
	memset(p, 0, sizeof(*p));
	p->proto = proto;
	p->arg = arg;
	p->base = base;
}

/* Refuses a connection at once with the protocol's one line. */
static void server_refuse(struct server_ports *p, int fd, const char *ip, const char *why)
{
	char line[128];
	int n = snprintf(line, sizeof(line), p->proto->refuse_fmt, why);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("refuse ip=[%s]: send failed", ip);
	log_info("refused: ip=[%s] reason=%s", ip, why);
	close(fd);
}

/* Why a connection from ip cannot be served now, or NULL. */
static const char *server_full(struct server_ports *p, const char *ip)
{
	if (p->stopping)
		return "server shutting down";
	size_t same = 0;
	size_t all = server_sessions_from(p->sessions, ip, &same);
	if (all >= p->max_connections)
		return "too many connections";
	if (same >= p->max_connections_per_ip)
		return "too many connections from your address";
	return NULL;
}

static void server_accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
			     int salen, void *arg)
{
	struct server_listener *l = arg;
	struct server_ports *p = l->ports;
	struct net_peer peer;
	net_peer_of_addr(sa, &peer);
	const char *why = server_full(p, peer.ip);
	if (why != NULL) {
		server_refuse(p, fd, peer.ip, why);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	/* Replies are whole when written: Nagle would hold the tail of a long one (the part
	 * after the last full segment) until the client's delayed ACK, 40 ms each. */
	int one = 1;
	if (p->proto->nodelay && sa->sa_family != AF_UNIX &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		log_debug("TCP_NODELAY: %s", strerror(errno));
	struct bufferevent *bev;
	if (l->tls == SERVER_TLS_IMPLICIT) {
		bev = server_tls_accept(l, fd);
	} else {
		bev = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL) {
			log_error("listen %s: cannot serve a connection", l->name);
			close(fd);
		}
	}
	if (bev == NULL)
		return;
	log_debug("connect: ip=[%s] listener=%s", peer.ip, l->name);
	p->proto->accepted(p->arg, l, bev, &peer);
}

/* Watches fd for the listener cl, with its TLS mode and context. */
static void server_listener_add(struct server_ports *p, const struct conf *c,
				const struct conf_listener *cl, int fd)
{
	struct server_listener *l = &p->listeners[p->count];
	memset(l, 0, sizeof(*l));
	l->ports = p;
	const char *mode = conf_listener_str(cl, "tls");
	l->tls = strcmp(mode, "implicit") == 0	 ? SERVER_TLS_IMPLICIT
		 : strcmp(mode, "starttls") == 0 ? SERVER_TLS_STARTTLS
						 : SERVER_TLS_NONE;
	if (l->tls != SERVER_TLS_NONE) {
		l->ctx = server_tls_ctx(p, c, cl);
		l->own_ctx = l->ctx != NULL && l->ctx != p->tls;
		if (l->ctx == NULL && l->tls == SERVER_TLS_IMPLICIT) {
			log_error("listen %s: no TLS certificate; not serving it", cl->name);
			close(fd);
			return;
		}
		if (l->ctx == NULL)
			log_error("listen %s: no TLS certificate; %s not offered", cl->name,
				  p->proto->starttls);
	}
	evutil_make_socket_nonblocking(fd);
	l->evl = evconnlistener_new(p->base, server_accept_cb, l, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (l->evl == NULL)
		fatal("listen %s: cannot watch fd %d", cl->name, fd);
	l->name = x_strdup(cl->name);
	p->count++;
}

struct server_listen_ctx {
	struct server_ports *p;
	const struct conf *c;
};

/* One entry of TERN_LISTEN_FDS: served when tern.conf says it speaks our protocol. */
static void server_listen_one(int fd, const char *name, void *arg)
{
	struct server_listen_ctx *ctx = arg;
	for (size_t i = 0; i < ctx->c->listener_count; i++) {
		const struct conf_listener *cl = &ctx->c->listeners[i];
		if (ctx->p->count < SERVER_LISTENERS_MAX && strcmp(cl->name, name) == 0 &&
		    strcmp(conf_listener_str(cl, "protocol"), ctx->p->proto->protocol) == 0)
			server_listener_add(ctx->p, ctx->c, cl, fd);
	}
}

size_t server_listen(struct server_ports *p, const struct conf *c)
{
	struct server_listen_ctx ctx = {p, c};
	net_listen_fds(NULL, server_listen_one, &ctx);
	return p->count;
}

void server_retire(struct server_ports *p, size_t sessions)
{
	log_info("reload: retiring (chrooted): no new connections, %zu sessions go on", sessions);
	for (size_t i = 0; i < p->count; i++)
		evconnlistener_disable(p->listeners[i].evl);
	if (sessions == 0)
		event_base_loopexit(p->base, NULL);
}

void server_ports_free(struct server_ports *p)
{
	for (size_t i = 0; i < p->count; i++) {
		if (p->listeners[i].evl != NULL)
			evconnlistener_free(p->listeners[i].evl);
		x_free(&p->listeners[i].name);
	}
	server_tls_free(p);
}

int server_conf_reload(struct conf **conf, const char *path)
{
	struct buf err = BUF_INIT;
	struct conf *c = conf_load(path, &err);
	if (c == NULL) {
		log_error("reload: %s; keeping the old configuration", buf_cstr(&err));
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	conf_free(conf);
	*conf = c;
	return 0;
}
