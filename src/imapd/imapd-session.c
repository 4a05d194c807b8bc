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

static const struct server_conn_ops imapd_conn_ops;

static const struct server_conn_limits imapd_limits = {
    .in_high = IMAPD_IN_HIGH, .out_low = IMAPD_OUT_LOW, .out_high = IMAPD_OUT_HIGH};

static char *str_upper_dup(const char *s)
{
	char *d = x_strdup(s);
	for (char *p = d; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return d;
}

struct imapd_session *imapd_session_new(struct imapd_server *srv, struct bufferevent *bev,
					const struct net_peer *peer)
{
	struct imapd_session *s = X_NEW(struct imapd_session);
	s->server = srv;
	s->state = IMAPD_S_NOAUTH;
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	lim.max_line = srv->set.max_line;
	lim.max_literal = srv->set.max_literal;
	lim.literal_plus = true;
	s->parser = imap_parser_new(&lim);
	server_conn_init(&s->conn, &srv->core.sessions, &imapd_conn_ops, s, bev, peer,
			 &imapd_limits);
	imapd_session_setup_bev(s);
	return s;
}

void imapd_session_setup_bev(struct imapd_session *s)
{
	server_conn_setup_bev(&s->conn, imapd_session_timeout_s(s));
}

bool imapd_plaintext_ok(const struct imapd_session *s)
{
	return auth_plaintext_ok(s->server->core.auth, s->conn.tls || s->conn.local, s->conn.loopback);
}

uint64_t imapd_session_timeout_s(const struct imapd_session *s)
{
	const struct imapd_settings *set = &s->server->set;
	return s->state == IMAPD_S_NOAUTH ? set->login_timeout_s : set->timeout_s;
}

void imapd_session_timeouts(struct imapd_session *s)
{
	server_conn_timeouts(&s->conn, imapd_session_timeout_s(s));
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
	session_job_end(s);
	imapd_append_free(s);
	imapd_auth_abort(s);
	server_syslogin_free(&s->syslogin);
	imapd_idle_stop(s);
	imapd_notify_free(s);
	if (s->state != IMAPD_S_NOAUTH) {
		log_info("logout: user=<%s> ip=[%s] in=%llu out=%llu", s->user.address, s->conn.ip,
			 (unsigned long long)s->conn.in_bytes, (unsigned long long)s->conn.out_bytes);
		imapd_logout(s);
	}
	if (s->delay != NULL)
		event_free(s->delay);
	if (s->auth_job != NULL)
		auth_job_cancel(s->auth_job);
	x_free(&s->auth_user);
	server_conn_free(&s->conn);
	imap_parser_free(&s->parser);
	imap_seqset_free(&s->saved);
	imap_seqset_free(&s->shown);
	imap_seqset_free(&s->recent);
	x_free(&s->cmd.tag);
	x_free(&s->cmd.name);
	x_free(&s);
}

/* Direct sends (server_conn_ops.direct_ok) wait for a pending switch to TLS or DEFLATE. */
static bool session_direct_ok(void *arg)
{
	struct imapd_session *s = arg;
	return !s->compressed && !s->compress_pending && !s->starttls_pending;
}

void imapd_session_flush(struct imapd_session *s)
{
	server_conn_flush(&s->conn);
}

bool imapd_output_full(struct imapd_session *s)
{
	return server_conn_output_full(&s->conn);
}

void imapd_untagged(struct imapd_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_append_str(&s->conn.out, "* ");
	buf_vprintf(&s->conn.out, fmt, ap);
	buf_append_str(&s->conn.out, "\r\n");
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
	imap_write_status(&s->conn.out, s->cmd.tag, status, code, text);
	if (strcmp(status, "BAD") == 0)
		s->conn.errors++;
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
	server_conn_close(&s->conn);
}

static void session_run_job(struct imapd_session *s)
{
	if (s->job == NULL)
		return;
	bool more = s->job(s);
	imapd_session_flush(s);
	if (!more) {
		session_job_end(s);
		s->conn.busy = false;
	}
}

void imapd_job_start(struct imapd_session *s, imapd_job_fn *fn, imapd_job_free_fn *free_fn,
		     void *ctx)
{
	s->job = fn;
	s->job_free = free_fn;
	s->job_ctx = ctx;
	s->conn.busy = true;
	session_run_job(s);
}

void imapd_session_resume(struct imapd_session *s)
{
	server_conn_resume(&s->conn);
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
				imap_write_continuation(&s->conn.out, "Ready for literal data");
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
	imap_write_status(&s->conn.out, tag, "BAD", code == IMAP_PARSE_ERR_TOOBIG ? "TOOBIG" : NULL,
			  text);
	x_free(&s->cmd.tag);
	if (++s->conn.errors >= s->server->set.max_errors) {
		imapd_untagged(s, "BYE Too many errors");
		log_info("disconnect: ip=[%s] reason=too-many-errors", s->conn.ip);
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
		imap_write_continuation(&s->conn.out, "Ready for literal data");
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
	s->conn.in_bytes += used;
	evbuffer_drain(in, used);
	if (s->starttls_pending || s->compress_pending)
		imapd_session_flush(s); /* the reply goes out before the switch */
	if (s->starttls_pending)
		imapd_tls_switch(s);
	if (s->compress_pending)
		imapd_compress_switch(s);
}

/* What the input holds next (server_conn_input's loop): a line of IDLE or of an
 * AUTHENTICATE exchange, else a piece for the command parser. */
static bool session_consume(void *arg, struct evbuffer *in)
{
	struct imapd_session *s = arg;
	if (s->idling || s->sasl != NULL) {
		size_t n;
		char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > s->server->set.max_line)
				imapd_session_close(s);
			return false;
		}
		s->conn.in_bytes += n + 2;
		if (s->idling)
			imapd_idle_line(s, line);
		else
			imapd_auth_line(s, line, n);
		explicit_bzero(line, n);
		free(line);
		return true;
	}
	const char *p;
	size_t len;
	if (!server_conn_peek(in, &p, &len))
		return false;
	session_feed(s, in, p, len);
	return true;
}

