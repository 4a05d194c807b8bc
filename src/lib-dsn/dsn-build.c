/* dsn-build: the bytes of a delivery status notification (RFC 3464, RFC 6522): a bounce,
 * a delay warning or a success report, after the "worst" action among its recipients.
 *
 * multipart/report; report-type=delivery-status with three parts: text/plain for people,
 * message/delivery-status (RFC 3464 2.2 per-message fields: Reporting-MTA, Original-
 * Envelope-Id, Arrival-Date; 2.3 per-recipient: Original-Recipient, Final-Recipient,
 * Action, Status, Remote-MTA, Diagnostic-Code, Last-Attempt-Date, Will-Retry-Until), and
 * the original: text/rfc822-headers for RET=HDRS or a report without failures (RFC 3461
 * 6.2), else message/rfc822 up to max_size bytes, cut at a line end. Auto-Submitted:
 * auto-replied (RFC 3834 5). The original is streamed with pread; values that go into
 * fields lose control characters.
 */
#include "dsn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define DSN_CHUNK 8192

struct dsn_out {
	dsn_write_fn *write;
	void *arg;
	int failed;
};

static void dsn_put(struct dsn_out *o, const void *p, size_t n)
{
	if (o->failed == 0 && n > 0 && o->write(o->arg, p, n) < 0)
		o->failed = errno ? errno : EIO;
}

static void dsn_buf(struct dsn_out *o, struct buf *b)
{
	dsn_put(o, b->data, b->len);
	buf_reset(b);
}

/* What the notification is about as a whole: failed if any recipient failed, else
 * delayed if any is delayed, else a success (delivered or relayed). */
static enum dsn_action dsn_kind(const struct dsn_params *p)
{
	enum dsn_action k = DSN_ACTION_DELIVERED;
	for (size_t i = 0; i < p->rcpt_count; i++) {
		if (p->rcpts[i].action == DSN_ACTION_FAILED)
			return DSN_ACTION_FAILED;
		if (p->rcpts[i].action == DSN_ACTION_DELAYED)
			k = DSN_ACTION_DELAYED;
	}
	return k;
}

static const char *dsn_action_name(enum dsn_action a)
{
	static const char *const names[] = {"failed", "delayed", "delivered", "relayed"};
	return names[a];
}

/* A field value: printable ASCII only, at most max bytes. */
static void dsn_value(struct buf *b, const char *s, size_t max)
{
	for (size_t i = 0; s != NULL && s[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		buf_append_char(b, c < 0x20 || c >= 0x7f ? '?' : (char)c);
	}
}

static void dsn_date(struct buf *b, const char *name, time_t t)
{
	char d[64];
	rfc5322_date(t, d, sizeof(d));
	buf_printf(b, "%s: %s\n", name, d);
}

static void dsn_header(const struct dsn_params *p, const char *boundary, struct buf *b)
{
	buf_printf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\nTo: <", p->hostname);
	dsn_value(b, p->to, 400);
	enum dsn_action kind = dsn_kind(p);
	buf_printf(b, ">\nSubject: %s\n",
		   kind == DSN_ACTION_FAILED    ? "Undelivered Mail Returned to Sender"
		   : kind == DSN_ACTION_DELAYED ? "Delayed Mail (still being retried)"
						: "Successful Mail Delivery Report");
	dsn_date(b, "Date", p->now);
	buf_printf(b, "Message-ID: <%s.%lld.dsn@%s>\n", p->queue_id, (long long)p->now,
		   p->hostname);
	buf_printf(b, "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
		      "Content-Type: multipart/report; report-type=delivery-status;\n"
		      "\tboundary=\"%s\"\n\nThis is a MIME-encapsulated message.\n\n",
		   boundary);
}

static void dsn_human(const struct dsn_params *p, const char *boundary, struct buf *b)
{
	buf_printf(b, "--%s\nContent-Type: text/plain; charset=us-ascii\n"
		      "Content-Description: Notification\n\n"
		      "This is the mail system at host %s.\n\n",
		   boundary, p->hostname);
	enum dsn_action kind = dsn_kind(p);
	if (kind == DSN_ACTION_DELAYED)
		buf_append_str(b, "Your message could not be delivered yet to the recipients "
				  "below.\nIt is still in the queue and delivery will be retried; "
				  "you need not send it again.\n\n");
	else if (kind == DSN_ACTION_FAILED)
		buf_append_str(b, "I'm sorry to have to inform you that your message could not\n"
				  "be delivered to one or more recipients. The reasons follow.\n\n");
	else
		buf_append_str(b, "Your message was delivered to the recipients below, or passed\n"
				  "on to a system that sends no further notifications, as you "
				  "asked.\n\n");
	for (size_t i = 0; i < p->rcpt_count; i++) {
		const struct dsn_rcpt *r = &p->rcpts[i];
		buf_append_str(b, "<");
		dsn_value(b, r->final_rcpt, 400);
		buf_append_str(b, ">: ");
		dsn_value(b, r->diagnostic ? r->diagnostic : r->status, 900);
		buf_append_str(b, "\n");
	}
	buf_append_str(b, "\n");
}

static void dsn_rcpt_fields(const struct dsn_params *p, const struct dsn_rcpt *r,
			    struct buf *b)
{
	buf_append_str(b, "\n");
	if (r->orcpt != NULL) {
		buf_append_str(b, "Original-Recipient: ");
		dsn_value(b, r->orcpt, 500);
		buf_append_str(b, "\n");
	}
	buf_append_str(b, "Final-Recipient: rfc822; ");
	dsn_value(b, r->final_rcpt, 500);
	buf_printf(b, "\nAction: %s\nStatus: ", dsn_action_name(r->action));
	dsn_value(b, r->status, 16);
	buf_append_str(b, "\n");
	if (r->remote_mta != NULL) {
		buf_append_str(b, "Remote-MTA: dns; ");
		dsn_value(b, r->remote_mta, 255);
		buf_append_str(b, "\n");
	}
	if (r->diagnostic != NULL) {
		buf_append_str(b, "Diagnostic-Code: ");
		dsn_value(b, r->diagnostic, 900);
		buf_append_str(b, "\n");
	}
	if (r->last_attempt != 0)
		dsn_date(b, "Last-Attempt-Date", r->last_attempt);
	if (r->action == DSN_ACTION_DELAYED && p->retry_until != 0)
		dsn_date(b, "Will-Retry-Until", p->retry_until);
}

static void dsn_status(const struct dsn_params *p, const char *boundary, struct buf *b)
{
	buf_printf(b, "--%s\nContent-Type: message/delivery-status\n"
		      "Content-Description: Delivery report\n\nReporting-MTA: dns; %s\n",
		   boundary, p->hostname);
	buf_printf(b, "X-Tern-Queue-ID: %s\n", p->queue_id);
	if (p->envid != NULL) {
		buf_append_str(b, "Original-Envelope-Id: ");
		dsn_value(b, p->envid, 100);
		buf_append_str(b, "\n");
	}
	if (p->arrival != 0)
		dsn_date(b, "Arrival-Date", p->arrival);
	for (size_t i = 0; i < p->rcpt_count; i++)
		dsn_rcpt_fields(p, &p->rcpts[i], b);
	buf_append_str(b, "\n");
}

/* Copies the original: only its header section, or up to max bytes, ending at a line
 * end. Returns the bytes copied; *cut_r says whether something was left out. */
static uint64_t dsn_copy(struct dsn_out *o, int fd, uint64_t end, bool headers_only,
			 uint64_t max, bool *cut_r)
{
	char chunk[DSN_CHUNK];
	uint64_t off = 0, line_start = 0;
	bool bol = true, done = false;
	struct buf pending = BUF_INIT; /* the bytes of the current, unfinished line */
	*cut_r = false;
	while (!done) {
		size_t want = end - off < sizeof(chunk) ? (size_t)(end - off) : sizeof(chunk);
		ssize_t n = want > 0 ? pread(fd, chunk, want, (off_t)off) : 0;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && !done; i++) {
			char c = chunk[i];
			if (!headers_only && off + (uint64_t)i + 1 > max) {
				*cut_r = true, done = true;
				break;
			}
			buf_append_char(&pending, c);
			if (c != '\n') {
				bol = false;
				continue;
			}
			if (headers_only && bol)
				done = true; /* the empty line ending the header */
			else
				dsn_buf(o, &pending);
			line_start = off + (uint64_t)i + 1;
			bol = true;
		}
		off += (uint64_t)n;
	}
	if (!*cut_r && !done && pending.len > 0) {
		buf_append_char(&pending, '\n');
		dsn_buf(o, &pending);
		line_start = off;
	}
	if (headers_only && done && off > line_start)
		*cut_r = true;
	buf_free(&pending);
	return line_start;
}

