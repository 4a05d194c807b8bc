/* bench-pop3-fetch: the download client of bench/pop3-bench.py. Logs in, STAT, LIST, UIDL,
 * then RETR of every message with RFC 2449 PIPELINING (up to WINDOW commands in flight),
 * reading the replies in big chunks with a byte-stuffing scanner, then QUIT (no DELE).
 *
 * It checks what arrives, so that no server wins by sending wrong data: every reply
 * starts with +OK, every line ends with CRLF, the octets of each message after removing
 * the stuffed dots (RFC 1939 section 3) equal LIST's size for it, and a 64-bit hash of
 * every message's bytes goes into a digest that the bench compares between servers.
 *
 *   bench-pop3-fetch HOST PORT USER PASSWORD [WINDOW [pause]]
 *
 * With "pause" it prints "ready" after the last message and waits for a line on stdin
 * before QUIT, so the caller can read the server process's CPU time while the session
 * is still alive. Output: one line of key=value (count, octets, digest, seconds).
 */
#define _POSIX_C_SOURCE 200809L
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF (512 * 1024)

static int sock = -1;
static char rbuf[RBUF];
static size_t rstart, rend;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("bench-pop3-fetch: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void send_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(sock, p, n);
		if (w <= 0)
			die("write: connection lost");
		p += w;
		n -= (size_t)w;
	}
}

/* Reads more into rbuf (moving what is unread to the front first). */
static void fill(void)
{
	if (rstart > 0) {
		memmove(rbuf, rbuf + rstart, rend - rstart);
		rend -= rstart;
		rstart = 0;
	}
	if (rend == RBUF)
		die("line too long");
	ssize_t n = read(sock, rbuf + rend, RBUF - rend);
	if (n <= 0)
		die("read: connection closed");
	rend += (size_t)n;
}

/* One CRLF line (without it), valid until the next read. */
static char *line(void)
{
	for (;;) {
		char *p = memchr(rbuf + rstart, '\n', rend - rstart);
		if (p != NULL) {
			char *l = rbuf + rstart;
			if (p == l || p[-1] != '\r')
				die("line without CR");
			p[-1] = '\0';
			rstart = (size_t)(p + 1 - rbuf);
			return l;
		}
		fill();
	}
}

static char *cmd(const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text) - 2, fmt, ap);
	va_end(ap);
	memcpy(text + n, "\r\n", 2);
	send_all(text, (size_t)n + 2);
	char *r = line();
	if (strncmp(r, "+OK", 3) != 0)
		die("%.4s: %s", text, r);
	return r;
}

/* A streaming 64-bit hash: 8-byte words, the tail kept between calls. */
struct hash {
	uint64_t h, word, len;
	unsigned fill;
};

static void hash_init(struct hash *x)
{
	memset(x, 0, sizeof(*x));
	x->h = 0x243F6A8885A308D3ull;
}

static inline void hash_word(struct hash *x, uint64_t w)
{
	x->h = (x->h ^ w) * 0x9E3779B97F4A7C15ull;
	x->h ^= x->h >> 29;
}

static void hash_add(struct hash *x, const char *p, size_t n)
{
	x->len += n;
	while (n > 0 && x->fill > 0) {
		x->word |= (uint64_t)(unsigned char)*p++ << (8 * x->fill);
		n--;
		if (++x->fill == 8) {
			hash_word(x, x->word);
			x->word = 0;
			x->fill = 0;
		}
	}
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		hash_word(x, w);
	}
	for (; n > 0; n--, p++) {
		x->word |= (uint64_t)(unsigned char)*p << (8 * x->fill);
		x->fill++;
	}
}

static uint64_t hash_end(struct hash *x)
{
	if (x->fill > 0)
		hash_word(x, x->word);
	hash_word(x, x->len);
	return x->h;
}

/* A multi-line reply after its +OK line: its lines hashed, their number returned. */
static size_t multi(struct hash *x, uint64_t *sizes, size_t count)
{
	for (size_t n = 0;; n++) {
		char *l = line();
		if (strcmp(l, ".") == 0)
			return n;
		hash_add(x, l, strlen(l));
		if (sizes != NULL) {
			unsigned long long num, size;
			if (sscanf(l, "%llu %llu", &num, &size) != 2 || num == 0 || num > count)
				die("bad LIST line: %s", l);
			sizes[num - 1] = size;
		}
	}
}

enum scan_state { S_STATUS, S_LINE_START, S_DOT, S_DOT_CR, S_IN_LINE };

