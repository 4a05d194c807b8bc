/* smtpd-tls: TLS in the smtp role: the server contexts (global tls_cert/tls_key, or a
 * listener's own), refreshed on SIGHUP without touching open sessions; implicit TLS
 * (RFC 8314 3.3: submissions); STARTTLS (RFC 3207); the with-protocol of the Received:
 * field (RFC 3848).
 *
 * STARTTLS (RFC 3207 4.2): bytes the client sent after the STARTTLS line are never read
 * as commands of the TLS session (CVE-2011-0411): lib-tls drains the plaintext input, our
 * line parser holds nothing beyond the STARTTLS line, and the count is logged. Everything
 * learnt before TLS (EHLO, AUTH, the transaction) is forgotten.
 */
#include "smtpd-private.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tls-conf.h"
#include "xalloc.h"

/* The certificate and key a listener uses: its own, or the global ones. */
static void smtpd_tls_files(const struct conf *c, const char *name, const char **cert_r,
			    const char **key_r, bool *own_r)
{
	*cert_r = conf_str(c, "tls_cert");
	*key_r = conf_str(c, "tls_key");
	*own_r = false;
	for (size_t i = 0; i < c->listener_count; i++) {
		const struct conf_listener *cl = &c->listeners[i];
		if (strcmp(cl->name, name) != 0 || conf_listener_str(cl, "tls_cert")[0] == '\0')
			continue;
		*cert_r = conf_listener_str(cl, "tls_cert");
		const char *key = conf_listener_str(cl, "tls_key");
		*key_r = key[0] != '\0' ? key : *cert_r;
		*own_r = true;
	}
}

/* The live entry for a listener's own files (name) or the global ones (NULL). */
static struct smtpd_tls *smtpd_tls_find(struct smtpd_server *srv, const char *name)
{
	for (size_t i = 0; i < srv->ntls; i++) {
		struct smtpd_tls *t = &srv->tls[i];
		if (!t->retired &&
		    ((name == NULL && t->listener == NULL) ||
		     (name != NULL && t->listener != NULL && strcmp(name, t->listener) == 0)))
			return t;
	}
	return NULL;
}

/* Gets the context for a set of files: the existing one reloaded (once per setup round,
 * tracked in done[]), or a new one when the files changed. */
static struct tls_server_ctx *smtpd_tls_get(struct smtpd_server *srv, const char *owner,
					    const char *cert, const char *key, bool *done,
					    const char *what)
{
	const struct conf *c = srv->settings->conf;
	struct smtpd_tls *t = smtpd_tls_find(srv, owner);
	if (t != NULL && strcmp(t->cert, cert) == 0 && strcmp(t->key, key) == 0) {
		size_t i = (size_t)(t - srv->tls);
		if (!done[i]) {
			done[i] = true;
			tls_conf_ctx_reload(c, t->ctx, false, what);
		}
		return t->ctx;
	}
	struct tls_server_ctx *ctx = tls_conf_ctx_new(c, cert, key, what);
	if (ctx == NULL)
		return t != NULL ? t->ctx : NULL; /* keep serving with the old files */
	if (t != NULL)
		t->retired = true;
	srv->tls = x_reallocarray(srv->tls, srv->ntls + 1, sizeof(*srv->tls));
	struct smtpd_tls *n = &srv->tls[srv->ntls++];
	n->ctx = ctx;
	n->cert = x_strdup(cert);
	n->key = x_strdup(key);
	n->listener = owner != NULL ? x_strdup(owner) : NULL;
	n->retired = false;
	return ctx;
}

void smtpd_tls_setup(struct smtpd_server *srv)
{
	/* Entries added in this round are new: room for them in done[]. */
	bool *done = x_calloc(srv->ntls + srv->nlisteners + 1, sizeof(*done));
	for (size_t i = 0; i < srv->nlisteners; i++) {
		struct smtpd_listener *l = &srv->listeners[i];
		if (l->tls_mode == SMTPD_TLS_NONE)
			continue;
		const char *cert, *key;
		bool own;
		smtpd_tls_files(srv->settings->conf, l->name, &cert, &key, &own);
		char *what = x_asprintf("listener %s", l->name);
		l->tls = smtpd_tls_get(srv, own ? l->name : NULL, cert, key, done, what);
		free(what);
	}
	free(done);
}