/* The output drained: the next step of a command that runs in steps. */
static bool session_writable(void *arg)
{
	struct imapd_session *s = arg;
	if (s->job == NULL)
		return false;
	session_run_job(s);
	return s->job != NULL;
}

static void session_tls_connected(void *arg)
{
	imapd_tls_connected(arg);
}

/* RFC 9051 7.1.5: BYE before the server closes. */
static void session_timeout(void *arg)
{
	struct imapd_session *s = arg;
	log_info("disconnect: ip=[%s] user=<%s> reason=timeout", s->conn.ip,
		 s->user.address ? s->user.address : "");
	imapd_untagged(s, "BYE Autologout; idle for too long");
}

/* SIGTERM: a system user's session lets its process go (it sees the end of its socket);
 * the others get BYE (RFC 9051 7.1.5) unless a command is sending its steps. */
static void session_shutdown(void *arg)
{
	struct imapd_session *s = arg;
	if (s->syslogin.proxy != NULL) {
		server_syslogin_free(&s->syslogin);
		imapd_session_setup_bev(s);
	} else if (s->job == NULL) {
		imapd_untagged(s, "BYE server shutting down");
	}
}

static void session_free(void *arg)
{
	imapd_session_free(arg);
}

static const struct server_conn_ops imapd_conn_ops = {
    .consume = session_consume,
    .writable = session_writable,
    .tls_connected = session_tls_connected,
    .timeout = session_timeout,
    .shutdown = session_shutdown,
    .free = session_free,
    .direct_ok = session_direct_ok,
};

void imapd_session_start(struct imapd_session *s, bool preauth)
{
	buf_append_str(&s->conn.out, preauth ? "* PREAUTH [" : "* OK [");
	imapd_capability_write(s, &s->conn.out);
	buf_printf(&s->conn.out, "] Tern IMAP4 server ready%s\r\n", preauth ? ", logged in" : "");
	imapd_session_flush(s);
	imapd_session_timeouts(s);
}
