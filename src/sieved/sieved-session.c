/* sieved-session: one ManageSieve client (RFC 5804 2): the greeting and capabilities
 * (1.7), reading pipelined commands (each complete command in the input is answered in
 * order), the verb table with the states each command is allowed in (2: anything but
 * AUTHENTICATE, STARTTLS, CAPABILITY, LOGOUT and NOOP needs a login; a command in the
 * wrong state gets NO), output flow control, idle timeouts (BYE) and the end of a session.
 * Trusts nothing from the client; every command goes through lib-managesieve's parser.
 */
#include "sieved-int.h"
#include "auth.h"
#include "log.h"
#include "sieve.h"
#include "tern-version.h"
#include "xalloc.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define N SIEVED_STATE_NONAUTH
#define A SIEVED_STATE_AUTH

static void cmd_capability(struct sieved_session *s, const struct ms_command *cmd);
static void cmd_logout(struct sieved_session *s, const struct ms_command *cmd);
static void cmd_noop(struct sieved_session *s, const struct ms_command *cmd);

static const struct sieved_command sieved_commands[] = {
    {"CAPABILITY", N | A, 0, 0, cmd_capability},
    {"LOGOUT", N | A, 0, 0, cmd_logout},
    {"NOOP", N | A, 0, 1, cmd_noop},
    {"AUTHENTICATE", N, 1, 2, sieved_cmd_authenticate},
    {"STARTTLS", N, 0, 0, sieved_cmd_starttls},
    {"UNAUTHENTICATE", A, 0, 0, sieved_cmd_unauthenticate},
    {"HAVESPACE", A, 2, 2, sieved_cmd_havespace},
    {"PUTSCRIPT", A, 2, 2, sieved_cmd_putscript},
    {"CHECKSCRIPT", A, 1, 1, sieved_cmd_checkscript},
    {"LISTSCRIPTS", A, 0, 0, sieved_cmd_listscripts},
    {"SETACTIVE", A, 1, 1, sieved_cmd_setactive},
    {"GETSCRIPT", A, 1, 1, sieved_cmd_getscript},
    {"DELETESCRIPT", A, 1, 1, sieved_cmd_deletescript},
    {"RENAMESCRIPT", A, 2, 2, sieved_cmd_renamescript},
    {NULL, 0, 0, 0, NULL},
};

static const struct server_conn_ops sieved_conn_ops;

static const struct server_conn_limits sieved_limits = {
    .in_high = SIEVED_OUT_HIGH, .out_low = SIEVED_OUT_LOW, .out_high = SIEVED_OUT_HIGH};

void sieved_session_setup_bev(struct sieved_session *s)
{
	const struct sieved_settings *set = &s->server->set;
	server_conn_setup_bev(&s->conn, s->state == SIEVED_STATE_AUTH ? set->timeout_s
								      : set->login_timeout_s);
}

struct sieved_session *sieved_session_new(struct sieved_server *srv, struct bufferevent *bev,
					  const struct net_peer *peer)
{
	struct sieved_session *s = X_NEW(struct sieved_session);
	s->server = srv;
	s->state = SIEVED_STATE_NONAUTH;
	ms_parser_init(&s->parser, srv->set.max_line, srv->set.max_literal);
	server_conn_init(&s->conn, &srv->core.sessions, &sieved_conn_ops, s, bev, peer,
			 &sieved_limits);
	sieved_session_setup_bev(s);
	return s;
}

void sieved_session_free(struct sieved_session *s)
{
	sieved_sasl_end(s);
	server_syslogin_free(&s->syslogin);
	x_free(&s->auth_user);
	sieved_logout(s);
	if (s->delay != NULL)
		event_free(s->delay);
	server_conn_free(&s->conn);
	ms_parser_free(&s->parser);
	x_free(&s);
}

void sieved_session_flush(struct sieved_session *s)
{
	server_conn_flush(&s->conn);
}

void sieved_reply(struct sieved_session *s, const char *word, const char *code, const char *fmt,
		  ...)
{
	va_list ap;
	va_start(ap, fmt);
	ms_reply_status(&s->conn.out, word, code, fmt, ap);
	va_end(ap);
}

void sieved_session_close(struct sieved_session *s)
{
	server_conn_close(&s->conn);
}

void sieved_session_error(struct sieved_session *s)
{
	if (++s->conn.errors >= s->server->set.max_errors) {
		sieved_reply(s, "BYE", NULL, "too many errors");
		log_info("disconnect: ip=[%s] reason=too-many-errors", s->conn.ip);
		sieved_session_close(s);
	}
}

