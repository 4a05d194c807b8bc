/* deliver-maildir: durable, idempotent delivery of a message into a Maildir.
 *
 * deliver_maildir() (the queue's delivery) names the file "TIME.QUEUEID_RCPTINDEX.HOST,S=SIZE"
 * (maildir.txt; S= lets Dovecot and Courier skip a stat). It is written in tmp/ as
 * Return-Path:, Delivered-To: and the message streamed from the queue's data file with a
 * fixed buffer, fsync'd, linked into new/, and new/ fsync'd. The name depends only on the
 * message and recipient, so a repeated delivery finds the first (in new/, or in cur/ with
 * an ":2,..." info after a reader saw it) and reports success without a second copy.
 * deliver_maildir_put() is the same write for any source and name (filters' folders).
 * Every failure is a deferral.
 */
#include "deliver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "durable.h"
#include "util.h"
#include "xalloc.h"

#define DELIVER_COPY_BUF 65536

void deliver_result_set(struct delivery_result *res, enum delivery_status st, const char *enhanced,
			const char *fmt, ...)
{
	res->status = st;
	snprintf(res->enhanced, sizeof(res->enhanced), "%s", enhanced);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->text, sizeof(res->text), fmt, ap);
	va_end(ap);
}

/* A failed system call: always temporary, with an enhanced code for the cause. */
void deliver_result_errno(struct delivery_result *res, const char *what, const char *path, int e)
{
	const char *code = "4.3.0";
	if (e == ENOSPC)
		code = "4.3.1";
	else if (e == EDQUOT)
		code = "4.2.2";
	else if (e == EACCES || e == EPERM || e == EROFS)
		code = "4.2.1";
	deliver_result_set(res, DELIVERY_DEFER, code, "%s %s: %s", what, path, strerror(e));
}

static void deliver_defer(struct delivery_result *res, const char *what, const char *path)
{
	deliver_result_errno(res, what, path, errno);
}

void deliver_maildir_base(const struct delivery_request *req, struct buf *out)
{
	buf_printf(out, "%lld.%s_%u.", (long long)req->queue_time, req->queue_id, req->rcpt_index);
	for (const char *h = req->hostname; *h != '\0'; h++) {
		if (*h == '/')
			buf_append_str(out, "\\057");
		else if (*h == ':')
			buf_append_str(out, "\\072");
		else
			buf_append_char(out, *h);
	}
}

/* Is there a file in dir whose name starts with prefix (followed by one of `ends`, or
 * anything when ends is NULL)? 1 yes, 0 no, -1 error. */
static int deliver_find_prefix(const char *dir, const char *prefix, const char *ends)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	size_t n = strlen(prefix);
	int found = 0;
	struct dirent *de;
	while (found == 0 && (de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, n) == 0 &&
		    (ends == NULL || (de->d_name[n] != 0 && strchr(ends, de->d_name[n]))))
			found = 1;
	closedir(d);
	return found;
}

/* Looks for prefix in maildir's new/ and cur/. 1 found, 0 no, -1 error (res set). */
static int deliver_find_any(const char *maildir, const char *prefix, const char *ends,
			    struct delivery_result *res)
{
	int found = 0;
	static const char *const subs[] = {"new", "cur"};
	for (size_t i = 0; i < 2 && found == 0; i++) {
		char *dir = x_asprintf("%s/%s", maildir, subs[i]);
		found = deliver_find_prefix(dir, prefix, ends);
		if (found < 0)
			deliver_defer(res, "cannot read", dir);
		x_free(&dir);
	}
	return found;
}

/* Was this (message, recipient) delivered already? 1 yes, 0 no, -1 error (res set). */
static int deliver_already(const struct delivery_request *req, const char *new_path,
			   struct delivery_result *res)
{
	struct stat st;
	if (lstat(new_path, &st) == 0)
		return 1;
	if (!req->recheck)
		return 0;
	/* The prefix without the host: found even if the host name changed since. */
	struct buf prefix = BUF_INIT;
	buf_printf(&prefix, "%lld.%s_%u.", (long long)req->queue_time, req->queue_id,
		   req->rcpt_index);
	int found = deliver_find_any(req->maildir, buf_cstr(&prefix), NULL, res);
	buf_free(&prefix);
	return found;
}

