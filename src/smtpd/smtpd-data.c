/* smtpd-data: DATA and BDAT: the message streams from the input buffer through the
 * smtp_data decoder straight into a queue writer, behind a Received: header (RFC 5321
 * 4.4); at its end the limits and policies are checked and the queue's group commit
 * makes it durable before "250 ... queued as" (DESIGN.md principle 1).
 *
 * DATA follows RFC 5321 4.1.1.4 and 4.5.2; BDAT RFC 3030 2 (a refused BDAT still has its
 * chunk read). Nothing holds the whole message: at most one 16 KB piece is in flight,
 * plus, for an authenticated client, the header section (smtpd-header.c adds a missing
 * Message-ID and Date, RFC 6409 8). The trace field says ESMTPS/ESMTPA/ESMTPSA and the
 * TLS version and cipher (RFC 3848). For the clients of header_rewrite_clients (local and
 * authenticated ones by default) the header first streams through lib-rewrite, one field
 * at a time; the body never does.
 */
#include "smtpd.h"
#include "smtpd-private.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "queue.h"
#include "rewrite.h"
#include "util.h"
#include "xalloc.h"

#define SMTPD_PIECE 16384

/* Marks the transaction failed: the reply is sent once the data has been read. */
static void smtpd_data_fail(struct smtpd_session *s, int code, const char *enh, const char *text)
{
	if (s->fail_code == 0) {
		s->fail_code = code;
		s->fail_enh = enh;
		s->fail_text = text;
	}
	if (s->qw != NULL)
		queue_writer_abort(&s->qw);
}

/* A copy of the HELO name fit for a header: no 8-bit unless the message may have it. */
static void smtpd_append_helo(struct buf *b, const struct smtpd_session *s)
{
	for (const char *p = s->helo ? s->helo : "unknown"; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		buf_append_char(b, (c >= 0x80 && !s->mail.smtputf8) ? '?' : (char)c);
	}
}

/* The Received: trace field (RFC 5321 4.4); no DNS lookups here, just the address. */
static void smtpd_received(struct smtpd_session *s, struct buf *b)
{
	if (s->local_socket) {
		smtpd_local_received(b, s->set->hostname, (long)s->local_uid, queue_writer_id(s->qw),
				     s->nrcpt == 1 ? s->rcpts[0].given : NULL);
		return;
	}
	char date[64];
	rfc5322_date(time(NULL), date, sizeof(date));
	buf_append_str(b, "Received: from ");
	smtpd_append_helo(b, s);
	if (s->local_user != NULL)
		buf_printf(b, " (user %s)", s->local_user);
	else
		buf_printf(b, " ([%s])", s->ip);
	buf_printf(b, "\n\tby %s (Tern) with ", s->set->hostname);
	smtpd_protocol_name(s, b);
	if (s->tls_done)
		buf_printf(b, " (%s)", s->tls_info);
	buf_printf(b, " id %s", queue_writer_id(s->qw));
	if (s->nrcpt == 1)
		buf_printf(b, "\n\tfor <%s>", s->rcpts[0].given);
	buf_printf(b, "; %s\n", date);
}

/* Opens the queue file and writes the trace header; false (and 451) on failure. */
static bool smtpd_message_start(struct smtpd_session *s, bool bdat)
{
	struct buf err = BUF_INIT;
	s->fail_code = 0;
	s->qw = queue_writer_open(s->set->queue_dir, &err);
	if (s->qw == NULL) {
		log_error("queue: %s", buf_cstr(&err));
		buf_free(&err);
		smtpd_data_fail(s, 451, "4.3.0", "Error: queue file write error");
		return false;
	}
	buf_free(&err);
	struct buf b = BUF_INIT;
	smtpd_received(s, &b);
	if (queue_writer_write(s->qw, b.data, b.len) < 0) {
		log_error("queue: writing %s: %m", queue_writer_id(s->qw));
		smtpd_data_fail(s, 451, "4.3.0", "Error: queue file write error");
	}
	buf_free(&b);
	smtp_data_init(&s->dec, bdat);
	s->hops = (struct smtpd_hops){0, 0, true, false};
	if (s->qw != NULL && s->auth_user != NULL)
		s->hs = smtpd_header_scan_new(s->set->max_header_size);
	struct rewrite_client client = {s->local_user != NULL, s->auth_user != NULL,
					smtpd_client_in_mynetworks(s)};
	if (s->qw != NULL && rewrite_headers_for(s->set->rewrite, &client))
		s->rwh = rewrite_header_new(s->set->rewrite, REWRITE_HEADER_CLASSES,
					    s->set->rewrite_max_field);
	return s->qw != NULL;
}

