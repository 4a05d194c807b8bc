/* queue-store: the queue folders as seen by the manager and the tools.
 *
 * Loading envelopes, appending state records (one write + fdatasync; O_APPEND keeps
 * records of the manager and of `tern queue hold` whole), listing, removing (envelope
 * first; recycling into free/ is in queue-recycle.c), quarantining damaged envelopes in corrupt/, and cleaning up the data files of
 * sessions that never got their acknowledgement.
 */
#include "queue-private.h"

#include <dirent.h>
#include <grp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xalloc.h"

/* pread(2) until n bytes or the end of the file: the count, or -1 + errno. */
static ssize_t queue_pread_full(int fd, char *p, size_t n, off_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, p + done, n - done, off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/* The last occurrence of pat in [p, p + n), or NULL. */
static const char *queue_memmem_last(const char *p, size_t n, const char *pat, size_t m)
{
	const char *last = NULL, *q = p, *end = p + n;
	while ((q = memmem(q, (size_t)(end - q), pat, m)) != NULL)
		last = q++;
	return last;
}

/* First bytes read of a file's tail when looking for its envelope: the whole file of a
 * small message, and the envelope of a large one (a few hundred bytes, more with many
 * recipients or state records; the read grows until the marker is in it). */
#define QUEUE_TAIL_FIRST 16384

/* Reads the envelope text of the open file fd (size bytes) into *text_r (malloc'd,
 * *len_r bytes) and its offset in the file into *off_r. Format 2: the text from the
 * last "V 2\nI ID\n" in the file to its end (the data before it may hold anything, but
 * nothing after it holds that line pair: the records after it are one "V", one "I"
 * and then other keys). Format 1: the whole file, which starts "V 1". -1 + errno
 * (EFBIG: too large; EBADMSG: no envelope in it). */
static int queue_envelope_read(int fd, const char *id, char **text_r, size_t *len_r,
			       uint64_t *off_r)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	uint64_t size = (uint64_t)st.st_size;
	struct buf marker = BUF_INIT;
	queue_envelope_marker(id, &marker);
	uint64_t want = QUEUE_TAIL_FIRST;
	char *data = NULL;
	int ret = -1;
	for (;;) {
		uint64_t start = size > want ? size - want : 0, n = size - start;
		x_free(&data);
		data = x_malloc((size_t)n + 1);
		ssize_t got = queue_pread_full(fd, data, (size_t)n, (off_t)start);
		if (got < 0)
			break;
		if ((uint64_t)got < n) /* cut meanwhile (a recycled file): read as it is */
			n = (uint64_t)got, size = start + n;
		const char *m = queue_memmem_last(data, (size_t)n, marker.data, marker.len);
		if (m != NULL) {
			*off_r = start + (uint64_t)(m - data);
			*len_r = (size_t)(n - (uint64_t)(m - data));
			memmove(data, m, *len_r);
			ret = 0;
			break;
		}
		if (start == 0 && n >= 4 && memcmp(data, "V 1\n", 4) == 0 &&
		    n <= QUEUE_ENVELOPE_MAX) {
			*off_r = 0;
			*len_r = (size_t)n;
			ret = 0;
			break;
		}
		/* the last window is the largest envelope plus its marker: never more */
		if (start == 0 || want >= QUEUE_ENVELOPE_MAX + marker.len) {
			errno = start == 0 && n <= QUEUE_ENVELOPE_MAX ? EBADMSG : EFBIG;
			break;
		}
		want = want * 4 < QUEUE_ENVELOPE_MAX + marker.len ? want * 4
								   : QUEUE_ENVELOPE_MAX + marker.len;
	}
	buf_free(&marker);
	if (ret < 0) {
		int saved = errno;
		x_free(&data);
		errno = saved;
		return -1;
	}
	data[*len_r] = '\0';
	*text_r = data;
	return 0;
}

