/* mbox-repair: `tern repair` for an mbox file. Under the mbox locks it reads the file,
 * finds what other programs (or crashes) left wrong, and writes a corrected copy that is
 * renamed over the file (crash-safe, as a rewrite):
 *   - no From_ line at the start of the file, or a message that starts with Return-Path:,
 *     Received: or Delivered-To: right after a blank line: a From_ line is inserted;
 *   - a Content-Length that does not match the body: the header is removed (we never
 *     split on it, but other readers might);
 *   - a message bigger than the limit: moved to FILE.lost+found/ (one mbox per message);
 *   - a last message cut short (no final newline): kept, completed with a newline, noted.
 * Nothing is deleted; each action is reported.
 */
#include "mbox-private.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct rmsg {
	uint64_t start, end;   /* the From_ line (or where one is missing) to the next */
	uint64_t body, cl_off; /* body start; the Content-Length line (0: none) */
	uint64_t cl_len, cl_val;
	bool need_from;
};

struct repair {
	struct rmsg *msgs;
	size_t count, cap;
	void (*report)(void *ctx, const char *line);
	void *ctx;
	const char *path;
	int changes;
};

static void say(struct repair *rp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct repair *rp, const char *fmt, ...)
{
	if (rp->report == NULL)
		return;
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_printf(&b, "%s: ", rp->path);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	rp->report(rp->ctx, b.data);
	buf_free(&b);
}

static struct rmsg *rmsg_new(struct repair *rp, uint64_t start, bool need_from)
{
	if (rp->count == rp->cap) {
		rp->cap = rp->cap ? rp->cap * 2 : 64;
		rp->msgs = x_reallocarray(rp->msgs, rp->cap, sizeof(*rp->msgs));
	}
	struct rmsg *m = &rp->msgs[rp->count++];
	*m = (struct rmsg){.start = start, .need_from = need_from};
	return m;
}

static bool starts_message(const char *line)
{
	return str_iprefix(line, "Return-Path:") || str_iprefix(line, "Received:") ||
	       str_iprefix(line, "Delivered-To:");
}

static bool looks_header(const char *line)
{
	size_t n = strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");
	return n > 0 && line[n] == ':';
}

/* Splits the file into messages; returns whether the file ends with a newline. */
static int repair_scan(struct repair *rp, FILE *fp, bool *final_nl_r)
{
	char line[MBOX_LINE_LOOK];
	uint64_t off = 0;
	bool start = true, prev_blank = false, in_header = false, final_nl = true;
	struct rmsg *m = NULL;
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t n = strlen(line);
		bool ends = n > 0 && line[n - 1] == '\n';
		if (start) {
			bool blank = strcmp(line, "\n") == 0 || strcmp(line, "\r\n") == 0;
			bool from = strncmp(line, "From ", 5) == 0;
			if ((m == NULL || prev_blank) && from) {
				m = rmsg_new(rp, off, false);
				in_header = true;
			} else if (m == NULL ||
				   (prev_blank && !in_header && starts_message(line))) {
				m = rmsg_new(rp, off, true);
				m->body = off; /* a header follows: no From_ line to skip */
				in_header = looks_header(line);
				if (in_header && str_iprefix(line, "Content-Length:")) {
					m->cl_off = off;
					m->cl_len = n;
					m->cl_val = strtoull(line + 15, NULL, 10);
				}
			} else if (in_header && blank) {
				in_header = false;
				m->body = off + n;
			} else if (in_header && str_iprefix(line, "Content-Length:") && ends) {
				m->cl_off = off;
				m->cl_len = n;
				m->cl_val = strtoull(line + 15, NULL, 10);
			}
			prev_blank = blank;
		}
		start = ends;
		final_nl = ends;
		off += n;
		if (m != NULL)
			m->end = off;
	}
	if (ferror(fp))
		return -1;
	for (size_t i = 0; i < rp->count; i++)
		if (rp->msgs[i].body == 0 || rp->msgs[i].body > rp->msgs[i].end)
			rp->msgs[i].body = rp->msgs[i].end;
	*final_nl_r = final_nl;
	return 0;
}

/* Copies [from, to) of fd to out. */
static int copy_range(int fd, uint64_t from, uint64_t to, int out)
{
	char *chunk = x_malloc(MBOX_CHUNK);
	int ret = 0;
	while (from < to && ret == 0) {
		size_t want = to - from < MBOX_CHUNK ? (size_t)(to - from) : MBOX_CHUNK;
		ssize_t n = pread(fd, chunk, want, (off_t)from);
		if (n <= 0)
			ret = -1;
		else if (write_full(out, chunk, (size_t)n) < 0)
			ret = -1;
		from += n > 0 ? (uint64_t)n : 0;
	}
	x_free(&chunk);
	return ret;
}

/* Writes one message (fixed) to out. */
static int write_msg(int fd, const struct rmsg *m, bool drop_cl, int out)
{
	if (m->need_from) {
		struct buf from = BUF_INIT;
		mbox_from_line(&from, NULL, (int64_t)time(NULL));
		int r = write_full(out, from.data, from.len);
		buf_free(&from);
		if (r < 0)
			return -1;
	}
	if (!drop_cl || m->cl_off == 0)
		return copy_range(fd, m->start, m->end, out);
	if (copy_range(fd, m->start, m->cl_off, out) < 0)
		return -1;
	return copy_range(fd, m->cl_off + m->cl_len, m->end, out);
}

