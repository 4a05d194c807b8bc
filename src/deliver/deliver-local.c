/* deliver-local: one message for one local recipient, through the user's filters.
 *
 * deliver_local() checks for a mail loop (a Delivered-To: of this recipient already in the
 * header: 5.4.6, as Postfix's local(8)), then hands the message to the user's procmail rc
 * file, else the Sieve script, else straight to the INBOX; the written copy starts with
 * Return-Path: and Delivered-To:. After an INBOX delivery it sends the comsat datagram;
 * after any successful one, the user's vacation answer (vacation.c) if there is one.
 * Used by `tern deliver` (deliver-cmd.c) and by the queue manager for users with filters.
 */
#include "deliver-int.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define LOOP_LINE_MAX 1024

/* Is line (len bytes, no LF) "Delivered-To: rcpt"? */
static bool loop_line(const char *line, size_t len, const char *rcpt)
{
	if (len < 13 || strncasecmp(line, "Delivered-To:", 13) != 0)
		return false;
	const char *p = line + 13, *end = line + len;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	return (size_t)(end - p) == strlen(rcpt) && strncasecmp(p, rcpt, strlen(rcpt)) == 0;
}

/* Reads the header section line by line: 1 loop, 0 none, -1 read error. */
static int loop_check(int fd, uint64_t size, const char *rcpt)
{
	char buf[8192], line[LOOP_LINE_MAX];
	size_t llen = 0;
	bool overlong = false;
	off_t off = 0;
	for (;;) {
		uint64_t left = size - (uint64_t)off;
		ssize_t n = left > 0 ? pread(fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf),
					     off)
				     : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return llen > 0 && loop_line(line, llen, rcpt) ? 1 : 0;
		off += n;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (llen < LOOP_LINE_MAX)
					line[llen++] = buf[i];
				else
					overlong = true;
				continue;
			}
			if (llen == 0 || (llen == 1 && line[0] == '\r'))
				return 0; /* end of the header section */
			if (!overlong && loop_line(line, llen, rcpt))
				return 1;
			llen = 0;
			overlong = false;
		}
	}
}

void deliver_msg_src(const struct deliver_msg *m, struct deliver_src *src)
{
	*src = (struct deliver_src){
	    .mem = m->head, .mem_len = strlen(m->head), .fd = m->fd, .fd_len = m->size};
}

void deliver_msg_unique_name(const struct deliver_msg *m, struct buf *out)
{
	deliver_maildir_base(m->req, out);
	if (m->seq == 0)
		return;
	struct buf pre = BUF_INIT;
	buf_printf(&pre, "%lld.%s_%u", (long long)m->req->queue_time, m->req->queue_id,
		   m->req->rcpt_index);
	struct buf name = BUF_INIT;
	buf_printf(&name, "%s-%u%s", buf_cstr(&pre), m->seq, out->data + pre.len);
	buf_reset(out);
	buf_append_str(out, buf_cstr(&name));
	buf_free(&pre);
	buf_free(&name);
}

/* The INBOX of a system user that is an mbox file (/var/mail/USER): appended to with
 * the From_ line, under its dotlock and an fcntl lock. */
static int deliver_msg_mbox_inbox(struct deliver_msg *m, const struct deliver_src *src,
				  struct buf *path_r, struct delivery_result *res)
{
	uint64_t off = 0;
	int r = deliver_mbox_append(m->user->inbox, true, m->from_line, src, false, 077, &off, res);
	if (r == 0) {
		buf_reset(&m->inbox_path);
		buf_append_str(&m->inbox_path, m->user->inbox);
		m->inbox_offset = off;
		if (path_r != NULL)
			buf_append_str(path_r, m->user->inbox);
	}
	return r;
}

