/* sieved-auth: AUTHENTICATE (RFC 5804 2.1) on lib-sasl and the shared login policy of
 * lib-auth, UNAUTHENTICATE (2.14.1), and the user's script store once logged in.
 *
 * Challenges go out as strings of base64, responses come back as strings (the parser's
 * response mode); a response "*" cancels (NO). An initial response on the command line
 * saves a round trip; an empty one is "". SCRAM's server-final message comes with the OK
 * as OK (SASL "..."). The policy is the one of IMAP and POP3: PLAIN and LOGIN only under
 * TLS or on loopback (auth_plaintext_loopback), else NO (ENCRYPT-NEEDED); a locked-out
 * address or user gets NO (TRYLATER) before any check; a failure is answered NO after the
 * delay auth_record gives (auth_failure_delay, growing), on a timer, so other sessions
 * go on. Once authenticated, no second AUTHENTICATE (2.1). Passwords are never logged and
 * are wiped from the parser's buffers after use. System users (user_source = system):
 * PLAIN and LOGIN only, their credentials go to the auth process (sieved-syslogin.c).
 */
#include "sieved-int.h"
#include "auth.h"
#include "log.h"
#include "login.h"
#include "sasl-base64.h"
#include "sasl.h"
#include "xalloc.h"

#include <string.h>

#include "userdb.h"

const char *sieved_mechs(const struct sieved_session *s)
{
	return auth_mech_list(s->server->core.auth, s->conn.tls || s->conn.local, s->conn.loopback);
}

static bool plaintext_ok(const struct sieved_session *s)
{
	return auth_plaintext_ok(s->server->core.auth, s->conn.tls || s->conn.local, s->conn.loopback);
}

void sieved_sasl_end(struct sieved_session *s)
{
	if (s->sasl != NULL)
		sasl_server_free(&s->sasl);
	if (s->creds != NULL)
		login_creds_wipe(s->creds);
	x_free(&s->creds);
	ms_parser_set_response(&s->parser, false);
}

static void auth_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sieved_session *s = arg;
	sieved_reply(s, "NO", NULL, "authentication failed");
	sieved_session_resume(s);
}

void sieved_fail_later(struct sieved_session *s, uint64_t delay_ms)
{
	if (s->delay == NULL)
		s->delay = evtimer_new(s->server->core.base, auth_delay_cb, s);
	struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};
	s->conn.busy = true;
	bufferevent_disable(s->conn.bev, EV_READ);
	evtimer_add(s->delay, &tv);
}

static void auth_locked(struct sieved_session *s, const char *mech, const char *user)
{
	log_warn("auth: proto=managesieve, mech=%s, user=<%s>, ip=[%s], result=locked-out", mech,
		 user != NULL ? log_safe(user, strlen(user), 128) : "", s->conn.ip);
	sieved_reply(s, "NO", "TRYLATER", "too many failed logins, try again later");
}

