/* imapd-cmd-login: the not-authenticated state (RFC 9051 6.2): LOGIN (a clear-text password:
 * only where lib-auth's policy allows it, that is under TLS, on a local pipe or on loopback
 * with auth_plaintext_loopback; elsewhere LOGINDISABLED and NO [PRIVACYREQUIRED]), the
 * shared failure delay and lockout (auth_record, auth_locked_ms),
 * imap_max_sessions_per_user, and opening the user's store with the special-use folders
 * (RFC 6154). Every attempt is logged by lib-auth, never with the password, which is
 * wiped after use.
 */
#include "imapd-int.h"
#include "log.h"
#include "auth.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include <string.h>

static void login_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imapd_session *s = arg;
	imapd_reply(s, "NO", "AUTHENTICATIONFAILED", "Invalid user name or password");
	imapd_session_resume(s);
}

void imapd_login_failed(struct imapd_session *s, const char *mech, const char *user,
			const char *result)
{
	struct imapd_server *srv = s->server;
	imapd_login_fail_after(s, auth_record(srv->core.auth, "imap", mech, s->conn.ip, user, false, result,
					      NULL));
}

void imapd_login_fail_after(struct imapd_session *s, uint64_t ms)
{
	struct imapd_server *srv = s->server;
	if (s->delay == NULL)
		s->delay = evtimer_new(srv->core.base, login_delay_cb, s);
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	s->conn.busy = true;
	evtimer_add(s->delay, &tv);
}

void imapd_login_locked(struct imapd_session *s, const char *mech, const char *user)
{
	log_info("auth: proto=imap, mech=%s, user=<%s>, ip=[%s], result=locked-out", mech,
		 user != NULL ? log_safe(user, strlen(user), 100) : "", s->conn.ip);
	imapd_reply(s, "NO", "UNAVAILABLE", "Too many failed logins, try again later");
}

static size_t login_user_sessions(struct imapd_server *srv, const char *address)
{
	size_t n = 0;
	for (const struct server_conn *c = srv->core.sessions.head; c != NULL; c = c->next) {
		const struct imapd_session *o = c->session;
		n += o->state != IMAPD_S_NOAUTH && o->user.address != NULL &&
		     strcmp(o->user.address, address) == 0;
	}
	return n;
}

void imapd_login_finish(struct imapd_session *s, struct user_info *info, const char *method)
{
	struct imapd_server *srv = s->server;
	struct buf err = BUF_INIT;
	if (srv->set.max_sessions_per_user > 0 &&
	    login_user_sessions(srv, info->address) >= srv->set.max_sessions_per_user) {
		log_info("login: user=<%s> ip=[%s] result=too-many-sessions", info->address, s->conn.ip);
		user_info_free(info);
		imapd_reply(s, "NO", "LIMIT", "Too many sessions for this user");
		return;
	}
	char *address = x_strdup(info->address);
	if (imapd_login(s, info, &err) < 0) {
		log_error("login: user=<%s> ip=[%s] result=store-error: %s", address, s->conn.ip,
			  buf_cstr(&err));
		imapd_reply(s, "NO", "SERVERBUG", "Cannot open your mailbox");
	} else {
		log_info("login: user=<%s> ip=[%s] result=ok method=%s", address, s->conn.ip, method);
		struct buf caps = BUF_INIT;
		imapd_capability_write(s, &caps);
		imapd_reply(s, "OK", buf_cstr(&caps), "%s completed", method);
		buf_free(&caps);
	}
	x_free(&address);
	buf_free(&err);
}

void imapd_login_address(struct imapd_session *s, const char *address, const char *method)
{
	struct user_info info;
	struct buf err = BUF_INIT;
	int r = userdb_lookup(auth_userdb(s->server->core.auth), address, &info, &err);
	if (r > 0) {
		imapd_login_finish(s, &info, method);
	} else {
		log_error("login: user=<%s> ip=[%s] result=tempfail: %s",
			  log_safe(address, strlen(address), 100), s->conn.ip,
			  r < 0 ? buf_cstr(&err) : "vanished from the directory");
		imapd_reply(s, "NO", "UNAVAILABLE", "User directory unavailable");
	}
	buf_free(&err);
}

