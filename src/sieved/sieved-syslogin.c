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

#include <string.h>

static void syslogin_proxy_done(void *arg, bool client_gone)
{
	struct sieved_session *s = arg;
	s->proxy = NULL;
	log_info("logout: user=<%s> ip=[%s] (session process %s)", s->auth_user, s->ip,
		 client_gone ? "closed by the client" : "ended");
	if (client_gone) {
		sieved_session_free(s);
		return;
	}
	sieved_session_setup_bev(s);
	sieved_session_close(s);
}

static void syslogin_ready(struct sieved_session *s, struct bufferevent *session,
			   const char *line)
{
	buf_printf(&s->out, "%s\r\n", line); /* the session's answer is the answer */
	if (strncmp(line, "OK", 2) != 0) {
		log_info("login: user=<%s> ip=[%s] result=session-refused: %s", s->auth_user, s->ip,
			 log_safe(line, strlen(line), 200));
		bufferevent_free(session);
		sieved_session_resume(s);
		return;
	}
	log_info("login: user=<%s> ip=[%s] result=ok (system user)", s->auth_user, s->ip);
	sieved_session_flush(s);
	s->busy = true; /* nothing of this session is parsed here any more */
	s->proxy = login_proxy_start(s->bev, session, SIEVED_OUT_HIGH, syslogin_proxy_done, s);
}

static void syslogin_done(void *arg, const struct login_reply *rep, struct bufferevent *session,
			  const char *line)
{
	struct sieved_session *s = arg;
	s->login = NULL;
	switch (rep->status) {
	case LOGIN_OK:
		syslogin_ready(s, session, line);
		return;
	case LOGIN_FAILED:
		sieved_fail_later(s, rep->delay_ms);
		return;
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
	sieved_session_resume(s);
}

void sieved_syslogin(struct sieved_session *s, const char *mech, const char *user,
		     const char *password)
{
	struct sieved_server *srv = s->server;
	struct login_request req = {LOGIN_PROTO_MANAGESIEVE, mech, s->ip, user, password};
	s->login = srv->login_socket == NULL ? NULL /* not a pre-login worker */
		   : login_client_start(srv->base, srv->login_socket, &req, syslogin_done, s);
	if (s->login == NULL) {
		sieved_reply(s, "NO", "TRYLATER", "login service unavailable");
		return;
	}
	x_free(&s->auth_user);
	s->auth_user = x_strdup(user);
	s->busy = true;
	bufferevent_disable(s->bev, EV_READ);
}

void sieved_syslogin_free(struct sieved_session *s)
{
	login_client_cancel(&s->login);
	login_proxy_free(&s->proxy);
}
