/* pop3d-retr: RETR (RFC 1939 section 5) and TOP (section 7), streamed: the message is
 * read from store_msg_open's fd in POP3D_CHUNK pieces only while the client's output
 * buffer is below POP3D_OUT_HIGH (the write callback asks for more once it drains), and
 * goes through pop3-body (CRLF, dot-stuffing, TOP cut) straight into the bufferevent's
 * output memory. Memory per session stays bounded whatever the message size. A message
 * removed behind the session's back (IMAP, rm) gets "-ERR message is no longer
 * available".
 */
#include "pop3d-int.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <event2/buffer.h>
#include <string.h>
#include <unistd.h>

void pop3d_stream_abort(struct pop3d_session *s)
{
	if (s->stream.fd >= 0)
		close(s->stream.fd);
	s->stream.fd = -1;
}

/* The stream is over: the terminating line, and back to reading commands. */
static void stream_end(struct pop3d_session *s)
{
	pop3_body_finish(&s->stream.body, &s->conn.out);
	pop3d_stream_abort(s);
	pop3d_session_flush(s);
	s->conn.busy = false;
	if (s->stream.read_off && !s->conn.closing)
		bufferevent_enable(s->conn.bev, EV_READ);
	s->stream.read_off = false;
}

bool pop3d_stream_pump(struct pop3d_session *s)
{
	/* one event loop per process: its sessions can share the read buffer */
	static char chunk[POP3D_CHUNK];
	struct pop3d_stream *st = &s->stream;
	struct evbuffer *out = bufferevent_get_output(s->conn.bev);
	pop3d_session_flush(s); /* the +OK line goes first */
	while (st->remaining > 0 && evbuffer_get_length(out) < POP3D_OUT_HIGH) {
		size_t want = st->remaining < sizeof(chunk) ? (size_t)st->remaining : sizeof(chunk);
		ssize_t n = pread(st->fd, chunk, want, st->offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* the file changed under us: end the response cleanly, say so in the log */
			log_warn("retr: user=<%s> uid=%u: message ended early (%s)",
				 s->user.address, st->msg->uid,
				 n < 0 ? strerror(errno) : "truncated");
			st->remaining = 0;
			break;
		}
		st->offset += n;
		st->remaining -= (uint64_t)n;
		/* converted straight into the output's own memory: no copy in between */
		struct evbuffer_iovec v;
		if (evbuffer_reserve_space(out, (ev_ssize_t)POP3_BODY_OUT_MAX((size_t)n), &v, 1) <
		    1)
			fatal("retr: out of memory for the output buffer");
		v.iov_len = pop3_body_convert(&st->body, chunk, (size_t)n, v.iov_base);
		evbuffer_commit_space(out, &v, 1);
		if (st->body.done)
			st->remaining = 0;
	}
	if (st->remaining > 0)
		return true;
	stream_end(s);
	return false;
}

/* Starts sending message m; top_lines -1 for RETR. */
static void retr_start(struct pop3d_session *s, struct pop3d_msg *m, int64_t top_lines)
{
	struct store_msg_stream ms;
	struct buf err = BUF_INIT;
	if (store_msg_open(s->folder, m->uid, &ms, &err) < 0) {
		log_info("retr: user=<%s> uid=%u: %s", s->user.address, m->uid, buf_cstr(&err));
		pop3d_session_err(s, POP3_CODE_NONE, "message is no longer available");
		buf_free(&err);
		return;
	}
	buf_free(&err);
	struct pop3d_stream *st = &s->stream;
	st->fd = ms.fd;
	st->offset = ms.offset;
	st->remaining = ms.length;
	st->msg = m;
	pop3_body_init(&st->body, top_lines);
	if (top_lines < 0) {
		m->retrieved = true;
		s->retr_count++;
		pop3d_session_ok(s, "%llu octets", (unsigned long long)pop3d_msg_vsize(s, m));
	} else {
		pop3d_session_ok(s, "top of message follows");
	}
	s->conn.busy = true;
	st->read_off = false;
	/* Most messages are written at once; a longer one stops reading commands until it
	 * is sent (and with it the idle timer of the input, which a slow reader of a big
	 * message must not trip). */
	if (pop3d_stream_pump(s)) {
		bufferevent_disable(s->conn.bev, EV_READ);
		st->read_off = true;
	}
}

void pop3d_cmd_retr(struct pop3d_session *s, const struct pop3_command *cmd)
{
	struct pop3d_msg *m = pop3d_msg_arg(s, cmd->args[0]);
	if (m != NULL)
		retr_start(s, m, -1);
}

void pop3d_cmd_top(struct pop3d_session *s, const struct pop3_command *cmd)
{
	const char *arg = cmd->args[1];
	int64_t lines = 0;
	size_t i = 0;
	for (; arg[i] >= '0' && arg[i] <= '9' && i < 12; i++)
		lines = lines * 10 + (arg[i] - '0');
	if (i == 0 || arg[i] != '\0') {
		pop3d_session_err(s, POP3_CODE_NONE, "TOP: the line count must be a number");
		return;
	}
	struct pop3d_msg *m = pop3d_msg_arg(s, cmd->args[0]);
	if (m != NULL)
		retr_start(s, m, lines);
}
