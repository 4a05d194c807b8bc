/* sendmail-sock: the sendmail command's way in for users who may not write the queue: an
 * SMTP session on the local submission socket (src/smtpd/smtpd-local.c), where the server
 * learns who we are from the kernel. Blocking I/O, every read and write bounded by
 * smtp_timeout; the message streams through (LF lines become CRLF, leading dots doubled:
 * RFC 5321 4.5.2), nothing held but one output buffer.
 * sm_sock_proxy is `sendmail -bs` over the socket: bytes copied both ways.
 * Trusts: the replies only as far as their codes; their text is shown to the user.
 */
#include "sendmail-sock.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "smtp-reply.h"
#include "smtpd.h"
#include "util.h"
#include "xalloc.h"

#define SM_SOCK_OUT_MAX 65536
#define SM_SOCK_LINE_MAX 4096

struct sm_sock {
	int fd;
	struct buf out;	 /* waiting to be written */
	bool line_start; /* in DATA: the next byte starts a line */
	char in[SM_SOCK_LINE_MAX];
	size_t in_len;
	struct smtp_reply reply;
};

static int sm_sock_flush(struct sm_sock *k)
{
	size_t off = 0;
	while (off < k->out.len) {
		ssize_t w = send(k->fd, k->out.data + off, k->out.len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	buf_reset(&k->out);
	return 0;
}

/* Reads one reply line into line (CRLF removed, NUL-terminated): 0, or -1 (connection
 * lost, timeout, a line longer than any server writes). */
static int sm_sock_line(struct sm_sock *k, char line[SM_SOCK_LINE_MAX], size_t *len_r)
{
	for (;;) {
		char *nl = memchr(k->in, '\n', k->in_len);
		if (nl != NULL) {
			size_t n = (size_t)(nl - k->in);
			size_t len = n > 0 && k->in[n - 1] == '\r' ? n - 1 : n;
			memcpy(line, k->in, len);
			line[len] = '\0';
			*len_r = len;
			memmove(k->in, nl + 1, k->in_len - n - 1);
			k->in_len -= n + 1;
			return 0;
		}
		if (k->in_len == sizeof(k->in))
			return -1;
		ssize_t got = recv(k->fd, k->in + k->in_len, sizeof(k->in) - k->in_len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got == 0)
				errno = ECONNRESET;
			return -1;
		}
		k->in_len += (size_t)got;
	}
}

/* Reads one reply into k->reply: its code, or -1 (connection lost, timeout, garbage). */
static int sm_sock_reply(struct sm_sock *k)
{
	char line[SM_SOCK_LINE_MAX];
	size_t len;
	for (;;) {
		if (sm_sock_line(k, line, &len) < 0)
			return -1;
		int r = smtp_reply_feed_line(&k->reply, line, len);
		if (r < 0)
			return -1;
		if (r > 0)
			return k->reply.code;
	}
}

int sm_sock_cmd(struct sm_sock *k, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char line[1100];
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_printf(&k->out, "%s\r\n", line);
	if (sm_sock_flush(k) < 0)
		return -1;
	return sm_sock_reply(k);
}

const char *sm_sock_text(const struct sm_sock *k)
{
	return buf_cstr(&k->reply.text);
}

/* Connects, and sets the timeouts of every read and write. */
static int sm_sock_dial(const struct conf *c, struct buf *err)
{
	char *path = smtpd_local_socket_path(c);
	if (path == NULL) {
		buf_printf(err, "local submission is turned off (local_submit = no), and only "
				"root and the queue's owner use the queue themselves");
		return -1;
	}
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = -1;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		buf_printf(err, "%s: path too long for a socket", path);
	} else {
		memcpy(sun.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			buf_printf(err, "cannot reach the mail server at %s: %s", path,
				   strerror(errno));
			if (fd >= 0)
				close(fd);
			fd = -1;
		}
	}
	x_free(&path);
	if (fd >= 0) {
		struct timeval tv = {(time_t)conf_num(c, "smtp_timeout"), 0};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

struct sm_sock *sm_sock_open(const struct conf *c, struct buf *err)
{
	int fd = sm_sock_dial(c, err);
	if (fd < 0)
		return NULL;
	struct sm_sock *k = X_NEW(struct sm_sock);
	k->fd = fd;
	smtp_reply_init(&k->reply);
	int code = sm_sock_reply(k);
	if (code == 220)
		code = sm_sock_cmd(k, "EHLO localhost");
	if (code != 250) {
		if (code < 0)
			buf_printf(err, "the mail server closed the connection: %s", strerror(errno));
		else
			buf_printf(err, "the mail server answered %d %s", code, sm_sock_text(k));
		sm_sock_close(&k, false);
		return NULL;
	}
	return k;
}

int sm_sock_write(struct sm_sock *k, const char *p, size_t n)
{
	while (n > 0) {
		if (k->line_start && p[0] == '.')
			buf_append_char(&k->out, '.');
		const char *nl = memchr(p, '\n', n);
		size_t run = nl != NULL ? (size_t)(nl - p) : n;
		buf_append(&k->out, p, run);
		k->line_start = nl != NULL;
		if (nl != NULL) {
			buf_append_str(&k->out, "\r\n");
			run++;
		}
		p += run;
		n -= run;
		if (k->out.len >= SM_SOCK_OUT_MAX && sm_sock_flush(k) < 0)
			return -1;
	}
	return 0;
}

int sm_sock_data(struct sm_sock *k)
{
	int code = sm_sock_cmd(k, "DATA");
	k->line_start = true;
	return code;
}

int sm_sock_data_end(struct sm_sock *k)
{
	if (!k->line_start)
		buf_append_str(&k->out, "\r\n");
	buf_append_str(&k->out, ".\r\n");
	if (sm_sock_flush(k) < 0)
		return -1;
	return sm_sock_reply(k);
}

void sm_sock_close(struct sm_sock **kp, bool quit)
{
	struct sm_sock *k = *kp;
	if (k == NULL)
		return;
	if (quit) {
		buf_reset(&k->out);
		sm_sock_cmd(k, "QUIT");
	}
	close(k->fd);
	buf_free(&k->out);
	smtp_reply_free(&k->reply);
	x_free(kp);
}

int sm_sock_mailq(const struct conf *c, FILE *out, struct buf *err)
{
	struct sm_sock *k = sm_sock_open(c, err);
	if (k == NULL)
		return -1;
	buf_append_str(&k->out, "XMAILQ\r\n");
	int code = sm_sock_flush(k) < 0 ? -1 : 0;
	char line[SM_SOCK_LINE_MAX];
	size_t len;
	/* Each "211-" line is a line of the listing, printed as it comes; "211 " ends it. */
	while (code == 0 && sm_sock_line(k, line, &len) == 0) {
		if (len >= 4 && strncmp(line, "211-", 4) == 0) {
			fprintf(out, "%s\n", line + 4);
		} else if (len >= 4 && strncmp(line, "211 ", 4) == 0) {
			code = 211;
		} else if (len >= 4 && line[0] >= '2' && line[0] <= '5' && line[3] != '-') {
			code = atoi(line);
			buf_printf(err, "the mail server answered: %s", line);
		} else if (len < 4 || line[3] != '-') {
			code = -1;
		}
	}
	if (code == 0 || code == -1) {
		buf_printf(err, "the mail server went away during the listing: %s", strerror(errno));
		code = -1;
	}
	sm_sock_close(&k, code > 0);
	return code == 211 ? 0 : code;
}

bool sm_queue_direct(const char *queue_dir)
{
	struct stat st;
	if (geteuid() == 0)
		return true;
	if (stat(queue_dir, &st) < 0)
		return errno == ENOENT;
	return st.st_uid == geteuid();
}

/* Copies what is readable on from to to; false at the end of from or on an error. */
static bool sm_sock_copy(int from, int to)
{
	char b[16384];
	ssize_t n;
	while ((n = read(from, b, sizeof(b))) < 0 && errno == EINTR)
		;
	if (n <= 0)
		return false;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = to == 1 ? write(to, b + off, (size_t)(n - off))
				    : send(to, b + off, (size_t)(n - off), MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		off += w;
	}
	return true;
}

int sm_sock_proxy(const struct conf *c, struct buf *err)
{
	int fd = sm_sock_dial(c, err);
	if (fd < 0)
		return -1;
	struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
	int timeout = (int)conf_num(c, "smtp_timeout") * 1000;
	bool in_open = true;
	for (;;) {
		p[0].fd = in_open ? 0 : -1;
		int r = poll(p, 2, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* the server ends an idle session itself; this is a safety net */
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (!sm_sock_copy(fd, 1))
				break;
		}
		if (in_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !sm_sock_copy(0, fd)) {
			in_open = false;
			shutdown(fd, SHUT_WR);
		}
	}
	close(fd);
	return 0;
}
