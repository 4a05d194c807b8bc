/* server-tls: the TLS side of the line-protocol workers (see server.h), on lib-tls: the
 * contexts of a worker's listeners and their reload, implicit TLS on an accepted socket,
 * the STARTTLS switch. Injection (RFC 2595 section 3.1, CVE-2011-0411): whatever the
 * client sent after the STARTTLS line in clear, whether still in the socket buffer
 * (tls_starttls_switch) or held by the protocol's parser (counted in held), is thrown
 * away and logged, never read as a command of the TLS session.
 */
#include "server.h"
#include "conf.h"
#include "log.h"
#include "tls-conf.h"

#include <event2/event.h>
#include <event2/util.h>

struct tls_server_ctx *server_tls_ctx(struct server_ports *p, const struct conf *c,
				      const struct conf_listener *l)
{
	const char *cert = conf_listener_str(l, "tls_cert");
	if (cert[0] != '\0') {
		const char *key = conf_listener_str(l, "tls_key");
		return tls_conf_ctx_new(c, cert, key[0] != '\0' ? key : cert, l->name);
	}
	if (p->tls == NULL)
		p->tls = tls_conf_ctx_new(c, conf_str(c, "tls_cert"), conf_str(c, "tls_key"),
					  "tls_cert");
	return p->tls;
}

void server_tls_reload(struct server_ports *p, const struct conf *c)
{
	if (p->tls != NULL)
		tls_conf_ctx_reload(c, p->tls, true, "tls_cert");
	for (size_t i = 0; i < p->count; i++)
		if (p->listeners[i].own_ctx)
			tls_conf_ctx_reload(c, p->listeners[i].ctx, true, p->listeners[i].name);
}

void server_tls_free(struct server_ports *p)
{
	for (size_t i = 0; i < p->count; i++) {
		if (p->listeners[i].own_ctx)
			tls_server_ctx_free(&p->listeners[i].ctx);
		p->listeners[i].ctx = NULL;
	}
	tls_server_ctx_free(&p->tls);
}

struct bufferevent *server_tls_accept(struct server_listener *l, int fd)
{
	struct bufferevent *bev = tls_accept_fd(l->ctx, l->ports->base, fd, 0);
	if (bev == NULL) {
		log_error("listen %s: cannot start TLS", l->name);
		evutil_closesocket(fd);
	}
	return bev;
}

void server_tls_log_connected(struct bufferevent *bev, const char *ip)
{
	struct tls_info info;
	if (tls_bev_info(bev, &info) != 0)
		return;
	struct buf text = BUF_INIT;
	tls_info_format(&info, &text);
	log_info("tls: ip=[%s] %s%s%s", ip, buf_cstr(&text), info.sni[0] ? " sni=" : "", info.sni);
	buf_free(&text);
}

void server_tls_log_failed(struct bufferevent *bev, const char *ip)
{
	struct buf why = BUF_INIT;
	tls_last_error(bev, &why);
	log_info("tls: ip=[%s] handshake failed: %s", ip, buf_cstr(&why));
	buf_free(&why);
}

struct bufferevent *server_starttls(struct tls_server_ctx *ctx, struct bufferevent *plain,
				    size_t held, const char *verb, const char *ip, size_t out_low,
				    size_t out_high)
{
	size_t drained = 0;
	bufferevent_set_timeouts(plain, NULL, NULL); /* the TLS bufferevent keeps time now */
	if (out_high > 0)
		bufferevent_setwatermark(plain, EV_WRITE, out_low, out_high);
	struct bufferevent *bev = tls_starttls_switch(ctx, plain, &drained, 0);
	if (held + drained > 0)
		log_warn("%s: ip=[%s] discarded %zu octets sent before the TLS handshake", verb,
			 ip, held + drained);
	if (bev == NULL)
		log_error("%s: ip=[%s] cannot start TLS", verb, ip);
	return bev;
}
