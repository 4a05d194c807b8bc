/* deliver-wire: the small messages of system-user delivery, and how they travel.
 *
 * Between the queue manager (run_user) and the deliver worker (root), and between a
 * delivery child (the recipient) and its forwarding helper (run_user): one message is one
 * SOCK_SEQPACKET datagram of NUL-terminated fields, the first two "tern-deliver/1" and
 * the kind, then a fixed number of fields for that kind. Anything else (a missing,
 * extra, overlong or malformed field, a number with junk after it) is refused whole:
 * unmarshal fails closed. A descriptor (the queued message) may ride along (SCM_RIGHTS).
 */
#include "deliver-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "xalloc.h"

#define WIRE_MAGIC "tern-deliver/1"

static void wire_start(struct buf *out, const char *kind)
{
	buf_reset(out);
	buf_append(out, WIRE_MAGIC, sizeof(WIRE_MAGIC));
	buf_append(out, kind, strlen(kind) + 1);
}

static void wire_str(struct buf *out, const char *s)
{
	/* An embedded NUL cannot be sent; fields never hold one (addresses, names). */
	buf_append(out, s, strlen(s) + 1);
}

static void wire_num(struct buf *out, unsigned long long n)
{
	char tmp[32];
	int k = snprintf(tmp, sizeof(tmp), "%llu", n);
	buf_append(out, tmp, (size_t)k + 1);
}

/* Splits data into exactly n fields after the magic and kind; 0, or -1. */
static int wire_split(const char *data, size_t len, const char *kind, const char **f, size_t n)
{
	if (len == 0 || len > DELIVER_WIRE_MAX || data[len - 1] != '\0')
		return -1;
	size_t count = 0;
	const char *all[DELIVER_WIRE_FIELDS + 2];
	for (size_t off = 0; off < len; count++) {
		if (count == n + 2 || count == DELIVER_WIRE_FIELDS + 2)
			return -1; /* trailing fields */
		all[count] = data + off;
		size_t flen = strlen(data + off);
		if (flen > DELIVER_WIRE_FIELD_MAX)
			return -1;
		off += flen + 1;
	}
	if (count != n + 2 || strcmp(all[0], WIRE_MAGIC) != 0 || strcmp(all[1], kind) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		f[i] = all[i + 2];
	return 0;
}

static int wire_parse_num(const char *s, unsigned long long max, unsigned long long *n_r)
{
	if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0') || strlen(s) > 20)
		return -1;
	errno = 0;
	char *end;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || n > max)
		return -1;
	*n_r = n;
	return 0;
}

static bool wire_line_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

void deliver_wire_request(const struct deliver_wire_req *r, struct buf *out)
{
	wire_start(out, "deliver");
	wire_str(out, r->queue_id);
	wire_num(out, r->rcpt_index);
	wire_str(out, r->sender);
	wire_str(out, r->recipient);
	wire_str(out, r->login);
	wire_num(out, (unsigned long long)r->queue_time);
	wire_num(out, r->recheck ? 1 : 0);
	/* The message's length plus one; 0: the whole file sent along. */
	wire_num(out, r->message_sized ? r->message_size + 1 : 0);
}

int deliver_wire_request_parse(const char *data, size_t len, struct deliver_wire_req *r)
{
	const char *f[8];
	unsigned long long idx, t, recheck, size;
	if (wire_split(data, len, "deliver", f, 8) < 0 || wire_parse_num(f[1], 1u << 20, &idx) < 0 ||
	    wire_parse_num(f[5], (1ull << 40), &t) < 0 || wire_parse_num(f[6], 1, &recheck) < 0 ||
	    wire_parse_num(f[7], UINT64_MAX >> 1, &size) < 0)
		return -1;
	for (size_t i = 0; i < 5; i++)
		if (!wire_line_ok(f[i]))
			return -1;
	if (f[0][0] == '\0' || f[3][0] == '\0' || f[4][0] == '\0')
		return -1;
	*r = (struct deliver_wire_req){.queue_id = f[0],
				       .rcpt_index = (unsigned)idx,
				       .sender = f[2],
				       .recipient = f[3],
				       .login = f[4],
				       .queue_time = (time_t)t,
				       .recheck = recheck == 1,
				       .message_sized = size > 0,
				       .message_size = size > 0 ? size - 1 : 0};
	return 0;
}

