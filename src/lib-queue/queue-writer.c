/* queue-writer: puts one message into the queue (format: doc/queue-format.md).
 *
 * One file per message (format 2). The data streams straight into QUEUE/msg/ID: without
 * an envelope it is never delivered, and a leftover is removed by the manager's cleanup.
 * The file is taken from the pool of recycled files (QUEUE/free/, queue-recycle.c) when
 * it has one, else created. Commit appends the envelope records after the data, makes
 * the file durable with one fdatasync, renames it to QUEUE/env/ID and makes that name
 * durable: the file appears in env/ only when everything in it is durable, and its
 * appearance is the acknowledgement. The group committer (queue-commit.c) runs the same
 * steps for many writers with one flush of env/ per batch.
 */
#include "queue-private.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "util.h"
#include "xalloc.h"

int queue_dirs_create(const char *queue_dir, struct buf *err)
{
	static const char *const subs[] = {QUEUE_DIR_TMP, QUEUE_DIR_MSG, QUEUE_DIR_ENV,
					   QUEUE_DIR_CORRUPT, QUEUE_DIR_FREE};
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		char *p = x_asprintf("%s/%s", queue_dir, subs[i]);
		int r = mkdir_p(p, 0700);
		if (r < 0)
			buf_printf(err, "cannot create %s: %s", p, strerror(errno));
		x_free(&p);
		if (r < 0)
			return -1;
	}
	return 0;
}

