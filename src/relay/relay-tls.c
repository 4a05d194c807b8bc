/* relay-tls: client-side TLS for outbound SMTP (RFC 3207 STARTTLS).
 *
 * One client SSL_CTX with the system's CA store. Policies (relay.h): may and encrypt do
 * not check the certificate (opportunistic TLS, RFC 7435: an unverified channel beats
 * clear text); verify requires a chain to the system CAs and the MX host name in the
 * certificate (SSL_set1_host), else the handshake fails. SNI carries the host name.
 */
#include "relay-int.h"

#include <arpa/inet.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <stdio.h>

#include "log.h"

SSL_CTX *relay_tls_ctx_new(struct buf *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		buf_append_str(err, "cannot create the client TLS context");
		return NULL;
	}
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		log_warn("relay: cannot load the system CA certificates");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

static bool relay_is_ip(const char *s)
{
	unsigned char b[16];
	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

int relay_tls_start(struct relay_conn *c)
{
	SSL *ssl = SSL_new(c->relay->ssl_ctx);
	if (ssl == NULL)
		return -1;
	if (!relay_is_ip(c->host))
		SSL_set_tlsext_host_name(ssl, c->host);
	if (c->tls_policy == RELAY_TLS_VERIFY) {
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		if (SSL_set1_host(ssl, c->host) != 1) {
			SSL_free(ssl);
			return -1;
		}
	}
	/* The filter takes over the plain bufferevent's callbacks: read ours first. */
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;
	bufferevent_getcb(c->bev, &rd, &wr, &ev, NULL);
	struct bufferevent *tls = bufferevent_openssl_filter_new(
	    c->relay->base, c->bev, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		SSL_free(ssl);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	bufferevent_setcb(tls, rd, wr, ev, c);
	bufferevent_setwatermark(tls, EV_WRITE, 64 * 1024, 0);
	c->bev = tls;
	c->state = RS_TLS_HANDSHAKE;
	relay_conn_timeout(c, c->relay->conf.t_initial);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	return 0;
}

void relay_tls_failure(struct relay_conn *c, char *out, size_t n)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e = bufferevent_get_openssl_error(c->bev);
	char detail[160] = "";
	if (e != 0)
		ERR_error_string_n(e, detail, sizeof(detail));
	if (c->tls_policy == RELAY_TLS_VERIFY && v != X509_V_OK)
		snprintf(out, n, "4.7.5 certificate of %.200s not verified: %s", c->peer,
			 X509_verify_cert_error_string(v));
	else
		snprintf(out, n, "4.7.5 TLS handshake with %.200s failed%s%s", c->peer,
			 detail[0] ? ": " : "", detail);
}

void relay_tls_describe(struct relay_conn *c, char *out, size_t n)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	if (ssl == NULL) {
		snprintf(out, n, "none");
		return;
	}
	long v = SSL_get_verify_result(ssl);
	snprintf(out, n, "%s %s, certificate %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl),
		 v == X509_V_OK ? "verified" : X509_verify_cert_error_string(v));
}