/* The body length a Content-Length should say (without the separating blank line). */
static uint64_t body_len(int fd, const struct rmsg *m, bool last)
{
	uint64_t end = m->end;
	char b[2];
	if (!last && end - m->body >= 1 && pread(fd, b, 1, (off_t)end - 1) == 1 && b[0] == '\n')
		end--; /* the blank line before the next From_ line */
	return end > m->body ? end - m->body : 0;
}

/* Moves a message out into FILE.lost+found/. */
static int lost_found(struct repair *rp, int fd, const struct rmsg *m, struct buf *err)
{
	char *dir = x_asprintf("%s.lost+found", rp->path);
	char *file = x_asprintf("%s/msg-%" PRIu64 "-%lld", dir, m->start, (long long)time(NULL));
	int ret = 0;
	if (mkdir_p(dir, 0700) < 0)
		ret = store_err_errno(err, "create", dir);
	int out = ret < 0 ? -1 : open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (ret == 0 && out < 0)
		ret = store_err_errno(err, "create", file);
	if (out >= 0) {
		if (write_msg(fd, m, false, out) < 0 || fsync(out) < 0)
			ret = store_err_errno(err, "write", file);
		close(out);
	}
	if (ret == 0)
		ret = fsync_dir(dir) < 0 ? store_err_errno(err, "sync", dir) : 0;
	x_free(&dir);
	x_free(&file);
	return ret;
}

/* Decides and reports; with out >= 0 also writes the repaired file. */
static int repair_apply(struct repair *rp, int fd, bool final_nl, const struct store_repair_opts *o,
			int out, struct buf *err)
{
	for (size_t i = 0; i < rp->count; i++) {
		const struct rmsg *m = &rp->msgs[i];
		bool last = i + 1 == rp->count;
		if (m->need_from) {
			say(rp, "message at byte %" PRIu64 " has no From_ line: inserting one",
			    m->start);
			rp->changes++;
		}
		uint64_t real = body_len(fd, m, last);
		bool drop_cl = m->cl_off != 0 && m->cl_val != real;
		if (drop_cl) {
			say(rp,
			    "message at byte %" PRIu64 ": Content-Length %" PRIu64
			    " but the body has %" PRIu64 " bytes: removing the header",
			    m->start, m->cl_val, real);
			rp->changes++;
		}
		if (o->max_message_size != 0 && m->end - m->start > o->max_message_size) {
			say(rp,
			    "message at byte %" PRIu64 " has %" PRIu64 " bytes: moving it to "
			    "%s.lost+found/",
			    m->start, m->end - m->start, rp->path);
			rp->changes++;
			if (out >= 0 && lost_found(rp, fd, m, err) < 0)
				return -1;
			continue;
		}
		if (out >= 0 && write_msg(fd, m, drop_cl, out) < 0)
			return store_err_errno(err, "write", rp->path);
	}
	if (!final_nl && rp->count > 0) {
		say(rp, "the last message is cut short (no final newline): kept, newline added");
		rp->changes++;
		if (out >= 0 && write_full(out, "\n\n", 2) < 0)
			return store_err_errno(err, "write", rp->path);
	}
	return 0;
}

static int repair_write(struct repair *rp, struct mbox_lock *lk, bool final_nl,
			const struct store_repair_opts *o, struct buf *err)
{
	char *tmp = x_asprintf("%s.tern-repair", rp->path);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		x_free(&tmp);
		return store_err_errno(err, "create", tmp);
	}
	struct stat st;
	int r = fstat(lk->fd, &st) == 0 && fchmod(out, st.st_mode & 07777) == 0 ? 0 : -1;
	if (r == 0)
		r = repair_apply(rp, lk->fd, final_nl, o, out, err);
	if (r == 0 && fsync(out) < 0)
		r = store_err_errno(err, "sync", tmp);
	close(out);
	if (r == 0 && rename(tmp, rp->path) < 0)
		r = store_err_errno(err, "rename", tmp);
	if (r == 0)
		fsync_parent(rp->path);
	else
		unlink(tmp);
	x_free(&tmp);
	return r;
}

int mbox_repair_file(const char *path, const struct store_repair_opts *o, struct buf *err)
{
	struct repair rp = {.report = o->report, .ctx = o->ctx, .path = path};
	struct mbox_lock lk;
	if (mbox_lock(path, false, &lk, err) < 0)
		return -1;
	FILE *fp = fdopen(dup(lk.fd), "r");
	bool final_nl = true;
	int r = fp == NULL || repair_scan(&rp, fp, &final_nl) < 0
		    ? store_err_errno(err, "read", path)
		    : 0;
	if (fp != NULL)
		fclose(fp);
	if (r == 0)
		r = repair_apply(&rp, lk.fd, final_nl, o, -1, err);
	if (r == 0 && rp.changes > 0 && !o->dry_run) {
		struct repair again = rp;
		again.changes = 0;
		again.report = NULL; /* reported above */
		r = repair_write(&again, &lk, final_nl, o, err);
	}
	if (r == 0 && rp.changes == 0)
		say(&rp, "no damage found");
	mbox_unlock(&lk);
	x_free(&rp.msgs);
	return r < 0 ? -1 : rp.changes;
}
