/* sieved-syslogin: AUTHENTICATE of system users (user_source = system; lib-login's login.h
 * has the whole exchange). This worker runs as run_user, chrooted into DATA/login: it
 * passes the credentials to the auth process and, when that started a session process as
 * the user (`tern managesieve --inetd -u USER`, which greets with OK "Logged in"), that
 * first line is the answer to AUTHENTICATE. From then on the session is a byte proxy until
 * either side ends: the scripts (~/sieve, ~/.dovecot.sieve) are changed by a process of
 * the user. Failures are answered as for virtual users: NO after the delay the auth
 * process set, NO (TRYLATER) when locked out or when the service is unavailable.
 */
#include "sieved-int.h"
#include "log.h"
#include "login.h"
#include "xalloc.h"

static void syslogin_refused(void *arg, const struct login_reply *rep)
{
	struct sieved_session *s = arg;
	switch (rep->status) {
	case LOGIN_OK:
		break;
	case LOGIN_FAILED:
		sieved_fail_later(s, rep->delay_ms);
		break;
	case LOGIN_LOCKED:
		sieved_reply(s, "NO", "TRYLATER", "too many failed logins, try again later");
		break;
	case LOGIN_LIMIT:
		sieved_reply(s, "NO", "TRYLATER", "too many sessions for this user");
		break;
	case LOGIN_TEMPFAIL:
		sieved_reply(s, "NO", "TRYLATER", "login service unavailable");
		break;
	}
}

static const struct server_syslogin_ops syslogin_ops = {
    .proto = LOGIN_PROTO_MANAGESIEVE,
    .out_high = SIEVED_OUT_HIGH,
    .ok_prefix = "OK",
    .refused = syslogin_refused,
};

void sieved_syslogin(struct sieved_session *s, const char *mech, const char *user,
		     const char *password)
{
	if (server_syslogin_start(&s->syslogin, &syslogin_ops, &s->conn, &s->server->core, mech,
				  user, password) < 0)
		return;
	x_free(&s->auth_user);
	s->auth_user = x_strdup(user);
}
