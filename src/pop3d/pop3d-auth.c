/* pop3d-auth: the AUTHORIZATION state (RFC 1939 sections 4 and 7): USER and PASS, the
 * refused APOP (it needs clear-text secrets; Tern stores only crypt(3) hashes), CAPA
 * (RFC 2449 section 5, RFC 2595 STLS, RFC 5034 SASL), and login: the maildrop lock
 * (RFC 1939 section 8: one POP3 session per maildrop, an OFD fcntl lock on
 * MAILDIR/tern-pop3.lock, or /var/mail/.USER.tern-pop3.lock beside an mbox; delivery and IMAP do not take it) and the message snapshot.
 *
 * The login policy is lib-auth's, shared with SMTP and IMAP: USER/PASS only where a
 * clear-text password may be sent (TLS, or loopback with auth_plaintext_loopback);
 * locked-out addresses and users get -ERR [LOGIN-DELAY] before their password is even
 * checked; failures are answered -ERR [AUTH] (RFC 3206) after the delay auth_record gives,
 * on a timer, so the loop serves other sessions meanwhile. The password is never logged
 * and is wiped from the parser's buffers after use.
 */
#include "pop3d-int.h"
#include "auth.h"
#include "log.h"
#include "sasl.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

bool pop3d_plaintext_ok(const struct pop3d_session *s)
{
	/* a pipe or Unix socket crosses no network: as private as TLS */
	return auth_plaintext_ok(s->server->core.auth, s->conn.tls || s->conn.local, s->conn.loopback);
}

/* "SASL SCRAM-SHA-256 PLAIN LOGIN" for this session. */
static const char *capa_mechs(const struct pop3d_session *s)
{
	return auth_mech_list(s->server->core.auth, s->conn.tls || s->conn.local, s->conn.loopback);
}

void pop3d_cmd_capa(struct pop3d_session *s, const struct pop3_command *cmd)
{
	pop3d_session_ok(s, "Capability list follows");
	pop3_reply_line(&s->conn.out, "TOP");
	pop3_reply_line(&s->conn.out, "UIDL");
	pop3_reply_line(&s->conn.out, "RESP-CODES");
	pop3_reply_line(&s->conn.out, "AUTH-RESP-CODE");
	pop3_reply_line(&s->conn.out, "PIPELINING");
	if (s->state == POP3D_STATE_AUTH) {
		if (!s->conn.tls && s->stls_ctx != NULL)
			pop3_reply_line(&s->conn.out, "STLS");
		pop3_reply_line(&s->conn.out, "SASL %s", capa_mechs(s));
		if (pop3d_plaintext_ok(s))
			pop3_reply_line(&s->conn.out, "USER");
	}
	pop3_reply_line(&s->conn.out, "IMPLEMENTATION Tern");
	pop3_reply_end(&s->conn.out);
}

void pop3d_cmd_user(struct pop3d_session *s, const struct pop3_command *cmd)
{
	if (!pop3d_plaintext_ok(s)) {
		pop3d_session_err(s, POP3_CODE_AUTH, "plaintext authentication needs TLS (STLS)");
		return;
	}
	x_free(&s->user_arg);
	s->user_arg = x_strdup(cmd->args[0]);
	pop3d_session_ok(s, "send your password");
}

void pop3d_cmd_apop(struct pop3d_session *s, const struct pop3_command *cmd)
{
	pop3d_session_err(s, POP3_CODE_AUTH, "APOP is not supported (no clear-text secrets)");
}

static void auth_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pop3d_session *s = arg;
	pop3d_session_err(s, POP3_CODE_AUTH, "%s", s->delay_msg);
	pop3d_session_resume(s);
}

void pop3d_auth_fail_later(struct pop3d_session *s, uint64_t delay_ms, const char *msg)
{
	s->delay_msg = msg;
	if (s->delay == NULL)
		s->delay = evtimer_new(s->server->core.base, auth_delay_cb, s);
	struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};
	s->conn.busy = true;
	bufferevent_disable(s->conn.bev, EV_READ);
	evtimer_add(s->delay, &tv);
}

void pop3d_auth_locked(struct pop3d_session *s, const char *mech, const char *user)
{
	log_warn("auth: proto=pop3, mech=%s, user=<%s>, ip=[%s], result=locked-out", mech,
		 user != NULL ? log_safe(user, strlen(user), 128) : "", s->conn.ip);
	pop3d_session_err(s, POP3_CODE_LOGIN_DELAY, "too many failed logins, try again later");
}

