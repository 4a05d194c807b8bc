/* imapd-tls: TLS in the imap role, on lib-tls.
 *
 * One server context per worker from tls_cert/tls_key (made when the first listener needs
 * it), plus one for each listener that names its own tls_cert; all are re-read on SIGHUP
 * (imapd_tls_reload). Implicit TLS (RFC 8314 section 3.3, imaps) wraps the accepted
 * socket; STARTTLS (RFC 9051 section 6.2.1) answers OK and puts TLS under the session's
 * bufferevent once the command line has been consumed. Injection (RFC 2595 section 3.1,
 * CVE-2011-0411): whatever the client sent after the STARTTLS line in clear, whether still
 * in the socket buffer (tls_starttls_switch) or held by our parser, is thrown away and
 * logged, never read as a command of the TLS session.
 */
#include "imapd-int.h"
#include "log.h"
#include "tls-conf.h"
#include "xalloc.h"

#include <event2/buffer.h>
#include <string.h>

struct tls_server_ctx *imapd_tls_ctx(struct imapd_server *srv, const struct conf_listener *l)
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

void imapd_tls_reload(struct imapd_server *srv)
{
	if (srv->tls != NULL)
		tls_conf_ctx_reload(srv->conf, srv->tls, true, "tls_cert");
	for (size_t i = 0; i < srv->listener_count; i++)
		if (srv->listeners[i].own_ctx)
			tls_conf_ctx_reload(srv->conf, srv->listeners[i].ctx, true,
					    srv->listeners[i].name);
}

void imapd_tls_free(struct imapd_server *srv)
{
	for (size_t i = 0; i < srv->listener_count; i++) {
		if (srv->listeners[i].own_ctx)
			tls_server_ctx_free(&srv->listeners[i].ctx);
		srv->listeners[i].ctx = NULL;
	}
	tls_server_ctx_free(&srv->tls);
}

struct bufferevent *imapd_tls_accept(struct imapd_listener *l, int fd)
{
	struct bufferevent *bev = tls_accept_fd(l->ctx, l->server->base, fd, 0);
	if (bev == NULL) {
		log_error("listen %s: cannot start TLS", l->name);
		evutil_closesocket(fd);
	}
	return bev;
}

void imapd_tls_connected(struct imapd_session *s)
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
	if (s->busy) /* after STARTTLS: commands may come now */
		imapd_session_resume(s);
}

void imapd_tls_failed(struct imapd_session *s)
{
	struct buf why = BUF_INIT;
	tls_last_error(s->bev, &why);
	log_info("tls: ip=[%s] handshake failed: %s", s->ip, buf_cstr(&why));
	buf_free(&why);
}

void imapd_cmd_starttls(struct imapd_session *s, struct imapd_cmd *cmd)
{
	if (cmd->count != 0) {
		imapd_bad(s, "STARTTLS takes no arguments");
	} else if (s->tls) {
		imapd_bad(s, "Already under TLS");
	} else if (s->stls_ctx == NULL) {
		imapd_reply(s, "NO", NULL, "TLS is not available on this connection");
	} else {
		imapd_reply(s, "OK", NULL, "Begin TLS negotiation now");
		s->starttls_pending = true; /* imapd_tls_switch once the line is consumed */
		s->busy = true;
	}
}

void imapd_tls_switch(struct imapd_session *s)
{
	s->starttls_pending = false;
	imapd_session_flush(s);
	struct bufferevent *plain = s->bev;
	size_t drained = 0;
	imap_parser_reset(s->parser); /* at a command boundary: it holds nothing, but be sure */
	bufferevent_set_timeouts(plain, NULL, NULL); /* the TLS bufferevent keeps time now */
	struct bufferevent *bev = tls_starttls_switch(s->stls_ctx, plain, &drained, 0);
	if (drained > 0)
		log_warn("starttls: ip=[%s] discarded %zu octets sent before the TLS handshake",
			 s->ip, drained);
	if (bev == NULL) {
		log_error("starttls: ip=[%s] cannot start TLS", s->ip);
		s->busy = false;
		imapd_session_close(s);
		return;
	}
	s->bev = bev;
	s->tls = s->tls_handshake = true;
	s->busy = true; /* until the handshake ends: see imapd_tls_connected */
	imapd_session_setup_bev(s);
}