/* The password check came back (loop thread): logs in, or fails after the delay. */
static void login_done(void *arg, enum sasl_lookup r, const char *address)
{
	struct imapd_session *s = arg;
	struct auth *a = s->server->core.auth;
	char *user = s->auth_user;
	s->auth_job = NULL;
	s->auth_user = NULL;
	if (r != SASL_LOOKUP_OK) {
		imapd_login_failed(s, "LOGIN", user,
				   r == SASL_LOOKUP_UNKNOWN ? "unknown-user" : "bad-credentials");
	} else {
		auth_record(a, "imap", "LOGIN", s->conn.ip, user, true, NULL, NULL);
		imapd_login_address(s, address, "LOGIN");
		imapd_session_resume(s);
	}
	x_free(&user);
}

/* Checks the password in the auth thread pool (a crypt(3) check would stall every
 * session of this worker); the command stays current until login_done. */
static void login_user(struct imapd_session *s, const char *user, const char *password)
{
	struct auth *a = s->server->core.auth;
	s->auth_job = auth_password_async(a, s->server->core.base, user, password, login_done, s);
	if (s->auth_job == NULL) {
		imapd_reply(s, "NO", "UNAVAILABLE", "User directory unavailable");
		return;
	}
	x_free(&s->auth_user);
	s->auth_user = x_strdup(user);
	s->conn.busy = true;
}

void imapd_cmd_login(struct imapd_session *s, struct imapd_cmd *cmd)
{
	const char *user, *password;
	size_t ulen, plen;
	if (cmd->count != 2 || !imap_arg_get_astring(&cmd->args[0], &user, &ulen) ||
	    !imap_arg_get_astring(&cmd->args[1], &password, &plen) || strlen(user) != ulen ||
	    strlen(password) != plen) {
		imapd_bad(s, "LOGIN takes a user name and a password");
		return;
	}
	if (!imapd_plaintext_ok(s)) {
		log_info("auth: proto=imap, mech=LOGIN, user=<%s>, ip=[%s], result=needs-tls",
			 log_safe(user, ulen, 100), s->conn.ip);
		imapd_reply(s, "NO", "PRIVACYREQUIRED", "Plaintext login needs TLS");
	} else if (auth_locked_ms(s->server->core.auth, s->conn.ip, user) != 0) {
		imapd_login_locked(s, "LOGIN", user);
	} else if (auth_system_users(s->server->core.auth)) {
		imapd_syslogin(s, "LOGIN", "LOGIN", user, password);
	} else {
		login_user(s, user, password);
	}
	explicit_bzero((char *)password, plen);
}

/* Creates the special-use folders a client expects (RFC 6154) when they are missing: a
 * user added by `tern user add` has them, and then this is a stat of each. */
void imapd_create_special(struct imapd_session *s)
{
	struct buf err = BUF_INIT;
	if (store_special_make(s->store, (uid_t)-1, (gid_t)-1, &err) < 0)
		log_warn("user=<%s>: cannot create the special-use folders: %s", s->user.address,
			 buf_cstr(&err));
	buf_free(&err);
}

int imapd_login(struct imapd_session *s, struct user_info *info, struct buf *err)
{
	if (store_open(info->maildir, store_detect_format(info->maildir), &s->store, err) < 0) {
		user_info_free(info);
		return -1;
	}
	s->user = *info;
	memset(info, 0, sizeof(*info));
	s->state = IMAPD_S_AUTH;
	imapd_create_special(s);
	imapd_session_timeouts(s);
	return 0;
}

void imapd_logout(struct imapd_session *s)
{
	if (s->folder != NULL)
		imapd_unselect(s);
	store_close(&s->store);
	user_info_free(&s->user);
	s->state = IMAPD_S_NOAUTH;
}