void deliver_wire_result(const struct delivery_result *res, int code, struct buf *out)
{
	/* The status decides; the code is made to agree with it (the parser insists). */
	if (res->status == DELIVERY_OK)
		code = 0;
	else if (res->status == DELIVERY_DEFER)
		code = 75;
	else if (code <= 0 || code == 75 || code > 255)
		code = 69;
	wire_start(out, "result");
	wire_num(out, (unsigned long long)res->status);
	wire_str(out, res->enhanced);
	wire_str(out, res->text);
	wire_num(out, (unsigned long long)code);
}

int deliver_wire_result_parse(const char *data, size_t len, struct delivery_result *res,
			      int *code_r)
{
	const char *f[4];
	unsigned long long st, code;
	if (wire_split(data, len, "result", f, 4) < 0 || wire_parse_num(f[0], 2, &st) < 0 ||
	    wire_parse_num(f[3], 255, &code) < 0 || strlen(f[1]) >= sizeof(res->enhanced) ||
	    strlen(f[2]) >= sizeof(res->text) || !wire_line_ok(f[1]) || !wire_line_ok(f[2]))
		return -1;
	/* The status and the code must agree: a child cannot say "sent" and mean 75. */
	if ((st == DELIVERY_OK) != (code == 0) || (st == DELIVERY_DEFER) != (code == 75))
		return -1;
	res->status = (enum delivery_status)st;
	snprintf(res->enhanced, sizeof(res->enhanced), "%s", f[1]);
	snprintf(res->text, sizeof(res->text), "%s", f[2]);
	*code_r = (int)code;
	return 0;
}

void deliver_wire_forward(const char *sender, char *const *rcpts, size_t n, uint64_t mem_len,
			  uint64_t fd_off, uint64_t fd_len, struct buf *out)
{
	wire_start(out, "forward");
	wire_str(out, sender);
	wire_num(out, mem_len);
	wire_num(out, fd_off);
	wire_num(out, fd_len);
	struct buf list = BUF_INIT;
	for (size_t i = 0; i < n; i++)
		buf_printf(&list, "%s%s", i > 0 ? "\t" : "", rcpts[i]);
	wire_str(out, buf_cstr(&list));
	buf_free(&list);
}

int deliver_wire_forward_parse(const char *data, size_t len, struct deliver_wire_fwd *fw)
{
	const char *f[5];
	if (wire_split(data, len, "forward", f, 5) < 0 ||
	    wire_parse_num(f[1], DELIVER_FORWARD_MEM_MAX, (unsigned long long *)&fw->mem_len) < 0 ||
	    wire_parse_num(f[2], UINT64_MAX >> 1, (unsigned long long *)&fw->fd_off) < 0 ||
	    wire_parse_num(f[3], UINT64_MAX >> 1, (unsigned long long *)&fw->fd_len) < 0 ||
	    !wire_line_ok(f[0]) || f[4][0] == '\0')
		return -1;
	fw->sender = f[0];
	fw->rcpt_list = f[4]; /* TAB-separated: addresses hold no TAB (RFC 5321 4.1.2) */
	for (const char *p = f[4]; *p != '\0'; p++)
		if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
			return -1;
	return 0;
}

void deliver_wire_forwarded(bool ok, const char *text, struct buf *out)
{
	wire_start(out, "forwarded");
	wire_num(out, ok ? 1 : 0);
	wire_str(out, text);
}

int deliver_wire_forwarded_parse(const char *data, size_t len, bool *ok_r, const char **text_r)
{
	const char *f[2];
	unsigned long long ok;
	if (wire_split(data, len, "forwarded", f, 2) < 0 || wire_parse_num(f[0], 1, &ok) < 0 ||
	    !wire_line_ok(f[1]))
		return -1;
	*ok_r = ok == 1;
	*text_r = f[1];
	return 0;
}

int deliver_wire_send(int sock, const struct buf *msg, int fd)
{
	struct iovec iov = {.iov_base = msg->data, .iov_len = msg->len};
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.space;
		mh.msg_controllen = sizeof(ctl.space);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t n;
	while ((n = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return n == (ssize_t)msg->len ? 0 : -1;
}

ssize_t deliver_wire_recv(int sock, char *data, size_t size, int *fd_r)
{
	struct iovec iov = {.iov_base = data, .iov_len = size};
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.space,
			    .msg_controllen = sizeof(ctl.space)};
	if (fd_r != NULL)
		*fd_r = -1;
	ssize_t n;
	while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	for (struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c != NULL;
	     c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd_r != NULL && *fd_r < 0)
				*fd_r = fd;
			else
				close(fd); /* one descriptor at most: the rest are not ours */
		}
	}
	if (n >= 0 && (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
		if (fd_r != NULL && *fd_r >= 0)
			close(*fd_r), *fd_r = -1;
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}
