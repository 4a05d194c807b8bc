/* server-syslogin: the hand-off of a system user's login (user_source = system) common to
 * the imap, pop3 and managesieve workers; lib-login's login.h has the whole exchange. The
 * attempt goes to the auth process; a session process that it started as the user answers
 * with its first line, which the protocol turns into its reply to the login command, and
 * from then on the session is a byte proxy until either side ends. Every reply text stays
 * the protocol's (struct server_syslogin_ops).
 */
#include "server.h"
#include "buf.h"
#include "log.h"
#include "xalloc.h"

#include <event2/bufferevent.h>
#include <string.h>

/* The proxy ended: a session whose client is gone is freed, else closed. */
static void syslogin_proxy_done(void *arg, bool client_gone)
{
	struct server_syslogin *sl = arg;
	struct server_conn *c = sl->conn;
	sl->proxy = NULL;
	log_info("logout: user=<%s> ip=[%s] (session process %s)", sl->user, c->ip,
		 client_gone ? "closed by the client" : "ended");
	if (client_gone) {
		c->ops->free(c->session);
		return;
	}
	server_conn_setup_bev(c, c->timeout_s); /* the client's bufferevent is ours again */
	server_conn_close(c);
}

/* ops->ready NULL: the session process's first line is the answer to the login command. */
static bool syslogin_line_answer(struct server_syslogin *sl, const char *line)
{
	struct server_conn *c = sl->conn;
	buf_printf(&c->out, "%s\r\n", line);
	if (strncmp(line, sl->ops->ok_prefix, strlen(sl->ops->ok_prefix)) != 0) {
		log_info("login: user=<%s> ip=[%s] result=session-refused: %s", sl->user, c->ip,
			 log_safe(line, strlen(line), 200));
		return false;
	}
	log_info("login: user=<%s> ip=[%s] result=ok (system user)", sl->user, c->ip);
	return true;
}

static void syslogin_done(void *arg, const struct login_reply *rep, struct bufferevent *session,
			  const char *line)
{
	struct server_syslogin *sl = arg;
	struct server_conn *c = sl->conn;
	sl->login = NULL;
	if (rep->status != LOGIN_OK) {
		sl->ops->refused(c->session, rep);
		if (rep->status != LOGIN_FAILED) /* a failure is answered after its delay */
			server_conn_resume(c);
		return;
	}
	bool ok = sl->ops->ready != NULL ? sl->ops->ready(c->session, line)
					 : syslogin_line_answer(sl, line);
	if (!ok) { /* the session's refusal is the answer */
		bufferevent_free(session);
		server_conn_resume(c);
		return;
	}
	server_conn_flush(c);
	c->busy = true; /* nothing of this session is parsed here any more */
	sl->proxy = login_proxy_start(c->bev, session, sl->ops->out_high, syslogin_proxy_done, sl);
}

int server_syslogin_start(struct server_syslogin *sl, const struct server_syslogin_ops *ops,
			  struct server_conn *conn, const struct server_core *core,
			  const char *mech, const char *user, const char *password)
{
	struct login_request req = {ops->proto, mech, conn->ip, user, password};
	sl->ops = ops;
	sl->conn = conn;
	sl->login = core->login_socket == NULL ? NULL /* not a pre-login worker */
					       : login_client_start(core->base, core->login_socket,
								    &req, syslogin_done, sl);
	if (sl->login == NULL) {
		struct login_reply tempfail = {LOGIN_TEMPFAIL, 0};
		ops->refused(conn->session, &tempfail);
		return -1;
	}
	x_free(&sl->user);
	sl->user = x_strdup(user);
	conn->busy = true;
	bufferevent_disable(conn->bev, EV_READ);
	return 0;
}

void server_syslogin_free(struct server_syslogin *sl)
{
	login_client_cancel(&sl->login);
	login_proxy_free(&sl->proxy);
	x_free(&sl->user);
}
