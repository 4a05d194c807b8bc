/* pop3d-session: one POP3 client (RFC 1939 section 3): greeting, reading pipelined
 * command lines (RFC 2449 section 6.6: every complete line in the input is answered in
 * order), the verb table, output flow control, timeouts and the end of a session.
 * Trusts nothing from the client; every command line goes through pop3-parser.
 */
#include "pop3d-int.h"
#include "auth.h"
#include "log.h"
#include "store.h"
#include "xalloc.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ANY_ARGS ((size_t)-1)
#define S_AUTH POP3D_STATE_AUTH
#define S_TRANS POP3D_STATE_TRANS

static const struct pop3d_command pop3d_commands[] = {
    {"CAPA", S_AUTH | S_TRANS, 0, 0, pop3d_cmd_capa}, {"USER", S_AUTH, 1, 1, pop3d_cmd_user},
    {"PASS", S_AUTH, 1, ANY_ARGS, pop3d_cmd_pass},    {"APOP", S_AUTH, 0, ANY_ARGS, pop3d_cmd_apop},
    {"AUTH", S_AUTH, 0, ANY_ARGS, pop3d_cmd_auth},    {"STLS", S_AUTH, 0, 0, pop3d_cmd_stls},
    {"QUIT", S_AUTH | S_TRANS, 0, 0, pop3d_cmd_quit}, {"STAT", S_TRANS, 0, 0, pop3d_cmd_stat},
    {"LIST", S_TRANS, 0, 1, pop3d_cmd_list},	      {"UIDL", S_TRANS, 0, 1, pop3d_cmd_uidl},
    {"RETR", S_TRANS, 1, 1, pop3d_cmd_retr},	      {"TOP", S_TRANS, 2, 2, pop3d_cmd_top},
    {"DELE", S_TRANS, 1, 1, pop3d_cmd_dele},	      {"NOOP", S_TRANS, 0, 0, pop3d_cmd_noop},
    {"RSET", S_TRANS, 0, 0, pop3d_cmd_rset},	      {NULL, 0, 0, 0, NULL},
};

static const struct server_conn_ops pop3d_conn_ops;

static const struct server_conn_limits pop3d_limits = {
    .in_high = POP3D_OUT_HIGH, .out_low = POP3D_OUT_LOW, .out_high = POP3D_OUT_HIGH};

void pop3d_session_setup_bev(struct pop3d_session *s)
{
	server_conn_setup_bev(&s->conn, s->server->set.timeout_s);
}

struct pop3d_session *pop3d_session_new(struct pop3d_server *srv, struct bufferevent *bev,
					const struct net_peer *peer)
{
	struct pop3d_session *s = X_NEW(struct pop3d_session);
	s->server = srv;
	s->lock_fd = -1;
	s->stream.fd = -1;
	s->state = POP3D_STATE_AUTH;
	pop3_parser_init(&s->parser, srv->set.max_line, srv->set.max_arg);
	server_conn_init(&s->conn, &srv->core.sessions, &pop3d_conn_ops, s, bev, peer,
			 &pop3d_limits);
	pop3d_session_setup_bev(s);
	return s;
}

void pop3d_session_free(struct pop3d_session *s)
{
	pop3d_stream_abort(s);
	pop3d_sasl_end(s);
	server_syslogin_free(&s->syslogin);
	if (s->state != POP3D_STATE_AUTH)
		pop3d_logout(s);
	if (s->delay != NULL)
		event_free(s->delay);
	if (s->auth_job != NULL)
		auth_job_cancel(s->auth_job);
	x_free(&s->auth_user);
	server_conn_free(&s->conn);
	pop3_parser_wipe(&s->parser);
	pop3_parser_free(&s->parser);
	x_free(&s->user_arg);
	x_free(&s);
}

void pop3d_session_flush(struct pop3d_session *s)
{
	server_conn_flush(&s->conn);
}

void pop3d_session_ok(struct pop3d_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pop3_reply_status(&s->conn.out, true, POP3_CODE_NONE, fmt, ap);
	va_end(ap);
}

void pop3d_session_err(struct pop3d_session *s, enum pop3_resp_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pop3_reply_status(&s->conn.out, false, code, fmt, ap);
	va_end(ap);
}

void pop3d_session_close(struct pop3d_session *s)
{
	server_conn_close(&s->conn);
}

void pop3d_session_error(struct pop3d_session *s)
{
	if (++s->conn.errors >= s->server->set.max_errors) {
		pop3d_session_err(s, POP3_CODE_NONE, "too many errors, closing connection");
		log_info("disconnect: ip=[%s] reason=too-many-errors", s->conn.ip);
		pop3d_session_close(s);
	}
}