int deliver_msg_maildir(struct deliver_msg *m, const char *maildir, const struct deliver_src *src,
			struct buf *path_r, struct delivery_result *res)
{
	if (m->user->inbox_mbox && strcmp(maildir, m->user->inbox) == 0)
		return deliver_msg_mbox_inbox(m, src, path_r, res);
	struct buf name = BUF_INIT, path = BUF_INIT;
	if (m->ctx->unique_names)
		deliver_msg_unique_name(m, &name);
	int r = deliver_maildir_put(maildir, m->ctx->unique_names ? buf_cstr(&name) : NULL,
				    m->req->recheck, m->req->hostname, src, &path, res);
	m->seq++;
	if (r == 0 && strcmp(maildir, m->user->inbox) == 0) {
		buf_reset(&m->inbox_path);
		buf_append_str(&m->inbox_path, buf_cstr(&path));
		m->inbox_offset = 0;
	}
	if (r == 0 && path_r != NULL)
		buf_append_str(path_r, buf_cstr(&path));
	buf_free(&name);
	buf_free(&path);
	return r;
}

int deliver_exit_code(const struct delivery_result *res)
{
	if (res->status == DELIVERY_OK)
		return 0;
	if (res->status == DELIVERY_DEFER)
		return 75;
	if (strcmp(res->enhanced, "5.1.1") == 0)
		return 67;
	if (strncmp(res->enhanced, "5.4.6", 5) == 0 || strncmp(res->enhanced, "5.6.", 4) == 0)
		return 65;
	return 69;
}

int deliver_plain(struct deliver_msg *m, struct delivery_result *res)
{
	struct deliver_src src;
	deliver_msg_src(m, &src);
	deliver_msg_maildir(m, m->user->inbox, &src, NULL, res);
	return deliver_exit_code(res);
}

/* Picks the filter: procmail rc file, Sieve script, or none. */
int deliver_filtered(struct deliver_msg *m, struct delivery_result *res)
{
	if (m->user->procmailrc != NULL)
		return deliver_procmail(m, res);
#ifdef TERN_HAVE_SIEVE
	if (m->user->sieve != NULL)
		return deliver_sieve(m, res);
#endif
	return deliver_plain(m, res);
}

int deliver_local(const struct deliver_ctx *ctx, struct delivery_result *res)
{
	const struct delivery_request *req = ctx->req;
	struct deliver_user own;
	const struct deliver_user *u = ctx->user;
	if (u == NULL) {
		deliver_user_from_maildir(ctx->conf, req->recipient, req->maildir, &own);
		u = &own;
	}
	struct deliver_msg m = {
	    .ctx = ctx, .user = u, .req = req, .fd = req->message_fd, .inbox_path = BUF_INIT};
	uint64_t size = 0;
	int code, loop = -1;
	if (deliver_message_size(req, &size) < 0 ||
	    (loop = loop_check(m.fd, size, req->recipient)) < 0) {
		deliver_result_errno(res, "cannot read the message for", req->recipient, errno);
		code = 75;
	} else if (loop > 0) {
		deliver_result_set(res, DELIVERY_BOUNCE, "5.4.6", "mail forwarding loop for %s",
				   req->recipient);
		code = 65;
	} else {
		m.size = size;
		m.head = x_asprintf("Return-Path: <%s>\nDelivered-To: %s\n", req->sender,
				    req->recipient);
		struct buf from = BUF_INIT;
		deliver_from_line(req->sender, time(NULL), &from);
		m.from_line = buf_steal(&from);
		int forwarded = 0;
		if (u->forward != NULL)
			forwarded = deliver_dotforward(&m, res, &code);
		if (forwarded == 0) {
			code = deliver_filtered(&m, res);
			/* A .forward decides for itself ("|tern vacation" in it). */
			if (code == 0)
				deliver_vacation(&m);
		}
	}
	if (code == 0 && m.inbox_path.len > 0)
		deliver_comsat_send(conf_str(ctx->conf, "comsat_address"), u->login, m.inbox_offset,
				    buf_cstr(&m.inbox_path));
	x_free(&m.head);
	x_free(&m.from_line);
	buf_free(&m.inbox_path);
	if (u == &own)
		deliver_user_free(&own);
	return code;
}