void sieved_capabilities(struct sieved_session *s)
{
	struct buf *o = &s->conn.out;
	ms_reply_capability(o, "IMPLEMENTATION", "Tern " TERN_VERSION);
	if (s->state == SIEVED_STATE_NONAUTH)
		ms_reply_capability(o, "SASL", sieved_mechs(s));
	ms_reply_capability(o, "SIEVE", sieve_capabilities());
	if (s->state == SIEVED_STATE_NONAUTH && !s->conn.tls && s->starttls_ctx != NULL)
		ms_reply_capability(o, "STARTTLS", NULL);
	char redirects[16];
	snprintf(redirects, sizeof(redirects), "%d", SIEVE_MAX_REDIRECTS);
	ms_reply_capability(o, "MAXREDIRECTS", redirects);
	if (s->state == SIEVED_STATE_AUTH) {
		ms_reply_capability(o, "OWNER", s->user.address);
		if (!s->server->preauth)
			ms_reply_capability(o, "UNAUTHENTICATE", NULL);
	}
	ms_reply_capability(o, "VERSION", "1.0");
	sieved_reply(s, "OK", NULL, NULL);
}

static void cmd_capability(struct sieved_session *s, const struct ms_command *cmd)
{
	sieved_capabilities(s);
}

static void cmd_logout(struct sieved_session *s, const struct ms_command *cmd)
{
	sieved_reply(s, "OK", NULL, "Logout");
	sieved_session_close(s);
}

/* RFC 5804 2.13: the TAG code echoes the argument. */
static void cmd_noop(struct sieved_session *s, const struct ms_command *cmd)
{
	if (cmd->argc == 0) {
		sieved_reply(s, "OK", NULL, "Done");
		return;
	}
	struct buf code = BUF_INIT;
	buf_append_str(&code, "TAG ");
	ms_reply_string(&code, cmd->args[0].data, cmd->args[0].len);
	sieved_reply(s, "OK", buf_cstr(&code), "Done");
	buf_free(&code);
}

/* Runs one parsed command through the verb table. */
static void session_dispatch(struct sieved_session *s, const struct ms_command *cmd)
{
	const struct sieved_command *c = sieved_commands;
	while (c->name != NULL && strcmp(c->name, cmd->name) != 0)
		c++;
	if (c->name == NULL) {
		sieved_reply(s, "NO", NULL, "unknown command");
		sieved_session_error(s);
	} else if ((c->states & s->state) == 0) {
		sieved_reply(s, "NO", NULL, "%s is not allowed %s", c->name,
			     s->state == SIEVED_STATE_NONAUTH ? "before login" : "after login");
		sieved_session_error(s);
	} else if (cmd->argc < c->min_args || cmd->argc > c->max_args) {
		sieved_reply(s, "NO", NULL, "%s: wrong number of arguments", c->name);
		sieved_session_error(s);
	} else {
		c->handler(s, cmd);
	}
}

static void session_parsed(struct sieved_session *s, enum ms_parse_result r)
{
	if (r == MS_PARSE_DONE && s->sasl != NULL) {
		sieved_sasl_response(s, ms_parser_command(&s->parser));
	} else if (r == MS_PARSE_DONE) {
		session_dispatch(s, ms_parser_command(&s->parser));
	} else if (r == MS_PARSE_ERROR) {
		bool big = false;
		const char *why = ms_parser_error(&s->parser, &big);
		if (s->sasl != NULL)
			sieved_sasl_bad_line(s, why);
		else
			sieved_reply(s, "NO", big ? "QUOTA/MAXSIZE" : NULL, "%s", why);
		sieved_session_error(s);
	}
}

/* One command from the input, or what of it is there (server_conn_input's loop). */
static bool session_consume(void *arg, struct evbuffer *in)
{
	struct sieved_session *s = arg;
	const char *p;
	size_t len, used = 0;
	if (!server_conn_peek(in, &p, &len))
		return false;
	enum ms_parse_result r = ms_parser_feed(&s->parser, p, len, &used);
	evbuffer_drain(in, used);
	session_parsed(s, r);
	return true;
}

void sieved_session_resume(struct sieved_session *s)
{
	server_conn_resume(&s->conn);
}

static void session_tls_connected(void *arg)
{
	sieved_tls_connected(arg);
}

/* RFC 5804 1.3: BYE before the server closes. */
static void session_timeout(void *arg)
{
	struct sieved_session *s = arg;
	log_info("disconnect: ip=[%s] user=<%s> reason=timeout", s->conn.ip,
		 s->user.address != NULL ? s->user.address : "");
	sieved_reply(s, "BYE", NULL, "disconnected for inactivity");
}

static void session_shutdown(void *arg)
{
	struct sieved_session *s = arg;
	if (s->syslogin.proxy != NULL) {
		/* a system user's session: its process sees the end of its socket */
		server_syslogin_free(&s->syslogin);
		sieved_session_setup_bev(s);
	} else if (!s->conn.busy) {
		sieved_reply(s, "BYE", "TRYLATER", "server shutting down");
	}
}

static void session_free(void *arg)
{
	sieved_session_free(arg);
}

static const struct server_conn_ops sieved_conn_ops = {
    .consume = session_consume,
    .tls_connected = session_tls_connected,
    .timeout = session_timeout,
    .shutdown = session_shutdown,
    .free = session_free,
};

void sieved_session_start(struct sieved_session *s)
{
	sieved_capabilities(s);
	sieved_session_flush(s);
}
