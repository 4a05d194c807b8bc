/* pop3d-sasl: the AUTH command (RFC 5034) on lib-sasl and the shared login policy.
 *
 * "AUTH" alone lists the mechanisms (the pre-RFC 5034 habit clients such as Outlook and
 * fetchmail still rely on). "AUTH mech [initial-response]" starts an exchange: challenges
 * go out as "+ base64", responses come back as raw lines (the parser's raw mode, where the
 * 255-octet limit does not apply), "*" cancels. Success is +OK and the TRANSACTION state;
 * a failure is -ERR [AUTH] after the delay of auth_record (RFC 3206 section 5), a user
 * directory failure -ERR [SYS/TEMP], a locked-out source -ERR [LOGIN-DELAY]. PLAIN and
 * LOGIN, which carry the password itself, only where pop3d_plaintext_ok. POP3 cannot
 * carry data with +OK, so SCRAM's server-final message is a last challenge answered with
 * an empty line (RFC 5034 section 4, success_data false). Responses are wiped after use.
 */
#include "pop3d-int.h"
#include "auth.h"
#include "log.h"
#include "login.h"
#include "sasl-base64.h"
#include "sasl.h"
#include "xalloc.h"

#include <string.h>

void pop3d_sasl_end(struct pop3d_session *s)
{
	if (s->sasl != NULL)
		sasl_server_free(&s->sasl);
	if (s->creds != NULL)
		login_creds_wipe(s->creds);
	x_free(&s->creds);
	pop3_parser_set_raw(&s->parser, false);
}

/* The mechanism list of "AUTH" without an argument, one per line. */
static void sasl_list(struct pop3d_session *s)
{
	const char *list =
	    auth_mech_list(s->server->core.auth, s->conn.tls || s->conn.local, s->conn.loopback);
	pop3d_session_ok(s, "SASL mechanisms follow");
	while (*list != '\0') {
		size_t n = strcspn(list, " ");
		if (n > 0)
			pop3_reply_line(&s->conn.out, "%.*s", (int)n, list);
		list += n + (list[n] == ' ');
	}
	pop3_reply_end(&s->conn.out);
}

/* The exchange succeeded: checks the lockout, then logs in as the authorization id. */
static void sasl_success(struct pop3d_session *s)
{
	struct auth *a = s->server->core.auth;
	const char *mech = sasl_server_mech(s->sasl);
	const char *user = sasl_server_user(s->sasl);
	/* the answer of a locked-out user must not tell whether the password was right */
	if (auth_locked_ms(a, s->conn.ip, user) > 0) {
		pop3d_auth_locked(s, mech, user);
	} else if (auth_system_users(a)) {
		pop3d_syslogin(s, mech, s->creds->user, s->creds->password);
	} else {
		auth_record(a, "pop3", mech, s->conn.ip, user, true, NULL, NULL);
		pop3d_auth_login(s, sasl_server_authzid(s->sasl));
	}
	pop3d_sasl_end(s);
}

static void sasl_failure(struct pop3d_session *s)
{
	struct auth *a = s->server->core.auth;
	const char *mech = sasl_server_mech(s->sasl);
	const char *user = sasl_server_user(s->sasl);
	enum sasl_fail_reason reason = sasl_server_reason(s->sasl);
	if (reason == SASL_REASON_TEMPFAIL) {
		log_error("auth: proto=pop3, mech=%s, user=<%s>, ip=[%s], result=tempfail", mech,
			  user != NULL ? log_safe(user, strlen(user), 128) : "", s->conn.ip);
		pop3d_session_err(s, POP3_CODE_SYS_TEMP, "user directory unavailable");
	} else if (user != NULL && auth_locked_ms(a, s->conn.ip, user) > 0) {
		pop3d_auth_locked(s, mech, user);
	} else {
		uint64_t delay = auth_record(a, "pop3", mech, s->conn.ip, user, false,
					     sasl_reason_str(reason), NULL);
		pop3d_auth_fail_later(s, delay, "authentication failed");
	}
	pop3d_sasl_end(s);
}

