/* pop3d-auth: the AUTHORIZATION state (RFC 1939 sections 4 and 7): USER, PASS, the
 * refused APOP (it needs clear-text secrets; Tern stores only crypt(3) hashes), AUTH and
 * STLS (not offered until lib-sasl and lib-tls are wired in), CAPA (RFC 2449 section 5),
 * and login: the maildrop lock (RFC 1939 section 8: one POP3 session per maildrop, an
 * OFD fcntl lock on MAILDIR/tern-pop3.lock; delivery and IMAP do not take it) and the
 * message snapshot. Failed logins wait pop3_auth_fail_delay before -ERR [AUTH] and count
 * towards a per-address lockout. The password is never logged and is wiped after use.
 */
#include "pop3d-int.h"
#include "log.h"
#include "store.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void pop3d_cmd_capa(struct pop3d_session *s, const struct pop3_command *cmd)
{
	pop3d_session_ok(s, "Capability list follows");
	pop3_reply_line(&s->out, "TOP");
	pop3_reply_line(&s->out, "UIDL");
	pop3_reply_line(&s->out, "RESP-CODES");
	pop3_reply_line(&s->out, "AUTH-RESP-CODE");
	pop3_reply_line(&s->out, "PIPELINING");
	if (s->state == POP3D_STATE_AUTH && s->secure)
		pop3_reply_line(&s->out, "USER");
	pop3_reply_line(&s->out, "IMPLEMENTATION Tern");
	pop3_reply_end(&s->out);
}

void pop3d_cmd_user(struct pop3d_session *s, const struct pop3_command *cmd)
{
	if (!s->secure) {
		pop3d_session_err(s, POP3_CODE_AUTH, "plaintext login needs TLS");
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

void pop3d_cmd_auth(struct pop3d_session *s, const struct pop3_command *cmd)
{
	if (cmd->argc == 0) {
		/* the pre-RFC 5034 mechanism list some clients ask for: none yet */
		pop3d_session_ok(s, "no SASL mechanisms available");
		pop3_reply_end(&s->out);
		return;
	}
	pop3d_session_err(s, POP3_CODE_NONE, "unsupported authentication mechanism");
}

void pop3d_cmd_stls(struct pop3d_session *s, const struct pop3_command *cmd)
{
	pop3d_session_err(s, POP3_CODE_NONE, "TLS is not available on this connection");
}

static void auth_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pop3d_session *s = arg;
	pop3d_session_err(s, POP3_CODE_AUTH, "invalid user name or password");
	pop3d_session_resume(s);
}

/* A failed login: counted, logged, answered after the delay. */
static void auth_failed(struct pop3d_session *s, const char *user, const char *result)
{
	struct pop3d_server *srv = s->server;
	log_info("login: user=<%s> ip=[%s] result=%s", log_safe(user, strlen(user), 100), s->ip,
		 result);
	pop3d_limit_fail(srv->limit, s->ip);
	if (s->delay == NULL)
		s->delay = evtimer_new(srv->base, auth_delay_cb, s);
	struct timeval tv = {(time_t)(srv->set.auth_fail_delay_ms / 1000),
			     (suseconds_t)(srv->set.auth_fail_delay_ms % 1000) * 1000};
	s->busy = true;
	bufferevent_disable(s->bev, EV_READ);
	evtimer_add(s->delay, &tv);
}

void pop3d_cmd_pass(struct pop3d_session *s, const struct pop3_command *cmd)
{
	struct pop3d_server *srv = s->server;
	char *password = (char *)cmd->rest; /* wiped below: it lives in the parser's line */
	char *user = s->user_arg;
	s->user_arg = NULL;
	if (!s->secure) {
		pop3d_session_err(s, POP3_CODE_AUTH, "plaintext login needs TLS");
	} else if (user == NULL) {
		pop3d_session_err(s, POP3_CODE_NONE, "send USER first");
	} else if (pop3d_limit_locked(srv->limit, s->ip, srv->set.auth_max_failures,
				      srv->set.auth_lockout_s)) {
		log_info("login: user=<%s> ip=[%s] result=locked-out",
			 log_safe(user, strlen(user), 100), s->ip);
		pop3d_session_err(s, POP3_CODE_LOGIN_DELAY,
				  "too many failed logins from your address, try again later");
	} else {
		struct user_info info;
		struct buf err = BUF_INIT;
		int r = userdb_lookup(srv->userdb, user, &info, &err);
		if (r < 0) {
			log_error("login: user=<%s> ip=[%s] result=tempfail: %s",
				  log_safe(user, strlen(user), 100), s->ip, buf_cstr(&err));
			pop3d_session_err(s, POP3_CODE_SYS_TEMP, "user directory unavailable");
		} else if (r == 0) {
			auth_failed(s, user, "unknown-user");
		} else if (!password_check(password, info.hash)) {
			user_info_free(&info);
			auth_failed(s, user, "bad-password");
		} else {
			pop3d_limit_clear(srv->limit, s->ip);
			pop3d_login(s, &info);
		}
		buf_free(&err);
	}
	explicit_bzero(password, cmd->rest_len);
	x_free(&user);
}

/* Takes the maildrop lock; 0, or -1 with the -ERR queued. */
static int login_lock(struct pop3d_session *s)
{
	char *path = x_asprintf("%s/tern-pop3.lock", s->user.maildir);
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
			log_info("login: user=<%s> ip=[%s] result=in-use", s->user.address, s->ip);
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
	if (store_open(s->user.maildir, STORE_FORMAT_MAILDIR, &s->store, &err) < 0) {
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
	for (size_t i = 0; i < s->msg_count; i++)
		s->msgs[i].uid = store_folder_msg(s->folder, i)->uid;
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
	log_info("login: user=<%s> ip=[%s] result=ok messages=%zu", s->user.address, s->ip,
		 s->msg_count);
	pop3d_session_ok(s, "maildrop has %zu message%s", s->msg_count,
			 s->msg_count == 1 ? "" : "s");
	return 0;
}

void pop3d_logout(struct pop3d_session *s)
{
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