/* Cuts a torn last record off the file at path (size bytes when it was read) back to
 * keep bytes. A last line without its LF may also be an append under way in another
 * process or thread (the manager, `tern queue hold`): appenders write under flock(2)
 * (queue_append_records), so the cut is made under that lock and only when the file is
 * still size bytes long and still does not end with LF, which only a crash leaves. */
static void queue_cut_torn(const char *path, uint64_t size, uint64_t keep)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat st;
	char last = '\n';
	if (fd < 0 || flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0) {
		log_warn("%s: cannot cut a torn record: %s", path, strerror(errno));
	} else if ((uint64_t)st.st_size == size && size > 0 &&
		   pread(fd, &last, 1, (off_t)size - 1) == 1 && last != '\n' &&
		   ftruncate(fd, (off_t)keep) < 0) {
		log_warn("%s: cannot cut a torn record: %s", path, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
}

enum queue_load queue_envelope_load(const char *queue_dir, const char *id,
				    struct queue_envelope **env_r, struct buf *err)
{
	*env_r = NULL;
	if (!queue_id_valid(id)) {
		buf_printf(err, "not a queue ID: %s", log_safe(id, strlen(id), 40));
		return QUEUE_LOAD_DAMAGED;
	}
	char *path = x_asprintf("%s/" QUEUE_DIR_ENV "/%s", queue_dir, id);
	size_t len = 0;
	uint64_t off = 0;
	char *text = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	enum queue_load r = QUEUE_LOAD_OK;
	if (fd < 0 || queue_envelope_read(fd, id, &text, &len, &off) < 0) {
		r = errno == ENOENT ? QUEUE_LOAD_MISSING : QUEUE_LOAD_ERROR;
		if (errno == EFBIG || errno == EBADMSG)
			r = QUEUE_LOAD_DAMAGED;
		buf_printf(err, "%s: %s", path,
			   errno == EBADMSG ? "no envelope records in it" : strerror(errno));
	} else if ((*env_r = queue_envelope_parse(id, text, len, err)) == NULL) {
		r = QUEUE_LOAD_DAMAGED;
	} else if ((*env_r)->version >= 2 && (*env_r)->size != off) {
		/* Format 2: the data is exactly what precedes the envelope. */
		buf_printf(err, "%s: envelope at offset %llu, but Z says %llu", path,
			   (unsigned long long)off, (unsigned long long)(*env_r)->size);
		queue_envelope_free(env_r);
		r = QUEUE_LOAD_DAMAGED;
	} else {
		(*env_r)->env_offset = off;
		/* A torn state record: cut it off so that the next append starts a line. */
		if ((*env_r)->valid_len < len)
			queue_cut_torn(path, off + len, off + (*env_r)->valid_len);
	}
	if (fd >= 0)
		close(fd);
	x_free(&text);
	x_free(&path);
	return r;
}

static void queue_rec_rcpt(struct buf *recs, char key, unsigned idx, const char *text)
{
	char *v = text != NULL ? x_asprintf("%u %lld %s", idx, (long long)time(NULL), text)
			       : x_asprintf("%u %lld", idx, (long long)time(NULL));
	queue_rec_field(recs, key, v);
	x_free(&v);
}

void queue_rec_attempt(struct buf *recs, unsigned rcpt_index)
{
	queue_rec_rcpt(recs, 't', rcpt_index, NULL);
}

void queue_rec_delivered(struct buf *recs, unsigned rcpt_index, const char *text)
{
	queue_rec_rcpt(recs, 'o', rcpt_index, text[0] != '\0' ? text : "-");
}

void queue_rec_failed(struct buf *recs, unsigned rcpt_index, const char *text)
{
	queue_rec_rcpt(recs, 'f', rcpt_index, text[0] != '\0' ? text : "-");
}

void queue_rec_deferred(struct buf *recs, unsigned rcpt_index, const char *text)
{
	queue_rec_rcpt(recs, 'd', rcpt_index, text[0] != '\0' ? text : "-");
}

void queue_rec_warned(struct buf *recs, unsigned rcpt_index)
{
	queue_rec_rcpt(recs, 'w', rcpt_index, NULL);
}

void queue_rec_retry(struct buf *recs, time_t next_try, unsigned attempts)
{
	buf_printf(recs, "n %lld %u\n", (long long)next_try, attempts);
}

void queue_rec_hold(struct buf *recs, bool held)
{
	buf_printf(recs, "h %d\n", held ? 1 : 0);
}

/* Locks fd and checks that path still names its file: a removed envelope can be
 * recycled for another message at once, and then truncated and rewritten; its new
 * writer truncates under the same lock (queue_pool_claim). false + errno ENOENT when
 * the name is gone or names another file. */
static bool queue_still_linked(int fd, const char *path)
{
	struct stat a, b;
	if (flock(fd, LOCK_EX) < 0 || fstat(fd, &a) < 0)
		return false;
	if (stat(path, &b) < 0)
		return false;
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		errno = ENOENT;
		return false;
	}
	return true;
}

