/* tls-conf: server TLS contexts from tern.conf (see tls-conf.h). */
#include "tls-conf.h"
#include "conf.h"
#include "log.h"

static int tls_conf_apply(const struct conf *c, struct tls_server_ctx *ctx, struct buf *err)
{
	return tls_server_ctx_configure(ctx, conf_str(c, "tls_protocols"),
					conf_str(c, "tls_ciphers"), conf_str(c, "tls_ciphersuites"),
					err);
}

struct tls_server_ctx *tls_conf_ctx_new(const struct conf *c, const char *cert, const char *key,
					const char *what)
{
	struct buf err = BUF_INIT;
	struct tls_server_ctx *ctx = tls_server_ctx_new(cert, key, &err);
	if (ctx != NULL && tls_conf_apply(c, ctx, &err) < 0)
		tls_server_ctx_free(&ctx);
	if (ctx == NULL)
		log_error("tls %s: TLS not available: %s", what, buf_cstr(&err));
	buf_free(&err);
	return ctx;
}

int tls_conf_ctx_reload(const struct conf *c, struct tls_server_ctx *ctx, bool files,
			const char *what)
{
	struct buf err = BUF_INIT;
	int r = tls_conf_apply(c, ctx, &err);
	if (r == 0 && files)
		r = tls_server_ctx_reload(ctx, &err);
	if (r < 0)
		log_error("reload: tls %s: %s; keeping the old settings", what, buf_cstr(&err));
	buf_free(&err);
	return r;
}
