/* mbox-append: appending a message to an mbox. The bytes are streamed into an unlinked
 * temporary file first, so the mbox is locked only for the final copy, never while a slow
 * client uploads. Under the locks: catch up, make sure the file ends with a blank line,
 * write the From_ line and the message (status headers with X-UID set to UIDNEXT, >From
 * quoted, mboxrd) and a blank line, fsync; on any failure the file is truncated back to
 * its old size, so a half-written message never stays.
 */
#include "mbox-private.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct mbox_append {
	struct store_append a;
	int fd;
	uint64_t size;
	bool failed;
};

int mbox_append_begin(struct store_folder *f, struct store_append **a_r, struct buf *err)
{
	struct mbox_folder *mf = (struct mbox_folder *)f;
	const char *slash = strrchr(mf->path, '/');
	char *dir = slash ? x_strndup(mf->path, (size_t)(slash - mf->path)) : x_strdup(".");
	int fd = mbox_tmpfile(dir, err);
	x_free(&dir);
	if (fd < 0)
		return -1;
	struct mbox_append *ma = X_NEW(struct mbox_append);
	ma->a.folder = f;
	ma->fd = fd;
	*a_r = &ma->a;
	return 0;
}

int mbox_append_write(struct store_append *a, const void *data, size_t len, struct buf *err)
{
	struct mbox_append *ma = (struct mbox_append *)a;
	if (ma->failed)
		return store_err(err, "append already failed");
	if (write_full(ma->fd, data, len) < 0) {
		ma->failed = true;
		return store_err_errno(err, "write", "temporary file");
	}
	ma->size += len;
	return 0;
}

void mbox_append_free(struct store_append *a)
{
	struct mbox_append *ma = (struct mbox_append *)a;
	if (ma->fd >= 0)
		close(ma->fd);
	x_free(&ma);
}

/* What must be written before a new From_ line so that a blank line precedes it. */
static const char *tail_padding(int fd, off_t size)
{
	char b[2];
	if (size == 0)
		return "";
	if (size == 1)
		return pread(fd, b, 1, 0) == 1 && b[0] == '\n' ? "\n" : "\n\n";
	if (pread(fd, b, 2, size - 2) != 2)
		return "\n\n";
	return b[1] != '\n' ? "\n\n" : b[0] != '\n' ? "\n" : "";
}

/* The status lines of the new message. */
static void append_status(struct mbox_folder *mf, const struct store_append_opts *opts,
			  uint32_t uid, bool first, struct buf *out)
{
	struct buf kw = BUF_INIT;
	if (first) {
		buf_printf(out, "X-IMAPbase: %u %u", (uint32_t)index_meta(mf->ix, "uidvalidity"),
			   uid + 1);
		for (int i = 0; i < STORE_KEYWORDS_MAX && mf->f.keywords[i] != NULL; i++)
			buf_printf(out, " %s", mf->f.keywords[i]);
		buf_append_char(out, '\n');
	}
	mbox_keywords_text(mf, opts->keywords, &kw);
	mbox_status_format(out, opts->flags, kw.data, uid);
	buf_free(&kw);
}

/* Writes the message at the end of the locked file. */
static int append_write_locked(struct mbox_append *ma, int fd, uint32_t uid,
			       const struct store_append_opts *opts, bool *padded_r,
			       struct buf *err)
{
	struct mbox_folder *mf = (struct mbox_folder *)ma->a.folder;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return store_err_errno(err, "stat", mf->path);
	const char *pad = tail_padding(fd, st.st_size);
	*padded_r = strcmp(pad, "\n\n") == 0;
	struct buf head = BUF_INIT, status = BUF_INIT;
	buf_append_str(&head, pad);
	int64_t idate = opts->internal_date ? opts->internal_date : (int64_t)time(NULL);
	mbox_from_line(&head, opts->envelope_from, idate);
	append_status(mf, opts, uid, st.st_size == 0, &status);
	int r = 0;
	if (lseek(fd, 0, SEEK_END) < 0 || write_full(fd, head.data, head.len) < 0)
		r = store_err_errno(err, "write", mf->path);
	if (r == 0)
		r = mbox_copy(ma->fd, 0, ma->size, MBOX_VIEW_APPEND, status.data, fd, NULL, err);
	if (r == 0 && (write_full(fd, "\n", 1) < 0 || fsync(fd) < 0))
		r = store_err_errno(err, "write", mf->path);
	if (r < 0 && ftruncate(fd, st.st_size) == 0)
		fsync(fd);
	buf_free(&head);
	buf_free(&status);
	return r;
}

int mbox_append_commit(struct store_append *a, const struct store_append_opts *opts,
		       uint32_t *uid_r, struct buf *err)
{
	struct mbox_append *ma = (struct mbox_append *)a;
	struct mbox_folder *mf = (struct mbox_folder *)a->folder;
	if (ma->failed)
		return store_err(err, "append failed");
	struct mbox_lock lk;
	if (mbox_folder_lock(mf, &lk, err) < 0)
		return -1;
	uint32_t uid = (uint32_t)index_meta(mf->ix, "uidnext");
	bool padded = false;
	int r = uid == UINT32_MAX ? store_err(err, "%s: out of UIDs", mf->path)
				  : append_write_locked(ma, lk.fd, uid, opts, &padded, err);
	if (r == 0) /* padding a last line without a newline changed that message: read all */
		r = mbox_catchup(mf, lk.fd, padded, NULL, err);
	struct index_row row;
	if (r == 0 && index_get(mf->ix, uid, &row, &mf->scratch, err) != 1)
		r = store_err(err, "%s: the appended message did not get UID %u", mf->path, uid);
	if (r == 0 && uid_r != NULL)
		*uid_r = uid;
	return mbox_folder_unlock(mf, &lk, r, err);
}
