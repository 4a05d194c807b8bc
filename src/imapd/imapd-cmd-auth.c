/* imapd-cmd-auth: AUTHENTICATE (RFC 9051 6.2.2) with an initial response (SASL-IR, RFC
 * 4959), over lib-sasl's PLAIN and LOGIN mechanisms: the exchange reads raw base64 lines
 * ("*" cancels) until the mechanism succeeds or fails. Passwords are checked against the
 * user directory's crypt(3) hashes; plaintext mechanisms only where LOGIN is allowed.
 */
#include "imapd-int.h"
#include "log.h"
#include "sasl-base64.h"
#include "sasl.h"
#include "xalloc.h"

#include <string.h>

static enum sasl_lookup auth_lookup_password(void *ctx, const char *user, const char *password)
{
	struct imapd_session *s = ctx;
	struct user_info info;
	struct buf err = BUF_INIT;
	int r = userdb_lookup(s->server->userdb, user, &info, &err);
	buf_free(&err);
	if (r < 0)
		return SASL_LOOKUP_TEMPFAIL;
	if (r == 0)
		return SASL_LOOKUP_UNKNOWN;
	bool ok = password_check(password, info.hash);
	user_info_free(&info);
	return ok ? SASL_LOOKUP_OK : SASL_LOOKUP_BAD;
}

static enum sasl_lookup auth_lookup_scram(void *ctx, const char *user,
					  struct sasl_scram_secret *secret_r)
{
	return SASL_LOOKUP_UNKNOWN; /* the user directory keeps crypt(3) hashes only */
}

void imapd_auth_abort(struct imapd_session *s)
{
	sasl_server_free(&s->sasl);
}

/* Acts on the mechanism's answer to one step. */
static void auth_result(struct imapd_session *s, enum sasl_result r, struct buf *out)
{
	if (r == SASL_CONTINUE) {
		buf_append_str(&s->out, "+ ");
		sasl_base64_encode(out->data, out->len, &s->out);
		buf_append_str(&s->out, "\r\n");
		imapd_session_flush(s);
		return;
	}
	char *user = x_strdup(sasl_server_user(s->sasl) ? sasl_server_user(s->sasl) : "");
	enum sasl_fail_reason why = sasl_server_reason(s->sasl);
	sasl_server_free(&s->sasl);
	if (r == SASL_FAIL && why == SASL_REASON_TEMPFAIL) {
		imapd_reply(s, "NO", "UNAVAILABLE", "User directory unavailable");
	} else if (r == SASL_FAIL) {
		imapd_login_failed(s, user, sasl_reason_str(why));
	} else {
		struct user_info info;
		struct buf err = BUF_INIT;
		if (userdb_lookup(s->server->userdb, user, &info, &err) > 0)
			imapd_login_finish(s, &info, "AUTHENTICATE");
		else
			imapd_reply(s, "NO", "UNAVAILABLE", "User directory unavailable");
		buf_free(&err);
	}
	x_free(&user);
}

static const struct sasl_callbacks auth_callbacks_template = {auth_lookup_password,
							      auth_lookup_scram, NULL};

void imapd_cmd_authenticate(struct imapd_session *s, struct imapd_cmd *cmd)
{
	const char *mech, *ir = NULL;
	if (cmd->count < 1 || cmd->count > 2 || !imap_arg_get_atom(&cmd->args[0], &mech) ||
	    (cmd->count == 2 && !imap_arg_get_atom(&cmd->args[1], &ir))) {
		imapd_bad(s, "AUTHENTICATE takes a mechanism and an optional initial response");
		return;
	}
	if (!sasl_mech_is_plaintext(mech)) {
		imapd_reply(s, "NO", "CANNOT", "Unsupported authentication mechanism");
		return;
	}
	if (!s->secure) {
		imapd_reply(s, "NO", "PRIVACYREQUIRED", "Plaintext authentication needs TLS");
		return;
	}
	s->sasl_cb = auth_callbacks_template;
	s->sasl_cb.ctx = s;
	struct sasl_server_settings set = {&s->sasl_cb, false, true, NULL};
	s->sasl = sasl_server_new(mech, &set);
	struct buf in = BUF_INIT, out = BUF_INIT;
	if (ir != NULL && sasl_decode_client(ir, strlen(ir), true, &in) != SASL_DECODE_OK) {
		sasl_server_free(&s->sasl);
		imapd_bad(s, "Invalid initial response");
	} else {
		auth_result(
		    s,
		    sasl_server_step(s->sasl, ir ? (unsigned char *)in.data : NULL, in.len, &out),
		    &out);
	}
	sasl_buf_wipe(&in);
	buf_free(&out);
}

void imapd_auth_line(struct imapd_session *s, const char *line, size_t len)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	enum sasl_decode_result d = sasl_decode_client(line, len, false, &in);
	if (d == SASL_DECODE_ABORT) {
		sasl_server_abort(s->sasl);
		sasl_server_free(&s->sasl);
		imapd_bad(s, "AUTHENTICATE cancelled");
	} else if (d == SASL_DECODE_BAD) {
		sasl_server_free(&s->sasl);
		imapd_bad(s, "Invalid base64 in the response");
	} else {
		auth_result(s, sasl_server_step(s->sasl, (unsigned char *)in.data, in.len, &out),
			    &out);
	}
	sasl_buf_wipe(&in);
	buf_free(&out);
}