int sieved_login(struct sieved_session *s, const char *address)
{
	struct buf err = BUF_INIT;
	struct user_info info;
	int r = userdb_lookup(auth_userdb(s->server->core.auth), address, &info, &err);
	if (r <= 0) {
		log_error("login: user=<%s> ip=[%s] result=tempfail: %s",
			  log_safe(address, strlen(address), 128), s->conn.ip,
			  r < 0 ? buf_cstr(&err) : "user vanished");
		sieved_reply(s, "NO", "TRYLATER", "user directory unavailable");
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	return sieved_login_info(s, &info);
}

int sieved_login_info(struct sieved_session *s, struct user_info *info)
{
	struct deliver_user u;
	if (info->system)
		deliver_user_system(s->server->core.conf, info, &u);
	else
		deliver_user_from_maildir(s->server->core.conf, info->address, info->maildir, &u);
	user_info_free(info);
	if (u.sieve_at == NULL) { /* system_sieve_path is empty: no Sieve for system users */
		log_error("login: user=<%s> ip=[%s] result=refused: no Sieve script path "
			  "(system_sieve_path)", u.address, s->conn.ip);
		sieved_reply(s, "NO", NULL, "Sieve scripts are not enabled for you");
		deliver_user_free(&u);
		return -1;
	}
	s->user = u;
	sieve_store_open(&s->store, &s->user);
	s->state = SIEVED_STATE_AUTH;
	sieved_session_setup_bev(s); /* the longer timeout of a logged-in client */
	log_info("login: user=<%s> ip=[%s] result=ok", s->user.address, s->conn.ip);
	return 0;
}

void sieved_logout(struct sieved_session *s)
{
	if (s->state != SIEVED_STATE_AUTH)
		return;
	sieve_store_close(&s->store);
	deliver_user_free(&s->user);
	memset(&s->user, 0, sizeof(s->user));
	s->state = SIEVED_STATE_NONAUTH;
}

/* The exchange succeeded: checks the lockout, then logs in as the authorization id. */
static void sasl_success(struct sieved_session *s, const struct buf *final)
{
	struct auth *a = s->server->core.auth;
	const char *mech = sasl_server_mech(s->sasl);
	const char *user = sasl_server_user(s->sasl);
	/* the answer of a locked-out user must not tell whether the password was right */
	if (auth_locked_ms(a, s->conn.ip, user) > 0) {
		auth_locked(s, mech, user);
	} else if (auth_system_users(a)) {
		sieved_syslogin(s, mech, s->creds->user, s->creds->password);
	} else {
		auth_record(a, "managesieve", mech, s->conn.ip, user, true, NULL, NULL);
		if (sieved_login(s, sasl_server_authzid(s->sasl)) == 0 && final->len > 0) {
			struct buf code = BUF_INIT, b64 = BUF_INIT;
			sasl_base64_encode(final->data, final->len, &b64);
			buf_append_str(&code, "SASL ");
			ms_reply_string(&code, b64.data, b64.len);
			sieved_reply(s, "OK", buf_cstr(&code), "Logged in");
			buf_free(&code);
			buf_free(&b64);
		} else if (s->state == SIEVED_STATE_AUTH) {
			sieved_reply(s, "OK", NULL, "Logged in");
		}
	}
	sieved_sasl_end(s);
}

static void sasl_failure(struct sieved_session *s)
{
	struct auth *a = s->server->core.auth;
	const char *mech = sasl_server_mech(s->sasl);
	const char *user = sasl_server_user(s->sasl);
	enum sasl_fail_reason reason = sasl_server_reason(s->sasl);
	if (reason == SASL_REASON_TEMPFAIL) {
		log_error("auth: proto=managesieve, mech=%s, user=<%s>, ip=[%s], result=tempfail",
			  mech, user != NULL ? log_safe(user, strlen(user), 128) : "", s->conn.ip);
		sieved_reply(s, "NO", "TRYLATER", "user directory unavailable");
	} else if (user != NULL && auth_locked_ms(a, s->conn.ip, user) > 0) {
		auth_locked(s, mech, user);
	} else {
		uint64_t delay = auth_record(a, "managesieve", mech, s->conn.ip, user, false,
					     sasl_reason_str(reason), NULL);
		sieved_fail_later(s, delay);
	}
	sieved_sasl_end(s);
}

/* One step with a decoded response (NULL: none yet). */
static void sasl_step(struct sieved_session *s, const struct buf *in)
{
	struct buf out = BUF_INIT;
	const unsigned char *data = NULL;
	if (in != NULL) /* an empty response is "" (not NULL, which means none at all) */
		data = in->data != NULL ? (const unsigned char *)in->data
					: (const unsigned char *)"";
	enum sasl_result r = sasl_server_step(s->sasl, data, in != NULL ? in->len : 0, &out);
	if (r == SASL_CONTINUE) {
		struct buf b64 = BUF_INIT;
		sasl_base64_encode(out.data, out.len, &b64);
		ms_reply_string(&s->conn.out, b64.data != NULL ? b64.data : "", b64.len);
		buf_append_str(&s->conn.out, "\r\n");
		buf_free(&b64);
		ms_parser_set_response(&s->parser, true);
	} else if (r == SASL_SUCCESS) {
		sasl_success(s, &out);
	} else {
		sasl_failure(s);
	}
	sasl_buf_wipe(&out);
}

/* Decodes a response (initial or continuation) and steps; wipes the parser. */
static void sasl_feed(struct sieved_session *s, const struct ms_arg *arg, bool initial)
{
	struct buf in = BUF_INIT;
	enum sasl_decode_result d =
	    arg->len == 0 ? SASL_DECODE_OK
			  : sasl_decode_client(arg->data, arg->len, initial, &in);
	ms_parser_wipe(&s->parser); /* arg is gone from here on */
	if (d == SASL_DECODE_ABORT) {
		sasl_server_abort(s->sasl);
		log_info("auth: proto=managesieve, mech=%s, ip=[%s], result=cancelled",
			 sasl_server_mech(s->sasl), s->conn.ip);
		sieved_sasl_end(s);
		sieved_reply(s, "NO", NULL, "authentication cancelled");
	} else if (d == SASL_DECODE_BAD) {
		sieved_sasl_end(s);
		sieved_reply(s, "NO", NULL, "invalid base64 in the SASL response");
		sieved_session_error(s);
	} else {
		sasl_step(s, &in);
	}
	sasl_buf_wipe(&in);
}

/* Starts mech: for system users PLAIN and LOGIN only, checked by the auth process. */
static struct sasl_server *sasl_start(struct sieved_session *s, const char *mech)
{
	if (!auth_system_users(s->server->core.auth))
		return auth_sasl_start(s->server->core.auth, mech, true);
	if (s->creds == NULL)
		s->creds = X_NEW(struct login_creds);
	return login_sasl_start(mech, true, s->creds);
}

void sieved_cmd_authenticate(struct sieved_session *s, const struct ms_command *cmd)
{
	const struct ms_arg *m = &cmd->args[0];
	struct auth *a = s->server->core.auth;
	if (m->type != MS_ARG_STRING || (cmd->argc == 2 && cmd->args[1].type != MS_ARG_STRING)) {
		sieved_reply(s, "NO", NULL, "AUTHENTICATE takes strings");
		sieved_session_error(s);
	} else if (sasl_mech_is_plaintext(m->data) && !plaintext_ok(s)) {
		sieved_reply(s, "NO", "ENCRYPT-NEEDED", "plaintext authentication needs TLS");
	} else if (auth_locked_ms(a, s->conn.ip, NULL) > 0) {
		auth_locked(s, m->data, NULL);
	} else if ((s->sasl = sasl_start(s, m->data)) == NULL) {
		sieved_reply(s, "NO", NULL, "unsupported authentication mechanism");
	} else if (cmd->argc == 2) {
		sasl_feed(s, &cmd->args[1], true);
		return;
	} else {
		sasl_step(s, NULL);
	}
	ms_parser_wipe(&s->parser);
}

void sieved_sasl_response(struct sieved_session *s, const struct ms_command *cmd)
{
	static const struct ms_arg empty = {MS_ARG_STRING, "", 0, 0, false};
	if (cmd->argc > 1) {
		sieved_sasl_bad_line(s, "one string expected");
		return;
	}
	sasl_feed(s, cmd->argc == 1 ? &cmd->args[0] : &empty, false);
}

void sieved_sasl_bad_line(struct sieved_session *s, const char *why)
{
	log_info("auth: proto=managesieve, mech=%s, ip=[%s], result=malformed (%s)",
		 sasl_server_mech(s->sasl), s->conn.ip, why);
	sieved_sasl_end(s);
	sieved_reply(s, "NO", NULL, "SASL response: %s", why);
}

void sieved_cmd_unauthenticate(struct sieved_session *s, const struct ms_command *cmd)
{
	if (s->server->preauth) {
		/* this process is the user's: another login needs a new connection (2.14.1:
		 * UNAUTHENTICATE answers OK or BYE) */
		sieved_reply(s, "BYE", NULL, "log in again on a new connection");
		sieved_session_close(s);
		return;
	}
	log_info("logout: user=<%s> ip=[%s] (unauthenticate)", s->user.address, s->conn.ip);
	sieved_logout(s);
	sieved_session_setup_bev(s); /* the login timeout again */
	sieved_reply(s, "OK", NULL, "Unauthenticated");
}
