/* imapd-cmd-auth: AUTHENTICATE (RFC 9051 6.2.2) with an initial response (SASL-IR, RFC
 * 4959), over lib-auth: SCRAM-SHA-256 (RFC 5802, RFC 7677) against the directory's stored
 * secrets, and PLAIN and LOGIN only where a clear-text password may be sent. The exchange
 * reads raw base64 lines ("*" cancels: BAD) until the mechanism succeeds or fails. SCRAM's
 * server-final message goes out as a last "+" challenge that the client answers with an
 * empty line (what IMAP4rev1 clients expect; the mechanism checks that line). Failures
 * share the login policy's delay and lockout; every attempt is logged by lib-auth.
 * System users: PLAIN and LOGIN only, their credentials checked by the auth process
 * (imapd-syslogin.c).
 */
#include "imapd-int.h"
#include "auth.h"
#include "log.h"
#include "login.h"
#include "sasl-base64.h"
#include "sasl.h"
#include "xalloc.h"

#include <string.h>

void imapd_auth_abort(struct imapd_session *s)
{
	sasl_server_free(&s->sasl);
	if (s->creds != NULL)
		login_creds_wipe(s->creds);
	x_free(&s->creds);
}

static void auth_success(struct imapd_session *s)
{
	struct auth *a = s->server->core.auth;
	const char *mech = sasl_server_mech(s->sasl);
	const char *user = sasl_server_user(s->sasl);
	/* the answer of a locked-out user must not tell whether the password was right */
	if (auth_locked_ms(a, s->conn.ip, user) > 0) {
		imapd_login_locked(s, mech, user);
	} else if (auth_system_users(a)) {
		imapd_syslogin(s, "AUTHENTICATE", mech, s->creds->user, s->creds->password);
		login_creds_wipe(s->creds);
	} else {
		auth_record(a, "imap", mech, s->conn.ip, user, true, NULL, NULL);
		char *who = x_strdup(sasl_server_authzid(s->sasl));
		sasl_server_free(&s->sasl);
		imapd_login_address(s, who, "AUTHENTICATE");
		x_free(&who);
	}
	sasl_server_free(&s->sasl);
}

static void auth_failure(struct imapd_session *s)
{
	struct auth *a = s->server->core.auth;
	char *mech = x_strdup(sasl_server_mech(s->sasl));
	const char *u = sasl_server_user(s->sasl);
	char *user = x_strdup(u != NULL ? u : "");
	enum sasl_fail_reason why = sasl_server_reason(s->sasl);
	sasl_server_free(&s->sasl);
	if (why == SASL_REASON_TEMPFAIL) {
		log_error("auth: proto=imap, mech=%s, user=<%s>, ip=[%s], result=tempfail", mech,
			  log_safe(user, strlen(user), 128), s->conn.ip);
		imapd_reply(s, "NO", "UNAVAILABLE", "User directory unavailable");
	} else if (user[0] != '\0' && auth_locked_ms(a, s->conn.ip, user) > 0) {
		imapd_login_locked(s, mech, user);
	} else {
		imapd_login_failed(s, mech, user, sasl_reason_str(why));
	}
	x_free(&mech);
	x_free(&user);
}

/* One step with decoded input (NULL: none yet). */
static void auth_step(struct imapd_session *s, const struct buf *in)
{
	struct buf out = BUF_INIT;
	static const unsigned char empty[1];
	const unsigned char *data = NULL; /* NULL: no response at all; else maybe empty */
	if (in != NULL)
		data = in->len > 0 ? (const unsigned char *)in->data : empty;
	enum sasl_result r = sasl_server_step(s->sasl, data, in != NULL ? in->len : 0, &out);
	if (r == SASL_CONTINUE) {
		buf_append_str(&s->conn.out, "+ ");
		sasl_base64_encode(out.data, out.len, &s->conn.out);
		buf_append_str(&s->conn.out, "\r\n");
		imapd_session_flush(s);
	} else if (r == SASL_SUCCESS) {
		auth_success(s);
	} else {
		auth_failure(s);
	}
	sasl_buf_wipe(&out);
}

void imapd_cmd_authenticate(struct imapd_session *s, struct imapd_cmd *cmd)
{
	struct auth *a = s->server->core.auth;
	const char *mech, *ir = NULL;
	if (cmd->count < 1 || cmd->count > 2 || !imap_arg_get_atom(&cmd->args[0], &mech) ||
	    (cmd->count == 2 && !imap_arg_get_atom(&cmd->args[1], &ir))) {
		imapd_bad(s, "AUTHENTICATE takes a mechanism and an optional initial response");
		return;
	}
	if (sasl_mech_is_plaintext(mech) && !imapd_plaintext_ok(s)) {
		log_info("auth: proto=imap, mech=%s, ip=[%s], result=needs-tls",
			 log_safe(mech, strlen(mech), 32), s->conn.ip);
		imapd_reply(s, "NO", "PRIVACYREQUIRED", "Plaintext authentication needs TLS");
		return;
	}
	if (auth_locked_ms(a, s->conn.ip, NULL) > 0) {
		imapd_login_locked(s, mech, NULL);
		return;
	}
	/* success_data false: SCRAM's server-final is a challenge answered by an empty line */
	if (auth_system_users(a)) {
		if (s->creds == NULL)
			s->creds = X_NEW(struct login_creds);
		s->sasl = login_sasl_start(mech, false, s->creds);
	} else {
		s->sasl = auth_sasl_start(a, mech, false);
	}
	if (s->sasl == NULL) {
		imapd_reply(s, "NO", "CANNOT", "Unsupported authentication mechanism");
		return;
	}
	if (ir == NULL) {
		auth_step(s, NULL);
		return;
	}
	struct buf in = BUF_INIT;
	if (sasl_decode_client(ir, strlen(ir), true, &in) != SASL_DECODE_OK) {
		sasl_server_free(&s->sasl);
		imapd_bad(s, "Invalid initial response");
	} else {
		auth_step(s, &in);
	}
	sasl_buf_wipe(&in);
}

void imapd_auth_line(struct imapd_session *s, const char *line, size_t len)
{
	struct buf in = BUF_INIT;
	enum sasl_decode_result d = sasl_decode_client(line, len, false, &in);
	if (d == SASL_DECODE_ABORT) {
		log_info("auth: proto=imap, mech=%s, ip=[%s], result=cancelled",
			 sasl_server_mech(s->sasl), s->conn.ip);
		sasl_server_abort(s->sasl);
		sasl_server_free(&s->sasl);
		imapd_bad(s, "AUTHENTICATE cancelled");
	} else if (d == SASL_DECODE_BAD) {
		sasl_server_free(&s->sasl);
		imapd_bad(s, "Invalid base64 in the response");
	} else {
		auth_step(s, &in);
	}
	sasl_buf_wipe(&in);
}
