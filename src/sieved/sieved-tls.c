/* sieved-tls: TLS in the sieve role, on lib-tls: the contexts (tls_cert/tls_key, or a
 * listener's own; re-read on SIGHUP), implicit TLS, and STARTTLS (RFC 5804 2.2): OK, the
 * handshake, then the capabilities again, as they may have changed (SASL now lists PLAIN
 * and LOGIN, STARTTLS is gone). Whatever the client sent after STARTTLS in clear is thrown
 * away and logged, never read as a command of the TLS session (RFC 2595 3.1 applies
 * alike, CVE-2011-0411).
 */
#include "sieved-int.h"
#include "log.h"
#include "tls-conf.h"
#include "xalloc.h"

#include <string.h>

struct tls_server_ctx *sieved_tls_ctx(struct sieved_server *srv, const struct conf_listener *l)
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

void sieved_tls_reload(struct sieved_server *srv)
{
	if (srv->tls != NULL)
		tls_conf_ctx_reload(srv->conf, srv->tls, true, "tls_cert");
	for (size_t i = 0; i < srv->listener_count; i++)
		if (srv->listeners[i].own_ctx)
			tls_conf_ctx_reload(srv->conf, srv->listeners[i].ctx, true,
					    srv->listeners[i].name);
}

void sieved_tls_free(struct sieved_server *srv)
{
	for (size_t i = 0; i < srv->listener_count; i++) {
		if (srv->listeners[i].own_ctx)
			tls_server_ctx_free(&srv->listeners[i].ctx);
		srv->listeners[i].ctx = NULL;
	}
	tls_server_ctx_free(&srv->tls);
}

void sieved_tls_connected(struct sieved_session *s)
{
	if (!s->tls_handshake)
		return;
	s->tls_handshake = false;
	struct tls_info info;
	if (tls_bev_info(s->bev, &info) == 0) {
		struct buf text = BUF_INIT;
		tls_info_format(&info, &text);
		log_info("tls: ip=[%s] %s", s->ip, buf_cstr(&text));
		buf_free(&text);
	}
	sieved_capabilities(s); /* the greeting (implicit TLS), or after STARTTLS */
	if (s->busy)
		sieved_session_resume(s);
	else
		sieved_session_flush(s);
}

void sieved_tls_failed(struct sieved_session *s)
{
	struct buf why = BUF_INIT;
	tls_last_error(s->bev, &why);
	log_info("tls: ip=[%s] handshake failed: %s", s->ip, buf_cstr(&why));
	buf_free(&why);
}

void sieved_cmd_starttls(struct sieved_session *s, const struct ms_command *cmd)
{
	if (s->tls) {
		sieved_reply(s, "NO", NULL, "already under TLS");
		return;
	}
	if (s->starttls_ctx == NULL) {
		sieved_reply(s, "NO", NULL, "TLS is not available on this connection");
		return;
	}
	sieved_reply(s, "OK", NULL, "Begin TLS negotiation now");
	sieved_session_flush(s);
	size_t held = ms_parser_discard(&s->parser), drained = 0;
	struct bufferevent *plain = s->bev;
	bufferevent_set_timeouts(plain, NULL, NULL); /* the TLS bufferevent keeps time now */
	bufferevent_setwatermark(plain, EV_WRITE, SIEVED_OUT_LOW, SIEVED_OUT_HIGH);
	struct bufferevent *bev = tls_starttls_switch(s->starttls_ctx, plain, &drained, 0);
	if (held + drained > 0)
		log_warn("starttls: ip=[%s] discarded %zu octets sent before the TLS handshake",
			 s->ip, held + drained);
	if (bev == NULL) {
		log_error("starttls: ip=[%s] cannot start TLS", s->ip);
		sieved_session_close(s);
		return;
	}
	s->bev = bev;
	s->tls = s->tls_handshake = true;
	s->busy = true; /* until the handshake ends: see sieved_tls_connected */
	sieved_session_setup_bev(s);
}
