/* tls-ctx: OpenSSL server contexts: one per certificate (the default and each SNI name),
 * all built from the same settings, rebuilt together on reload.
 *
 * Protocol range from tls_protocols (RFC 8996: nothing below TLS 1.2 by default), server
 * cipher order, no renegotiation, no compression. SNI (RFC 6066 section 3) switches the
 * SSL to the matching certificate's SSL_CTX from the servername callback.
 */
#include "tls.h"
#include "util.h"
#include "xalloc.h"

#include <openssl/err.h>
#include <string.h>

struct tls_cert_entry {
	char *name; /* SNI pattern; NULL for the default */
	char *cert;
	char *key;
	SSL_CTX *ssl_ctx;
};

struct tls_server_ctx {
	struct tls_cert_entry def;
	struct tls_cert_entry *sni;
	size_t sni_count;
	char *protocols;
	char *ciphers;
	char *ciphersuites;
};

/* Appends "what: OpenSSL's reason" to err and clears OpenSSL's error queue. */
static void tls_ssl_error(struct buf *err, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char reason[256];
	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	else
		strcpy(reason, "unknown error");
	buf_printf(err, "%s: %s", what, reason);
	ERR_clear_error();
}

/* Parses "TLSv1.2 TLSv1.3" into a version range. 0, or -1 with err set. */
static int tls_parse_protocols(const char *text, int *min_r, int *max_r, struct buf *err)
{
	static const struct {
		const char *name;
		int version;
	} names[] = {{"TLSv1", TLS1_VERSION},
		     {"TLSv1.1", TLS1_1_VERSION},
		     {"TLSv1.2", TLS1_2_VERSION},
		     {"TLSv1.3", TLS1_3_VERSION}};
	*min_r = *max_r = 0;
	char *copy = x_strdup(text);
	char *save = NULL;
	for (char *w = strtok_r(copy, " ,\t", &save); w != NULL;
	     w = strtok_r(NULL, " ,\t", &save)) {
		size_t i = 0;
		while (i < sizeof(names) / sizeof(names[0]) && !str_ieq(names[i].name, w))
			i++;
		if (i == sizeof(names) / sizeof(names[0])) {
			buf_printf(err, "unknown TLS protocol '%s' (expected TLSv1.2 or TLSv1.3)",
				   w);
			x_free(&copy);
			return -1;
		}
		if (*min_r == 0 || names[i].version < *min_r)
			*min_r = names[i].version;
		if (names[i].version > *max_r)
			*max_r = names[i].version;
	}
	x_free(&copy);
	if (*min_r == 0) {
		buf_append_str(err, "tls_protocols names no protocol");
		return -1;
	}
	return 0;
}

static int tls_sni_callback(SSL *ssl, int *alert, void *arg);

/* Builds the SSL_CTX of one certificate with the context's settings. NULL, err set. */
static SSL_CTX *tls_ctx_build(struct tls_server_ctx *ctx, const char *cert, const char *key,
			      struct buf *err)
{
	int min, max;
	if (tls_parse_protocols(ctx->protocols, &min, &max, err) < 0)
		return NULL;
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	if (c == NULL) {
		tls_ssl_error(err, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
				   SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_dh_auto(c, 1);
	SSL_CTX_set_session_id_context(c, (const unsigned char *)"tern", 4);
	SSL_CTX_set_tlsext_servername_callback(c, tls_sni_callback);
	SSL_CTX_set_tlsext_servername_arg(c, ctx);
	const char *what = NULL;
	if (SSL_CTX_set_min_proto_version(c, min) != 1 ||
	    SSL_CTX_set_max_proto_version(c, max) != 1)
		what = "bad tls_protocols";
	else if (SSL_CTX_set_cipher_list(c, ctx->ciphers) != 1 && max < TLS1_3_VERSION)
		what = "bad tls_ciphers";
	else if (SSL_CTX_set_ciphersuites(c, ctx->ciphersuites) != 1)
		what = "bad tls_ciphersuites";
	if (what != NULL) {
		tls_ssl_error(err, what);
		SSL_CTX_free(c);
		return NULL;
	}
	ERR_clear_error(); /* an empty TLS 1.2 list is fine when only TLS 1.3 is on */
	char *msg = NULL;
	if (SSL_CTX_use_certificate_chain_file(c, cert) != 1)
		msg = x_asprintf("cannot load certificate %s", cert);
	else if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1)
		msg = x_asprintf("cannot load private key %s for %s", key, cert);
	else if (SSL_CTX_check_private_key(c) != 1)
		msg = x_asprintf("private key %s does not match %s", key, cert);
	if (msg != NULL) {
		tls_ssl_error(err, msg);
		x_free(&msg);
		SSL_CTX_free(c);
		return NULL;
	}
	return c;
}

bool tls_name_match(const char *pattern, const char *name)
{
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = strchr(name, '.');
		return dot != NULL && dot != name && str_ieq(dot + 1, pattern + 2);
	}
	return str_ieq(pattern, name);
}