int queue_append_records(const char *queue_dir, const char *id, const struct buf *recs,
			 struct buf *err)
{
	char *path = x_asprintf("%s/" QUEUE_DIR_ENV "/%s", queue_dir, id);
	int r = -1;
	/* No O_CREAT: a removed message stays removed. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || !queue_still_linked(fd, path))
		buf_printf(err, "cannot open %s: %s", path, strerror(errno));
	else if (write_full(fd, recs->data, recs->len) < 0 || fdatasync(fd) < 0)
		buf_printf(err, "cannot write %s: %s", path, strerror(errno));
	else
		r = 0;
	int saved = errno;
	if (fd >= 0)
		close(fd);
	x_free(&path);
	errno = saved;
	return r;
}

static int queue_id_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keeps the max smallest of ids[0..n) (sorted): the count left. */
static size_t queue_list_trim(char **ids, size_t n, size_t max)
{
	if (n > 0)
		qsort(ids, n, sizeof(*ids), queue_id_cmp);
	for (size_t i = max; i < n; i++)
		x_free(&ids[i]);
	return n < max ? n : max;
}

int queue_list_oldest(const char *queue_dir, size_t max, char ***ids_r, size_t *count_r,
		      size_t *total_r, struct buf *err)
{
	*ids_r = NULL;
	*count_r = 0;
	if (total_r != NULL)
		*total_r = 0;
	char *path = x_asprintf("%s/" QUEUE_DIR_ENV, queue_dir);
	DIR *d = opendir(path);
	if (d == NULL) {
		int ret = errno == ENOENT ? 0 : -1;
		if (ret < 0)
			buf_printf(err, "cannot read %s: %s", path, strerror(errno));
		x_free(&path);
		return ret;
	}
	/* Up to twice max names are held, then cut back to the max oldest: memory stays
	 * bounded by max whatever the size of the queue. */
	size_t n = 0, cap = 0, total = 0;
	size_t hold = max > SIZE_MAX / 2 ? SIZE_MAX : 2 * max;
	char **ids = NULL;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!queue_id_valid(de->d_name))
			continue;
		total++;
		if (max == 0)
			continue;
		if (n == hold)
			n = queue_list_trim(ids, n, max);
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = x_reallocarray(ids, cap, sizeof(*ids));
		}
		ids[n++] = x_strdup(de->d_name);
	}
	closedir(d);
	x_free(&path);
	*ids_r = ids;
	*count_r = queue_list_trim(ids, n, max);
	if (total_r != NULL)
		*total_r = total;
	return 0;
}

int queue_list(const char *queue_dir, char ***ids_r, size_t *count_r, struct buf *err)
{
	return queue_list_oldest(queue_dir, SIZE_MAX, ids_r, count_r, NULL, err);
}

void queue_list_free(char ***ids, size_t count)
{
	for (size_t i = 0; i < count; i++)
		x_free(&(*ids)[i]);
	x_free(ids);
}

char *queue_data_path(const char *queue_dir, const struct queue_envelope *env)
{
	return x_asprintf("%s/%s/%s", queue_dir,
			  env->version >= 2 ? QUEUE_DIR_ENV : QUEUE_DIR_MSG, env->id);
}

