/* deliver-maildir: durable, idempotent delivery of a queued message into a Maildir.
 *
 * The file is named "TIME.QUEUEID_RCPTINDEX.HOST,S=SIZE" (maildir.txt; S= lets Dovecot and
 * Courier skip a stat). It is written in tmp/ as Return-Path:, Delivered-To: and the
 * message streamed from the queue's data file with a fixed buffer, fsync'd, linked into
 * new/, and new/ fsync'd. The name depends only on the message and recipient, so a repeated
 * delivery finds the first (in new/, or in cur/ with an ":2,..." info after a reader saw
 * it) and reports success without a second copy. Every failure is a deferral.
 */
#include "deliver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "xalloc.h"

#define DELIVER_COPY_BUF 65536

static void deliver_set(struct delivery_result *res, enum delivery_status st,
			const char *enhanced, const char *fmt, const char *path, int err)
{
	res->status = st;
	snprintf(res->enhanced, sizeof(res->enhanced), "%s", enhanced);
	snprintf(res->text, sizeof(res->text), fmt, path, strerror(err));
}

/* A failed system call: always temporary, with an enhanced code for the cause. */
static void deliver_defer(struct delivery_result *res, const char *what, const char *path)
{
	int e = errno;
	const char *code = "4.3.0";
	if (e == ENOSPC)
		code = "4.3.1";
	else if (e == EDQUOT)
		code = "4.2.2";
	else if (e == EACCES || e == EPERM || e == EROFS)
		code = "4.2.1";
	char fmt[64];
	snprintf(fmt, sizeof(fmt), "%s %%s: %%s", what);
	deliver_set(res, DELIVERY_DEFER, code, fmt, path, e);
}

void deliver_maildir_base(const struct delivery_request *req, struct buf *out)
{
	buf_printf(out, "%lld.%s_%u.", (long long)req->queue_time, req->queue_id,
		   req->rcpt_index);
	for (const char *h = req->hostname; *h != '\0'; h++) {
		if (*h == '/')
			buf_append_str(out, "\\057");
		else if (*h == ':')
			buf_append_str(out, "\\072");
		else
			buf_append_char(out, *h);
	}
}

/* Is there a file in dir whose name starts with prefix? 1 yes, 0 no, -1 error. */
static int deliver_find_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	size_t n = strlen(prefix);
	int found = 0;
	struct dirent *de;
	while (found == 0 && (de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, n) == 0)
			found = 1;
	closedir(d);
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
	int found = 0;
	static const char *const subs[] = {"new", "cur"};
	for (size_t i = 0; i < 2 && found == 0; i++) {
		char *dir = x_asprintf("%s/%s", req->maildir, subs[i]);
		found = deliver_find_prefix(dir, buf_cstr(&prefix));
		if (found < 0)
			deliver_defer(res, "cannot read", dir);
		x_free(&dir);
	}
	buf_free(&prefix);
	return found;
}

/* Writes the two header lines and the message to fd. -1 + errno. */
static int deliver_copy(const struct delivery_request *req, int fd, const char *head,
			uint64_t size)
{
	if (write_full(fd, head, strlen(head)) < 0)
		return -1;
	char *buf = x_malloc(DELIVER_COPY_BUF);
	uint64_t off = 0;
	int r = 0;
	while (off < size && r == 0) {
		size_t want = size - off < DELIVER_COPY_BUF ? (size_t)(size - off) : DELIVER_COPY_BUF;
		ssize_t n = pread(req->message_fd, buf, want, (off_t)off);
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

/* Creates the Maildir's folders if missing. -1 + res. */
static int deliver_mkdirs(const struct delivery_request *req, struct delivery_result *res)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	for (size_t i = 0; i < 3; i++) {
		char *p = x_asprintf("%s/%s", req->maildir, subs[i]);
		int r = mkdir_p(p, 0700);
		if (r < 0)
			deliver_defer(res, "cannot create", p);
		x_free(&p);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Writes tmp_path, links it as new_path, fsyncs new/. -1 + res. */
static int deliver_write(const struct delivery_request *req, const char *tmp_path,
			 const char *new_path, const char *head, uint64_t size,
			 struct delivery_result *res)
{
	/* O_TRUNC: a file left by an attempt that crashed is ours to overwrite. */
	int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		deliver_defer(res, "cannot create", tmp_path);
		return -1;
	}
	if (deliver_copy(req, fd, head, size) < 0 || fsync(fd) < 0) {
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
	if (link(tmp_path, new_path) < 0 && errno != EEXIST) {
		deliver_defer(res, "cannot link", new_path);
		unlink(tmp_path);
		return -1;
	}
	unlink(tmp_path);
	if (fsync_parent(new_path) < 0) {
		deliver_defer(res, "cannot fsync the folder of", new_path);
		return -1;
	}
	return 0;
}

void deliver_maildir(const struct delivery_request *req, struct delivery_result *res)
{
	struct stat st;
	if (fstat(req->message_fd, &st) < 0) {
		deliver_defer(res, "cannot read the queued message of", req->queue_id);
		return;
	}
	char *head = x_asprintf("Return-Path: <%s>\nDelivered-To: %s\n", req->sender,
				req->recipient);
	uint64_t size = (uint64_t)st.st_size;
	struct buf name = BUF_INIT;
	deliver_maildir_base(req, &name);
	buf_printf(&name, ",S=%llu", (unsigned long long)(size + strlen(head)));
	char *tmp_path = x_asprintf("%s/tmp/%s", req->maildir, buf_cstr(&name));
	char *new_path = x_asprintf("%s/new/%s", req->maildir, buf_cstr(&name));
	int done = 0;
	if (deliver_mkdirs(req, res) < 0 || (done = deliver_already(req, new_path, res)) < 0)
		goto out;
	if (done == 0 && deliver_write(req, tmp_path, new_path, head, size, res) < 0)
		goto out;
	res->status = DELIVERY_OK;
	snprintf(res->enhanced, sizeof(res->enhanced), "2.0.0");
	snprintf(res->text, sizeof(res->text), "%s", done ? "delivered before" : "delivered");
out:
	x_free(&head);
	x_free(&tmp_path);
	x_free(&new_path);
	buf_free(&name);
}
