/* smtpd-auth: SMTP AUTH (RFC 4954) over lib-auth's login policy and lib-sasl's mechanisms,
 * and the submission sender rule (RFC 6409 6.1).
 *
 * AUTH is offered on submission listeners, and on smtp listeners when smtp_auth_on_port25
 * is set. Replies: 334 challenges (base64), 235 2.7.0 success, 535 5.7.8 bad credentials
 * (after the failure delay lib-auth returns, waited on a timer, never blocking the loop),
 * 538 5.7.11 a clear-text mechanism without TLS where that is not allowed, 454 4.7.0 a
 * temporary failure or a locked-out client, 501 5.0.0 a cancelled exchange ("*"), 501
 * 5.5.2 bad base64, 503 5.5.1 AUTH twice or inside a transaction, 504 5.5.4 an unknown
 * mechanism. SCRAM's server-final message is a last 334 (RFC 4954 4: no data with 235).
 * System users (user_source = system): PLAIN and LOGIN only, and the password is checked
 * by the auth worker (root; lib-login's LOGIN_PROTO_SMTP), which also applies the lockout
 * and the failure delay; this worker, run_user, never reads shadow.
 */
#include "smtpd-private.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "login.h"
#include "sysuser.h"
#include "sasl-base64.h"
#include "sasl.h"
#include "userdb.h"
#include "util.h"
#include "xalloc.h"

/* RFC 4954 4: a server should accept SASL response lines of at least 12288 octets. */
#define SMTPD_AUTH_LINE_MAX 12288

const char *smtpd_auth_ehlo(struct smtpd_session *s)
{
	if (!s->auth_offered || s->srv->auth == NULL)
		return NULL;
	return auth_mech_list(s->srv->auth, s->tls, s->loopback);
}

void smtpd_auth_abort(struct smtpd_session *s)
{
	sasl_server_free(&s->sasl);
	login_client_cancel(&s->login);
	if (s->creds != NULL)
		login_creds_wipe(s->creds);
	x_free(&s->creds);
	x_free(&s->login_user);
	if (s->auth_timer != NULL) {
		event_free(s->auth_timer);
		s->auth_timer = NULL;
	}
}

/* The exchange is over: back to a session without a transaction. */
static void smtpd_auth_end(struct smtpd_session *s)
{
	smtpd_auth_abort(s);
	if (s->state & (SMTPD_AUTH | SMTPD_AUTH_WAIT))
		s->state = SMTPD_READY;
}

static void smtpd_auth_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session *s = arg;
	if (s->state != SMTPD_AUTH_WAIT)
		return;
	smtpd_reply(s, s->auth_fail_code, s->auth_fail_enh, "%s", s->auth_fail_text);
	smtpd_auth_end(s);
	smtpd_session_process(s); /* commands the client sent meanwhile */
}

/* Answers a failed exchange, at once or after delay_ms. */
static void smtpd_auth_fail_reply(struct smtpd_session *s, uint64_t delay_ms, int code,
				  const char *enh, const char *text)
{
	sasl_server_free(&s->sasl);
	if (delay_ms == 0) {
		smtpd_reply(s, code, enh, "%s", text);
		smtpd_auth_end(s);
		return;
	}
	s->auth_fail_code = code;
	s->auth_fail_enh = enh;
	s->auth_fail_text = text;
	s->state = SMTPD_AUTH_WAIT;
	if (s->auth_timer == NULL)
		s->auth_timer = evtimer_new(s->srv->base, smtpd_auth_timer_cb, s);
	struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};
	evtimer_add(s->auth_timer, &tv);
}

/* The user is in: the canonical address, the log line, 235. */
static void smtpd_auth_accepted(struct smtpd_session *s, const char *mech, const char *user)
{
	struct user_info info;
	struct buf err = BUF_INIT;
	if (userdb_lookup(auth_userdb(s->srv->auth), user, &info, &err) > 0) {
		s->auth_user = x_strdup(info.address);
		user_info_free(&info);
	} else {
		s->auth_user = x_strdup(user);
	}
	buf_free(&err);
	log_info("auth from %s: user=<%s>, mech=%s%s%s", s->client,
		 log_safe(s->auth_user, strlen(s->auth_user), 300), mech, s->tls ? ", tls=" : "",
		 s->tls ? s->tls_info : "");
	smtpd_reply(s, 235, "2.7.0", "Authentication successful");
	smtpd_auth_end(s);
}

