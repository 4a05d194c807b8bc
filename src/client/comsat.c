/* comsat: `tern comsat`, the biff server (comsat(8)): for each "USER@OFFSET:MAILBOX"
 * datagram from a delivery agent, writes a short notice of the new message to every
 * terminal of USER whose owner-execute bit is on (`tern biff y`).
 *
 * Terminals come from utmp (USER_PROCESS entries), or from --tty (tests, and sites
 * without utmp). The message is read from MAILBOX at OFFSET (an mbox) or is the file
 * MAILBOX (a Maildir message); a relative MAILBOX is /var/mail/USER's folder. Datagrams
 * are untrusted: the user must exist, the file must belong to the user (so comsat cannot
 * be made to show another's mail), and every byte shown is made printable.
 */
#include "client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utmpx.h>

#include "buf.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define COMSAT_MAX_DGRAM 1024
#define COMSAT_MAX_READ 8192
#define COMSAT_BODY_LINES 7
#define COMSAT_BODY_CHARS 560
#define COMSAT_MAX_TTYS 16

struct comsat_opts {
	const char *address;
	int port;
	bool inetd, once;
	const char *ttys[COMSAT_MAX_TTYS];
	size_t nttys;
};

struct comsat_note {
	char user[64];
	unsigned long long offset;
	char path[COMSAT_MAX_DGRAM];
};

/* Parses "user@offset:path". 0, or -1 when malformed. */
static int comsat_parse(const char *d, size_t len, struct comsat_note *n)
{
	const char *at = memchr(d, '@', len);
	if (at == NULL || at == d || (size_t)(at - d) >= sizeof(n->user))
		return -1;
	for (const char *p = d; p < at; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return -1;
	memcpy(n->user, d, (size_t)(at - d));
	n->user[at - d] = 0;
	const char *p = at + 1, *end = d + len;
	n->offset = 0;
	if (p == end || !isdigit((unsigned char)*p))
		return -1;
	while (p < end && isdigit((unsigned char)*p) && n->offset < (1ULL << 60))
		n->offset = n->offset * 10 + (unsigned)(*p++ - '0');
	size_t plen = 0;
	if (p < end && *p == ':') {
		p++;
		while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
			end--;
		plen = (size_t)(end - p);
		if (memchr(p, 0, plen) != NULL || plen >= sizeof(n->path))
			return -1;
	}
	memcpy(n->path, p, plen);
	n->path[plen] = 0;
	return 0;
}

/* Appends s made printable (tabs kept, others as '?'), with CRLF line ends for raw ttys. */
static void put_text(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			buf_append_str(out, "\r\n");
		else if (c == '\t' || (c >= 0x20 && c < 0x7f) || c >= 0xa0)
			buf_append_char(out, (char)c);
		else if (c != '\r')
			buf_append_char(out, '?');
	}
}

/* From:, Subject: and To: of the header, then the first lines of the body. */
static void comsat_summary(const char *m, size_t len, struct buf *out)
{
	const char *p = m, *end = m + len;
	bool header = true, show = false;
	int lines = 0;
	size_t chars = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (header) {
			if (n == 0 || (n == 1 && p[0] == '\r'))
				header = false;
			else if (p[0] == ' ' || p[0] == '\t')
				; /* a continuation keeps the last line's choice */
			else
				show = str_iprefix(p, "From:") || str_iprefix(p, "Subject:") ||
				       str_iprefix(p, "To:");
			if (header && show)
				put_text(out, p, n + (nl != NULL));
		} else if (n > 0) {
			if (lines >= COMSAT_BODY_LINES || chars + n > COMSAT_BODY_CHARS) {
				buf_append_str(out, "...more...\r\n");
				break;
			}
			put_text(out, p, n + (nl != NULL));
			lines++;
			chars += n;
		}
		p = nl != NULL ? nl + 1 : end;
	}
}

/* Reads the start of the new message, if the file is the user's. NULL otherwise. */
static char *comsat_read(const struct comsat_note *n, const struct passwd *pw, size_t *len_r)
{
	char *path = n->path[0] == '/' ? x_strdup(n->path) : x_asprintf("/var/mail/%s", n->user);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	char *text = NULL;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == pw->pw_uid) {
		text = x_malloc(COMSAT_MAX_READ + 1);
		ssize_t r = pread(fd, text, COMSAT_MAX_READ, (off_t)n->offset);
		*len_r = r > 0 ? (size_t)r : 0;
		text[*len_r] = 0;
	} else {
		log_info("not showing %s to %s: not the user's file", path, n->user);
	}
	if (fd >= 0)
		close(fd);
	x_free(&path);
	return text;
}

