/* deliver-forward: a filter's forward (procmail `!`, Sieve redirect) goes back into Tern's
 * queue, as a new message with the original envelope sender (so bounces go to whoever
 * sent it, RFC 5321 3.4), never through an outside sendmail program.
 *
 * The message keeps its Delivered-To: lines, so a forwarding loop is caught where it
 * closes. The queue file is committed durably (fsync) before the forward counts as done.
 */
#include "deliver-int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "queue.h"
#include "xalloc.h"

#define FORWARD_CHUNK 65536

static int forward_copy(struct queue_writer *w, const struct deliver_src *src)
{
	if (src->mem_len > 0 && queue_writer_write(w, src->mem, src->mem_len) < 0)
		return -1;
	char *buf = x_malloc(FORWARD_CHUNK);
	uint64_t off = 0;
	int r = 0;
	while (src->fd >= 0 && off < src->fd_len && r == 0) {
		uint64_t left = src->fd_len - off;
		ssize_t n = pread(src->fd, buf, left < FORWARD_CHUNK ? (size_t)left : FORWARD_CHUNK,
				  (off_t)(src->fd_off + off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || queue_writer_write(w, buf, (size_t)n) < 0)
			r = -1;
		else
			off += (uint64_t)n;
	}
	x_free(&buf);
	return r;
}

static int forward_channel = -1;

void deliver_forward_set_channel(int sock)
{
	forward_channel = sock;
}

bool deliver_forward_has_channel(void)
{
	return forward_channel >= 0;
}

/* A delivery child (the recipient's uid) may not write the queue folder: the forward goes
 * to its helper (run_user), which queues it (deliver-system.c). */
static int forward_via_channel(const char *sender, char *const *rcpts, size_t n,
			       const struct deliver_src *src, struct buf *id_r, struct buf *err)
{
	struct buf msg = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (strchr(rcpts[i], '\t') != NULL || strchr(rcpts[i], '\n') != NULL) {
			buf_printf(err, "bad forwarding address");
			return -1;
		}
	}
	deliver_wire_forward(sender, rcpts, n, src->mem_len, src->fd >= 0 ? src->fd_off : 0,
			     src->fd >= 0 ? src->fd_len : 0, &msg);
	int r = deliver_wire_send(forward_channel, &msg, src->fd);
	for (size_t off = 0; r == 0 && off < src->mem_len; off += DELIVER_WIRE_CHUNK) {
		size_t k = src->mem_len - off < DELIVER_WIRE_CHUNK ? src->mem_len - off
								    : DELIVER_WIRE_CHUNK;
		buf_reset(&msg);
		buf_append(&msg, src->mem + off, k);
		r = deliver_wire_send(forward_channel, &msg, -1);
	}
	char reply[DELIVER_WIRE_MAX];
	ssize_t len = r == 0 ? deliver_wire_recv(forward_channel, reply, sizeof(reply), NULL) : -1;
	bool ok = false;
	const char *text = NULL;
	if (len <= 0 || deliver_wire_forwarded_parse(reply, (size_t)len, &ok, &text) < 0)
		buf_printf(err, "the forwarding helper did not answer: %s",
			   len < 0 ? strerror(errno) : "no reply");
	else if (!ok)
		buf_append_str(err, text);
	else if (id_r != NULL)
		buf_append_str(id_r, text);
	buf_free(&msg);
	return ok ? 0 : -1;
}

int deliver_forward(const struct conf *c, const char *sender, char *const *rcpts, size_t n,
		    const struct deliver_src *src, struct buf *id_r, struct buf *err)
{
	const char *qdir = conf_str(c, "queue_dir");
	if (n == 0) {
		buf_append_str(err, "no addresses to forward to");
		return -1;
	}
	if (forward_channel >= 0)
		return forward_via_channel(sender, rcpts, n, src, id_r, err);
	struct queue_writer *w = queue_writer_open(qdir, err);
	if (w == NULL)
		return -1;
	if (forward_copy(w, src) < 0) {
		buf_printf(err, "cannot write to the queue: %s", strerror(errno));
		queue_writer_abort(&w);
		return -1;
	}
	queue_writer_set_sender(w, sender);
	for (size_t i = 0; i < n; i++)
		queue_writer_add_rcpt(w, rcpts[i], rcpts[i]);
	queue_writer_set_attr(w, "origin", "deliver");
	if (queue_writer_commit(w, err) < 0) {
		queue_writer_abort(&w);
		return -1;
	}
	if (id_r != NULL)
		buf_append_str(id_r, queue_writer_id(w));
	queue_notify(qdir, queue_writer_id(w));
	queue_writer_free(&w);
	return 0;
}