static void dsn_original(const struct dsn_params *p, int fd, const char *boundary,
			 struct dsn_out *o, struct buf *b)
{
	if (fd < 0)
		return;
	bool hdrs = p->ret == DSN_RET_HDRS || p->max_size == 0 || dsn_kind(p) != DSN_ACTION_FAILED;
	buf_printf(b, "--%s\nContent-Type: %s\n", boundary,
		   hdrs ? "text/rfc822-headers" : "message/rfc822");
	bool failed = dsn_kind(p) == DSN_ACTION_FAILED;
	buf_printf(b, "Content-Description: %s%s\n", failed ? "Undelivered message" : "Message",
		   hdrs ? " headers" : "");
	if (p->eight_bit)
		buf_append_str(b, "Content-Transfer-Encoding: 8bit\n");
	buf_append_str(b, "\n");
	dsn_buf(o, b);
	bool cut;
	dsn_copy(o, fd, p->original_sized ? p->original_size : UINT64_MAX, hdrs, p->max_size, &cut);
	buf_append_str(b, "\n");
}

int dsn_build_to(const struct dsn_params *p, int original_fd, dsn_write_fn *write, void *arg)
{
	struct dsn_out o = {write, arg, 0};
	char boundary[128];
	if (p->boundary != NULL)
		snprintf(boundary, sizeof(boundary), "%s", p->boundary);
	else
		snprintf(boundary, sizeof(boundary), "%s.%lld/%s", p->queue_id, (long long)p->now,
			 p->hostname);
	struct buf b = BUF_INIT;
	dsn_header(p, boundary, &b);
	dsn_human(p, boundary, &b);
	dsn_status(p, boundary, &b);
	dsn_buf(&o, &b);
	dsn_original(p, original_fd, boundary, &o, &b);
	buf_printf(&b, "--%s--\n", boundary);
	dsn_buf(&o, &b);
	buf_free(&b);
	if (o.failed != 0) {
		errno = o.failed;
		return -1;
	}
	return 0;
}

static int dsn_queue_write(void *arg, const void *p, size_t n)
{
	return queue_writer_write(arg, p, n);
}

int dsn_build(const struct dsn_params *p, int original_fd, struct queue_writer *w)
{
	return dsn_build_to(p, original_fd, dsn_queue_write, w);
}
