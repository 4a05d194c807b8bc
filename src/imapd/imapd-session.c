/* imapd-session: one IMAP client (RFC 9051 2.2, 5.5): greeting, the command parser fed
 * with whatever arrives (pipelined commands are answered in order), literals (RFC 7888:
 * "+" for synchronising ones, large APPEND literals streamed to the store, others
 * refused), the verb table, output flow control, jobs (commands that run in steps while
 * the client reads), timeouts and the end of a session. Trusts nothing from the client:
 * every byte goes through lib-imap's parser, whose limits come from tern.conf.
 */
#include "imapd-int.h"
#include "auth.h"
#include "log.h"
#include "store.h"
#include "xalloc.h"

#include <event2/buffer.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_ANY (IMAPD_S_NOAUTH | IMAPD_S_AUTH | IMAPD_S_SELECTED)
#define S_NA IMAPD_S_NOAUTH
#define S_AU (IMAPD_S_AUTH | IMAPD_S_SELECTED)
#define S_SE IMAPD_S_SELECTED
#define F_SEQ IMAPD_F_SEQ
#define F_PIPE IMAPD_F_PIPELINE
#define F_UID IMAPD_F_UID

static const struct imapd_command imapd_commands[] = {
    {"CAPABILITY", S_ANY, F_PIPE, imapd_cmd_capability},
    {"NOOP", S_ANY, F_PIPE, imapd_cmd_noop},
    {"LOGOUT", S_ANY, 0, imapd_cmd_logout},
    {"ID", S_ANY, F_PIPE, imapd_cmd_id},
    {"STARTTLS", S_NA, 0, imapd_cmd_starttls},
    {"AUTHENTICATE", S_NA, 0, imapd_cmd_authenticate},
    {"LOGIN", S_NA, 0, imapd_cmd_login},
    {"ENABLE", S_AU, 0, imapd_cmd_enable},
    {"SELECT", S_AU, 0, imapd_cmd_select},
    {"EXAMINE", S_AU, 0, imapd_cmd_examine},
    {"CREATE", S_AU, F_PIPE, imapd_cmd_create},
    {"DELETE", S_AU, F_PIPE, imapd_cmd_delete},
    {"RENAME", S_AU, F_PIPE, imapd_cmd_rename},
    {"SUBSCRIBE", S_AU, F_PIPE, imapd_cmd_subscribe},
    {"UNSUBSCRIBE", S_AU, F_PIPE, imapd_cmd_unsubscribe},
    {"LIST", S_AU, F_PIPE, imapd_cmd_list},
    {"LSUB", S_AU, F_PIPE, imapd_cmd_lsub},
    {"NAMESPACE", S_AU, F_PIPE, imapd_cmd_namespace},
    {"GETQUOTAROOT", S_AU, F_PIPE, imapd_cmd_getquotaroot},
    {"GETQUOTA", S_AU, F_PIPE, imapd_cmd_getquota},
    {"SETQUOTA", S_AU, F_PIPE, imapd_cmd_setquota},
    {"STATUS", S_AU, F_PIPE, imapd_cmd_status},
    {"APPEND", S_AU, 0, imapd_cmd_append},
    {"IDLE", S_AU, 0, imapd_cmd_idle},
    {"CHECK", S_SE, F_PIPE, imapd_cmd_check},
    {"CLOSE", S_SE, 0, imapd_cmd_close},
    {"UNSELECT", S_SE, 0, imapd_cmd_unselect},
    {"EXPUNGE", S_SE, F_UID, imapd_cmd_expunge},
    {"SEARCH", S_SE, F_SEQ | F_PIPE | F_UID, imapd_cmd_search},
    {"SORT", S_SE, F_SEQ | F_PIPE | F_UID, imapd_cmd_sort},
    {"THREAD", S_SE, F_SEQ | F_PIPE | F_UID, imapd_cmd_thread},
    {"FETCH", S_SE, F_SEQ | F_PIPE | F_UID, imapd_cmd_fetch},
    {"STORE", S_SE, F_SEQ | F_PIPE | F_UID, imapd_cmd_store},
    {"COPY", S_SE, F_PIPE | F_UID, imapd_cmd_copy},
    {"MOVE", S_SE, F_UID, imapd_cmd_move},
    {"CANCELUPDATE", S_SE, F_PIPE, imapd_cmd_cancelupdate},
    {"NOTIFY", S_AU | S_SE, 0, imapd_cmd_notify},
    {"COMPRESS", S_AU, 0, imapd_cmd_compress},
    {NULL, 0, 0, NULL},
};

