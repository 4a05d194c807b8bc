/* server-syslogin: the hand-off of a system user's login (user_source = system) common to
 * the imap, pop3 and managesieve workers; lib-login's login.h has the whole exchange. The
 * attempt goes to the auth process; a session process that it started as the user answers
 * with its first line, which the protocol turns into its reply to the login command, and
 * from then on the session is a byte proxy until either side ends. Every reply text stays
 * the protocol's (struct server_syslogin_ops).
 */
#include "server.h"
#include "log.h"
#include "xalloc.h"

#include <event2/bufferevent.h>

/* The proxy ended: the protocol frees a session whose client is gone, else closes it. */
static void syslogin_proxy_done(void *arg, bool client_gone)
{
	struct server_syslogin *sl = arg;
	sl->proxy = NULL;
	log_info("logout: user=<%s> ip=[%s] (session process %s)", sl->user, sl->ip,
		 client_gone ? "closed by the client" : "ended");
	sl->ops->ended(sl->arg, client_gone);
}

static void syslogin_done(void *arg, const struct login_reply *rep, struct bufferevent *session,
			  const char *line)
{
	struct server_syslogin *sl = arg;
	sl->login = NULL;
	if (rep->status != LOGIN_OK) {
		sl->ops->refused(sl->arg, rep);
		if (rep->status != LOGIN_FAILED) /* a failure is answered after its delay */
			sl->ops->resume(sl->arg);
		return;
	}
	struct bufferevent *client = sl->ops->ready(sl->arg, line);
	if (client == NULL) { /* the session's refusal is the answer */
		bufferevent_free(session);
		sl->ops->resume(sl->arg);
		return;
	}
	sl->proxy = login_proxy_start(client, session, sl->ops->out_high, syslogin_proxy_done, sl);
}

int server_syslogin_start(struct server_syslogin *sl, const struct server_syslogin_ops *ops,
			  void *arg, struct event_base *base, const char *socket_path,
			  const char *mech, const char *ip, const char *user, const char *password)
{
	struct login_request req = {ops->proto, mech, ip, user, password};
	sl->ops = ops;
	sl->arg = arg;
	sl->ip = ip;
	sl->login = socket_path == NULL
			? NULL /* not a pre-login worker */
			: login_client_start(base, socket_path, &req, syslogin_done, sl);
	if (sl->login == NULL) {
		struct login_reply tempfail = {LOGIN_TEMPFAIL, 0};
		ops->refused(arg, &tempfail);
		return -1;
	}
	x_free(&sl->user);
	sl->user = x_strdup(user);
	return 0;
}

void server_syslogin_free(struct server_syslogin *sl)
{
	login_client_cancel(&sl->login);
	login_proxy_free(&sl->proxy);
	x_free(&sl->user);
}
