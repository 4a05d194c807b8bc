/* deliver-mbox: appending a message to an mbox file, locked as procmail and mutt lock it.
 *
 * The message goes after a "From SENDER  DATE" line (asctime date, two spaces as Postfix
 * and procmail write it), with mboxrd quoting (a body line matching ">*From " gets one more
 * '>', so readers can undo it exactly), and ends with an empty line. Locking: FILE.lock
 * (unless the caller holds it), then an fcntl lock (deliver-lock.c). The write is fsync'd;
 * on any failure the file is cut back to its old size, so no half message stays.
 */
#include "deliver-int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "durable.h"
#include "util.h"
#include "xalloc.h"

#define MBOX_BUF 65536
#define MBOX_PEND 1024

/* The quoting writer: bytes go through one state machine into a fixed buffer. */
struct mbox_out {
	int fd;
	bool quote;
	bool failed;
	bool at_bol;
	char last[2]; /* the last two bytes written: is there a final empty line? */
	size_t pend_len;
	char pend[MBOX_PEND]; /* a line start that may still become ">*From " */
	size_t len;
	char buf[MBOX_BUF];
};

static void out_raw(struct mbox_out *o, const char *p, size_t n)
{
	while (n > 0 && !o->failed) {
		if (o->len == MBOX_BUF) {
			if (write_full(o->fd, o->buf, o->len) < 0)
				o->failed = true;
			o->len = 0;
		}
		size_t k = MBOX_BUF - o->len < n ? MBOX_BUF - o->len : n;
		memcpy(o->buf + o->len, p, k);
		o->len += k;
		if (k >= 2) {
			o->last[0] = p[k - 2];
			o->last[1] = p[k - 1];
		} else {
			o->last[0] = o->last[1];
			o->last[1] = p[0];
		}
		p += k;
		n -= k;
	}
}

/* Is pend still a prefix of ">*From "? 1 complete match, 0 maybe, -1 no. */
static int pend_state(const struct mbox_out *o)
{
	size_t i = 0;
	while (i < o->pend_len && o->pend[i] == '>')
		i++;
	size_t rest = o->pend_len - i;
	if (rest > 5 || memcmp(o->pend + i, "From ", rest) != 0)
		return -1;
	return rest == 5 ? 1 : 0;
}

static void out_byte(struct mbox_out *o, char c)
{
	if (!o->at_bol || !o->quote) {
		out_raw(o, &c, 1);
		o->at_bol = c == '\n';
		return;
	}
	o->pend[o->pend_len++] = c;
	int st = pend_state(o);
	if (st == 0 && o->pend_len < MBOX_PEND)
		return;
	if (st == 1)
		out_raw(o, ">", 1);
	out_raw(o, o->pend, o->pend_len);
	o->at_bol = c == '\n';
	o->pend_len = 0;
}

static void out_write(struct mbox_out *o, const char *p, size_t n)
{
	if (!o->quote) {
		out_raw(o, p, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		/* the common case, mid-line: copy up to the next line end at once */
		if (!o->at_bol) {
			const char *nl = memchr(p + i, '\n', n - i);
			size_t k = nl != NULL ? (size_t)(nl - (p + i)) + 1 : n - i;
			out_raw(o, p + i, k);
			o->at_bol = nl != NULL;
			i += k - 1;
			continue;
		}
		out_byte(o, p[i]);
	}
}

/* Streams src through the writer. -1 + errno. */
static int mbox_copy(struct mbox_out *o, const struct deliver_src *src)
{
	out_write(o, src->mem, src->mem_len);
	char *buf = x_malloc(MBOX_BUF);
	uint64_t off = 0;
	int r = 0;
	while (src->fd >= 0 && off < src->fd_len && !o->failed) {
		uint64_t left = src->fd_len - off;
		ssize_t n = pread(src->fd, buf, left < MBOX_BUF ? (size_t)left : MBOX_BUF,
				  (off_t)(src->fd_off + off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n == 0 ? EIO : errno;
			r = -1;
			break;
		}
		out_write(o, buf, (size_t)n);
		off += (uint64_t)n;
	}
	x_free(&buf);
	return r;
}

static int mbox_finish(struct mbox_out *o, bool raw)
{
	if (o->pend_len > 0)
		out_raw(o, o->pend, o->pend_len);
	if (!raw) {
		if (o->last[1] != '\n')
			out_raw(o, "\n", 1);
		out_raw(o, "\n", 1);
	}
	if (!o->failed && o->len > 0 && write_full(o->fd, o->buf, o->len) < 0)
		o->failed = true;
	return o->failed ? -1 : 0;
}

/* Appends under the fcntl lock; the old size goes to offset_r. -1 + res. */
static int mbox_write_locked(int fd, const char *path, const char *from_line,
			     const struct deliver_src *src, bool raw, uint64_t *offset_r,
			     struct delivery_result *res)
{
	struct stat st;
	if (deliver_fcntl_lock(fd) < 0 || fstat(fd, &st) < 0) {
		deliver_result_errno(res, "cannot lock", path, errno);
		return -1;
	}
	*offset_r = (uint64_t)st.st_size;
	struct mbox_out *o = X_NEW(struct mbox_out);
	o->fd = fd;
	o->quote = !raw;
	o->at_bol = true;
	o->last[1] = '\n';
	out_raw(o, from_line, strlen(from_line));
	out_raw(o, "\n", 1);
	int r = mbox_copy(o, src);
	int e = errno;
	if (r == 0)
		r = mbox_finish(o, raw);
	if (r < 0 || o->failed) {
		e = o->failed ? errno : e;
		r = -1;
	}
	x_free(&o);
	if (r == 0 && durable_file(fd) < 0) {
		e = errno;
		r = -1;
	}
	if (r < 0) {
		deliver_result_errno(res, "cannot write", path, e);
		/* Cut back the half message; if even that fails, the error is reported anyway. */
		if (ftruncate(fd, st.st_size) == 0)
			fsync(fd);
	}
	return r;
}

int deliver_mbox_append(const char *path, bool take_dotlock, const char *from_line,
			const struct deliver_src *src, bool raw, unsigned umask_bits,
			uint64_t *offset_r, struct delivery_result *res)
{
	char *lock = x_asprintf("%s.lock", path);
	int r = -1;
	if (take_dotlock && deliver_dotlock(lock) < 0) {
		deliver_result_errno(res, "cannot lock", lock, errno);
		x_free(&lock);
		return -1;
	}
	mode_t mode = 0666 & ~(mode_t)umask_bits;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		deliver_result_errno(res, "cannot open", path, errno);
	} else {
		uint64_t off = 0;
		r = mbox_write_locked(fd, path, from_line, src, raw, &off, res);
		/* A new file: its folder entry must be durable too. */
		if (r == 0 && off == 0 && durable_parent(path) < 0) {
			deliver_result_errno(res, "cannot fsync the folder of", path, errno);
			r = -1;
		}
		if (close(fd) < 0 && r == 0) {
			deliver_result_errno(res, "cannot write", path, errno);
			r = -1;
		}
		if (offset_r != NULL)
			*offset_r = off;
	}
	if (take_dotlock)
		deliver_dotunlock(lock);
	x_free(&lock);
	if (r == 0)
		deliver_result_set(res, DELIVERY_OK, "2.0.0", "delivered");
	return r;
}

void deliver_from_line(const char *sender, time_t t, struct buf *out)
{
	struct tm tm;
	char date[64];
	localtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	buf_printf(out, "From %s  %s", *sender != 0 ? sender : "MAILER-DAEMON", date);
}