void smtpd_tls_free_all(struct smtpd_server *srv)
{
	for (size_t i = 0; i < srv->ntls; i++) {
		tls_server_ctx_free(&srv->tls[i].ctx);
		x_free(&srv->tls[i].cert);
		x_free(&srv->tls[i].key);
		x_free(&srv->tls[i].listener);
	}
	x_free(&srv->tls);
	srv->ntls = 0;
}

struct bufferevent *smtpd_tls_accept(struct smtpd_session *s, int fd)
{
	if (s->tls_ctx == NULL)
		return NULL;
	s->tls = true;
	return tls_accept_fd(s->tls_ctx, s->srv->base, fd, 0);
}

void smtpd_tls_connected(struct smtpd_session *s)
{
	struct tls_info info;
	if (tls_bev_info(s->bev, &info) < 0)
		return;
	struct buf b = BUF_INIT;
	tls_info_format(&info, &b);
	snprintf(s->tls_info, sizeof(s->tls_info), "%s", buf_cstr(&b));
	buf_free(&b);
	s->tls_done = true;
	log_info("TLS from %s: %s, %d bits%s%s", s->client, s->tls_info, info.bits,
		 info.sni[0] ? ", sni=" : "",
		 info.sni[0] ? log_safe(info.sni, strlen(info.sni), 255) : "");
}

void smtpd_tls_failed(struct smtpd_session *s)
{
	struct buf b = BUF_INIT;
	tls_last_error(s->bev, &b);
	log_info("TLS handshake failed from %s: %s", s->client, buf_cstr(&b));
	buf_free(&b);
}

void smtpd_cmd_starttls(struct smtpd_session *s, const struct smtp_command *cmd)
{
	if (s->tls) {
		smtpd_reply(s, 503, "5.5.1", "Error: TLS already active");
		return;
	}
	if (s->tls_mode != SMTPD_TLS_STARTTLS) {
		smtpd_reply(s, 502, "5.5.1", "Error: STARTTLS not available");
		return;
	}
	if (s->tls_ctx == NULL || s->out != s->bev) {
		smtpd_reply(s, 454, "4.7.0", "TLS not available due to temporary reason");
		return;
	}
	/* The 220 goes out in clear, before the first byte of the handshake. */
	smtpd_reply(s, 220, "2.0.0", "Ready to start TLS");
	struct bufferevent *plain = s->bev;
	bufferevent_set_timeouts(plain, NULL, NULL);
	size_t discarded = 0;
	struct bufferevent *bev = tls_starttls_switch(s->tls_ctx, plain, &discarded, 0);
	/* Our own parser: s->line is the STARTTLS line; nothing of a later one is kept. */
	s->skipping = false;
	if (discarded > 0)
		log_warn("STARTTLS from %s: discarded %zu bytes sent before the TLS handshake "
			 "(command injection?)",
			 s->client, discarded);
	if (bev == NULL) {
		log_error("STARTTLS from %s: cannot start TLS", s->client);
		smtpd_transaction_reset(s);
		s->state = SMTPD_CLOSING; /* the write callback closes once the 220 is out */
		bufferevent_disable(plain, EV_READ);
		return;
	}
	s->tls = true;
	smtpd_session_set_bev(s, bev);
	smtpd_session_reset_greeting(s);
}

void smtpd_protocol_name(const struct smtpd_session *s, struct buf *out)
{
	if (!s->esmtp) {
		buf_append_str(out, "SMTP");
		return;
	}
	/* RFC 3848 (ESMTPS, ESMTPA, ESMTPSA), RFC 6531 3.7.3 (UTF8SMTP...). */
	buf_append_str(out, s->mail.smtputf8 ? "UTF8SMTP" : "ESMTP");
	if (s->tls)
		buf_append_char(out, 'S');
	if (s->auth_user != NULL)
		buf_append_char(out, 'A');
}