int main(int argc, char **argv)
{
	if (argc < 5)
		die("usage: bench-pop3-fetch HOST PORT USER PASSWORD [WINDOW [pause]]");
	size_t window = argc > 5 ? (size_t)atoi(argv[5]) : 64;
	bool pause = argc > 6 && strcmp(argv[6], "pause") == 0;
	if (window < 1)
		window = 1;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0)
		die("cannot resolve %s", argv[1]);
	double t0 = now();
	sock = socket(ai->ai_family, SOCK_STREAM, 0);
	if (sock < 0 || connect(sock, ai->ai_addr, ai->ai_addrlen) < 0)
		die("cannot connect to %s:%s", argv[1], argv[2]);
	freeaddrinfo(ai);
	int one = 1;
	setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (strncmp(line(), "+OK", 3) != 0)
		die("no +OK greeting");
	cmd("USER %s", argv[3]);
	cmd("PASS %s", argv[4]);
	size_t count = strtoul(cmd("STAT") + 4, NULL, 10);
	uint64_t *sizes = calloc(count + 1, sizeof(uint64_t));
	struct hash lists;
	hash_init(&lists);
	cmd("LIST");
	if (multi(&lists, sizes, count) != count)
		die("LIST does not list STAT's count");
	cmd("UIDL"); /* not in the digest: Dovecot's %08X is upper case, Tern's lower */
	struct hash uidls;
	hash_init(&uidls);
	if (multi(&uidls, NULL, count) != count)
		die("UIDL does not list STAT's count");
	double t1 = now();

	/* RETR 1..count, pipelined; the scanner walks the replies as they come */
	struct hash all, msg;
	hash_init(&all);
	size_t sent = 0, done = 0, bare_lf = 0;
	uint64_t octets = 0, total_wire = 0;
	enum scan_state st = S_STATUS;
	bool last_cr = false;
	char cmds[64 * 1024];
	while (done < count) {
		if (sent < count && sent - done <= window / 2) {
			size_t len = 0;
			while (sent < count && sent - done < window && len + 32 < sizeof(cmds))
				len += (size_t)sprintf(cmds + len, "RETR %zu\r\n", ++sent);
			send_all(cmds, len);
		}
		if (rstart == rend) {
			rstart = rend = 0;
			ssize_t n = read(sock, rbuf, RBUF);
			if (n <= 0)
				die("read: connection closed after %zu messages", done);
			rend = (size_t)n;
			total_wire += (uint64_t)n;
		}
		char *p = rbuf + rstart, *end = rbuf + rend;
		while (p < end && done < count) {
			switch (st) {
			case S_STATUS: {
				char *lf = memchr(p, '\n', (size_t)(end - p));
				if (lf == NULL) {
					rstart = (size_t)(p - rbuf);
					size_t before = rend;
					fill();
					total_wire += rend - before;
					p = rbuf + rstart;
					end = rbuf + rend;
					continue;
				}
				if (strncmp(p, "+OK", 3) != 0)
					die("RETR %zu: %.*s", done + 1, (int)(lf - p), p);
				p = lf + 1;
				hash_init(&msg);
				st = S_LINE_START;
				break;
			}
			case S_LINE_START:
				if (*p == '.') {
					p++;
					st = S_DOT;
				} else {
					st = S_IN_LINE;
				}
				break;
			case S_DOT:
				if (*p == '\r') {
					p++;
					st = S_DOT_CR;
				} else {
					st =
					    S_IN_LINE; /* a stuffed dot: the first one is dropped */
				}
				break;
			case S_DOT_CR:
				if (*p == '\n') {
					p++;
					uint64_t h = hash_end(&msg);
					if (msg.len != sizes[done])
						die("message %zu: %llu octets, LIST said %llu",
						    done + 1, (unsigned long long)msg.len,
						    (unsigned long long)sizes[done]);
					octets += msg.len;
					hash_word(&all, h);
					done++;
					st = S_STATUS;
				} else {
					/* ".\r" not ending the reply: a CR that was content */
					hash_add(&msg, "\r", 1);
					last_cr = true;
					st = S_IN_LINE;
				}
				break;
			case S_IN_LINE: {
				char *lf = memchr(p, '\n', (size_t)(end - p));
				char *stop = lf != NULL ? lf + 1 : end;
				if (lf != NULL && !(lf > p ? lf[-1] == '\r' : last_cr))
					bare_lf++;
				hash_add(&msg, p, (size_t)(stop - p));
				last_cr = stop[-1] == '\r';
				p = stop;
				if (lf != NULL)
					st = S_LINE_START;
				break;
			}
			}
		}
		rstart = (size_t)(p - rbuf);
	}
	double t2 = now();
	if (rstart != rend)
		die("bytes after the last reply");
	if (bare_lf > 0)
		die("%zu lines ended with a bare LF", bare_lf);
	if (pause) {
		printf("ready\n");
		fflush(stdout);
		char l[16];
		if (fgets(l, sizeof(l), stdin) == NULL)
			die("no go-ahead on stdin");
	}
	cmd("QUIT");
	close(sock);
	printf("count=%zu octets=%llu wire=%llu digest=%016llx lists=%016llx login_list_s=%.4f "
	       "retr_s=%.4f total_s=%.4f\n",
	       count, (unsigned long long)octets, (unsigned long long)total_wire,
	       (unsigned long long)hash_end(&all), (unsigned long long)hash_end(&lists), t1 - t0,
	       t2 - t1, t2 - t0);
	free(sizes);
	return 0;
}
