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

static void session_read_cb(struct bufferevent *bev, void *arg);
static void session_write_cb(struct bufferevent *bev, void *arg);
static void session_event_cb(struct bufferevent *bev, short what, void *arg);

static void session_free_cb(void *arg)
{
	pop3d_session_free(arg);
}

void pop3d_session_setup_bev(struct pop3d_session *s)
{
	struct bufferevent *bev = s->bev;
	bufferevent_setcb(bev, session_read_cb, session_write_cb, session_event_cb, s);
	bufferevent_setwatermark(bev, EV_READ, 0, POP3D_OUT_HIGH);
	bufferevent_setwatermark(bev, EV_WRITE, POP3D_OUT_LOW, 0);
	/* libevent writes 16 KiB per call by default: a whole 64 KiB window at once instead */
	bufferevent_set_max_single_write(bev, POP3D_OUT_HIGH);
	struct timeval tv = {(time_t)s->server->set.timeout_s, 0};
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

struct pop3d_session *pop3d_session_new(struct pop3d_server *srv, struct bufferevent *bev,
					const struct pop3d_peer *peer)
{
	struct pop3d_session *s = X_NEW(struct pop3d_session);
	s->server = srv;
	s->bev = bev;
	s->lock_fd = -1;
	s->stream.fd = -1;
	s->loopback = peer->loopback;
	s->local = peer->local;
	s->state = POP3D_STATE_AUTH;
	snprintf(s->ip, sizeof(s->ip), "%s", peer->ip);
	pop3_parser_init(&s->parser, srv->set.max_line, srv->set.max_arg);
	buf_init(&s->out, 0);
	server_close_init(&s->close, srv->base, session_free_cb, s);
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->session_count++;
	pop3d_session_setup_bev(s);
	return s;
}

void pop3d_session_free(struct pop3d_session *s)
{
	struct pop3d_server *srv = s->server;
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
	server_close_free(&s->close);
	bufferevent_free(s->bev);
	pop3_parser_wipe(&s->parser);
	pop3_parser_free(&s->parser);
	buf_free(&s->out);
	x_free(&s->user_arg);
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

void pop3d_session_flush(struct pop3d_session *s)
{
	server_flush(s->bev, &s->out);
}

void pop3d_session_ok(struct pop3d_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pop3_reply_status(&s->out, true, POP3_CODE_NONE, fmt, ap);
	va_end(ap);
}

void pop3d_session_err(struct pop3d_session *s, enum pop3_resp_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pop3_reply_status(&s->out, false, code, fmt, ap);
	va_end(ap);
}

void pop3d_session_close(struct pop3d_session *s)
{
	if (s->closing)
		return;
	s->closing = true;
	pop3d_session_flush(s);
	server_close_start(&s->close, s->bev);
}

void pop3d_session_error(struct pop3d_session *s)
{
	if (++s->errors >= s->server->set.max_errors) {
		pop3d_session_err(s, POP3_CODE_NONE, "too many errors, closing connection");
		log_info("disconnect: ip=[%s] reason=too-many-errors", s->ip);
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

/* Answers every complete command line in the input, in order, while the output is short.
 * The bufferevent is looked up again after each line: STLS replaces it. */
static void session_input(struct pop3d_session *s)
{
	/* the commands answered in one go share one read transaction of the index (a
	   pipelined run of RETRs: one lock instead of one per message) */
	bool batch = s->folder != NULL && !s->batch;
	if (batch) {
		store_batch_begin(s->folder);
		s->batch = true;
	}
	while (!s->busy && !s->closing) {
		struct evbuffer *in = bufferevent_get_input(s->bev);
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) + s->out.len >=
		    POP3D_OUT_HIGH)
			break; /* the write callback comes back here */
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		size_t used = 0;
		enum pop3_parse_result r =
		    pop3_parser_feed(&s->parser, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		session_line(s, r);
		pop3d_session_flush(s);
	}
	if (batch)
		pop3d_batch_end(s);
	pop3d_session_flush(s);
	if (s->input_eof && !s->busy && !s->closing &&
	    evbuffer_get_length(bufferevent_get_input(s->bev)) == 0) {
		if (s->state == POP3D_STATE_TRANS)
			log_info("disconnect: ip=[%s] user=<%s> reason=eof, nothing deleted", s->ip,
				 s->user.address);
		pop3d_session_close(s);
	}
}

void pop3d_session_resume(struct pop3d_session *s)
{
	s->busy = false;
	pop3d_session_flush(s);
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
	struct pop3d_session *s = arg;
	if (s->closing) {
		server_close_written(&s->close);
		return;
	}
	if (s->stream.fd >= 0 && pop3d_stream_pump(s))
		return;
	if (!s->busy)
		session_input(s);
}

static void session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct pop3d_session *s = arg;
	if (what & BEV_EVENT_CONNECTED) {
		pop3d_tls_connected(s);
		return;
	}
	if (s->tls_handshake) {
		server_tls_log_end(s->bev, what, s->ip);
		pop3d_session_free(s);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !s->closing) {
		/* the client sent all it will: answer what is pending, then close */
		s->input_eof = true;
		session_input(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		log_info("disconnect: ip=[%s] user=<%s> reason=timeout", s->ip,
			 s->user.address ? s->user.address : "");
	else if (!s->closing && s->state == POP3D_STATE_TRANS)
		log_info("disconnect: ip=[%s] user=<%s> reason=%s, nothing deleted", s->ip,
			 s->user.address, what & BEV_EVENT_EOF ? "eof" : "error");
	pop3d_session_free(s);
}

/* Sends the greeting (RFC 1939 section 4). */
void pop3d_session_start(struct pop3d_session *s)
{
	pop3d_session_ok(s, "Tern POP3 server ready");
	pop3d_session_flush(s);
}
