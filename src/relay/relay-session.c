/* relay-session: the SMTP and LMTP client protocol over a connected relay_conn.
 *
 * RFC 5321 (EHLO, falling back to HELO on a 5xx; MAIL/RCPT/DATA; RSET after a failed
 * transaction; QUIT), RFC 2920 PIPELINING (MAIL, every RCPT and DATA in one write,
 * replies matched in order), RFC 1870 SIZE (a message bigger than the server's limit fails
 * with 5.3.4 before MAIL), RFC 6152 8BITMIME (BODY=8BITMIME; to a server without it the
 * message is sent anyway with a log line, or fails with 5.6.3 when relay_8bitmime=bounce),
 * RFC 6531 3.4 (an SMTPUTF8 message to a server without SMTPUTF8 fails with 5.6.7),
 * RFC 3030 CHUNKING (BDAT in blocks of RELAY_CHUNK, no dot-stuffing), RFC 3207 STARTTLS
 * per the destination's policy, RFC 4954 AUTH PLAIN/LOGIN to the smarthost (only under
 * TLS or on loopback), RFC 2033 LMTP (LHLO; one reply per accepted recipient after the
 * data), RFC 3461 5.2.1 DSN (to a server that offers it, RET and ENVID on MAIL and
 * NOTIFY and ORCPT on RCPT as they were received; to one without, none of them, and the
 * recipient's result says so for the caller's "relayed" report, 5.2.2). Timeouts per
 * RFC 5321 4.5.3.2 (relay_timeout_*).
 */
#include "relay-int.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

#define RELAY_CHUNK (256 * 1024)
#define RELAY_OUT_HIGH (256 * 1024)

static void relay_session_ready(struct relay_conn *c);

void relay_reply_result(struct relay_conn *c, const struct smtp_reply *rp, const char *cmd,
			struct relay_rcpt *rc)
{
	int cls = rp->code / 100;
	enum delivery_status st = cls == 2   ? DELIVERY_OK
				  : cls == 5 ? DELIVERY_BOUNCE
					     : DELIVERY_DEFER;
	char enh[16];
	if (rp->enh[0] != '\0' && rp->enh[0] == (char)('0' + cls))
		snprintf(enh, sizeof(enh), "%s", rp->enh);
	else
		snprintf(enh, sizeof(enh), "%d.0.0", cls == 2 || cls == 5 ? cls : 4);
	char text[200];
	snprintf(text, sizeof(text), "%s", buf_cstr(&rp->text));
	for (char *p = text; *p != '\0'; p++)
		if (*p == '\n' || (unsigned char)*p < ' ')
			*p = ' ';
	relay_rcpt_set(rc, st, enh, "%s said: %d %s%s%s (in reply to %s)", c->peer, rp->code,
		       rp->enh, rp->enh[0] ? " " : "", text, cmd);
	rc->dsn_passed = st == DELIVERY_OK && c->caps.dsn;
}

/* ---- Greeting, EHLO, STARTTLS, AUTH ---- */

void relay_session_connected(struct relay_conn *c)
{
	if (c->state == RS_TLS_HANDSHAKE) {
		c->tls_on = true;
		c->state = RS_EHLO;
		relay_conn_send(c, "%s %s", c->lmtp ? "LHLO" : "EHLO", c->relay->conf.hostname);
	} else {
		c->state = RS_GREETING;
	}
	relay_conn_timeout(c, c->relay->conf.t_initial);
}

