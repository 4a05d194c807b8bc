/* tls-bev: libevent glue: server bufferevent_openssl for implicit TLS (RFC 8314 section
 * 3.3) and for STARTTLS / STLS (RFC 3207 section 4, RFC 2595 section 3.1) with the drain
 * of plaintext bytes that closes the command injection hole (CVE-2011-0411), and the
 * version/cipher of an established session for Received: headers and logs.
 */
#include "tls.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <string.h>

struct bufferevent *tls_accept_fd(struct tls_server_ctx *ctx, struct event_base *base,
				  evutil_socket_t fd, int options)
{
	SSL *ssl = tls_server_ssl_new(ctx);
	if (ssl == NULL)
		return NULL;
	struct bufferevent *bev = bufferevent_openssl_socket_new(
	    base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, options | BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

struct bufferevent *tls_starttls_switch(struct tls_server_ctx *ctx, struct bufferevent *plain,
					size_t *discarded_r, int options)
{
	struct evbuffer *in = bufferevent_get_input(plain);
	size_t n = evbuffer_get_length(in);
	evbuffer_drain(in, n);
	*discarded_r = n;
	SSL *ssl = tls_server_ssl_new(ctx);
	if (ssl == NULL)
		return NULL;
	struct bufferevent *bev = bufferevent_openssl_filter_new(bufferevent_get_base(plain), plain,
								 ssl, BUFFEREVENT_SSL_ACCEPTING,
								 options | BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* Copies src into dst (size n), cut and always NUL-terminated. */
static void tls_copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

int tls_ssl_info(SSL *ssl, struct tls_info *info)
{
	memset(info, 0, sizeof(*info));
	if (ssl == NULL || !SSL_is_init_finished(ssl))
		return -1;
	const char *v = SSL_get_version(ssl);
	if (strncmp(v, "TLSv", 4) == 0)
		snprintf(info->version, sizeof(info->version), "TLS%s", v + 4);
	else
		tls_copy(info->version, sizeof(info->version), v);
	tls_copy(info->cipher, sizeof(info->cipher), SSL_get_cipher_name(ssl));
	info->bits = SSL_get_cipher_bits(ssl, NULL);
	tls_copy(info->sni, sizeof(info->sni), SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
	return 0;
}

int tls_bev_info(struct bufferevent *bev, struct tls_info *info)
{
	return tls_ssl_info(bufferevent_openssl_get_ssl(bev), info);
}

void tls_info_format(const struct tls_info *info, struct buf *out)
{
	buf_printf(out, "%s %s", info->version, info->cipher);
}

void tls_last_error(struct bufferevent *bev, struct buf *out)
{
	unsigned long e = bufferevent_get_openssl_error(bev);
	if (e == 0) {
		buf_append_str(out, "unknown");
		return;
	}
	char reason[256];
	ERR_error_string_n(e, reason, sizeof(reason));
	buf_append_str(out, reason);
	while (bufferevent_get_openssl_error(bev) != 0)
		;
}