void smtpd_cmd_data(struct smtpd_session *s, const struct smtp_command *cmd)
{
	if (s->bdat_active) {
		smtpd_reply(s, 503, "5.5.1", "Error: DATA after BDAT");
		return;
	}
	if (!smtpd_message_start(s, false)) {
		smtpd_reply(s, s->fail_code, s->fail_enh, "%s", s->fail_text);
		smtpd_transaction_reset(s);
		return;
	}
	s->state = SMTPD_DATA;
	smtpd_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

void smtpd_cmd_bdat(struct smtpd_session *s, const struct smtp_command *cmd)
{
	struct smtp_error err;
	uint64_t size;
	bool last;
	if (smtp_bdat_args_parse(cmd->args, cmd->args_len, &size, &last, &err) < 0) {
		smtpd_reply_error(s, &err); /* the chunk size is unknown: it cannot be skipped */
		return;
	}
	s->bdat_left = size;
	s->bdat_last = last;
	if (s->state != SMTPD_RCPT) {
		/* Refused, but the chunk is read and dropped (RFC 3030 2). */
		bool greet = s->state == SMTPD_GREET;
		bool mail = s->state == SMTPD_MAIL;
		smtpd_transaction_reset(s);
		s->fail_code = mail ? 554 : 503;
		s->fail_enh = "5.5.1";
		s->fail_text = greet  ? "Error: send HELO/EHLO first"
			       : mail ? "Error: no valid recipients"
				      : "Error: need MAIL command";
		s->bdat_left = size;
		s->state = SMTPD_BDAT;
		return;
	}
	if (!s->bdat_active)
		smtpd_message_start(s, true);
	s->bdat_active = true;
	s->state = SMTPD_BDAT;
}

/* Writes message bytes to the queue file, through the submission header scan. */
static void smtpd_data_store(struct smtpd_session *s, const char *p, size_t n)
{
	if (s->qw == NULL || n == 0)
		return;
	struct buf *held = NULL;
	if (s->hs != NULL) {
		if (smtpd_header_scan_feed(s->hs, p, n, s->set->hostname, queue_writer_id(s->qw),
					   &held) > 0)
			return; /* still in the header section */
		p = held->data ? held->data : "";
		n = held->len;
	}
	if (queue_writer_write(s->qw, p, n) < 0) {
		log_error("queue: writing %s: %m", queue_writer_id(s->qw));
		smtpd_data_fail(s, 451, "4.3.0", "Error: queue file write error");
	}
	if (held != NULL)
		smtpd_header_scan_free(&s->hs);
}

/* Writes decoded bytes, watching the size limit; the header through the rewriting. */
static void smtpd_data_write(struct smtpd_session *s, const char *p, size_t n)
{
	if (s->qw == NULL || n == 0)
		return;
	if (s->dec.bytes_out > s->set->max_message_size) {
		smtpd_data_fail(s, 552, "5.3.4", "Error: message size exceeds fixed limit");
		return;
	}
	smtpd_hops_feed(&s->hops, p, n);
	if (s->rwh != NULL && !rewrite_header_done(s->rwh)) {
		struct buf head = BUF_INIT;
		size_t used = rewrite_header_feed(s->rwh, p, n, &head);
		smtpd_data_store(s, head.data, head.len);
		buf_free(&head);
		p += used;
		n -= used;
	}
	smtpd_data_store(s, p, n);
}

/* The message ended inside its header section: write what the rewriting and the scan
 * held. */
static void smtpd_data_flush_header(struct smtpd_session *s)
{
	if (s->rwh != NULL && s->qw != NULL) {
		struct buf head = BUF_INIT;
		rewrite_header_finish(s->rwh, &head);
		smtpd_data_store(s, head.data, head.len);
		buf_free(&head);
	}
	if (s->rwh != NULL && rewrite_header_count(s->rwh) > 0 && s->qw != NULL)
		log_debug("%s: %u header addresses rewritten", queue_writer_id(s->qw),
			  rewrite_header_count(s->rwh));
	rewrite_header_free(&s->rwh);
	if (s->hs == NULL || s->qw == NULL)
		return;
	struct buf *held;
	smtpd_header_scan_finish(s->hs, s->set->hostname, queue_writer_id(s->qw), &held);
	if (held->len > 0 && queue_writer_write(s->qw, held->data, held->len) < 0) {
		log_error("queue: writing %s: %m", queue_writer_id(s->qw));
		smtpd_data_fail(s, 451, "4.3.0", "Error: queue file write error");
	}
	smtpd_header_scan_free(&s->hs);
}

/* The queue's group commit finished (in the loop's thread). */
static void smtpd_commit_done(void *arg, bool ok, const char *error)
{
	struct smtpd_session *s = arg;
	const char *id = queue_writer_id(s->qw);
	if (ok) {
		struct buf rc = BUF_INIT;
		for (size_t i = 0; i < s->nrcpt; i++)
			buf_printf(&rc, "%s<%s>", i ? "," : "", s->rcpts[i].addr);
		log_info("%s: from=<%s>, size=%llu, nrcpt=%zu, rcpt=%s, client=%s", id,
			 log_safe(s->mail.path.mailbox, strlen(s->mail.path.mailbox), 300),
			 (unsigned long long)queue_writer_size(s->qw), s->nrcpt,
			 log_safe(rc.data ? rc.data : "", rc.len, 1500), s->client);
		buf_free(&rc);
		queue_notify(s->set->queue_dir, id);
		if (!s->gone)
			smtpd_reply(s, 250, "2.0.0", "Ok: queued as %s", id);
		queue_writer_free(&s->qw);
	} else {
		log_error("%s: queue commit failed: %s", id, error ? error : "?");
		if (!s->gone)
			smtpd_reply(s, 451, "4.3.0", "Error: queue file write error");
		queue_writer_abort(&s->qw);
	}
	s->state = SMTPD_READY;
	smtpd_transaction_reset(s);
	if (s->gone) {
		smtpd_session_free(s);
		return;
	}
	if (s->srv->stopping) {
		smtpd_session_close(s, 421, "4.3.2", "Service shutting down");
		return;
	}
	bufferevent_enable(s->bev, EV_READ);
	smtpd_session_process(s);
}

/* The policy checks at the end of the message; 0 when it may be queued. */
static int smtpd_data_check(struct smtpd_session *s)
{
	const struct smtp_data *d = &s->dec;
	if (s->fail_code != 0)
		return -1;
	if (d->nul && s->set->nul_reject)
		smtpd_data_fail(s, 550, "5.6.0", "Error: message contains NUL characters");
	else if (d->bare_lf && s->set->bare_lf_reject)
		smtpd_data_fail(s, 550, "5.6.0", "Error: message contains bare LF line endings");
	else if (d->longest_line > s->set->max_line_length)
		smtpd_data_fail(s, 552, "5.3.4", "Error: message line too long");
	else if (d->header_size > s->set->max_header_size)
		smtpd_data_fail(s, 552, "5.3.4", "Error: message header too large");
	else if (d->bytes_out > s->set->max_message_size)
		smtpd_data_fail(s, 552, "5.3.4", "Error: message size exceeds fixed limit");
	else if (smtpd_hops_exceeded(s))
		smtpd_data_fail(s, 554, "5.4.6", "Error: too many hops (mail loop)");
	return s->fail_code != 0 ? -1 : 0;
}

/* The message is complete: refuse it, or hand it to the queue. */
static void smtpd_data_end(struct smtpd_session *s)
{
	smtpd_data_flush_header(s);
	if (smtpd_data_check(s) < 0) {
		const char *verb = s->bdat_active ? "BDAT" : "DATA";
		smtpd_reply(s, s->fail_code, s->fail_enh, "%s", s->fail_text);
		smtpd_log_reject(s, verb, s->fail_code, s->fail_enh, s->fail_text, NULL);
		smtpd_transaction_reset(s);
		return;
	}
	struct queue_writer *w = s->qw;
	queue_writer_set_sender(w, s->mail.path.mailbox);
	smtpd_rcpt_queue(s, w);
	if (s->ip[0] != '\0')
		queue_writer_set_attr(w, "client_address", s->ip);
	if (s->helo != NULL && !s->dec.nul)
		queue_writer_set_attr(w, "helo", log_safe(s->helo, strlen(s->helo), 255));
	struct buf proto = BUF_INIT;
	smtpd_protocol_name(s, &proto);
	queue_writer_set_attr(w, "protocol", buf_cstr(&proto));
	buf_free(&proto);
	if (s->auth_user != NULL)
		queue_writer_set_attr(w, "auth_user", s->auth_user);
	if (s->tls_done)
		queue_writer_set_attr(w, "tls", s->tls_info);
	if (s->mail.body == SMTP_BODY_8BITMIME)
		queue_writer_set_attr(w, "body", "8BITMIME");
	else if (s->mail.body == SMTP_BODY_7BIT)
		queue_writer_set_attr(w, "body", "7BIT");
	if (s->mail.smtputf8)
		queue_writer_set_attr(w, "smtputf8", "yes");
	if (s->local_user != NULL)
		queue_writer_set_attr(w, "local_user", s->local_user);
	if (s->local_socket)
		smtpd_local_queue_attrs(s, w);
	if (s->mail.ret != SMTP_RET_NONE)
		queue_writer_set_attr(w, "dsn_ret", s->mail.ret == SMTP_RET_FULL ? "FULL" : "HDRS");
	if (s->mail.envid != NULL)
		queue_writer_set_attr(w, "dsn_envid", s->mail.envid);
	s->state = SMTPD_COMMIT;
	queue_commit_async(s->srv->committer, w, smtpd_commit_done, s);
}

/* The end of a BDAT chunk (RFC 3030 2: one reply per chunk). */
static void smtpd_bdat_chunk_end(struct smtpd_session *s)
{
	if (!s->bdat_active) {
		/* A refused chunk, now read. */
		smtpd_reply(s, s->fail_code, s->fail_enh, "%s", s->fail_text);
		s->fail_code = 0;
		s->state = s->helo != NULL ? SMTPD_READY : SMTPD_GREET;
		return;
	}
	if (s->bdat_last) {
		char out[1];
		size_t n = smtp_data_finish(&s->dec, out);
		smtpd_data_write(s, out, n);
		smtpd_data_end(s);
		return;
	}
	if (s->fail_code != 0) {
		/* Say so now; the client should RSET, and later chunks find no transaction. */
		smtpd_reply(s, s->fail_code, s->fail_enh, "%s", s->fail_text);
		smtpd_log_reject(s, "BDAT", s->fail_code, s->fail_enh, s->fail_text, NULL);
		smtpd_transaction_reset(s);
		return;
	}
	smtpd_reply(s, 250, "2.0.0", "%llu octets received", (unsigned long long)s->dec.bytes_out);
	s->state = SMTPD_RCPT;
}

void smtpd_data_input(struct smtpd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	char out[SMTPD_PIECE + 1];
	struct evbuffer_iovec v;
	if (s->state == SMTPD_BDAT && s->bdat_left == 0) {
		smtpd_bdat_chunk_end(s);
		return;
	}
	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		return;
	size_t n = v.iov_len < SMTPD_PIECE ? v.iov_len : SMTPD_PIECE;
	if (s->state == SMTPD_BDAT && n > s->bdat_left)
		n = (size_t)s->bdat_left;
	size_t olen = 0;
	size_t used = n;
	if (s->state == SMTPD_BDAT && !s->bdat_active)
		olen = 0; /* refused chunk: drop */
	else
		used = smtp_data_feed(&s->dec, v.iov_base, n, out, &olen);
	smtpd_data_write(s, out, olen);
	evbuffer_drain(in, used);
	if (s->state == SMTPD_BDAT) {
		s->bdat_left -= used;
		if (s->bdat_left == 0)
			smtpd_bdat_chunk_end(s);
	} else if (s->dec.done) {
		smtpd_data_end(s);
	}
}