/* Writes the notice to one terminal if it is the user's and biff is on there. */
static void comsat_tty(const char *tty, const struct passwd *pw, const struct buf *notice)
{
	struct stat st;
	if (stat(tty, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_uid != pw->pw_uid ||
	    !(st.st_mode & S_IXUSR))
		return;
	int fd = open(tty, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write_full(fd, notice->data, notice->len) < 0)
		log_info("cannot write to %s: %s", tty, strerror(errno));
	close(fd);
}

/* The user's terminals: --tty, else utmp. */
static size_t comsat_ttys(const struct comsat_opts *o, const char *user, char **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < o->nttys && n < max; i++)
		out[n++] = x_strdup(o->ttys[i]);
	if (o->nttys > 0)
		return n;
	setutxent();
	struct utmpx *u;
	while ((u = getutxent()) != NULL && n < max) {
		if (u->ut_type != USER_PROCESS ||
		    strncmp(u->ut_user, user, sizeof(u->ut_user)) != 0 ||
		    strlen(user) > sizeof(u->ut_user))
			continue;
		char line[sizeof(u->ut_line) + 1];
		memcpy(line, u->ut_line, sizeof(u->ut_line));
		line[sizeof(u->ut_line)] = 0;
		if (line[0] != 0 && strstr(line, "..") == NULL)
			out[n++] = x_asprintf("/dev/%s", line);
	}
	endutxent();
	return n;
}

static void comsat_handle(const struct comsat_opts *o, const char *d, size_t len)
{
	struct comsat_note n;
	if (comsat_parse(d, len, &n) < 0) {
		log_info("malformed datagram: %s", log_safe(d, len, 100));
		return;
	}
	struct passwd *pw = getpwnam(n.user);
	if (pw == NULL)
		return;
	char *ttys[COMSAT_MAX_TTYS];
	size_t nt = comsat_ttys(o, n.user, ttys, COMSAT_MAX_TTYS);
	if (nt == 0)
		return;
	size_t mlen = 0;
	char *text = comsat_read(&n, pw, &mlen);
	struct buf notice = BUF_INIT;
	buf_printf(&notice, "\r\n\aNew mail for %s@%s\a has arrived:\r\n----\r\n", n.user,
		   host_name());
	if (text != NULL)
		comsat_summary(text, mlen, &notice);
	buf_append_str(&notice, "----\r\n");
	for (size_t i = 0; i < nt; i++) {
		comsat_tty(ttys[i], pw, &notice);
		x_free(&ttys[i]);
	}
	buf_free(&notice);
	x_free(&text);
}

static int comsat_socket(const struct comsat_opts *o)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)o->port)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	bool v6 = inet_pton(AF_INET6, o->address, &a6.sin6_addr) == 1;
	if (!v6 && inet_pton(AF_INET, o->address, &a4.sin_addr) != 1) {
		fprintf(stderr, "tern comsat: bad address %s\n", o->address);
		return -1;
	}
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4,
			   v6 ? sizeof(a6) : sizeof(a4)) < 0) {
		fprintf(stderr, "tern comsat: cannot listen on %s:%d: %s\n", o->address, o->port,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int comsat_usage(void)
{
	fprintf(stderr, "usage: tern comsat [--port N] [--address A] [--inetd] [--once] "
			"[--tty PATH]...\n");
	return 64;
}

static int comsat_args(int argc, char **argv, struct comsat_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--inetd") == 0)
			o->inetd = true;
		else if (strcmp(a, "--once") == 0)
			o->once = true;
		else if (strcmp(a, "--port") == 0 && v != NULL && atoi(v) > 0 && atoi(v) < 65536)
			o->port = atoi(argv[++i]);
		else if (strcmp(a, "--address") == 0 && v != NULL)
			o->address = argv[++i];
		else if (strcmp(a, "--tty") == 0 && v != NULL && o->nttys < COMSAT_MAX_TTYS)
			o->ttys[o->nttys++] = argv[++i];
		else if (strcmp(a, "-c") == 0 && v != NULL)
			i++; /* every command takes -c; comsat needs no configuration */
		else
			return -1;
	}
	return 0;
}

int cmd_comsat(int argc, char **argv)
{
	struct comsat_opts o = {.address = "127.0.0.1", .port = 512};
	if (comsat_args(argc, argv, &o) < 0)
		return comsat_usage();
	log_init("comsat", false);
	int fd = o.inetd ? 0 : comsat_socket(&o);
	if (fd < 0)
		return 71;
	char d[COMSAT_MAX_DGRAM];
	for (;;) {
		ssize_t n = recv(fd, d, sizeof(d), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "tern comsat: %s\n", strerror(errno));
			return 74;
		}
		comsat_handle(&o, d, (size_t)n);
		if (o.inetd || o.once)
			return 0;
	}
}