/* Runs one parsed command through the verb table. */
static void session_dispatch(struct pop3d_session *s, const struct pop3_command *cmd)
{
	const struct pop3d_command *c = pop3d_commands;
	while (c->name != NULL && strcmp(c->name, cmd->keyword) != 0)
		c++;
	if (c->name == NULL) {
		pop3d_session_err(s, POP3_CODE_NONE, "unknown command");
		pop3d_session_error(s);
	} else if ((c->states & s->state) == 0) {
		pop3d_session_err(s, POP3_CODE_NONE, "%s is not allowed %s", c->name,
				  s->state == POP3D_STATE_AUTH ? "before login" : "after login");
		pop3d_session_error(s);
	} else if (cmd->argc < c->min_args || cmd->argc > c->max_args) {
		pop3d_session_err(s, POP3_CODE_NONE, "%s: wrong number of arguments", c->name);
		pop3d_session_error(s);
	} else {
		c->handler(s, cmd);
	}
}

/* One line from the parser: a command, or a response of an AUTH exchange. */
static void session_line(struct pop3d_session *s, enum pop3_parse_result r)
{
	if (r == POP3_PARSE_LINE && s->sasl != NULL) {
		pop3d_sasl_response(s, pop3_parser_command(&s->parser));
	} else if (r == POP3_PARSE_LINE) {
		session_dispatch(s, pop3_parser_command(&s->parser));
	} else if (r == POP3_PARSE_ERROR && s->sasl != NULL) {
		pop3d_sasl_bad_line(s);
	} else if (r == POP3_PARSE_ERROR) {
		pop3d_session_err(s, POP3_CODE_NONE, "%s", pop3_parser_error(&s->parser));
		pop3d_session_error(s);
	}
}

/* One command line from the input, or what of it is there (server_conn_input's loop). */
static bool session_consume(void *arg, struct evbuffer *in)
{
	struct pop3d_session *s = arg;
	const char *p;
	size_t len, used = 0;
	if (!server_conn_peek(in, &p, &len))
		return false;
	enum pop3_parse_result r = pop3_parser_feed(&s->parser, p, len, &used);
	evbuffer_drain(in, used);
	session_line(s, r);
	return true;
}

/* The commands answered in one go share one read transaction of the index (a pipelined
 * run of RETRs: one lock instead of one per message). */
static bool session_input_begin(void *arg)
{
	struct pop3d_session *s = arg;
	if (s->folder == NULL || s->batch)
		return false;
	store_batch_begin(s->folder);
	s->batch = true;
	return true;
}

static void session_input_end(void *arg)
{
	pop3d_batch_end(arg);
}

static void session_eof(void *arg)
{
	struct pop3d_session *s = arg;
	if (s->state == POP3D_STATE_TRANS)
		log_info("disconnect: ip=[%s] user=<%s> reason=eof, nothing deleted", s->conn.ip,
			 s->user.address);
}

void pop3d_session_resume(struct pop3d_session *s)
{
	server_conn_resume(&s->conn);
}

static bool session_writable(void *arg)
{
	struct pop3d_session *s = arg;
	return s->stream.fd >= 0 && pop3d_stream_pump(s);
}

static void session_tls_connected(void *arg)
{
	pop3d_tls_connected(arg);
}

static void session_timeout(void *arg)
{
	struct pop3d_session *s = arg;
	log_info("disconnect: ip=[%s] user=<%s> reason=timeout", s->conn.ip,
		 s->user.address ? s->user.address : "");
	pop3d_stream_abort(s); /* a half-sent message: the client sees the connection end */
}

static void session_broken(void *arg, short what)
{
	struct pop3d_session *s = arg;
	if (s->state == POP3D_STATE_TRANS)
		log_info("disconnect: ip=[%s] user=<%s> reason=%s, nothing deleted", s->conn.ip,
			 s->user.address, what & BEV_EVENT_EOF ? "eof" : "error");
}

/* SIGTERM: -ERR [SYS/TEMP] (RFC 3206) to a session between commands. */
static void session_shutdown(void *arg)
{
	struct pop3d_session *s = arg;
	pop3d_stream_abort(s); /* a half-sent message: the client sees the connection end */
	if (s->syslogin.proxy != NULL) {
		/* a system user's session: its process sees the end of its socket */
		server_syslogin_free(&s->syslogin);
		pop3d_session_setup_bev(s);
	} else if (!s->conn.busy) {
		pop3d_session_err(s, POP3_CODE_SYS_TEMP, "server shutting down");
	}
}

static void session_free(void *arg)
{
	pop3d_session_free(arg);
}

static const struct server_conn_ops pop3d_conn_ops = {
    .consume = session_consume,
    .input_begin = session_input_begin,
    .input_end = session_input_end,
    .writable = session_writable,
    .tls_connected = session_tls_connected,
    .eof = session_eof,
    .timeout = session_timeout,
    .broken = session_broken,
    .shutdown = session_shutdown,
    .free = session_free,
};

/* Sends the greeting (RFC 1939 section 4). */
void pop3d_session_start(struct pop3d_session *s)
{
	pop3d_session_ok(s, "Tern POP3 server ready");
	pop3d_session_flush(s);
}