/* The servername callback: switch to the certificate matching the client's SNI. */
static int tls_sni_callback(SSL *ssl, int *alert, void *arg)
{
	struct tls_server_ctx *ctx = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (size_t i = 0; i < ctx->sni_count; i++) {
		if (tls_name_match(ctx->sni[i].name, name)) {
			if (SSL_set_SSL_CTX(ssl, ctx->sni[i].ssl_ctx) == NULL)
				return SSL_TLSEXT_ERR_ALERT_FATAL;
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_OK; /* the default certificate */
}

struct tls_server_ctx *tls_server_ctx_new(const char *cert, const char *key, struct buf *err)
{
	struct tls_server_ctx *ctx = X_NEW(struct tls_server_ctx);
	ctx->protocols = x_strdup(TLS_CONF_DEFAULT_PROTOCOLS);
	ctx->ciphers = x_strdup(TLS_CONF_DEFAULT_CIPHERS);
	ctx->ciphersuites = x_strdup(TLS_CONF_DEFAULT_CIPHERSUITES);
	ctx->def.cert = x_strdup(cert);
	ctx->def.key = x_strdup(key);
	ctx->def.ssl_ctx = tls_ctx_build(ctx, cert, key, err);
	if (ctx->def.ssl_ctx == NULL)
		tls_server_ctx_free(&ctx);
	return ctx;
}

int tls_server_ctx_add_sni(struct tls_server_ctx *ctx, const char *name, const char *cert,
			   const char *key, struct buf *err)
{
	SSL_CTX *c = tls_ctx_build(ctx, cert, key, err);
	if (c == NULL)
		return -1;
	ctx->sni = x_reallocarray(ctx->sni, ctx->sni_count + 1, sizeof(*ctx->sni));
	struct tls_cert_entry *e = &ctx->sni[ctx->sni_count++];
	e->name = x_strdup(name);
	e->cert = x_strdup(cert);
	e->key = x_strdup(key);
	e->ssl_ctx = c;
	return 0;
}

int tls_server_ctx_reload(struct tls_server_ctx *ctx, struct buf *err)
{
	size_t n = ctx->sni_count + 1;
	SSL_CTX **fresh = x_calloc(n, sizeof(*fresh));
	size_t i;
	for (i = 0; i < n; i++) {
		struct tls_cert_entry *e = i == 0 ? &ctx->def : &ctx->sni[i - 1];
		fresh[i] = tls_ctx_build(ctx, e->cert, e->key, err);
		if (fresh[i] == NULL)
			break;
	}
	if (i < n) {
		for (size_t j = 0; j < i; j++)
			SSL_CTX_free(fresh[j]);
		x_free(&fresh);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct tls_cert_entry *e = i == 0 ? &ctx->def : &ctx->sni[i - 1];
		SSL_CTX_free(e->ssl_ctx); /* open sessions hold their own reference */
		e->ssl_ctx = fresh[i];
	}
	x_free(&fresh);
	return 0;
}

int tls_server_ctx_configure(struct tls_server_ctx *ctx, const char *protocols, const char *ciphers,
			     const char *ciphersuites, struct buf *err)
{
	char *old[3] = {ctx->protocols, ctx->ciphers, ctx->ciphersuites};
	ctx->protocols = x_strdup(protocols != NULL ? protocols : old[0]);
	ctx->ciphers = x_strdup(ciphers != NULL ? ciphers : old[1]);
	ctx->ciphersuites = x_strdup(ciphersuites != NULL ? ciphersuites : old[2]);
	if (tls_server_ctx_reload(ctx, err) < 0) {
		x_free(&ctx->protocols);
		x_free(&ctx->ciphers);
		x_free(&ctx->ciphersuites);
		ctx->protocols = old[0];
		ctx->ciphers = old[1];
		ctx->ciphersuites = old[2];
		return -1;
	}
	for (int i = 0; i < 3; i++)
		x_free(&old[i]);
	return 0;
}

static void tls_entry_free(struct tls_cert_entry *e)
{
	SSL_CTX_free(e->ssl_ctx);
	x_free(&e->name);
	x_free(&e->cert);
	x_free(&e->key);
}

void tls_server_ctx_free(struct tls_server_ctx **ctxp)
{
	struct tls_server_ctx *ctx = *ctxp;
	if (ctx == NULL)
		return;
	tls_entry_free(&ctx->def);
	for (size_t i = 0; i < ctx->sni_count; i++)
		tls_entry_free(&ctx->sni[i]);
	x_free(&ctx->sni);
	x_free(&ctx->protocols);
	x_free(&ctx->ciphers);
	x_free(&ctx->ciphersuites);
	x_free(ctxp);
}

SSL *tls_server_ssl_new(struct tls_server_ctx *ctx)
{
	return SSL_new(ctx->def.ssl_ctx);
}