int deliver_src_write(int fd, const struct deliver_src *src)
{
	if (src->mem_len > 0 && write_full(fd, src->mem, src->mem_len) < 0)
		return -1;
	if (src->fd < 0 || src->fd_len == 0)
		return 0;
	uint64_t off = 0;
	/* In the kernel where it can (copy_file_range(2): the queue file and the mailbox on
	 * one file system): the bytes do not pass through this process. Anything it cannot
	 * do (EXDEV, EINVAL, an early end) is left to the read/write loop, which reports
	 * real errors. */
	while (off < src->fd_len) {
		loff_t in = (loff_t)(src->fd_off + off);
		uint64_t left = src->fd_len - off;
		ssize_t n = copy_file_range(src->fd, &in, fd, NULL,
					    left < (1U << 30) ? (size_t)left : (1U << 30), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (uint64_t)n;
	}
	if (off == src->fd_len)
		return 0;
	char *buf = x_malloc(DELIVER_COPY_BUF);
	int r = 0;
	while (off < src->fd_len && r == 0) {
		uint64_t left = src->fd_len - off;
		size_t want = left < DELIVER_COPY_BUF ? (size_t)left : DELIVER_COPY_BUF;
		ssize_t n = pread(src->fd, buf, want, (off_t)(src->fd_off + off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* the data file shrank under us */
			r = -1;
		} else if (write_full(fd, buf, (size_t)n) < 0) {
			r = -1;
		} else {
			off += (uint64_t)n;
		}
	}
	x_free(&buf);
	return r;
}

/* Creates the Maildir's folders if missing. -1 + res. Called only when a file operation
 * found one missing (ENOENT), not before every delivery: three mkdir calls a message that
 * fail with EEXIST were a tenth of the queue worker's system calls. */
static int deliver_mkdirs(const char *maildir, struct delivery_result *res)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	for (size_t i = 0; i < 3; i++) {
		char *p = x_asprintf("%s/%s", maildir, subs[i]);
		int r = mkdir_p(p, 0700);
		if (r < 0)
			deliver_defer(res, "cannot create", p);
		x_free(&p);
		if (r < 0)
			return -1;
	}
	return 0;
}

bool deliver_maildir_unnamed = true;

/* Writes the message as an unnamed file of new/ (O_TMPFILE) and links it as new_path.
 * What tmp/ is for (maildir.txt: a reader never sees a file being written) holds as well,
 * without a name to create and remove in tmp/: with several deliveries into one Maildir
 * at once, those two changes of tmp/ had them queueing for its lock. 0 done, -1 failed
 * (res set), 1 not possible here (a file system without O_TMPFILE, no /proc, new/
 * missing): the caller goes through tmp/. */
static int deliver_write_unnamed(const struct deliver_src *src, const char *maildir,
				 const char *new_path, struct delivery_result *res)
{
	if (!deliver_maildir_unnamed)
		return 1;
	char *dir = x_asprintf("%s/new", maildir);
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	x_free(&dir);
	if (fd < 0)
		return 1;
	if (deliver_src_write(fd, src) < 0 || durable_file(fd) < 0) {
		deliver_defer(res, "cannot write", new_path);
		close(fd);
		return -1;
	}
	/* linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH; the /proc link does not. */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int r = linkat(AT_FDCWD, proc, AT_FDCWD, new_path, AT_SYMLINK_FOLLOW);
	int err = errno;
	close(fd);
	if (r < 0 && err != EEXIST)
		return 1;
	return 0;
}

/* Writes tmp_path, links it as new_path, fsyncs new/; makes the Maildir's folders if
 * they are missing. -1 + res. */
static int deliver_write(const struct deliver_src *src, const char *maildir, const char *tmp_path,
			 const char *new_path, struct delivery_result *res)
{
	int u = deliver_write_unnamed(src, maildir, new_path, res);
	if (u <= 0) {
		if (u == 0 && durable_parent(new_path) < 0) {
			deliver_defer(res, "cannot fsync the folder of", new_path);
			return -1;
		}
		return u;
	}
	/* O_TRUNC: a file left by an attempt that crashed is ours to overwrite. */
	const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW;
	int fd = open(tmp_path, flags, 0600);
	if (fd < 0 && errno == ENOENT) {
		if (deliver_mkdirs(maildir, res) < 0)
			return -1;
		fd = open(tmp_path, flags, 0600);
	}
	if (fd < 0) {
		deliver_defer(res, "cannot create", tmp_path);
		return -1;
	}
	if (deliver_src_write(fd, src) < 0 || durable_file(fd) < 0) {
		deliver_defer(res, "cannot write", tmp_path);
		close(fd);
		unlink(tmp_path);
		return -1;
	}
	if (close(fd) < 0) {
		deliver_defer(res, "cannot write", tmp_path);
		unlink(tmp_path);
		return -1;
	}
	int r = link(tmp_path, new_path);
	if (r < 0 && errno == ENOENT && access(tmp_path, F_OK) == 0) { /* new/ went away */
		if (deliver_mkdirs(maildir, res) < 0) {
			unlink(tmp_path);
			return -1;
		}
		r = link(tmp_path, new_path);
	}
	if (r < 0 && errno != EEXIST) {
		deliver_defer(res, "cannot link", new_path);
		unlink(tmp_path);
		return -1;
	}
	unlink(tmp_path);
	if (durable_parent(new_path) < 0) {
		deliver_defer(res, "cannot fsync the folder of", new_path);
		return -1;
	}
	return 0;
}

static void deliver_ok(struct delivery_result *res, bool before)
{
	deliver_result_set(res, DELIVERY_OK, "2.0.0", "%s",
			   before ? "delivered before" : "delivered");
}

int deliver_message_size(const struct delivery_request *req, uint64_t *size_r)
{
	struct stat st;
	if (req->message_sized) {
		*size_r = req->message_size;
		return 0;
	}
	if (fstat(req->message_fd, &st) < 0)
		return -1;
	*size_r = (uint64_t)st.st_size;
	return 0;
}

void deliver_maildir(const struct delivery_request *req, struct delivery_result *res)
{
	uint64_t size;
	if (deliver_message_size(req, &size) < 0) {
		deliver_defer(res, "cannot read the queued message of", req->queue_id);
		return;
	}
	char *head =
	    x_asprintf("Return-Path: <%s>\nDelivered-To: %s\n", req->sender, req->recipient);
	struct deliver_src src = {
	    .mem = head, .mem_len = strlen(head), .fd = req->message_fd, .fd_len = size};
	struct buf name = BUF_INIT;
	deliver_maildir_base(req, &name);
	buf_printf(&name, ",S=%llu", (unsigned long long)(size + strlen(head)));
	char *tmp_path = x_asprintf("%s/tmp/%s", req->maildir, buf_cstr(&name));
	char *new_path = x_asprintf("%s/new/%s", req->maildir, buf_cstr(&name));
	int done = 0;
	if ((done = deliver_already(req, new_path, res)) < 0)
		goto out;
	if (done == 0 && deliver_write(&src, req->maildir, tmp_path, new_path, res) < 0)
		goto out;
	deliver_ok(res, done);
out:
	x_free(&head);
	x_free(&tmp_path);
	x_free(&new_path);
	buf_free(&name);
}

/* A fresh unique name: "TIME.MusecPpidQn.HOST" (maildir.txt's modern form). */
static void deliver_fresh_name(const char *hostname, struct buf *out)
{
	static unsigned counter;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	unsigned q = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
	buf_printf(out, "%lld.M%ldP%ldQ%u.", (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
		   q);
	for (const char *h = hostname; *h != '\0'; h++) {
		if (*h == '/')
			buf_append_str(out, "\\057");
		else if (*h == ':')
			buf_append_str(out, "\\072");
		else
			buf_append_char(out, *h);
	}
}

int deliver_maildir_put(const char *maildir, const char *unique, bool recheck, const char *hostname,
			const struct deliver_src *src, struct buf *path_r,
			struct delivery_result *res)
{
	struct buf name = BUF_INIT;
	if (unique != NULL)
		buf_append_str(&name, unique);
	else
		deliver_fresh_name(hostname, &name);
	uint64_t size = src->mem_len + (src->fd >= 0 ? src->fd_len : 0U);
	size_t base_len = name.len;
	buf_printf(&name, ",S=%llu", (unsigned long long)size);
	char *tmp_path = x_asprintf("%s/tmp/%s", maildir, buf_cstr(&name));
	char *new_path = x_asprintf("%s/new/%s", maildir, buf_cstr(&name));
	int done = 0, r = -1;
	struct stat st;
	if (unique != NULL && lstat(new_path, &st) == 0) {
		done = 1;
	} else if (unique != NULL && recheck) {
		buf_truncate(&name, base_len);
		done = deliver_find_any(maildir, buf_cstr(&name), ",:", res);
		if (done < 0)
			goto out;
	}
	if (done == 0 && deliver_write(src, maildir, tmp_path, new_path, res) < 0)
		goto out;
	if (path_r != NULL)
		buf_append_str(path_r, new_path);
	deliver_ok(res, done);
	r = 0;
out:
	x_free(&tmp_path);
	x_free(&new_path);
	buf_free(&name);
	return r;
}
