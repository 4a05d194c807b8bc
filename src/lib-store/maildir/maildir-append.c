/* maildir-append: writing a message into tmp/ in pieces and delivering it (fsync the file,
 * set its time to the internal date, rename into new/ or cur/, fsync the directory, give
 * it the next UID, all under the index lock), and copying by hard link.
 */
#include "maildir-private.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct maildir_append {
	struct store_append a;
	char *tmp_path;
	char *uniq;
	int fd;
	uint64_t size;
	bool failed;
};

static char *tmp_file(struct maildir_folder *mf, char **uniq_r)
{
	struct buf name = BUF_INIT;
	maildir_name_unique(&name);
	char *path = x_asprintf("%s/tmp/%s", mf->path, name.data);
	*uniq_r = buf_steal(&name);
	return path;
}

int maildir_append_begin(struct store_folder *f, struct store_append **a_r, struct buf *err)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	struct maildir_append *ma = X_NEW(struct maildir_append);
	ma->a.folder = f;
	ma->tmp_path = tmp_file(mf, &ma->uniq);
	ma->fd = open(ma->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (ma->fd < 0) {
		store_err_errno(err, "create", ma->tmp_path);
		x_free(&ma->tmp_path);
		maildir_append_free(&ma->a);
		return -1;
	}
	*a_r = &ma->a;
	return 0;
}

int maildir_append_write(struct store_append *a, const void *data, size_t len, struct buf *err)
{
	struct maildir_append *ma = (struct maildir_append *)a;
	if (ma->failed)
		return store_err(err, "append already failed");
	if (write_full(ma->fd, data, len) < 0) {
		ma->failed = true;
		return store_err_errno(err, "write", ma->tmp_path);
	}
	ma->size += len;
	return 0;
}

int maildir_append_commit(struct store_append *a, const struct store_append_opts *opts,
			  uint32_t *uid_r, struct buf *err)
{
	struct maildir_append *ma = (struct maildir_append *)a;
	struct maildir_folder *mf = (struct maildir_folder *)a->folder;
	if (ma->failed)
		return store_err(err, "append failed");
	if (opts->unique_name != NULL && !maildir_name_valid_unique(opts->unique_name))
		return store_err(err, "invalid unique name");
	int64_t idate = opts->internal_date ? opts->internal_date : (int64_t)time(NULL);
	struct timespec times[2] = {{.tv_sec = idate}, {.tv_sec = idate}};
	if (fsync(ma->fd) < 0 || futimens(ma->fd, times) < 0 || close(ma->fd) < 0) {
		ma->fd = -1;
		return store_err_errno(err, "write", ma->tmp_path);
	}
	ma->fd = -1;
	char *base = opts->unique_name != NULL
			     ? x_strdup(opts->unique_name)
			     : x_asprintf("%s,S=%" PRIu64, ma->uniq, ma->size);
	uint32_t uid = 0;
	int r = maildir_folder_deliver(mf, ma->tmp_path, base, ma->size, idate,
				       opts->flags & STORE_FLAGS_ALL, opts->keywords, &uid, err);
	x_free(&base);
	if (r < 0)
		return -1;
	x_free(&ma->tmp_path); /* renamed: nothing to remove */
	if (uid_r != NULL)
		*uid_r = uid;
	return 0;
}

void maildir_append_free(struct store_append *a)
{
	struct maildir_append *ma = (struct maildir_append *)a;
	if (ma->fd >= 0)
		close(ma->fd);
	if (ma->tmp_path != NULL)
		unlink(ma->tmp_path);
	x_free(&ma->tmp_path);
	x_free(&ma->uniq);
	x_free(&ma);
}

/* The destination's keyword bits for the source's. */
static uint32_t copy_keywords(struct store_folder *src, uint32_t kw, struct store_folder *dst,
			      struct buf *err)
{
	uint32_t out = 0;
	for (unsigned k = 0; k < STORE_KEYWORDS_MAX; k++) {
		if ((kw & (1u << k)) == 0 || src->keywords[k] == NULL)
			continue;
		int dk = maildir_keyword_lookup(dst, src->keywords[k], true, err);
		if (dk >= 0)
			out |= 1u << dk;
	}
	return out;
}

int maildir_copy(struct store_folder *src, uint32_t uid, struct store_folder *dst,
		 uint32_t *uid_r, struct buf *err)
{
	struct maildir_folder *ms = (struct maildir_folder *)src;
	struct maildir_folder *md = (struct maildir_folder *)dst;
	struct index_row row;
	char *from = NULL, *uniq = NULL, *tmp = NULL;
	int r = -1;
	for (int attempt = 0; attempt < 2 && r < 0; attempt++) {
		x_free(&from);
		int found = maildir_locate(ms, uid, &row, &from, false, attempt > 0, err);
		if (found <= 0) {
			x_free(&tmp);
			x_free(&uniq);
			return found < 0 ? -1 : store_err(err, "expunged");
		}
		if (tmp == NULL)
			tmp = tmp_file(md, &uniq);
		if ((r = link(from, tmp)) < 0 && errno != ENOENT)
			break;
	}
	x_free(&from);
	uint32_t flags = row.flags, kw = row.keywords;
	uint64_t size = row.size;
	int64_t idate = row.idate;
	if (r < 0) {
		x_free(&tmp);
		x_free(&uniq);
		return 1; /* another file system, or no links: stream the copy */
	}
	kw = copy_keywords(src, kw, dst, err);
	char *base = x_asprintf("%s,S=%" PRIu64, uniq, size);
	uint32_t new_uid = 0;
	r = maildir_folder_deliver(md, tmp, base, size, idate, flags, kw, &new_uid, err);
	if (r < 0)
		unlink(tmp);
	else if (uid_r != NULL)
		*uid_r = new_uid;
	x_free(&base);
	x_free(&tmp);
	x_free(&uniq);
	return r;
}
