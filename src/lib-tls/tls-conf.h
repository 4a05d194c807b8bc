/* tls-conf: server TLS contexts made from tern.conf, for every protocol role.
 *
 * The TLS options (tls_protocols, tls_ciphers, tls_ciphersuites) apply to every context;
 * the files are the global tls_cert/tls_key or a listener's own. Both functions log what
 * went wrong with `what` (a listener name or "tls_cert") and keep serving when they can.
 */
#ifndef TERN_TLS_CONF_H
#define TERN_TLS_CONF_H

#include "tls.h"

struct conf;

/* A new context for cert/key with the configured protocols and ciphers; NULL (logged). */
struct tls_server_ctx *tls_conf_ctx_new(const struct conf *c, const char *cert, const char *key,
					const char *what);
/* Applies the configured protocols and ciphers again and, when files is set, re-reads the
 * certificate and key; on error the old settings stay in use (logged). 0 or -1. */
int tls_conf_ctx_reload(const struct conf *c, struct tls_server_ctx *ctx, bool files,
			const char *what);

#endif