/* One step with a decoded response (NULL: none yet). */
static void sasl_step(struct pop3d_session *s, const struct buf *in)
{
	struct buf out = BUF_INIT;
	/* an empty response is "" (not NULL, which means no response at all) */
	const unsigned char *data = NULL;
	if (in != NULL)
		data =
		    in->data != NULL ? (const unsigned char *)in->data : (const unsigned char *)"";
	enum sasl_result r = sasl_server_step(s->sasl, data, in != NULL ? in->len : 0, &out);
	if (r == SASL_CONTINUE) {
		buf_append_str(&s->conn.out, "+ ");
		sasl_base64_encode(out.data, out.len, &s->conn.out);
		buf_append_str(&s->conn.out, "\r\n");
		pop3_parser_set_raw(&s->parser, true);
	} else if (r == SASL_SUCCESS) {
		sasl_success(s);
	} else {
		sasl_failure(s);
	}
	sasl_buf_wipe(&out);
}

/* Decodes line (initial response or continuation) and steps; wipes the parser. */
static void sasl_feed(struct pop3d_session *s, const char *line, size_t len, bool initial)
{
	struct buf in = BUF_INIT;
	enum sasl_decode_result d = sasl_decode_client(line, len, initial, &in);
	pop3_parser_wipe(&s->parser); /* line is gone from here on */
	if (d == SASL_DECODE_ABORT) {
		sasl_server_abort(s->sasl);
		log_info("auth: proto=pop3, mech=%s, ip=[%s], result=cancelled",
			 sasl_server_mech(s->sasl), s->conn.ip);
		pop3d_sasl_end(s);
		pop3d_session_err(s, POP3_CODE_NONE, "authentication cancelled");
	} else if (d == SASL_DECODE_BAD) {
		pop3d_sasl_end(s);
		pop3d_session_err(s, POP3_CODE_NONE, "invalid base64 in the SASL response");
		pop3d_session_error(s);
	} else {
		sasl_step(s, &in);
	}
	sasl_buf_wipe(&in);
}

/* Starts mech: for system users PLAIN and LOGIN only, checked by the auth process. */
static struct sasl_server *sasl_start(struct pop3d_session *s, const char *mech)
{
	if (!auth_system_users(s->server->core.auth))
		return auth_sasl_start(s->server->core.auth, mech, false);
	if (s->creds == NULL)
		s->creds = X_NEW(struct login_creds);
	return login_sasl_start(mech, false, s->creds);
}

void pop3d_cmd_auth(struct pop3d_session *s, const struct pop3_command *cmd)
{
	if (cmd->argc == 0) {
		sasl_list(s);
		return;
	}
	const char *mech = cmd->args[0];
	if (cmd->argc > 2) {
		pop3d_session_err(s, POP3_CODE_NONE, "AUTH: wrong number of arguments");
		pop3d_session_error(s);
	} else if (sasl_mech_is_plaintext(mech) && !pop3d_plaintext_ok(s)) {
		pop3d_session_err(s, POP3_CODE_AUTH, "plaintext authentication needs TLS (STLS)");
	} else if (auth_locked_ms(s->server->core.auth, s->conn.ip, NULL) > 0) {
		pop3d_auth_locked(s, mech, NULL);
	} else if ((s->sasl = sasl_start(s, mech)) == NULL) {
		pop3d_session_err(s, POP3_CODE_NONE, "unsupported authentication mechanism");
	} else if (cmd->argc == 2) {
		sasl_feed(s, cmd->args[1], strlen(cmd->args[1]), true);
		return;
	} else {
		sasl_step(s, NULL);
	}
	pop3_parser_wipe(&s->parser);
}

void pop3d_sasl_response(struct pop3d_session *s, const struct pop3_command *cmd)
{
	sasl_feed(s, cmd->rest, cmd->rest_len, false);
}

void pop3d_sasl_bad_line(struct pop3d_session *s)
{
	log_info("auth: proto=pop3, mech=%s, ip=[%s], result=malformed (%s)",
		 sasl_server_mech(s->sasl), s->conn.ip, pop3_parser_error(&s->parser));
	pop3d_sasl_end(s);
	pop3d_session_err(s, POP3_CODE_NONE, "SASL response: %s", pop3_parser_error(&s->parser));
	pop3d_session_error(s);
}