/* The auth worker's answer for a system user. */
static void smtpd_auth_login_done(void *arg, const struct login_reply *rep,
				  struct bufferevent *session, const char *line)
{
	struct smtpd_session *s = arg;
	s->login = NULL;
	switch (rep->status) {
	case LOGIN_OK: {
		char *mech = x_strdup(sasl_server_mech(s->sasl));
		char *user = x_strdup(s->login_user);
		smtpd_auth_accepted(s, mech, user);
		x_free(&mech);
		x_free(&user);
		break;
	}
	case LOGIN_FAILED:
		smtpd_auth_fail_reply(s, rep->delay_ms, 535, "5.7.8",
				      "Authentication credentials invalid");
		break;
	case LOGIN_LOCKED:
		smtpd_auth_fail_reply(s, 0, 454, "4.7.0",
				      "Too many authentication failures, try again later");
		break;
	default:
		smtpd_auth_fail_reply(s, 0, 454, "4.7.0", "Temporary authentication failure");
		break;
	}
	if (s->state != SMTPD_AUTH_WAIT)
		smtpd_session_process(s); /* commands the client sent meanwhile */
}

/* A system user's exchange is complete: the credentials go to the auth worker. */
static void smtpd_auth_system(struct smtpd_session *s)
{
	struct login_request req = {.proto = LOGIN_PROTO_SMTP,
				    .mech = sasl_server_mech(s->sasl),
				    .ip = s->ip,
				    .user = s->creds->user,
				    .password = s->creds->password};
	char *dir = login_dir(s->set->conf);
	char *path = x_asprintf("%s/%s", dir, LOGIN_SOCKET_NAME);
	x_free(&s->login_user);
	s->login_user = x_strdup(s->creds->user);
	s->state = SMTPD_AUTH_WAIT;
	s->login = login_client_start(s->srv->base, path, &req, smtpd_auth_login_done, s);
	login_creds_wipe(s->creds);
	x_free(&dir);
	x_free(&path);
	if (s->login == NULL)
		smtpd_auth_fail_reply(s, 0, 454, "4.7.0", "Temporary authentication failure");
}

static void smtpd_auth_success(struct smtpd_session *s)
{
	struct auth *a = s->srv->auth;
	const char *mech = sasl_server_mech(s->sasl);
	const char *user = sasl_server_authzid(s->sasl);
	if (user == NULL)
		user = sasl_server_user(s->sasl);
	uint64_t locked = auth_locked_ms(a, s->ip, user);
	if (locked > 0) {
		/* The right password does not lift a lockout (else guessing goes on). */
		log_warn("auth: proto=smtp, mech=%s, user=<%s>, ip=[%s], result=locked-out, "
			 "for=%llus",
			 mech, log_safe(user, strlen(user), 128), s->ip,
			 (unsigned long long)(locked + 999) / 1000);
		smtpd_auth_fail_reply(s, 0, 454, "4.7.0",
				      "Too many authentication failures, try again later");
		return;
	}
	auth_record(a, "smtp", mech, s->ip, user, true, NULL, NULL);
	smtpd_auth_accepted(s, mech, user);
}

