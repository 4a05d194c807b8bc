/* mbox-rewrite: writing an mbox again for flag changes and expunges, crash-safe: the new
 * file is written beside the old one (DIR/.NAME.tern-rewrite), fsync'd, and renamed over
 * it while the dotlock and the fcntl lock are held, so a reader or a crash sees the old
 * file or the new one, never a mix. Each message keeps its From_ line and body bytes; its
 * status headers are written from the index (with X-UID, and X-IMAPbase in the first
 * message), so every message carries its UID afterwards.
 */
#include "mbox-private.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct rewrite {
	struct mbox_folder *mf;
	int in_fd, out_fd;
	const uint32_t *expunge;
	size_t expunge_count;
	bool first;
	struct buf status, kw;
	struct buf *err;
};

static bool in_sorted(const uint32_t *v, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] == x)
			return true;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int rewrite_row(void *ctx, const struct index_row *r)
{
	struct rewrite *rw = ctx;
	if (in_sorted(rw->expunge, rw->expunge_count, r->uid))
		return 0;
	struct mbox_loc loc;
	if (!mbox_loc_parse(r->fname, &loc))
		return store_err(rw->err, "index row %u is damaged; run tern reindex", r->uid);
	buf_reset(&rw->status);
	if (rw->first) {
		struct mbox_folder *mf = rw->mf;
		buf_printf(&rw->status, "X-IMAPbase: %u %u",
			   (uint32_t)index_meta(mf->ix, "uidvalidity"),
			   (uint32_t)index_meta(mf->ix, "uidnext"));
		for (int i = 0; i < STORE_KEYWORDS_MAX && mf->f.keywords[i] != NULL; i++)
			buf_printf(&rw->status, " %s", mf->f.keywords[i]);
		buf_append_char(&rw->status, '\n');
		rw->first = false;
	}
	mbox_keywords_text(rw->mf, r->keywords, &rw->kw);
	mbox_status_format(&rw->status, r->flags, rw->kw.data, r->uid);
	return mbox_copy(rw->in_fd, loc.from_off, loc.end_off, MBOX_VIEW_REWRITE, rw->status.data,
			 rw->out_fd, NULL, rw->err);
}

static char *rewrite_tmp_path(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return x_asprintf(".%s.tern-rewrite", path);
	return x_asprintf("%.*s/.%s.tern-rewrite", (int)(slash - path), path, slash + 1);
}

/* Writes the new file; 0 with *fd_r open and locked, or -1. */
static int rewrite_write(struct rewrite *rw, const char *tmp, int *fd_r)
{
	struct stat st;
	if (fstat(rw->in_fd, &st) < 0)
		return store_err_errno(rw->err, "stat", rw->mf->path);
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
	if (fd < 0)
		return store_err_errno(rw->err, "create", tmp);
	if (fchmod(fd, st.st_mode & 07777) < 0 || mbox_fcntl_lock(fd, tmp, rw->err) < 0) {
		if (buf_cstr(rw->err)[0] == '\0')
			store_err_errno(rw->err, "chmod", tmp);
		close(fd);
		return -1;
	}
	if (getuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0) {
		close(fd);
		return store_err_errno(rw->err, "chown", tmp);
	}
	rw->out_fd = fd;
	int r = index_scan(rw->mf->ix, 0, rewrite_row, rw, rw->err);
	if (r == 0 && fsync(fd) < 0)
		r = store_err_errno(rw->err, "sync", tmp);
	if (r < 0) {
		close(fd);
		return -1;
	}
	*fd_r = fd;
	return 0;
}

int mbox_rewrite(struct mbox_folder *mf, struct mbox_lock *lk, const uint32_t *expunge,
		 size_t expunge_count, uint64_t *modseq_r, struct buf *err)
{
	struct rewrite rw = {.mf = mf,
			     .in_fd = lk->fd,
			     .expunge = expunge,
			     .expunge_count = expunge_count,
			     .first = true,
			     .err = err};
	char *tmp = rewrite_tmp_path(mf->path);
	buf_reset(err);
	int fd = -1;
	int r = rewrite_write(&rw, tmp, &fd);
	if (r == 0 && rename(tmp, mf->path) < 0)
		r = store_err_errno(err, "rename", tmp);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	} else {
		mbox_lock_swap(lk, fd);
		if (fsync_parent(mf->path) < 0)
			r = store_err_errno(err, "sync", mf->path);
	}
	if (r == 0)
		r = mbox_catchup(mf, lk->fd, true, modseq_r, err);
	buf_free(&rw.status);
	buf_free(&rw.kw);
	x_free(&tmp);
	return r;
}
