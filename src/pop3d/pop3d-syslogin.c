/* pop3d-syslogin: USER/PASS and AUTH of system users (user_source = system; lib-login's
 * login.h has the whole exchange). This worker runs as run_user, chrooted: it passes the
 * credentials to the auth process and, when that started a session process as the user
 * (`tern pop3 --inetd -u USER`, which locks the maildrop and greets with "+OK maildrop
 * has N messages"), that first line is the answer to PASS or AUTH, so the client hears
 * the session's own view (or its -ERR [IN-USE] when another session holds the lock).
 * From then on the session is a byte proxy until either side ends. Failures are answered
 * as in virtual mode: -ERR [AUTH] after the delay the auth process set, -ERR
 * [LOGIN-DELAY] when locked out, -ERR [SYS/TEMP] when the service is unavailable.
 */
#include "pop3d-int.h"
#include "log.h"
#include "login.h"
#include "xalloc.h"

#include <event2/buffer.h>

static void syslogin_refused(void *arg, const struct login_reply *rep)
{
	struct pop3d_session *s = arg;
	switch (rep->status) {
	case LOGIN_OK:
		break;
	case LOGIN_FAILED:
		pop3d_auth_fail_later(s, rep->delay_ms, "invalid user name or password");
		break;
	case LOGIN_LOCKED:
		pop3d_session_err(s, POP3_CODE_LOGIN_DELAY,
				  "too many failed logins, try again later");
		break;
	case LOGIN_LIMIT:
		pop3d_session_err(s, POP3_CODE_IN_USE, "too many sessions for this user");
		break;
	case LOGIN_TEMPFAIL:
		pop3d_session_err(s, POP3_CODE_SYS_TEMP, "login service unavailable");
		break;
	}
}

static const struct server_syslogin_ops syslogin_ops = {
    .proto = LOGIN_PROTO_POP3,
    .out_high = POP3D_OUT_HIGH,
    .ok_prefix = "+OK",
    .refused = syslogin_refused,
};

void pop3d_syslogin(struct pop3d_session *s, const char *mech, const char *user,
		    const char *password)
{
	if (server_syslogin_start(&s->syslogin, &syslogin_ops, &s->conn, &s->server->core, mech,
				  user, password) < 0)
		return;
	x_free(&s->auth_user);
	s->auth_user = x_strdup(user);
}