int queue_data_open(const char *queue_dir, const struct queue_envelope *env)
{
	char *path = queue_data_path(queue_dir, env);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int saved = errno;
	x_free(&path);
	errno = saved;
	return fd;
}

int queue_move_corrupt(const char *queue_dir, const char *id, struct buf *err)
{
	char *env = x_asprintf("%s/" QUEUE_DIR_ENV "/%s", queue_dir, id);
	char *msg = x_asprintf("%s/" QUEUE_DIR_MSG "/%s", queue_dir, id);
	char *cdir = x_asprintf("%s/" QUEUE_DIR_CORRUPT, queue_dir);
	char *cenv = x_asprintf("%s/%s.env", cdir, id);
	char *cmsg = x_asprintf("%s/%s", cdir, id);
	int r = 0;
	/* Data first: a data file without an envelope would be cleaned up. */
	if ((mkdir_p(cdir, 0700) < 0) || (rename(msg, cmsg) < 0 && errno != ENOENT) ||
	    fsync_dir(cdir) < 0 || rename(env, cenv) < 0 || fsync_dir(cdir) < 0) {
		buf_printf(err, "cannot move %s to %s: %s", id, cdir, strerror(errno));
		r = -1;
	}
	x_free(&env);
	x_free(&msg);
	x_free(&cdir);
	x_free(&cenv);
	x_free(&cmsg);
	return r;
}

/* Removes files of dir/ for which keep() says no and that are older than min_age. */
static unsigned queue_cleanup_dir(const char *queue_dir, const char *sub, time_t min_age,
				  bool check_env)
{
	char *path = x_asprintf("%s/%s", queue_dir, sub);
	DIR *d = opendir(path);
	unsigned removed = 0;
	struct dirent *de;
	time_t now = time(NULL);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *f = x_asprintf("%s/%s", path, de->d_name);
		char *env = x_asprintf("%s/" QUEUE_DIR_ENV "/%s", queue_dir, de->d_name);
		struct stat st;
		/* ctime: a rename into msg/ counts as a change, so a message being committed
		 * right now is never taken for a leftover. */
		if (lstat(f, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_ctime >= min_age &&
		    now - st.st_mtime >= min_age && (!check_env || access(env, F_OK) < 0) &&
		    (!check_env || errno == ENOENT) && unlink(f) == 0) {
			log_info("%s: removed unacknowledged leftover %s", de->d_name, f);
			removed++;
		}
		x_free(&f);
		x_free(&env);
	}
	if (d != NULL)
		closedir(d);
	x_free(&path);
	return removed;
}

unsigned queue_cleanup(const char *queue_dir, time_t min_age)
{
	return queue_cleanup_dir(queue_dir, QUEUE_DIR_MSG, min_age, true) +
	       queue_cleanup_dir(queue_dir, QUEUE_DIR_TMP, min_age, false);
}

void queue_notify_path(const char *queue_dir, struct buf *path)
{
	buf_printf(path, "%s/notify", queue_dir);
}

void queue_notify_send(const char *queue_dir, const char *text)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct buf path = BUF_INIT;
	queue_notify_path(queue_dir, &path);
	if (path.len >= sizeof(sun.sun_path)) {
		log_warn("queue notify: path too long: %s", buf_cstr(&path));
		buf_free(&path);
		return;
	}
	memcpy(sun.sun_path, path.data, path.len + 1);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		/* Nobody listening, or a full socket buffer: the manager rescans anyway. */
		if (sendto(fd, text, strlen(text), 0, (struct sockaddr *)&sun, sizeof(sun)) < 0 &&
		    errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN)
			log_debug("queue notify: %s: %s", buf_cstr(&path), strerror(errno));
		close(fd);
	}
	buf_free(&path);
}

void queue_notify(const char *queue_dir, const char *id)
{
	queue_notify_send(queue_dir, id);
}

int queue_become_owner(const char *queue_dir, struct buf *err)
{
	return become_owner_of(queue_dir, err);
}
