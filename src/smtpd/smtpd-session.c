/* smtpd-session: one SMTP session: socket I/O through a libevent bufferevent, the
 * command loop, replies, timeouts and the end of the session.
 *
 * Pipelining (RFC 2920 3): every complete command in the input buffer is run in order
 * and its reply appended to the output buffer, which libevent writes out once the input
 * is used up, so a batch of commands gets one batch of replies. Memory is bounded: a
 * command line longer than smtp_max_command_line is discarded to its end (500 5.5.2,
 * RFC 5321 4.5.3.1.4); the input is read up to a high watermark; a client that does not
 * read its replies stops having its commands run once 64 KB of replies wait.
 * The connection is a plain or a TLS bufferevent (implicit TLS from the first byte, or
 * swapped in by STARTTLS: smtpd-tls.c); the rest of the session does not care which.
 */
#include "smtpd.h"
#include "smtpd-private.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"
#include "rewrite.h"
#include "smtp-reply.h"
#include "tls.h"
#include "util.h"
#include "xalloc.h"

#define SMTPD_OUTPUT_MAX 65536
#define SMTPD_INPUT_HIGH 262144

static void smtpd_read_cb(struct bufferevent *bev, void *arg);
static void smtpd_write_cb(struct bufferevent *bev, void *arg);
static bool smtpd_flushed(struct smtpd_session *s);
static void smtpd_event_cb(struct bufferevent *bev, short what, void *arg);

static struct evbuffer *smtpd_output(struct smtpd_session *s)
{
	return bufferevent_get_output(s->out);
}

void smtpd_reply(struct smtpd_session *s, int code, const char *enh, const char *fmt, ...)
{
	if (s->state == SMTPD_CLOSING)
		return;
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	struct buf b = BUF_INIT;
	smtp_reply_append(&b, code, enh, text);
	evbuffer_add(smtpd_output(s), b.data, b.len);
	buf_free(&b);
	if (code >= 400)
		s->errors++;
}

void smtpd_reply_error(struct smtpd_session *s, const struct smtp_error *err)
{
	smtpd_reply(s, err->code, err->enh, "%s", err->text);
}

void smtpd_log_reject(struct smtpd_session *s, const char *verb, int code, const char *enh,
		      const char *text, const char *to)
{
	const char *from = s->mail.path.mailbox ? s->mail.path.mailbox : "";
	log_info("reject: %s from %s: %d %s %s; from=<%s>%s%s%s", verb, s->client, code,
		 enh ? enh : "", log_safe(text, strlen(text), 200),
		 log_safe(from, strlen(from), 300), to ? " to=<" : "",
		 to ? log_safe(to, strlen(to), 300) : "", to ? ">" : "");
}

void smtpd_transaction_reset(struct smtpd_session *s)
{
	smtp_mail_args_free(&s->mail);
	memset(&s->mail, 0, sizeof(s->mail));
	for (size_t i = 0; i < s->nrcpt; i++) {
		x_free(&s->rcpts[i].addr);
		x_free(&s->rcpts[i].given);
		x_free(&s->rcpts[i].dsn);
	}
	s->nrcpt = 0;
	if (s->qw != NULL)
		queue_writer_abort(&s->qw);
	s->bdat_active = false;
	s->bdat_last = false;
	s->bdat_left = 0;
	s->fail_code = 0;
	smtpd_header_scan_free(&s->hs);
	rewrite_header_free(&s->rwh);
	if (s->state & (SMTPD_MAIL | SMTPD_RCPT | SMTPD_DATA | SMTPD_BDAT))
		s->state = SMTPD_READY;
}

void smtpd_session_reset_greeting(struct smtpd_session *s)
{
	smtpd_auth_abort(s);
	smtpd_transaction_reset(s);
	x_free(&s->helo);
	x_free(&s->auth_user);
	s->esmtp = false;
	s->state = SMTPD_GREET;
}