static int queue_writer_create_data(struct queue_writer *w, struct buf *err)
{
	w->data_fd = queue_pool_claim(w->queue_dir, w->data_path, QUEUE_POOL_DATA,
					 &w->data_old_size);
	if (w->data_fd >= 0)
		return 0;
	for (int tries = 0; tries < 2; tries++) {
		w->data_fd = open(w->data_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (w->data_fd >= 0)
			return 0;
		if (errno != ENOENT || queue_dirs_create(w->queue_dir, err) < 0)
			break;
	}
	if (err->len == 0)
		buf_printf(err, "cannot create %s: %s", w->data_path, strerror(errno));
	return -1;
}

struct queue_writer *queue_writer_open(const char *queue_dir, struct buf *err)
{
	struct queue_writer *w = X_NEW(struct queue_writer);
	queue_id_new(w->id);
	w->arrival = queue_id_time(w->id);
	w->queue_dir = x_strdup(queue_dir);
	w->data_path = x_asprintf("%s/" QUEUE_DIR_MSG "/%s", queue_dir, w->id);
	w->env_path = x_asprintf("%s/" QUEUE_DIR_ENV "/%s", queue_dir, w->id);
	buf_init(&w->envelope, 0);
	if (queue_writer_create_data(w, err) < 0) {
		queue_writer_free(&w);
		return NULL;
	}
	return w;
}

const char *queue_writer_id(const struct queue_writer *w)
{
	return w->id;
}

/* Writes what wbuf holds to the data file. */
static int queue_writer_flush(struct queue_writer *w)
{
	if (w->wlen == 0)
		return 0;
	int r = write_full(w->data_fd, w->wbuf, w->wlen);
	w->wlen = 0;
	return r;
}

int queue_writer_write(struct queue_writer *w, const void *p, size_t n)
{
	assert(w->data_fd >= 0 && !w->committed);
	/* Gathered into QUEUE_WRITE_BUF bytes a write(2): a 100 KB message arrives in
	 * some 25 pieces. A failed write is reported here or at commit (a temporary
	 * error for the client either way). */
	if (w->wlen + n > QUEUE_WRITE_BUF && queue_writer_flush(w) < 0)
		return -1;
	if (n >= QUEUE_WRITE_BUF) {
		if (write_full(w->data_fd, p, n) < 0)
			return -1;
	} else {
		if (w->wbuf == NULL)
			w->wbuf = x_malloc(QUEUE_WRITE_BUF);
		memcpy(w->wbuf + w->wlen, p, n);
		w->wlen += n;
	}
	w->size += n;
	return 0;
}

uint64_t queue_writer_size(const struct queue_writer *w)
{
	return w->size;
}

/* Appends value (at most QUEUE_FIELD_MAX bytes) with control characters as '?'. */
static void queue_append_clean(struct buf *b, const char *value)
{
	size_t n = strnlen(value, QUEUE_FIELD_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];
		buf_append_char(b, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
}

void queue_rec_field(struct buf *b, char key, const char *value)
{
	buf_append_char(b, key);
	buf_append_char(b, ' ');
	queue_append_clean(b, value);
	buf_append_char(b, '\n');
}

void queue_writer_set_sender(struct queue_writer *w, const char *sender)
{
	assert(!w->have_sender);
	queue_rec_field(&w->envelope, 'F', sender);
	w->have_sender = true;
}

void queue_writer_add_rcpt(struct queue_writer *w, const char *rcpt, const char *orcpt)
{
	/* rcpt TAB orcpt: addresses never hold a TAB (RFC 5321 4.1.2); a stray one becomes
	 * '?' like any control character. */
	buf_append_str(&w->envelope, "R ");
	queue_append_clean(&w->envelope, rcpt);
	buf_append_char(&w->envelope, '\t');
	queue_append_clean(&w->envelope, orcpt != NULL ? orcpt : rcpt);
	buf_append_char(&w->envelope, '\n');
	w->rcpt_count++;
}

void queue_writer_set_attr(struct queue_writer *w, const char *name, const char *value)
{
	assert(name[0] != '\0' && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") ==
	       strlen(name));
	char *v = x_asprintf("%s %s", name, value);
	queue_rec_field(&w->envelope, 'A', v);
	x_free(&v);
}

static void queue_writer_fail(struct queue_writer *w, const char *what, const char *path)
{
	if (!w->ok)
		return;
	w->ok = false;
	snprintf(w->error, sizeof(w->error), "%s %s: %s", what, path, strerror(errno));
}

void queue_envelope_marker(const char *id, struct buf *out)
{
	buf_printf(out, "V %d\nI %s\n", QUEUE_ENVELOPE_VERSION, id);
}

void queue_writer_prepare(struct queue_writer *w)
{
	assert(!w->committed && w->data_fd >= 0);
	w->ok = true;
	/* The envelope goes right after the data: "V 2" and "I ID" first (the marker the
	 * readers look for from the end), Z = the offset where it starts. */
	struct buf e = BUF_INIT;
	queue_envelope_marker(w->id, &e);
	buf_printf(&e, "T %lld\nZ %llu\n", (long long)w->arrival, (unsigned long long)w->size);
	if (!w->have_sender)
		buf_append_str(&e, "F \n");
	buf_append(&e, w->envelope.data, w->envelope.len);
	buf_append_str(&e, "E\n");
	/* One write(2) for the data still gathered and the envelope when they fit. */
	if (w->wbuf != NULL && w->wlen + e.len <= QUEUE_WRITE_BUF) {
		memcpy(w->wbuf + w->wlen, e.data, e.len);
		w->wlen += e.len;
		if (queue_writer_flush(w) < 0)
			queue_writer_fail(w, "cannot write", w->data_path);
	} else if (queue_writer_flush(w) < 0 || write_full(w->data_fd, e.data, e.len) < 0) {
		queue_writer_fail(w, "cannot write", w->data_path);
	}
	x_free(&w->wbuf);
	/* A recycled file longer than this message still ends with an old one's bytes:
	 * cut before anything is made durable. */
	uint64_t end = w->size + e.len;
	if (w->ok && w->data_old_size > end && ftruncate(w->data_fd, (off_t)end) < 0)
		queue_writer_fail(w, "cannot truncate", w->data_path);
	/* fdatasync (durable_data): the file is read back by its bytes and length only;
	 * its times matter only to the cleanup of files without an envelope, which reads
	 * them from the inode in memory (doc/queue-format.md, "Commit"). With sync_method
	 * = syncfs, one syncfs(2). */
	if (w->ok && durable_data(w->data_fd) < 0)
		queue_writer_fail(w, "cannot fsync", w->data_path);
	buf_free(&e);
}

/* rename(2), making the queue's folders first when the target's is missing (a queue
 * being set up by the queue manager at this very moment). */
static int queue_rename(const char *queue_dir, const char *from, const char *to)
{
	if (rename(from, to) == 0)
		return 0;
	struct buf err = BUF_INIT;
	int r = -1;
	if (errno == ENOENT && access(from, F_OK) == 0 && queue_dirs_create(queue_dir, &err) == 0)
		r = rename(from, to);
	buf_free(&err);
	return r;
}

void queue_writer_publish_env(struct queue_writer *w)
{
	if (w->ok && queue_rename(w->queue_dir, w->data_path, w->env_path) < 0)
		queue_writer_fail(w, "cannot rename", w->data_path);
	if (w->ok)
		w->committed = true;
}

void queue_writer_unlink_all(struct queue_writer *w)
{
	/* Envelope first: a data file alone is never delivered. */
	unlink(w->env_path);
	unlink(w->data_path);
	w->committed = false;
}

int queue_writer_commit(struct queue_writer *w, struct buf *err)
{
	assert(w->rcpt_count > 0);
	queue_writer_prepare(w);
	char *env_dir = x_asprintf("%s/" QUEUE_DIR_ENV, w->queue_dir);
	queue_writer_publish_env(w);
	if (w->ok && durable_dir(env_dir) < 0)
		queue_writer_fail(w, "cannot fsync", env_dir);
	x_free(&env_dir);
	if (!w->ok) {
		queue_writer_unlink_all(w);
		buf_append_str(err, w->error);
		return -1;
	}
	return 0;
}

void queue_writer_abort(struct queue_writer **wp)
{
	struct queue_writer *w = *wp;
	if (w == NULL)
		return;
	if (!w->committed)
		queue_writer_unlink_all(w);
	queue_writer_free(wp);
}

void queue_writer_free(struct queue_writer **wp)
{
	struct queue_writer *w = *wp;
	if (w == NULL)
		return;
	/* Freed without commit or abort: an unacknowledged message, whose files go. */
	if (!w->committed)
		queue_writer_unlink_all(w);
	if (w->data_fd >= 0)
		close(w->data_fd);
	x_free(&w->queue_dir);
	x_free(&w->data_path);
	x_free(&w->env_path);
	x_free(&w->wbuf);
	buf_free(&w->envelope);
	x_free(wp);
}
