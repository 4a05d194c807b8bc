/* imapd-syslogin: LOGIN and AUTHENTICATE of system users (user_source = system; lib-login's
 * login.h has the whole exchange). This worker runs as run_user, chrooted: it passes the
 * credentials to the auth process and, when that started a session process as the user,
 * answers the login command from that session's view of things: the session starts in
 * the preauthenticated mode and greets with "* PREAUTH [CAPABILITY ...]"; its capability
 * list becomes the code of our tagged OK (RFC 9051 6.2.3: a server may send the new
 * capabilities with the OK of LOGIN), and its greeting goes no further. From then on the
 * session is a byte proxy until either side ends. Failures are answered as in virtual
 * mode: NO [AUTHENTICATIONFAILED] after the delay the auth process set, NO [UNAVAILABLE]
 * when locked out, NO [LIMIT] for too many sessions.
 */
#include "imapd-int.h"
#include "log.h"
#include "login.h"
#include "xalloc.h"

#include <event2/buffer.h>
#include <string.h>

/* "* PREAUTH [CAPABILITY ...] text": the capability code, or NULL. */
static char *syslogin_caps(const char *line)
{
	if (strncmp(line, "* PREAUTH [", 11) != 0)
		return NULL;
	const char *end = strchr(line + 11, ']');
	if (end == NULL || strncmp(line + 11, "CAPABILITY ", 11) != 0)
		return NULL;
	return x_strndup(line + 11, (size_t)(end - line - 11));
}

static bool syslogin_ready(void *arg, const char *line)
{
	struct imapd_session *s = arg;
	const char *method = s->login_method;
	char *caps = syslogin_caps(line);
	if (caps == NULL) {
		log_error("login: user=<%s> ip=[%s] result=session-failed: %s", s->auth_user,
			  s->conn.ip, log_safe(line, strlen(line), 200));
		imapd_reply(s, "NO", "UNAVAILABLE", "Cannot open your mailbox");
		return false;
	}
	log_info("login: user=<%s> ip=[%s] result=ok method=%s (system user)", s->auth_user,
		 s->conn.ip, method);
	imapd_reply(s, "OK", caps, "%s completed", method);
	x_free(&caps);
	return true;
}

static void syslogin_refused(void *arg, const struct login_reply *rep)
{
	struct imapd_session *s = arg;
	switch (rep->status) {
	case LOGIN_OK:
		break;
	case LOGIN_FAILED:
		imapd_login_fail_after(s, rep->delay_ms);
		break;
	case LOGIN_LOCKED:
		imapd_reply(s, "NO", "UNAVAILABLE", "Too many failed logins, try again later");
		break;
	case LOGIN_LIMIT:
		imapd_reply(s, "NO", "LIMIT", "Too many sessions for this user");
		break;
	case LOGIN_TEMPFAIL:
		imapd_reply(s, "NO", "UNAVAILABLE", "Login service unavailable, try again later");
		break;
	}
}

static const struct server_syslogin_ops syslogin_ops = {
    .proto = LOGIN_PROTO_IMAP,
    .out_high = IMAPD_OUT_HIGH,
    .ready = syslogin_ready,
    .refused = syslogin_refused,
};

void imapd_syslogin(struct imapd_session *s, const char *method, const char *mech, const char *user,
		    const char *password)
{
	s->login_method = method;
	if (server_syslogin_start(&s->syslogin, &syslogin_ops, &s->conn, &s->server->core, mech,
				  user, password) < 0)
		return;
	x_free(&s->auth_user);
	s->auth_user = x_strdup(user);
}
