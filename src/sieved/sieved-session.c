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

static void session_read_cb(struct bufferevent *bev, void *arg);
static void session_write_cb(struct bufferevent *bev, void *arg);
static void session_event_cb(struct bufferevent *bev, short what, void *arg);

static void session_free_cb(void *arg)
{
	sieved_session_free(arg);
}

void sieved_session_setup_bev(struct sieved_session *s)
{
	struct bufferevent *bev = s->bev;
	bufferevent_setcb(bev, session_read_cb, session_write_cb, session_event_cb, s);
	bufferevent_setwatermark(bev, EV_READ, 0, SIEVED_OUT_HIGH);
	bufferevent_setwatermark(bev, EV_WRITE, SIEVED_OUT_LOW, 0);
	const struct sieved_settings *set = &s->server->set;
	struct timeval tv = {
	    (time_t)(s->state == SIEVED_STATE_AUTH ? set->timeout_s : set->login_timeout_s), 0};
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

struct sieved_session *sieved_session_new(struct sieved_server *srv, struct bufferevent *bev,
					  const char *ip, bool loopback, bool local)
{
	struct sieved_session *s = X_NEW(struct sieved_session);
	s->server = srv;
	s->bev = bev;
	s->loopback = loopback;
	s->local = local;
	s->state = SIEVED_STATE_NONAUTH;
	snprintf(s->ip, sizeof(s->ip), "%s", ip);
	ms_parser_init(&s->parser, srv->set.max_line, srv->set.max_literal);
	buf_init(&s->out, 0);
	server_close_init(&s->close, srv->base, session_free_cb, s);
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->session_count++;
	sieved_session_setup_bev(s);
	return s;
}

void sieved_session_free(struct sieved_session *s)
{
	struct sieved_server *srv = s->server;
	sieved_sasl_end(s);
	server_syslogin_free(&s->syslogin);
	x_free(&s->auth_user);
	sieved_logout(s);
	if (s->delay != NULL)
		event_free(s->delay);
	server_close_free(&s->close);
	bufferevent_free(s->bev);
	ms_parser_free(&s->parser);
	buf_free(&s->out);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	srv->session_count--;
	x_free(&s);
	if (srv->session_count == 0 && (srv->stopping || srv->inetd || srv->retiring))
		event_base_loopexit(srv->base, NULL);
}

void sieved_session_flush(struct sieved_session *s)
{
	server_flush(s->bev, &s->out);
}

void sieved_reply(struct sieved_session *s, const char *word, const char *code, const char *fmt,
		  ...)
{
	va_list ap;
	va_start(ap, fmt);
	ms_reply_status(&s->out, word, code, fmt, ap);
	va_end(ap);
}

void sieved_session_close(struct sieved_session *s)
{
	if (s->closing)
		return;
	s->closing = true;
	sieved_session_flush(s);
	server_close_start(&s->close, s->bev);
}

void sieved_session_error(struct sieved_session *s)
{
	if (++s->errors >= s->server->set.max_errors) {
		sieved_reply(s, "BYE", NULL, "too many errors");
		log_info("disconnect: ip=[%s] reason=too-many-errors", s->ip);
		sieved_session_close(s);
	}
}

void sieved_capabilities(struct sieved_session *s)
{
	struct buf *o = &s->out;
	ms_reply_capability(o, "IMPLEMENTATION", "Tern " TERN_VERSION);
	if (s->state == SIEVED_STATE_NONAUTH)
		ms_reply_capability(o, "SASL", sieved_mechs(s));
	ms_reply_capability(o, "SIEVE", sieve_capabilities());
	if (s->state == SIEVED_STATE_NONAUTH && !s->tls && s->starttls_ctx != NULL)
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

/* Answers every complete command in the input, in order, while the output is short. The
 * bufferevent is looked up again after each command: STARTTLS replaces it. */
static void session_input(struct sieved_session *s)
{
	while (!s->busy && !s->closing) {
		struct evbuffer *in = bufferevent_get_input(s->bev);
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) + s->out.len >=
		    SIEVED_OUT_HIGH)
			break; /* the write callback comes back here */
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		size_t used = 0;
		enum ms_parse_result r = ms_parser_feed(&s->parser, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		session_parsed(s, r);
		sieved_session_flush(s);
	}
	sieved_session_flush(s);
	if (s->input_eof && !s->busy && !s->closing &&
	    evbuffer_get_length(bufferevent_get_input(s->bev)) == 0)
		sieved_session_close(s);
}

void sieved_session_resume(struct sieved_session *s)
{
	s->busy = false;
	sieved_session_flush(s);
	if (s->closing)
		return;
	bufferevent_enable(s->bev, EV_READ);
	session_input(s);
}

static void session_read_cb(struct bufferevent *bev, void *arg)
{
	session_input(arg);
}

static void session_write_cb(struct bufferevent *bev, void *arg)
{
	struct sieved_session *s = arg;
	if (s->closing) {
		server_close_written(&s->close);
		return;
	}
	if (!s->busy)
		session_input(s);
}

static void session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sieved_session *s = arg;
	if (what & BEV_EVENT_CONNECTED) {
		sieved_tls_connected(s);
		return;
	}
	if (s->tls_handshake) {
		if (what & BEV_EVENT_ERROR)
			server_tls_log_failed(s->bev, s->ip);
		sieved_session_free(s);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !s->closing) {
		s->input_eof = true; /* answer what is pending, then close */
		session_input(s);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && !s->closing) {
		log_info("disconnect: ip=[%s] user=<%s> reason=timeout", s->ip,
			 s->user.address != NULL ? s->user.address : "");
		sieved_reply(s, "BYE", NULL, "disconnected for inactivity");
		bufferevent_enable(bev, EV_WRITE); /* a write timeout disabled it */
		sieved_session_close(s);
		return;
	}
	sieved_session_free(s);
}

void sieved_session_start(struct sieved_session *s)
{
	sieved_capabilities(s);
	sieved_session_flush(s);
}