void smtpd_session_set_bev(struct smtpd_session *s, struct bufferevent *bev)
{
	bool same = s->out == s->bev;
	s->bev = bev;
	if (same || s->out == NULL)
		s->out = bev;
	bufferevent_setcb(s->bev, smtpd_read_cb, s->out == s->bev ? smtpd_write_cb : NULL,
			  smtpd_event_cb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTPD_INPUT_HIGH);
	struct timeval tv = {(time_t)s->set->timeout, 0};
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* 127.0.0.0/8, ::1, and IPv4-mapped loopback; "" is a local pipe. */
static bool smtpd_ip_loopback(const char *ip)
{
	return ip[0] == '\0' || strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
	       strncmp(ip, "::ffff:127.", 11) == 0;
}

/* What the listener (NULL: inetd) offers this session. */
static void smtpd_session_policy(struct smtpd_session *s, const struct smtpd_listener *l)
{
	s->loopback = smtpd_ip_loopback(s->ip);
	s->submission = l != NULL && l->submission;
	s->tls_mode = l != NULL ? l->tls_mode : SMTPD_TLS_NONE;
	s->tls_ctx = l != NULL ? l->tls : NULL;
	s->auth_offered = s->local_user == NULL && (s->submission || s->set->auth_on_port25);
}

struct smtpd_session *smtpd_session_new(struct smtpd_server *srv, int fd, int out_fd,
					const char *ip, int port, const struct smtpd_listener *l,
					const char *local_user)
{
	struct smtpd_session *s = X_NEW(struct smtpd_session);
	s->srv = srv;
	s->set = srv->settings;
	smtpd_settings_ref(s->set);
	snprintf(s->ip, sizeof(s->ip), "%s", ip ? ip : "");
	if (ip != NULL)
		snprintf(s->client, sizeof(s->client), "[%s]:%d", ip, port);
	else
		snprintf(s->client, sizeof(s->client), "local");
	s->local_user = local_user ? x_strdup(local_user) : NULL;
	smtpd_session_policy(s, l);
	s->state = SMTPD_GREET;
	buf_init(&s->line, 0);
	int opts = srv->inetd ? 0 : BEV_OPT_CLOSE_ON_FREE;
	struct bufferevent *bev = NULL;
	if (s->tls_mode == SMTPD_TLS_IMPLICIT)
		bev = smtpd_tls_accept(s, fd);
	else
		bev = bufferevent_socket_new(srv->base, fd, opts);
	if (bev == NULL && s->tls_mode == SMTPD_TLS_IMPLICIT) {
		log_error("TLS from %s: cannot start TLS", s->client);
		close(fd);
		smtpd_settings_unref(&s->set);
		x_free(&s->local_user);
		buf_free(&s->line);
		free(s);
		return NULL;
	}
	struct bufferevent *out =
	    out_fd >= 0 ? bufferevent_socket_new(srv->base, out_fd, opts) : bev;
	if (bev == NULL || out == NULL)
		fatal("bufferevent_socket_new failed");
	s->out = out != bev ? out : NULL;
	smtpd_session_set_bev(s, bev);
	if (s->out != s->bev) {
		struct timeval tv = {(time_t)s->set->timeout, 0};
		bufferevent_setcb(s->out, NULL, smtpd_write_cb, smtpd_event_cb, s);
		bufferevent_set_timeouts(s->out, NULL, &tv);
		bufferevent_enable(s->out, EV_WRITE);
	}
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	log_info("connect from %s%s%s%s", s->client, local_user ? " user=" : "",
		 local_user ? local_user : "", s->tls ? " (implicit TLS)" : "");
	smtpd_reply(s, 220, NULL, "%s %s", s->set->hostname, s->set->banner);
	return s;
}

static void smtpd_log_disconnect(struct smtpd_session *s)
{
	struct buf b = BUF_INIT;
	unsigned total = 0;
	for (int v = 0; v <= SMTP_VERB_COUNT; v++) {
		if (s->counts[v] == 0)
			continue;
		char name[16];
		snprintf(name, sizeof(name), "%s", smtp_verb_name((enum smtp_verb)v));
		buf_printf(&b, " %s=%u", str_lower(name), s->counts[v]);
		total += s->counts[v];
	}
	log_info("disconnect from %s%s commands=%u", s->client, buf_cstr(&b), total);
	buf_free(&b);
}

void smtpd_session_free(struct smtpd_session *s)
{
	struct smtpd_server *srv = s->srv;
	smtpd_log_disconnect(s);
	smtpd_auth_abort(s);
	smtpd_transaction_reset(s);
	mailq_list_free(&s->mailq);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	srv->nsessions--;
	if (s->out != s->bev)
		bufferevent_free(s->out);
	bufferevent_free(s->bev);
	x_free(&s->rcpts);
	x_free(&s->helo);
	x_free(&s->local_user);
	x_free(&s->auth_user);
	if (s->line.data != NULL)
		explicit_bzero(s->line.data, s->line.len); /* an AUTH line holds a password */
	buf_free(&s->line);
	smtpd_settings_unref(&s->set);
	free(s);
	smtpd_server_session_gone(srv);
}

void smtpd_session_close(struct smtpd_session *s, int code, const char *enh, const char *text)
{
	if (s->state == SMTPD_CLOSING)
		return;
	smtpd_reply(s, code, enh, "%s", text);
	smtpd_auth_abort(s);
	smtpd_transaction_reset(s);
	s->state = SMTPD_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	/* The write callback frees the session once the reply is out. */
	if (s->out != s->bev)
		bufferevent_enable(s->out, EV_WRITE);
}

void smtpd_session_shutdown(struct smtpd_session *s)
{
	if (s->state == SMTPD_COMMIT || s->state == SMTPD_CLOSING)
		return; /* the commit callback answers, then sees the server stopping */
	smtpd_session_close(s, 421, "4.3.2", "Service shutting down");
}

/* Text of the 503 for a verb not allowed in the current state (RFC 5321 4.1.4). */
static void smtpd_bad_sequence(struct smtpd_session *s, enum smtp_verb verb)
{
	const char *text = "Error: bad sequence of commands";
	if (s->state == SMTPD_GREET &&
	    (verb == SMTP_VERB_MAIL || verb == SMTP_VERB_RCPT || verb == SMTP_VERB_DATA))
		text = "Error: send HELO/EHLO first";
	else if (verb == SMTP_VERB_MAIL)
		text = "Error: nested MAIL command";
	else if (verb == SMTP_VERB_RCPT)
		text = "Error: need MAIL command";
	else if (verb == SMTP_VERB_DATA && s->state == SMTPD_MAIL) {
		/* RFC 5321 3.3: MAIL given but every RCPT refused. */
		smtpd_reply(s, 554, "5.5.1", "Error: no valid recipients");
		return;
	} else if (verb == SMTP_VERB_DATA)
		text = "Error: need RCPT command";
	smtpd_reply(s, 503, "5.5.1", "%s", text);
}

static void smtpd_run_command(struct smtpd_session *s)
{
	struct smtp_command cmd;
	struct smtp_error err;
	int r = smtp_command_parse(s->line.data ? s->line.data : "", s->line.len, &cmd, &err);
	s->counts[cmd.verb]++;
	if (r < 0) {
		smtpd_reply_error(s, &err);
		return;
	}
	const struct smtpd_command *c = smtpd_command_find(cmd.verb);
	if (!(c->states & s->state) && cmd.verb != SMTP_VERB_BDAT) {
		smtpd_bad_sequence(s, cmd.verb);
		return;
	}
	if (!c->pipelining && cmd.verb != SMTP_VERB_QUIT &&
	    evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
		log_debug("improper command pipelining after %s from %s", smtp_verb_name(cmd.verb),
			  s->client);
	c->handler(s, &cmd);
}

/* Takes the next command line into s->line. 1: a line to run; 0: none complete yet;
 * -1: an over-long line was discarded and answered. */
static int smtpd_read_line(struct smtpd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t eol_len = 0;
	struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	size_t max = smtpd_auth_line_max(s);
	if (p.pos < 0) {
		size_t len = evbuffer_get_length(in);
		if (s->skipping || len >= max) {
			s->skipping = true;
			evbuffer_drain(in, len);
		}
		return 0;
	}
	size_t len = (size_t)p.pos;
	if (s->skipping || len + eol_len > max) {
		evbuffer_drain(in, len + eol_len);
		s->skipping = false;
		s->counts[SMTP_VERB_UNKNOWN]++;
		smtpd_reply(s, 500, "5.5.2", "Error: line too long");
		return -1;
	}
	buf_reset(&s->line);
	char *dst = buf_reserve(&s->line, len + 1);
	evbuffer_remove(in, dst, len);
	s->line.len = len;
	dst[len] = '\0';
	evbuffer_drain(in, eol_len);
	return 1;
}

int smtpd_session_process(struct smtpd_session *s)
{
	if (s->processing)
		return 0;
	s->processing = true;
	while (!(s->state & (SMTPD_COMMIT | SMTPD_CLOSING | SMTPD_AUTH_WAIT))) {
		/* Fetched each time: STARTTLS puts another bufferevent in place. */
		struct evbuffer *in = bufferevent_get_input(s->bev);
		if (evbuffer_get_length(smtpd_output(s)) > SMTPD_OUTPUT_MAX)
			break; /* resumed by the write callback */
		if (s->state == SMTPD_MAILQ) {
			smtpd_mailq_step(s);
			continue;
		}
		if (s->state & (SMTPD_DATA | SMTPD_BDAT)) {
			if (evbuffer_get_length(in) == 0 &&
			    !(s->state == SMTPD_BDAT && s->bdat_left == 0))
				break;
			smtpd_data_input(s);
			continue;
		}
		int r = smtpd_read_line(s);
		if (r == 0)
			break;
		if (r > 0 && s->state == SMTPD_AUTH)
			smtpd_auth_input(s);
		else if (r > 0)
			smtpd_run_command(s);
		else if (s->state == SMTPD_AUTH) {
			smtpd_auth_abort(s); /* the over-long response ends the exchange */
			s->state = SMTPD_READY;
		}
		if (s->errors > s->set->max_errors && s->state != SMTPD_CLOSING) {
			log_info("too many errors from %s", s->client);
			smtpd_session_close(s, 421, "4.7.0", "Error: too many errors");
		}
	}
	s->processing = false;
	if (s->eof && !(s->state & (SMTPD_COMMIT | SMTPD_CLOSING | SMTPD_AUTH_WAIT | SMTPD_MAILQ))) {
		/* The client closed its side and nothing more will come. */
		if (evbuffer_get_length(smtpd_output(s)) == 0 && smtpd_flushed(s)) {
			smtpd_session_free(s);
			return -1;
		}
		smtpd_transaction_reset(s);
		s->state = SMTPD_CLOSING; /* the write callback frees it */
	}
	return 0;
}

static void smtpd_linger_write_cb(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		smtpd_session_free(arg);
}

static void smtpd_linger_event_cb(struct bufferevent *bev, short what, void *arg)
{
	smtpd_session_free(arg);
}

/* Is the last reply on the wire? After STARTTLS the TLS bufferevent filters the socket's
 * one, and the encrypted bytes may still wait there: then the socket's bufferevent is
 * watched until they are out (the TLS layer has nothing more to do). */
static bool smtpd_flushed(struct smtpd_session *s)
{
	struct bufferevent *under = bufferevent_get_underlying(s->out);
	if (under == NULL || evbuffer_get_length(bufferevent_get_output(under)) == 0)
		return true;
	struct timeval tv = {(time_t)s->set->timeout, 0};
	bufferevent_setcb(under, NULL, smtpd_linger_write_cb, smtpd_linger_event_cb, s);
	bufferevent_set_timeouts(under, NULL, &tv);
	bufferevent_enable(under, EV_WRITE);
	return false;
}

static void smtpd_read_cb(struct bufferevent *bev, void *arg)
{
	smtpd_session_process(arg);
}

static void smtpd_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtpd_session *s = arg;
	if (s->state == SMTPD_CLOSING) {
		if (evbuffer_get_length(smtpd_output(s)) == 0 && smtpd_flushed(s))
			smtpd_session_free(s);
		return;
	}
	smtpd_session_process(s);
}

static void smtpd_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtpd_session *s = arg;
	if (what & BEV_EVENT_CONNECTED) {
		smtpd_tls_connected(s); /* the TLS handshake is done */
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_READING) && (s->state & (SMTPD_COMMIT | SMTPD_AUTH_WAIT))) {
			bufferevent_enable(s->bev, EV_READ); /* our wait, not the client's */
			return;
		}
		if ((what & BEV_EVENT_READING) && s->state != SMTPD_CLOSING) {
			log_info("timeout from %s", s->client);
			smtpd_session_close(s, 421, "4.4.2", "Error: timeout exceeded");
			return;
		}
		what |= BEV_EVENT_ERROR; /* a client that does not read its replies */
	}
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && bev == s->bev) {
		s->eof = true;
		bufferevent_disable(s->bev, EV_READ);
		if (!(s->state & (SMTPD_COMMIT | SMTPD_CLOSING)))
			smtpd_session_process(s); /* run what is buffered, e.g. a final QUIT */
		return;
	}
	if ((what & BEV_EVENT_ERROR) && s->tls && !s->tls_done)
		smtpd_tls_failed(s);
	else if (what & BEV_EVENT_ERROR)
		log_info("lost connection from %s", s->client);
	if (s->state == SMTPD_COMMIT) {
		s->gone = true; /* the commit callback still points at the session */
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
		return;
	}
	smtpd_session_free(s);
}