static void smtpd_auth_failure(struct smtpd_session *s)
{
	enum sasl_fail_reason reason = sasl_server_reason(s->sasl);
	const char *mech = sasl_server_mech(s->sasl);
	const char *user = sasl_server_user(s->sasl);
	if (reason == SASL_REASON_TEMPFAIL) {
		log_warn("auth: proto=smtp, mech=%s, ip=[%s], result=tempfail", mech, s->ip);
		smtpd_auth_fail_reply(s, 0, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	bool locked = false;
	uint64_t delay = auth_record(s->srv->auth, "smtp", mech, s->ip, user, false,
				     sasl_reason_str(reason), &locked);
	if (locked)
		log_warn("auth from %s: too many failures, locked out", s->client);
	smtpd_auth_fail_reply(s, delay, 535, "5.7.8", "Authentication credentials invalid");
}

/* One step of the exchange with decoded client data (NULL: none given). */
static void smtpd_auth_step(struct smtpd_session *s, const struct buf *in)
{
	struct buf out = BUF_INIT;
	const unsigned char *p = in ? (const unsigned char *)(in->data ? in->data : "") : NULL;
	enum sasl_result r = sasl_server_step(s->sasl, p, in ? in->len : 0, &out);
	if (r == SASL_CONTINUE) {
		struct buf b64 = BUF_INIT;
		sasl_base64_encode(out.data, out.len, &b64);
		smtpd_reply(s, 334, NULL, "%.*s", (int)b64.len, b64.len ? b64.data : "");
		buf_free(&b64);
		s->state = SMTPD_AUTH;
	} else if (r == SASL_SUCCESS && s->creds != NULL) {
		smtpd_auth_system(s);
	} else if (r == SASL_SUCCESS) {
		smtpd_auth_success(s);
	} else {
		smtpd_auth_failure(s);
	}
	sasl_buf_wipe(&out);
}

/* Wipes the command line: it may hold a password. */
static void smtpd_auth_wipe_line(struct smtpd_session *s)
{
	if (s->line.data != NULL)
		explicit_bzero(s->line.data, s->line.len);
}

/* 0 when AUTH may start now; otherwise the refusal was sent. */
static int smtpd_auth_allowed(struct smtpd_session *s, const char *mech)
{
	struct auth *a = s->srv->auth;
	if (!s->auth_offered || a == NULL)
		smtpd_reply(s, 502, "5.5.1", "Error: authentication not enabled");
	else if (s->state == SMTPD_GREET || !s->esmtp)
		smtpd_reply(s, 503, "5.5.1", "Error: send EHLO first");
	else if (s->auth_user != NULL)
		smtpd_reply(s, 503, "5.5.1", "Error: already authenticated");
	else if (s->state != SMTPD_READY)
		smtpd_reply(s, 503, "5.5.1", "Error: AUTH not permitted during a mail transaction");
	else if (sasl_mech_is_plaintext(mech) && !auth_plaintext_ok(a, s->tls, s->loopback))
		smtpd_reply(s, 538, "5.7.11",
			    "Encryption required for requested authentication mechanism");
	else
		return 0;
	return -1;
}

/* The exchange: over the user directory, or (system users) capturing the credentials. */
static struct sasl_server *smtpd_auth_sasl_start(struct smtpd_session *s, const char *mech)
{
	if (!sysuser_mode(s->set->conf))
		return auth_sasl_start(s->srv->auth, mech, false);
	if (s->creds == NULL)
		s->creds = X_NEW(struct login_creds);
	return login_sasl_start(mech, false, s->creds);
}

void smtpd_cmd_auth(struct smtpd_session *s, const struct smtp_command *cmd)
{
	const char *sp = memchr(cmd->args, ' ', cmd->args_len);
	size_t mlen = sp ? (size_t)(sp - cmd->args) : cmd->args_len;
	char mech[32];
	snprintf(mech, sizeof(mech), "%.*s", (int)(mlen < 31 ? mlen : 31), cmd->args);
	const char *resp = sp ? sp + 1 : NULL;
	size_t rlen = sp ? cmd->args_len - mlen - 1 : 0;
	if (smtpd_auth_allowed(s, mech) < 0) {
		smtpd_auth_wipe_line(s);
		return;
	}
	uint64_t locked = auth_locked_ms(s->srv->auth, s->ip, NULL);
	if (resp != NULL && (rlen == 0 || memchr(resp, ' ', rlen) != NULL)) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
	} else if (locked > 0) {
		log_warn("auth from %s: refused, locked out for %llu s more", s->client,
			 (unsigned long long)(locked + 999) / 1000);
		smtpd_reply(s, 454, "4.7.0", "Too many authentication failures, try again later");
	} else if ((s->sasl = smtpd_auth_sasl_start(s, mech)) == NULL) {
		smtpd_reply(s, 504, "5.5.4", "Error: unrecognized authentication type");
	} else if (resp == NULL) {
		smtpd_auth_step(s, NULL);
	} else {
		struct buf in = BUF_INIT;
		if (sasl_decode_client(resp, rlen, true, &in) != SASL_DECODE_OK) {
			smtpd_reply(s, 501, "5.5.2", "Error: invalid base64 data");
			sasl_server_free(&s->sasl);
		} else {
			smtpd_auth_step(s, &in);
		}
		sasl_buf_wipe(&in);
	}
	smtpd_auth_wipe_line(s);
}

void smtpd_auth_input(struct smtpd_session *s)
{
	struct buf in = BUF_INIT;
	enum sasl_decode_result r =
	    sasl_decode_client(s->line.data ? s->line.data : "", s->line.len, false, &in);
	smtpd_auth_wipe_line(s);
	if (r == SASL_DECODE_ABORT) {
		sasl_server_abort(s->sasl);
		log_info("auth from %s: cancelled by the client (mech=%s)", s->client,
			 sasl_server_mech(s->sasl));
		smtpd_reply(s, 501, "5.0.0", "Authentication aborted");
		smtpd_auth_end(s);
	} else if (r == SASL_DECODE_BAD) {
		smtpd_reply(s, 501, "5.5.2", "Error: invalid base64 data");
		smtpd_auth_end(s);
	} else {
		smtpd_auth_step(s, &in);
	}
	sasl_buf_wipe(&in);
}

size_t smtpd_auth_line_max(const struct smtpd_session *s)
{
	size_t max = s->set->max_command_line;
	return s->state == SMTPD_AUTH && max < SMTPD_AUTH_LINE_MAX ? SMTPD_AUTH_LINE_MAX : max;
}

bool smtpd_auth_sender_ok(struct smtpd_session *s, const struct smtp_path *sender)
{
	if (!s->set->sender_check || sender->mailbox[0] == '\0')
		return true; /* the null sender is nobody's address */
	if (str_ieq(sender->mailbox, s->auth_user))
		return true;
	/* user+tag@domain: the directory drops the extension and names the same user. */
	struct user_info info;
	struct buf err = BUF_INIT;
	bool ok = false;
	if (userdb_lookup(auth_userdb(s->srv->auth), sender->mailbox, &info, &err) > 0) {
		ok = str_ieq(info.address, s->auth_user);
		user_info_free(&info);
	}
	buf_free(&err);
	return ok;
}