static void session_read_cb(struct bufferevent *bev, void *arg);
static void session_write_cb(struct bufferevent *bev, void *arg);
static void session_event_cb(struct bufferevent *bev, short what, void *arg);
static void session_input(struct imapd_session *s);

static char *str_upper_dup(const char *s)
{
	char *d = x_strdup(s);
	for (char *p = d; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return d;
}

static void session_free_cb(void *arg)
{
	imapd_session_free(arg);
}

struct imapd_session *imapd_session_new(struct imapd_server *srv, struct bufferevent *bev,
					const char *ip, bool loopback, bool local)
{
	struct imapd_session *s = X_NEW(struct imapd_session);
	s->server = srv;
	s->bev = bev;
	s->loopback = loopback;
	s->local = local;
	s->inotify_fd = -1;
	s->state = IMAPD_S_NOAUTH;
	snprintf(s->ip, sizeof(s->ip), "%s", ip);
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	lim.max_line = srv->set.max_line;
	lim.max_literal = srv->set.max_literal;
	lim.literal_plus = true;
	s->parser = imap_parser_new(&lim);
	buf_init(&s->out, 0);
	server_close_init(&s->close, srv->base, session_free_cb, s);
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->session_count++;
	imapd_session_setup_bev(s);
	return s;
}

void imapd_session_setup_bev(struct imapd_session *s)
{
	struct bufferevent *bev = s->bev;
	bufferevent_setcb(bev, session_read_cb, session_write_cb, session_event_cb, s);
	bufferevent_setwatermark(bev, EV_READ, 0, IMAPD_IN_HIGH);
	bufferevent_setwatermark(bev, EV_WRITE, IMAPD_OUT_LOW, 0);
	/* libevent writes at most 16 KB per readiness by default: a FETCH of 10,000
	   BODYSTRUCTUREs was 160 writes, each waking the client for 16 KB */
	bufferevent_set_max_single_write(bev, IMAPD_OUT_HIGH);
	imapd_session_timeouts(s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

bool imapd_plaintext_ok(const struct imapd_session *s)
{
	return auth_plaintext_ok(s->server->auth, s->tls || s->local, s->loopback);
}

void imapd_session_timeouts(struct imapd_session *s)
{
	const struct imapd_settings *set = &s->server->set;
	uint64_t t = s->state == IMAPD_S_NOAUTH ? set->login_timeout_s : set->timeout_s;
	struct timeval tv = {(time_t)t, 0};
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

static void session_job_end(struct imapd_session *s)
{
	if (s->job_free != NULL)
		s->job_free(s);
	s->job = NULL;
	s->job_free = NULL;
	s->job_ctx = NULL;
}

void imapd_session_free(struct imapd_session *s)
{
	struct imapd_server *srv = s->server;
	session_job_end(s);
	imapd_append_free(s);
	imapd_auth_abort(s);
	server_syslogin_free(&s->syslogin);
	imapd_idle_stop(s);
	imapd_notify_free(s);
	if (s->state != IMAPD_S_NOAUTH) {
		log_info("logout: user=<%s> ip=[%s] in=%llu out=%llu", s->user.address, s->ip,
			 (unsigned long long)s->in_bytes, (unsigned long long)s->out_bytes);
		imapd_logout(s);
	}
	if (s->delay != NULL)
		event_free(s->delay);
	if (s->auth_job != NULL)
		auth_job_cancel(s->auth_job);
	x_free(&s->auth_user);
	server_close_free(&s->close);
	bufferevent_free(s->bev);
	imap_parser_free(&s->parser);
	imap_seqset_free(&s->saved);
	imap_seqset_free(&s->shown);
	imap_seqset_free(&s->recent);
	buf_free(&s->out);
	x_free(&s->cmd.tag);
	x_free(&s->cmd.name);
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

/* A plain socket: whether replies may be sent by the session itself, without libevent. */
static bool session_direct_ok(const struct imapd_session *s)
{
	return !s->tls && !s->compressed && !s->compress_pending && !s->starttls_pending &&
	       !s->closing && !s->server->inetd && bufferevent_get_underlying(s->bev) == NULL;
}

void imapd_session_flush(struct imapd_session *s)
{
	/* within a turn (see session_turn_end) the output waits in s->out, whose length
	   imapd_output_full counts too */
	if (s->turn > 0 && session_direct_ok(s))
		return;
	s->out_bytes += s->out.len;
	server_flush(s->bev, &s->out);
}

/* The end of a read or write callback: what the turn wrote is sent at once when nothing is
 * queued (one send; only what the kernel does not take goes to the bufferevent). Through
 * libevent each reply armed and disarmed the socket's write event (two epoll_ctl) and
 * waited a loop turn; and one send per turn, not per flush, keeps the replies of a turn
 * in one segment (two small ones would wait for the client's delayed ACK, Nagle). */
static void session_turn_end(struct imapd_session *s)
{
	if (--s->turn > 0)
		return;
	if (s->out.len > 0 && session_direct_ok(s) &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		evutil_socket_t fd = bufferevent_getfd(s->bev);
		ssize_t n = fd < 0 ? -1 : send(fd, s->out.data, s->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) { /* else EAGAIN or an error, which libevent's write sees */
			s->out_bytes += (size_t)n;
			buf_consume(&s->out, (size_t)n);
		}
	}
	imapd_session_flush(s);
	if (s->job == NULL && s->out.cap > IMAPD_OUT_LOW)
		buf_free(&s->out); /* a big FETCH grew it: no idle session keeps that */
	if (s->job != NULL && evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		/* all of a job's output was sent: no write event comes to go on, so go on in
		   this loop turn, after the other callbacks */
		bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
	}
}

bool imapd_output_full(struct imapd_session *s)
{
	return evbuffer_get_length(bufferevent_get_output(s->bev)) + s->out.len >= IMAPD_OUT_HIGH;
}

void imapd_untagged(struct imapd_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_append_str(&s->out, "* ");
	buf_vprintf(&s->out, fmt, ap);
	buf_append_str(&s->out, "\r\n");
	va_end(ap);
}

void imapd_reply(struct imapd_session *s, const char *status, const char *code, const char *fmt,
		 ...)
{
	if (s->state == IMAPD_S_SELECTED && strcmp(status, "BAD") != 0)
		imapd_sync(s, (s->cmd.flags & IMAPD_F_SEQ) == 0);
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	imap_write_status(&s->out, s->cmd.tag, status, code, text);
	if (strcmp(status, "BAD") == 0)
		s->errors++;
	x_free(&s->cmd.tag);
	x_free(&s->cmd.name);
	imapd_session_flush(s);
}

void imapd_bad(struct imapd_session *s, const char *text)
{
	imapd_reply(s, "BAD", NULL, "%s", text);
}

void imapd_session_close(struct imapd_session *s)
{
	if (s->closing)
		return;
	s->closing = true;
	imapd_session_flush(s);
	server_close_start(&s->close, s->bev);
}

static void session_run_job(struct imapd_session *s)
{
	if (s->job == NULL)
		return;
	bool more = s->job(s);
	imapd_session_flush(s);
	if (!more) {
		session_job_end(s);
		s->busy = false;
	}
}

void imapd_job_start(struct imapd_session *s, imapd_job_fn *fn, imapd_job_free_fn *free_fn,
		     void *ctx)
{
	s->job = fn;
	s->job_free = free_fn;
	s->job_ctx = ctx;
	s->busy = true;
	session_run_job(s);
}

void imapd_session_resume(struct imapd_session *s)
{
	s->busy = false;
	imapd_session_flush(s);
	if (s->closing)
		return;
	bufferevent_enable(s->bev, EV_READ);
	session_input(s);
}

/* Finds the table entry of a command; for "UID x" the entry of x. */
static const struct imapd_command *session_lookup(const char *name, bool uid)
{
	for (const struct imapd_command *c = imapd_commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return uid && (c->flags & IMAPD_F_UID) == 0 ? NULL : c;
	return NULL;
}

/* Runs one parsed command through the verb table. */
static void session_dispatch(struct imapd_session *s, const struct imap_command *c)
{
	struct imapd_cmd *cmd = &s->cmd;
	x_free(&cmd->tag);
	x_free(&cmd->name);
	cmd->tag = x_strdup(c->tag);
	cmd->args = c->args.list;
	cmd->count = c->args.len;
	cmd->uid = false;
	cmd->flags = 0;
	const char *name = c->name;
	if (strcmp(name, "UID") == 0) {
		const char *sub;
		if (cmd->count == 0 || !imap_arg_get_atom(&cmd->args[0], &sub)) {
			imapd_bad(s, "UID needs a command");
			return;
		}
		cmd->uid = true;
		cmd->args++;
		cmd->count--;
		cmd->name = str_upper_dup(sub);
	} else {
		cmd->name = x_strdup(name);
	}
	const struct imapd_command *e = session_lookup(cmd->name, cmd->uid);
	if (e == NULL) {
		imapd_bad(s, "Unknown command");
	} else if ((e->states & s->state) == 0) {
		imapd_reply(s, "BAD", NULL, "%s is not allowed %s", e->name,
			    s->state == IMAPD_S_NOAUTH ? "before login"
			    : s->state == IMAPD_S_AUTH ? "without a selected mailbox"
						       : "now");
	} else {
		cmd->flags = e->flags;
		if (cmd->uid)
			cmd->flags &= ~(unsigned)IMAPD_F_SEQ;
		e->handler(s, cmd);
	}
}

/* The parser announced a literal too large to buffer: only APPEND streams it. */
static void session_literal(struct imapd_session *s)
{
	const struct imap_command *c = imap_parser_command(s->parser);
	const struct imap_literal *lit = imap_parser_literal(s->parser);
	if (s->cmd.tag == NULL)
		s->cmd.tag = x_strdup(c->tag);
	s->cmd.flags = 0;
	if (c->name != NULL && strcmp(c->name, "APPEND") == 0 && s->state != IMAPD_S_NOAUTH) {
		if (imapd_append_literal(s, c, lit) == 0) {
			imap_parser_literal_accept(s->parser);
			if (lit->sync)
				imap_write_continuation(&s->out, "Ready for literal data");
			return;
		}
	} else {
		imapd_reply(s, "NO", "TOOBIG", "Literal too large for this command");
	}
	imap_parser_literal_refuse(s->parser);
	x_free(&s->cmd.tag);
}

static void session_parse_error(struct imapd_session *s)
{
	enum imap_parse_error code;
	const char *text = imap_parser_error(s->parser, &code);
	const char *tag = imap_parser_tag(s->parser);
	if (s->append != NULL)
		imapd_append_free(s); /* rolls back what a MULTIAPPEND added */
	imap_write_status(&s->out, tag, "BAD", code == IMAP_PARSE_ERR_TOOBIG ? "TOOBIG" : NULL,
			  text);
	x_free(&s->cmd.tag);
	if (++s->errors >= s->server->set.max_errors) {
		imapd_untagged(s, "BYE Too many errors");
		log_info("disconnect: ip=[%s] reason=too-many-errors", s->ip);
		imapd_session_close(s);
	}
}

/* Feeds one contiguous piece of input to the parser and acts on the event. */
static void session_feed(struct imapd_session *s, struct evbuffer *in, const char *p, size_t len)
{
	size_t used = 0, chunk_len = 0;
	const char *chunk = NULL;
	enum imap_parse_result r = imap_parser_feed(s->parser, p, len, &used, &chunk, &chunk_len);
	switch (r) {
	case IMAP_PARSE_MORE:
		break;
	case IMAP_PARSE_DONE:
		session_dispatch(s, imap_parser_command(s->parser));
		break;
	case IMAP_PARSE_CONTINUE:
		imap_write_continuation(&s->out, "Ready for literal data");
		break;
	case IMAP_PARSE_LITERAL:
		session_literal(s);
		break;
	case IMAP_PARSE_LITERAL_DATA:
		imapd_append_data(s, chunk, chunk_len,
				  imap_parser_literal(s->parser)->remaining == 0);
		break;
	case IMAP_PARSE_ERROR:
		session_parse_error(s);
		break;
	}
	s->in_bytes += used;
	evbuffer_drain(in, used);
	if (s->starttls_pending || s->compress_pending)
		imapd_session_flush(s); /* the reply goes out before the switch */
	if (s->starttls_pending)
		imapd_tls_switch(s);
	if (s->compress_pending)
		imapd_compress_switch(s);
}

/* Answers every complete command in the input, in order, while the output is short. */
static void session_input(struct imapd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	while (!s->busy && !s->closing && !imapd_output_full(s)) {
		in = bufferevent_get_input(s->bev); /* COMPRESS may have put a filter on top */
		if (s->idling || s->sasl != NULL) {
			size_t n;
			char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
			if (line == NULL) {
				if (evbuffer_get_length(in) > s->server->set.max_line)
					imapd_session_close(s);
				break;
			}
			s->in_bytes += n + 2;
			if (s->idling)
				imapd_idle_line(s, line);
			else
				imapd_auth_line(s, line, n);
			explicit_bzero(line, n);
			free(line);
			continue;
		}
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		session_feed(s, in, v.iov_base, v.iov_len);
		imapd_session_flush(s);
	}
	imapd_session_flush(s);
	if (s->input_eof && !s->busy && !s->closing && evbuffer_get_length(in) == 0)
		imapd_session_close(s);
}

static void session_read_cb(struct bufferevent *bev, void *arg)
{
	struct imapd_session *s = arg;
	s->turn++;
	session_input(s);
	session_turn_end(s);
}

static void session_write_cb(struct bufferevent *bev, void *arg)
{
	struct imapd_session *s = arg;
	if (s->closing) {
		server_close_written(&s->close);
		return;
	}
	s->turn++;
	if (s->job != NULL)
		session_run_job(s);
	if (s->job == NULL && !s->busy)
		session_input(s);
	session_turn_end(s);
}

static void session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct imapd_session *s = arg;
	if (what & BEV_EVENT_CONNECTED) {
		imapd_tls_connected(s);
		return;
	}
	if (s->tls_handshake) {
		server_tls_log_end(s->bev, what, s->ip);
		imapd_session_free(s);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !s->closing) {
		s->input_eof = true; /* answer what is pending, then close */
		session_input(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		log_info("disconnect: ip=[%s] user=<%s> reason=timeout", s->ip,
			 s->user.address ? s->user.address : "");
		if (!s->closing) {
			imapd_untagged(s, "BYE Autologout; idle for too long");
			imapd_session_flush(s);
		}
	}
	imapd_session_free(s);
}

void imapd_session_start(struct imapd_session *s, bool preauth)
{
	buf_append_str(&s->out, preauth ? "* PREAUTH [" : "* OK [");
	imapd_capability_write(s, &s->out);
	buf_printf(&s->out, "] Tern IMAP4 server ready%s\r\n", preauth ? ", logged in" : "");
	imapd_session_flush(s);
	imapd_session_timeouts(s);
}