int pop3d_auth_login(struct pop3d_session *s, const char *address)
{
	struct user_info info;
	struct buf err = BUF_INIT;
	int r = userdb_lookup(auth_userdb(s->server->core.auth), address, &info, &err);
	if (r <= 0) {
		log_error("login: user=<%s> ip=[%s] result=tempfail: %s",
			  log_safe(address, strlen(address), 128), s->conn.ip,
			  r < 0 ? buf_cstr(&err) : "user vanished");
		pop3d_session_err(s, POP3_CODE_SYS_TEMP, "user directory unavailable");
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	return pop3d_login(s, &info);
}

/* The password check came back (loop thread): logs in, or fails after the delay. */
static void pass_done(void *arg, enum sasl_lookup r, const char *address)
{
	struct pop3d_session *s = arg;
	struct auth *a = s->server->core.auth;
	const char *user = s->auth_user;
	s->auth_job = NULL;
	if (r != SASL_LOOKUP_OK) {
		const char *why = r == SASL_LOOKUP_UNKNOWN ? "unknown-user" : "bad-credentials";
		uint64_t delay = auth_record(a, "pop3", "USER", s->conn.ip, user, false, why, NULL);
		pop3d_auth_fail_later(s, delay, "invalid user name or password");
	} else {
		auth_record(a, "pop3", "USER", s->conn.ip, user, true, NULL, NULL);
		pop3d_auth_login(s, address);
		pop3d_session_resume(s);
	}
	x_free(&s->auth_user);
}

/* Checks user's password in the auth thread pool (a crypt(3) check would stall every
 * session of this worker); the session reads no more commands until pass_done. */
static void pass_check(struct pop3d_session *s, const char *user, const char *password)
{
	struct auth *a = s->server->core.auth;
	if (auth_locked_ms(a, s->conn.ip, user) > 0) {
		pop3d_auth_locked(s, "USER", user);
		return;
	}
	if (auth_system_users(a)) {
		pop3d_syslogin(s, "USER", user, password);
		return;
	}
	s->auth_job = auth_password_async(a, s->server->core.base, user, password, pass_done, s);
	if (s->auth_job == NULL) {
		log_error("auth: proto=pop3, mech=USER, user=<%s>, ip=[%s], result=tempfail",
			  log_safe(user, strlen(user), 128), s->conn.ip);
		pop3d_session_err(s, POP3_CODE_SYS_TEMP, "user directory unavailable");
		return;
	}
	x_free(&s->auth_user);
	s->auth_user = x_strdup(user);
	s->conn.busy = true;
	bufferevent_disable(s->conn.bev, EV_READ);
}

void pop3d_cmd_pass(struct pop3d_session *s, const struct pop3_command *cmd)
{
	char *user = s->user_arg;
	s->user_arg = NULL;
	if (!pop3d_plaintext_ok(s))
		pop3d_session_err(s, POP3_CODE_AUTH, "plaintext authentication needs TLS (STLS)");
	else if (user == NULL)
		pop3d_session_err(s, POP3_CODE_NONE, "send USER first");
	else
		pass_check(s, user, cmd->rest);
	pop3_parser_wipe(&s->parser); /* cmd is gone from here on */
	x_free(&user);
}

/* Takes the maildrop lock; 0, or -1 with the -ERR queued. */
static int login_lock(struct pop3d_session *s)
{
	char *path = path_beside_mailbox(s->user.maildir, "tern-pop3.lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_error("login: user=<%s> open %s: %s", s->user.address, path, strerror(errno));
		pop3d_session_err(s, POP3_CODE_SYS_TEMP, "cannot lock the maildrop");
		x_free(&path);
		return -1;
	}
	x_free(&path);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		int e = errno;
		close(fd);
		if (e == EAGAIN || e == EACCES) {
			log_info("login: user=<%s> ip=[%s] result=in-use", s->user.address, s->conn.ip);
			pop3d_session_err(s, POP3_CODE_IN_USE,
					  "maildrop already locked by another POP3 session");
		} else {
			log_error("login: user=<%s> lock: %s", s->user.address, strerror(e));
			pop3d_session_err(s, POP3_CODE_SYS_TEMP, "cannot lock the maildrop");
		}
		return -1;
	}
	s->lock_fd = fd;
	return 0;
}

/* Opens the store (it creates a missing Maildir); 0, or -1 with the -ERR queued. */
static int login_store(struct pop3d_session *s)
{
	struct buf err = BUF_INIT;
	if (store_open(s->user.maildir, store_detect_format(s->user.maildir), &s->store, &err) <
	    0) {
		log_error("login: user=<%s> store: %s", s->user.address, buf_cstr(&err));
		pop3d_session_err(s, POP3_CODE_SYS_TEMP, "cannot open the maildrop");
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	return 0;
}

/* Takes the snapshot of INBOX (under the lock): message numbers fixed for the session. */
static int login_snapshot(struct pop3d_session *s)
{
	struct buf err = BUF_INIT;
	if (store_folder_open(s->store, "INBOX", &s->folder, &err) < 0) {
		log_error("login: user=<%s> store: %s", s->user.address, buf_cstr(&err));
		pop3d_session_err(s, POP3_CODE_SYS_TEMP, "cannot open the maildrop");
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	s->uidvalidity = store_folder_uidvalidity(s->folder);
	s->msg_count = store_folder_count(s->folder);
	s->msgs = x_calloc(s->msg_count + 1, sizeof(*s->msgs));
	for (size_t i = 0; i < s->msg_count; i++) {
		const struct store_msg *m = store_folder_msg(s->folder, i);
		s->msgs[i].uid = m->uid;
		s->msgs[i].seen = (m->flags & STORE_FLAG_SEEN) != 0;
	}
	return 0;
}

int pop3d_login(struct pop3d_session *s, struct user_info *info)
{
	s->user = *info;
	memset(info, 0, sizeof(*info));
	s->state = POP3D_STATE_TRANS;
	if (login_store(s) < 0 || login_lock(s) < 0 || login_snapshot(s) < 0) {
		pop3d_logout(s);
		return -1;
	}
	log_info("login: user=<%s> ip=[%s] result=ok messages=%zu", s->user.address, s->conn.ip,
		 s->msg_count);
	pop3d_session_ok(s, "maildrop has %zu message%s", s->msg_count,
			 s->msg_count == 1 ? "" : "s");
	return 0;
}

void pop3d_batch_end(struct pop3d_session *s)
{
	if (s->batch && s->folder != NULL)
		store_batch_end(s->folder);
	s->batch = false;
}

void pop3d_logout(struct pop3d_session *s)
{
	pop3d_batch_end(s); /* its cache writes (sizes) go to the index before it closes */
	if (s->folder != NULL)
		store_folder_close(&s->folder);
	if (s->store != NULL)
		store_close(&s->store);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
	x_free(&s->msgs);
	s->msg_count = 0;
	user_info_free(&s->user);
	memset(&s->user, 0, sizeof(s->user));
	s->state = POP3D_STATE_AUTH;
}
