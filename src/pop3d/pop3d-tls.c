/* pop3d-tls: TLS in the pop3 role, on lib-tls.
 *
 * One server context per worker from tls_cert/tls_key (made when the first listener needs
 * it), plus one for each listener that names its own tls_cert; all are re-read on SIGHUP
 * (pop3d_tls_reload). Implicit TLS (RFC 8314 section 3.3, pop3s) wraps the accepted
 * socket; STLS (RFC 2595 section 4) answers +OK and puts TLS under the session's
 * bufferevent. Injection (RFC 2595 section 3.1, CVE-2011-0411): whatever the client sent
 * after the STLS line in clear, whether still in the socket buffer (tls_starttls_switch)
 * or held by our line parser (pop3_parser_discard), is thrown away and logged, never read
 * as a command of the TLS session. After STLS the session forgets the USER argument.
 */
#include "pop3d-int.h"
#include "log.h"
#include "tls-conf.h"
#include "xalloc.h"

#include <string.h>

struct tls_server_ctx *pop3d_tls_ctx(struct pop3d_server *srv, const struct conf_listener *l)
{
	const char *cert = conf_listener_str(l, "tls_cert");
	if (cert[0] != '\0') {
		const char *key = conf_listener_str(l, "tls_key");
		return tls_conf_ctx_new(srv->conf, cert, key[0] != '\0' ? key : cert, l->name);
	}
	if (srv->tls == NULL)
		srv->tls = tls_conf_ctx_new(srv->conf, conf_str(srv->conf, "tls_cert"),
					    conf_str(srv->conf, "tls_key"), "tls_cert");
	return srv->tls;
}

void pop3d_tls_reload(struct pop3d_server *srv)
{
	if (srv->tls != NULL)
		tls_conf_ctx_reload(srv->conf, srv->tls, true, "tls_cert");
	for (size_t i = 0; i < srv->listener_count; i++)
		if (srv->listeners[i].own_ctx)
			tls_conf_ctx_reload(srv->conf, srv->listeners[i].ctx, true,
					    srv->listeners[i].name);
}

void pop3d_tls_free(struct pop3d_server *srv)
{
	for (size_t i = 0; i < srv->listener_count; i++) {
		if (srv->listeners[i].own_ctx)
			tls_server_ctx_free(&srv->listeners[i].ctx);
		srv->listeners[i].ctx = NULL;
	}
	tls_server_ctx_free(&srv->tls);
}

struct bufferevent *pop3d_tls_accept(struct pop3d_listener *l, int fd)
{
	struct bufferevent *bev = tls_accept_fd(l->ctx, l->server->base, fd, 0);
	if (bev == NULL) {
		log_error("listen %s: cannot start TLS", l->name);
		evutil_closesocket(fd);
	}
	return bev;
}

void pop3d_tls_connected(struct pop3d_session *s)
{
	if (!s->tls_handshake)
		return;
	s->tls_handshake = false;
	struct tls_info info;
	if (tls_bev_info(s->bev, &info) == 0) {
		struct buf text = BUF_INIT;
		tls_info_format(&info, &text);
		log_info("tls: ip=[%s] %s%s%s", s->ip, buf_cstr(&text), info.sni[0] ? " sni=" : "",
			 info.sni);
		buf_free(&text);
	}
	if (s->busy) /* after STLS: commands may come now */
		pop3d_session_resume(s);
}

void pop3d_tls_failed(struct pop3d_session *s)
{
	struct buf why = BUF_INIT;
	tls_last_error(s->bev, &why);
	log_info("tls: ip=[%s] handshake failed: %s", s->ip, buf_cstr(&why));
	buf_free(&why);
}

void pop3d_cmd_stls(struct pop3d_session *s, const struct pop3_command *cmd)
{
	if (s->tls) {
		pop3d_session_err(s, POP3_CODE_NONE, "already under TLS");
		return;
	}
	if (s->stls_ctx == NULL) {
		pop3d_session_err(s, POP3_CODE_NONE, "TLS is not available on this connection");
		return;
	}
	pop3d_session_ok(s, "Begin TLS negotiation");
	pop3d_session_flush(s);
	size_t held = pop3_parser_discard(&s->parser), drained = 0;
	struct bufferevent *plain = s->bev;
	bufferevent_set_timeouts(plain, NULL, NULL); /* the TLS bufferevent keeps time now */
	/* the filter encrypts into plain's output only up to this: RETR stays bounded */
	bufferevent_setwatermark(plain, EV_WRITE, POP3D_OUT_LOW, POP3D_OUT_HIGH);
	struct bufferevent *bev = tls_starttls_switch(s->stls_ctx, plain, &drained, 0);
	if (held + drained > 0)
		log_warn("stls: ip=[%s] discarded %zu octets sent before the TLS handshake", s->ip,
			 held + drained);
	if (bev == NULL) {
		log_error("stls: ip=[%s] cannot start TLS", s->ip);
		pop3d_session_close(s);
		return;
	}
	s->bev = bev;
	s->tls = s->tls_handshake = true;
	x_free(&s->user_arg);
	s->busy = true; /* until the handshake ends: see pop3d_tls_connected */
	pop3d_session_setup_bev(s);
}
