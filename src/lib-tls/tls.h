/* tls: server-side TLS for every listener: OpenSSL 3 contexts (certificates, SNI, protocol
 * and cipher settings, reload on SIGHUP) and the glue to libevent's bufferevent_openssl for
 * implicit TLS (RFC 8314 section 3.3) and STARTTLS / STLS (RFC 3207, RFC 2595).
 *
 * STARTTLS injection (CVE-2011-0411, RFC 3207 section 4.2 / RFC 2595 section 3.1): bytes
 * the client sent after the STARTTLS command line but before the handshake must never be
 * read as commands of the TLS session. tls_starttls_switch() discards what is buffered in
 * the plaintext bufferevent; the protocol MUST also discard what its own line parser holds
 * beyond the STARTTLS line (and should log the total count).
 */
#ifndef TERN_TLS_H
#define TERN_TLS_H

#include <event2/bufferevent.h>
#include <event2/util.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Defaults, the same as conf-defaults.c (tls_protocols, tls_ciphers, tls_ciphersuites). */
#define TLS_CONF_DEFAULT_PROTOCOLS "TLSv1.2 TLSv1.3"
#define TLS_CONF_DEFAULT_CIPHERS                                                                   \
	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:HIGH:!aNULL:!eNULL:!MD5:!3DES:"       \
	"!RC4:!PSK:!SRP:!DSS:!CAMELLIA:!ARIA"
#define TLS_CONF_DEFAULT_CIPHERSUITES                                                              \
	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"

struct tls_server_ctx;

/* A server context with one default certificate chain and key (PEM files) and the default
 * protocols and ciphers. NULL on error, with err set ("cannot load certificate FILE: ..."). */
struct tls_server_ctx *tls_server_ctx_new(const char *cert, const char *key, struct buf *err);
/* Sets protocols ("TLSv1.2 TLSv1.3": the lowest and highest named bound the range; words
 * among TLSv1 TLSv1.1 TLSv1.2 TLSv1.3), the TLS 1.2 cipher list and the TLS 1.3 suites
 * (NULL: keep the current value), and rebuilds every certificate's context. 0, or -1 with
 * err set and the previous settings kept. */
int tls_server_ctx_configure(struct tls_server_ctx *ctx, const char *protocols, const char *ciphers,
			     const char *ciphersuites, struct buf *err);
/* Another certificate, chosen when the client's SNI matches name: exact (ASCII
 * case-insensitive) or "*.example.org" matching one more label. The first added match
 * wins; no match (or no SNI) gets the default certificate. 0, or -1 with err set. */
int tls_server_ctx_add_sni(struct tls_server_ctx *ctx, const char *name, const char *cert,
			   const char *key, struct buf *err);
/* Re-reads every certificate and key (SIGHUP). New sessions use the new files; sessions
 * already made keep theirs (each SSL holds a reference on its SSL_CTX). All or nothing:
 * on error (-1, err set) the old certificates stay in use. Key files must still be
 * readable by the process at this point (after privileges were dropped). */
int tls_server_ctx_reload(struct tls_server_ctx *ctx, struct buf *err);
/* Frees the context. Sessions still open keep working, but the context must outlive
 * every handshake still in progress (its SNI callback refers to it): free it at exit. */
void tls_server_ctx_free(struct tls_server_ctx **ctx);

/* A new server SSL on the current default context (most callers want the helpers below). */
SSL *tls_server_ssl_new(struct tls_server_ctx *ctx);
/* Is name matched by the SNI pattern? (exported for tests) */
bool tls_name_match(const char *pattern, const char *name);

/* Implicit TLS: wraps an accepted socket into a server bufferevent_openssl. The handshake
 * runs as the caller enables EV_READ; BEV_EVENT_CONNECTED reports its end, BEV_EVENT_ERROR
 * a failure (see tls_last_error). BEV_OPT_CLOSE_ON_FREE is always added: freeing the
 * bufferevent frees the SSL and closes fd. A client closing without close_notify is
 * reported as BEV_EVENT_EOF (mail clients commonly do this). NULL on error. */
struct bufferevent *tls_accept_fd(struct tls_server_ctx *ctx, struct event_base *base,
				  evutil_socket_t fd, int options);
/* STARTTLS: call right after queueing the "ready to start TLS" reply on plain (it is still
 * sent, in order, before any TLS byte). Discards every byte already in plain's input
 * buffer, storing their count in *discarded_r, and returns a server bufferevent_openssl
 * filtering plain. The TLS bufferevent owns plain (BEV_OPT_CLOSE_ON_FREE is added): free
 * only the returned one, and set callbacks and EV_READ on it, not on plain. NULL on error
 * (plain is then untouched apart from the drain). */
struct bufferevent *tls_starttls_switch(struct tls_server_ctx *ctx, struct bufferevent *plain,
					size_t *discarded_r, int options);

/* After the handshake, for Received: headers and the logs. */
struct tls_info {
	char version[16]; /* "TLS1.3" (OpenSSL's "TLSv1.3" without the v) */
	char cipher[64];  /* "TLS_AES_256_GCM_SHA384" */
	int bits;	  /* secret bits of the cipher */
	char sni[256];	  /* the name the client asked for, "" if none */
};
/* Fills info from an SSL whose handshake is finished. 0, or -1 if it is not. */
int tls_ssl_info(SSL *ssl, struct tls_info *info);
/* The same for a bufferevent made by tls_accept_fd / tls_starttls_switch. */
int tls_bev_info(struct bufferevent *bev, struct tls_info *info);
/* Appends "TLS1.3 TLS_AES_256_GCM_SHA384", as in "with ESMTPS (TLS1.3 ...)". */
void tls_info_format(const struct tls_info *info, struct buf *out);
/* Appends OpenSSL's reason for the last failure on bev (handshake errors, for the log)
 * and clears it; appends "unknown" if there is none. */
void tls_last_error(struct bufferevent *bev, struct buf *out);

#endif