static char *relay_b64(const char *s, size_t n)
{
	char *out = x_malloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

static void relay_session_auth(struct relay_conn *c)
{
	const struct relay_conf *rc = &c->relay->conf;
	if (!c->tls_on && !c->loopback) {
		char *t = x_asprintf("4.7.0 not sending credentials to %s without TLS", c->peer);
		relay_conn_next_host(c, t);
		free(t);
		return;
	}
	if (c->caps.auth_plain) {
		size_t ul = strlen(rc->auth_user), pl = strlen(rc->auth_pass);
		char *raw = x_malloc(ul + pl + 2);
		raw[0] = '\0';
		memcpy(raw + 1, rc->auth_user, ul);
		raw[ul + 1] = '\0';
		memcpy(raw + ul + 2, rc->auth_pass, pl);
		char *b = relay_b64(raw, ul + pl + 2);
		relay_conn_send(c, "AUTH PLAIN %s", b);
		explicit_bzero(raw, ul + pl + 2);
		free(raw);
		free(b);
		c->state = RS_AUTH;
	} else if (c->caps.auth_login) {
		relay_conn_send(c, "AUTH LOGIN");
		c->state = RS_AUTH_USER;
	} else {
		char *t = x_asprintf("4.7.0 %s offers neither AUTH PLAIN nor LOGIN", c->peer);
		relay_conn_next_host(c, t);
		free(t);
	}
}

/* After EHLO/HELO (again after STARTTLS): TLS, then AUTH, then ready. */
static void relay_session_after_hello(struct relay_conn *c)
{
	if (!c->tls_on && c->tls_policy != RELAY_TLS_NONE && c->caps.starttls) {
		relay_conn_send(c, "STARTTLS");
		c->state = RS_STARTTLS;
		return;
	}
	if (!c->tls_on && c->tls_policy >= RELAY_TLS_ENCRYPT) {
		char *t = x_asprintf("4.7.10 TLS is required for %s, which does not offer "
				     "STARTTLS",
				     c->peer);
		relay_conn_next_host(c, t);
		free(t);
		return;
	}
	if (c->dest->hop.smarthost && c->relay->conf.auth_user != NULL) {
		relay_session_auth(c);
		return;
	}
	relay_session_ready(c);
}

static void relay_session_hello_reply(struct relay_conn *c, const struct smtp_reply *rp)
{
	if (rp->code / 100 == 2) {
		if (c->state == RS_EHLO)
			relay_caps_parse(rp->text.data, rp->text.len, &c->caps);
		else
			memset(&c->caps, 0, sizeof(c->caps));
		relay_session_after_hello(c);
	} else if (c->state == RS_EHLO && !c->lmtp && rp->code / 100 == 5) {
		relay_conn_send(c, "HELO %s", c->relay->conf.hostname);
		c->state = RS_HELO;
	} else {
		struct relay_rcpt tmp = {0};
		relay_reply_result(c, rp, c->state == RS_EHLO ? "EHLO" : "HELO", &tmp);
		char *t = x_asprintf("%s %s", tmp.res.enhanced, tmp.res.text);
		relay_conn_next_host(c, t);
		free(t);
	}
}

static void relay_session_login_step(struct relay_conn *c, const struct smtp_reply *rp)
{
	const struct relay_conf *rc = &c->relay->conf;
	if (rp->code == 334 && c->state != RS_AUTH) {
		const char *s = c->state == RS_AUTH_USER ? rc->auth_user : rc->auth_pass;
		char *b = relay_b64(s, strlen(s));
		relay_conn_send(c, "%s", b);
		free(b);
		c->state = c->state == RS_AUTH_USER ? RS_AUTH_PASS : RS_AUTH;
		return;
	}
	if (rp->code / 100 == 2) {
		relay_session_ready(c);
		return;
	}
	struct relay_rcpt tmp = {0};
	relay_reply_result(c, rp, "AUTH", &tmp);
	char *t = x_asprintf("4.7.0 authentication failed: %s", tmp.res.text);
	relay_conn_next_host(c, t);
	free(t);
}

/* ---- Transactions ---- */

static void relay_session_ready(struct relay_conn *c)
{
	if (!c->was_ready) {
		c->was_ready = true;
		c->dest->starting--;
		log_debug("relay: %s: connected to %s%s", c->dest->key, c->peer,
			  c->tls_on ? " with TLS" : "");
	}
	c->state = RS_READY;
	relay_session_next(c);
}

static void relay_msg_fail(struct relay_conn *c, const char *enh, const char *text)
{
	for (size_t i = 0; i < c->msg->rcpt_count; i++)
		relay_rcpt_set(&c->msg->rcpts[i], DELIVERY_BOUNCE, enh, "%s", text);
	relay_msg_complete(c->relay, c->msg);
	c->msg = NULL;
}

/* Can msg go over this connection? Fails it (and returns false) when not. */
static bool relay_msg_fits(struct relay_conn *c, struct relay_msg *m)
{
	char t[300];
	if (m->smtputf8 && !c->caps.smtputf8) {
		snprintf(t, sizeof(t),
			 "%.200s does not support SMTPUTF8, which the message needs "
			 "(RFC 6531 3.4)",
			 c->peer);
		relay_msg_fail(c, "5.6.7", t);
		return false;
	}
	if (c->caps.size_max > 0 && m->size > c->caps.size_max) {
		snprintf(t, sizeof(t), "message of %llu bytes exceeds the limit of %.200s (%llu)",
			 (unsigned long long)m->size, c->peer,
			 (unsigned long long)c->caps.size_max);
		relay_msg_fail(c, "5.3.4", t);
		return false;
	}
	if (m->eightbit && !c->caps.eightbit) {
		if (c->relay->conf.bounce_8bit) {
			snprintf(t, sizeof(t), "%.200s does not support 8BITMIME", c->peer);
			relay_msg_fail(c, "5.6.3", t);
			return false;
		}
		log_info("%s: relay=%s: 8-bit message sent to a server without 8BITMIME",
			 m->queue_id, c->peer);
	}
	return true;
}

/* " KEY=value" when value is set and the server offers DSN (RFC 3461 5.2.1, 5.2.2 a). */
static void relay_dsn_param(const struct relay_conn *c, struct buf *b, const char *key,
			    const char *value)
{
	if (c->caps.dsn && value != NULL)
		buf_printf(b, " %s=%s", key, value);
}

static void relay_session_cmd(struct relay_conn *c, size_t i)
{
	struct relay_msg *m = c->msg;
	struct buf dsn = BUF_INIT;
	if (i == 0) {
		char size[40] = "";
		if (c->caps.size)
			snprintf(size, sizeof(size), " SIZE=%llu", (unsigned long long)m->size);
		relay_dsn_param(c, &dsn, "RET", m->dsn_ret);
		relay_dsn_param(c, &dsn, "ENVID", m->dsn_envid);
		relay_conn_send(c, "MAIL FROM:<%s>%s%s%s%s", m->sender, size,
				m->eightbit && c->caps.eightbit ? " BODY=8BITMIME" : "",
				m->smtputf8 && c->caps.smtputf8 ? " SMTPUTF8" : "", buf_cstr(&dsn));
	} else if (i <= m->rcpt_count) {
		const struct relay_rcpt *rc = &m->rcpts[i - 1];
		relay_dsn_param(c, &dsn, "NOTIFY", rc->notify);
		relay_dsn_param(c, &dsn, "ORCPT", rc->orcpt);
		relay_conn_send(c, "RCPT TO:<%s>%s", rc->addr, buf_cstr(&dsn));
	} else {
		relay_conn_send(c, "DATA");
	}
	buf_free(&dsn);
}

static void relay_session_timeout_for(struct relay_conn *c, size_t i)
{
	const struct relay_conf *rc = &c->relay->conf;
	relay_conn_timeout(c, i == 0			? rc->t_mail
			      : i <= c->msg->rcpt_count ? rc->t_rcpt
							: rc->t_data);
}

static void relay_session_idle_end(evutil_socket_t fd, short what, void *arg)
{
	struct relay_conn *c = arg;
	if (c->dead || c->state != RS_IDLE)
		return;
	c->dest->idle--;
	c->state = RS_QUIT;
	relay_conn_send(c, "QUIT");
	relay_conn_timeout(c, c->relay->conf.t_initial);
}

/* Nothing to send: stay open for relay_connection_cache_time (connection reuse). */
static void relay_session_idle(struct relay_conn *c)
{
	if (c->ev_idle == NULL)
		c->ev_idle = evtimer_new(c->relay->base, relay_session_idle_end, c);
	struct timeval tv = {.tv_sec = c->relay->conf.cache_time};
	if (c->ev_idle == NULL || evtimer_add(c->ev_idle, &tv) < 0)
		fatal("relay: cannot set a timer");
	c->state = RS_IDLE;
	c->dest->idle++;
	relay_conn_timeout(c, 0);
}

void relay_session_wake(struct relay_conn *c)
{
	evtimer_del(c->ev_idle);
	c->dest->idle--;
	c->state = RS_READY;
	relay_session_next(c);
}

void relay_session_next(struct relay_conn *c)
{
	struct relay_msg *m = NULL;
	while (c->msgs_done < c->relay->conf.max_msgs_per_conn &&
	       (m = relay_dest_take(c->dest)) != NULL) {
		c->msg = m;
		if (relay_msg_fits(c, m))
			break;
		c->msgs_done++;
		m = NULL;
	}
	if (m == NULL && c->msgs_done < c->relay->conf.max_msgs_per_conn &&
	    c->relay->conf.cache_time > 0) {
		relay_session_idle(c);
		return;
	}
	if (m == NULL) {
		relay_conn_send(c, "QUIT");
		c->state = RS_QUIT;
		relay_conn_timeout(c, c->relay->conf.t_initial);
		return;
	}
	c->cmd_total = 1 + m->rcpt_count + (c->caps.chunking && !c->lmtp ? 0 : 1);
	c->cmd_sent = c->cmd_replied = c->accepted = c->lmtp_replies = 0;
	c->mail_failed = false;
	free(c->accepted_idx);
	c->accepted_idx = x_calloc(m->rcpt_count, sizeof(*c->accepted_idx));
	c->state = RS_TRANSACTION;
	do
		relay_session_cmd(c, c->cmd_sent++);
	while (c->caps.pipelining && c->cmd_sent < c->cmd_total);
	relay_session_timeout_for(c, 0);
}

/* The message is done on this connection; rset: the server holds a transaction. */
static void relay_session_msg_done(struct relay_conn *c, bool rset)
{
	for (size_t i = 0; i < c->msg->rcpt_count; i++)
		if (!c->msg->rcpts[i].done)
			relay_rcpt_set(&c->msg->rcpts[i], DELIVERY_DEFER, "4.4.2",
				       "no reply from %s for this recipient", c->peer);
	relay_msg_complete(c->relay, c->msg);
	c->msg = NULL;
	c->msgs_done++;
	if (rset) {
		relay_conn_send(c, "RSET");
		c->state = RS_RSET;
		relay_conn_timeout(c, c->relay->conf.t_mail);
	} else {
		relay_session_next(c);
	}
}

static void relay_session_accepted_result(struct relay_conn *c, const struct smtp_reply *rp,
					  const char *cmd)
{
	for (size_t i = 0; i < c->accepted; i++)
		relay_reply_result(c, rp, cmd, &c->msg->rcpts[c->accepted_idx[i]]);
}

static int relay_session_open_data(struct relay_conn *c, bool dot_stuff)
{
	c->data_fd = open(c->msg->data_path, O_RDONLY | O_CLOEXEC);
	if (c->data_fd < 0) {
		char *t = x_asprintf("4.3.0 cannot open the queued message: %s", strerror(errno));
		relay_conn_close(c, t);
		free(t);
		return -1;
	}
	c->data_left = c->msg->size;
	c->dot = (struct relay_dot){.dot_stuff = dot_stuff, .max_line = c->relay->conf.max_line};
	return 0;
}

/* Reads the next block of the queued data, converted; true at its end. -1: error. */
static int relay_session_block(struct relay_conn *c, struct buf *out)
{
	static char raw[RELAY_CHUNK / 2];
	size_t want = c->data_left < sizeof(raw) ? (size_t)c->data_left : sizeof(raw);
	ssize_t n = want > 0 ? read(c->data_fd, raw, want) : 0;
	if (n < 0 || (n == 0 && want > 0)) {
		relay_conn_close(c, "4.3.0 cannot read the queued message");
		return -1;
	}
	c->data_left -= (uint64_t)n;
	relay_dot_encode(&c->dot, raw, (size_t)n, out);
	if (c->data_left > 0)
		return 0;
	close(c->data_fd);
	c->data_fd = -1;
	if (c->dot.broken > 0)
		log_info("%s: relay=%s: %u line(s) longer than %zu octets broken (relay_max_line_length)",
			 c->msg->queue_id, c->peer, c->dot.broken, c->dot.max_line);
	return 1;
}

void relay_session_stream(struct relay_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct buf b = BUF_INIT;
	while (c->state == RS_DATA_STREAM && evbuffer_get_length(out) < RELAY_OUT_HIGH) {
		buf_reset(&b);
		int r = relay_session_block(c, &b);
		if (r < 0)
			break;
		if (r == 1) {
			relay_dot_finish(&c->dot, true, &b);
			c->state = RS_FINAL;
			relay_conn_timeout(c, c->relay->conf.t_final);
		}
		evbuffer_add(out, b.data, b.len);
	}
	buf_free(&b);
}

static void relay_session_bdat(struct relay_conn *c)
{
	struct buf b = BUF_INIT;
	int r = relay_session_block(c, &b);
	if (r >= 0) {
		if (r == 1)
			relay_dot_finish(&c->dot, false, &b);
		c->data_last = r == 1;
		relay_conn_send(c, "BDAT %zu%s", b.len, r == 1 ? " LAST" : "");
		evbuffer_add(bufferevent_get_output(c->bev), b.data, b.len);
		c->state = RS_BDAT;
		relay_conn_timeout(c, r == 1 ? c->relay->conf.t_final : c->relay->conf.t_block);
	}
	buf_free(&b);
}

static void relay_session_start_data(struct relay_conn *c, bool bdat)
{
	if (relay_session_open_data(c, !bdat) < 0)
		return;
	if (bdat) {
		relay_session_bdat(c);
		return;
	}
	c->state = RS_DATA_STREAM;
	relay_conn_timeout(c, 0);
	relay_session_stream(c);
}

static void relay_session_txn_reply(struct relay_conn *c, const struct smtp_reply *rp)
{
	struct relay_msg *m = c->msg;
	size_t i = c->cmd_replied++;
	bool ok = rp->code / 100 == 2;
	if (i == 0 && !ok) {
		c->mail_failed = true;
		for (size_t k = 0; k < m->rcpt_count; k++)
			relay_reply_result(c, rp, "MAIL FROM", &m->rcpts[k]);
	} else if (i > 0 && i <= m->rcpt_count && !c->mail_failed) {
		if (ok)
			c->accepted_idx[c->accepted++] = i - 1;
		else
			relay_reply_result(c, rp, "RCPT TO", &m->rcpts[i - 1]);
	} else if (i > m->rcpt_count) { /* DATA */
		if (rp->code == 354 && c->accepted > 0 && !c->mail_failed) {
			relay_session_start_data(c, false);
		} else if (rp->code == 354) {
			relay_conn_send(c, "."); /* nobody to send to: an empty message */
			c->state = RS_DUMMY_DOT;
		} else {
			if (!c->mail_failed)
				relay_session_accepted_result(c, rp, "DATA");
			relay_session_msg_done(c, true);
		}
		return;
	}
	bool nobody = c->mail_failed || (i == m->rcpt_count && c->accepted == 0);
	if (c->cmd_sent < c->cmd_total && !c->caps.pipelining) {
		if (nobody) {
			relay_session_msg_done(c, true);
			return;
		}
		relay_session_cmd(c, c->cmd_sent++);
		relay_session_timeout_for(c, c->cmd_sent - 1);
		return;
	}
	if (c->cmd_replied < c->cmd_total) {
		relay_session_timeout_for(c, c->cmd_replied);
		return;
	}
	/* CHUNKING: every RCPT answered, no DATA command. */
	if (nobody)
		relay_session_msg_done(c, true);
	else
		relay_session_start_data(c, true);
}

static void relay_session_final_reply(struct relay_conn *c, const struct smtp_reply *rp,
				      const char *cmd)
{
	if (c->lmtp) {
		/* RFC 2033 4.2: one reply per accepted recipient, in RCPT order. */
		size_t k = c->lmtp_replies++;
		if (k < c->accepted)
			relay_reply_result(c, rp, cmd, &c->msg->rcpts[c->accepted_idx[k]]);
		if (c->lmtp_replies < c->accepted)
			return;
	} else {
		relay_session_accepted_result(c, rp, cmd);
	}
	relay_session_msg_done(c, false);
}

static void relay_session_bdat_reply(struct relay_conn *c, const struct smtp_reply *rp)
{
	if (rp->code / 100 != 2) {
		relay_session_accepted_result(c, rp, "BDAT");
		if (c->data_fd >= 0)
			close(c->data_fd), c->data_fd = -1;
		relay_session_msg_done(c, true);
	} else if (c->data_last) {
		relay_session_final_reply(c, rp, "end of data");
	} else {
		relay_session_bdat(c);
	}
}

static void relay_session_starttls_reply(struct relay_conn *c, const struct smtp_reply *rp)
{
	if (rp->code == 220) {
		/* Anything the server sent after its 220 is not part of the TLS session. */
		struct evbuffer *in = bufferevent_get_input(c->bev);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (relay_tls_start(c) < 0)
			relay_conn_next_host(c, "4.7.5 cannot set up TLS");
		return;
	}
	if (c->tls_policy >= RELAY_TLS_ENCRYPT) {
		char *t = x_asprintf("4.7.10 %s refused STARTTLS (%d), and TLS is required",
				     c->peer, rp->code);
		relay_conn_next_host(c, t);
		free(t);
		return;
	}
	c->tls_policy = RELAY_TLS_NONE; /* go on in clear text */
	relay_session_after_hello(c);
}

void relay_session_reply(struct relay_conn *c)
{
	const struct smtp_reply *rp = &c->reply;
	log_debug("relay: %s: state %d, reply %d", c->peer, (int)c->state, rp->code);
	switch (c->state) {
	case RS_GREETING:
		if (rp->code / 100 != 2) {
			struct relay_rcpt tmp = {0};
			relay_reply_result(c, rp, "the greeting", &tmp);
			char *t = x_asprintf("4.4.1 %s", tmp.res.text);
			relay_conn_next_host(c, t);
			free(t);
			return;
		}
		relay_conn_send(c, "%s %s", c->lmtp ? "LHLO" : "EHLO", c->relay->conf.hostname);
		c->state = RS_EHLO;
		return;
	case RS_EHLO:
	case RS_HELO:
		relay_session_hello_reply(c, rp);
		return;
	case RS_STARTTLS:
		relay_session_starttls_reply(c, rp);
		return;
	case RS_AUTH:
	case RS_AUTH_USER:
	case RS_AUTH_PASS:
		relay_session_login_step(c, rp);
		return;
	case RS_TRANSACTION:
		relay_session_txn_reply(c, rp);
		return;
	case RS_FINAL:
		relay_session_final_reply(c, rp, "end of data");
		return;
	case RS_BDAT:
		relay_session_bdat_reply(c, rp);
		return;
	case RS_DUMMY_DOT:
		relay_session_msg_done(c, true);
		return;
	case RS_RSET:
		if (rp->code / 100 == 2)
			relay_session_next(c);
		else
			relay_conn_close(c, "4.4.2 RSET refused");
		return;
	case RS_QUIT:
		relay_conn_close(c, "4.4.2 closed");
		return;
	default:
		relay_conn_close(c, "4.4.2 unexpected reply");
		return;
	}
}
