/* queue-recycle: the pool of recycled queue files, QUEUE/free/ (doc/queue-format.md,
 * "Recycled files").
 *
 * Creating a file allocates an inode and unlinking one frees it; on ext4 without a
 * journal every new inode is searched past the inodes freed in the last seconds, so at
 * a high delivery rate the creates of the receiving side get slower the faster the
 * manager deletes. Instead, the manager renames the files of a finished message into
 * free/ (queue_remove_recycle, up to queue_recycle_files of them) and writers take one
 * from there by rename before they create a new one (queue_pool_claim).
 *
 * A file in free/ is nothing: no reader looks there. Taking one is a rename(2) into
 * msg/ or tmp/ (two processes taking the same name: one gets ENOENT and takes the next),
 * and a flock(2) on it, released at once; the writer writes from offset 0 and cuts the
 * file to the length it wrote before its fsync (queue_writer_prepare). The lock
 * serialises with the state
 * record appender (queue_append_records), which may hold a descriptor on an envelope
 * opened before that envelope was recycled: it takes the same lock and checks, holding
 * it, that the name it opened still points at its file. A writer never waits for that
 * lock: a file locked by an appender is dropped (unlinked) and the next one taken.
 */
#include "queue-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xalloc.h"

/* Names kept from one read of free/; a writer reads the folder again when they are used
 * up, but not sooner than QUEUE_POOL_SCAN_MS after the last read (an empty pool is not
 * read once per message). */
#define QUEUE_POOL_CACHE_MAX 512
#define QUEUE_POOL_SCAN_MS 10
/* Names tried per claim before creating a new file (others may take them first). */
#define QUEUE_POOL_CLAIM_TRIES 8

/* The writer side: one cache per process, shared by its threads (the group committer's
 * sync threads claim envelope files, the queue manager's delivery threads write
 * forwards and bounces). */
static struct {
	pthread_mutex_t lock;
	char *queue_dir;
	char **names;
	size_t count;
	struct timespec next_scan;
} pool_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool queue_ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Calls f(dir, name, arg) for each regular file (or unknown type) in QUEUE/free/ until
 * it returns false. -1 when the folder cannot be read. */
static int queue_pool_each(const char *queue_dir,
			   bool (*f)(const char *dir, const char *name, void *arg), void *arg)
{
	char *dir = x_asprintf("%s/" QUEUE_DIR_FREE, queue_dir);
	DIR *d = opendir(dir);
	if (d == NULL) {
		x_free(&dir);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || (de->d_type != DT_REG && de->d_type != DT_UNKNOWN))
			continue;
		if (!f(dir, de->d_name, arg))
			break;
	}
	closedir(d);
	x_free(&dir);
	return 0;
}

static bool queue_pool_cache_add(const char *dir, const char *name, void *arg)
{
	(void)dir;
	(void)arg;
	pool_cache.names[pool_cache.count++] = x_strdup(name);
	return pool_cache.count < QUEUE_POOL_CACHE_MAX;
}

/* Does the pool name (ID.KIND) hold a file of that kind? */
static bool queue_pool_name_is(const char *name, char kind)
{
	size_t n = strlen(name);
	return n >= 2 && name[n - 2] == '.' && name[n - 1] == kind;
}

/* The next name to try (to free), or NULL: the pool is empty, or was read too recently.
 * A name of the wanted kind (an envelope's file for an envelope, a data file for data)
 * when the cache has one: its length then is about the new one's, so the writer mostly
 * writes over the file's blocks without cutting or growing it (its inode unchanged but
 * for its times, which durable_data does not write). */
static char *queue_pool_next_name(const char *queue_dir, char kind)
{
	char *name = NULL;
	pthread_mutex_lock(&pool_cache.lock);
	if (pool_cache.queue_dir == NULL || strcmp(pool_cache.queue_dir, queue_dir) != 0) {
		for (size_t i = 0; i < pool_cache.count; i++)
			x_free(&pool_cache.names[i]);
		pool_cache.count = 0;
		x_free(&pool_cache.queue_dir);
		pool_cache.queue_dir = x_strdup(queue_dir);
		pool_cache.next_scan = (struct timespec){0, 0};
		if (pool_cache.names == NULL)
			pool_cache.names = x_calloc(QUEUE_POOL_CACHE_MAX, sizeof(char *));
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (pool_cache.count == 0 && !queue_ts_before(&now, &pool_cache.next_scan)) {
		queue_pool_each(queue_dir, queue_pool_cache_add, NULL);
		long ns = now.tv_nsec + QUEUE_POOL_SCAN_MS * 1000000L;
		pool_cache.next_scan = (struct timespec){now.tv_sec + ns / 1000000000L,
							 ns % 1000000000L};
	}
	if (pool_cache.count > 0) {
		size_t top = pool_cache.count - 1;
		for (size_t i = top + 1; i-- > 0;)
			if (queue_pool_name_is(pool_cache.names[i], kind)) {
				char *t = pool_cache.names[i];
				pool_cache.names[i] = pool_cache.names[top];
				pool_cache.names[top] = t;
				break;
			}
		name = pool_cache.names[--pool_cache.count];
	}
	pthread_mutex_unlock(&pool_cache.lock);
	return name;
}

int queue_pool_claim(const char *queue_dir, const char *path, char kind, uint64_t *old_size_r)
{
	for (int tries = 0; tries < QUEUE_POOL_CLAIM_TRIES; tries++) {
		char *name = queue_pool_next_name(queue_dir, kind);
		if (name == NULL)
			return -1;
		char *from = x_asprintf("%s/" QUEUE_DIR_FREE "/%s", queue_dir, name);
		int r = rename(from, path);
		x_free(&from);
		x_free(&name);
		if (r < 0)
			continue; /* ENOENT: another process took it first */
		/* The file was renamed here, so no one else can take it. Until the writer
		 * has overwritten it and cut it to its new length (at commit) it holds a
		 * finished message's bytes, under a name that is not queued (no envelope
		 * in env/ for this ID, or a tmp/ file). It is not truncated now: writing
		 * over its blocks costs less than freeing them and allocating new ones. A
		 * file that was not ours to recycle (another owner, more than one link)
		 * is dropped. Root (a tool that did not switch to the queue's owner) may
		 * take the owner's files: they keep their owner, as queue files should. */
		int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		const char *why = NULL;
		struct stat st;
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0)
			why = strerror(errno);
		else if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
			 (st.st_uid != geteuid() && geteuid() != 0))
			why = "not a plain file of ours";
		if (why == NULL) {
			/* Not kept: the writer that had this file may still hold it open
			 * (done with it, but in this very process, perhaps). */
			flock(fd, LOCK_UN);
			*old_size_r = (uint64_t)st.st_size;
			return fd;
		}
		/* EWOULDBLOCK: a state record is being appended by a process that opened
		 * the envelope before it was recycled (rare); the file is not waited for. */
		log_warn("%s: recycled file not reusable, removed: %s", path, why);
		if (fd >= 0)
			close(fd);
		unlink(path);
	}
	return -1;
}

/* ---- The manager's side: recycling on removal, within the bound ---- */

struct queue_recycler {
	pthread_mutex_t lock;
	char *queue_dir;
	unsigned max_files;
	uint64_t max_size;
	/* Files in the pool, at most: recycling adds, writers take without telling; when
	 * it reaches max_files the folder is counted again, and if it really is full, not
	 * again before next_count (files are unlinked meanwhile). */
	unsigned count;
	unsigned renaming; /* places taken by renames not yet done (other threads) */
	time_t next_count;
};

struct queue_pool_count {
	unsigned keep, kept, removed;
};

/* Counts a pool file, and unlinks it if the pool already has keep. */
static bool queue_pool_count_one(const char *dir, const char *name, void *arg)
{
	struct queue_pool_count *c = arg;
	if (c->kept < c->keep) {
		c->kept++;
		return true;
	}
	char *path = x_asprintf("%s/%s", dir, name);
	if (unlink(path) == 0)
		c->removed++;
	x_free(&path);
	return true;
}

/* Counts the pool, trimming it to max_files (called with the lock held). The renames
 * under way count as done: a file may be counted twice, never too few. */
static void queue_recycler_count(struct queue_recycler *r)
{
	unsigned room = r->max_files > r->renaming ? r->max_files - r->renaming : 0;
	struct queue_pool_count c = {room, 0, 0};
	queue_pool_each(r->queue_dir, queue_pool_count_one, &c);
	r->count = c.kept + r->renaming;
	if (c.removed > 0)
		log_info("queue: %u recycled files beyond queue_recycle_files removed", c.removed);
}

struct queue_recycler *queue_recycler_new(const char *queue_dir, unsigned max_files,
					  uint64_t max_size, bool empty)
{
	struct queue_recycler *r = X_NEW(struct queue_recycler);
	pthread_mutex_init(&r->lock, NULL);
	r->queue_dir = x_strdup(queue_dir);
	r->max_size = max_size;
	/* After an unclean stop the pool is emptied: see doc/queue-format.md. */
	r->max_files = 0;
	if (empty)
		queue_recycler_count(r);
	queue_recycler_set(r, max_files, max_size);
	return r;
}

void queue_recycler_set(struct queue_recycler *r, unsigned max_files, uint64_t max_size)
{
	pthread_mutex_lock(&r->lock);
	r->max_files = max_files;
	r->max_size = max_size;
	queue_recycler_count(r);
	r->next_count = 0;
	pthread_mutex_unlock(&r->lock);
}

void queue_recycler_free(struct queue_recycler **rp)
{
	struct queue_recycler *r = *rp;
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->lock);
	x_free(&r->queue_dir);
	x_free(rp);
}

/* May one more file of size bytes go into the pool? (Takes its place if so.) */
static bool queue_recycler_take_slot(struct queue_recycler *r, uint64_t size)
{
	pthread_mutex_lock(&r->lock);
	if (size > r->max_size) {
		pthread_mutex_unlock(&r->lock);
		return false;
	}
	if (r->count >= r->max_files && r->max_files > 0 && time(NULL) >= r->next_count) {
		queue_recycler_count(r);
		if (r->count >= r->max_files)
			r->next_count = time(NULL) + 1;
	}
	bool ok = r->count < r->max_files;
	if (ok) {
		r->count++;
		r->renaming++;
	}
	pthread_mutex_unlock(&r->lock);
	return ok;
}

/* The rename for a slot is done (moved: the file is in the pool, or not). */
static void queue_recycler_slot_done(struct queue_recycler *r, bool moved)
{
	pthread_mutex_lock(&r->lock);
	r->renaming--;
	if (!moved && r->count > 0)
		r->count--;
	pthread_mutex_unlock(&r->lock);
}

/* Moves path (size bytes) into the pool as free/ID.KIND, or unlinks it (no room, too
 * large, or the rename failed: a pool folder removed by hand, say). 0, or -1 + errno
 * (ENOENT: no such file). */
static int queue_recycle_file(struct queue_recycler *r, const char *path, const char *id,
			      char kind, uint64_t size)
{
	if (r == NULL || !queue_recycler_take_slot(r, size))
		return unlink(path);
	char *to = x_asprintf("%s/" QUEUE_DIR_FREE "/%s.%c", r->queue_dir, id, kind);
	int ret = rename(path, to);
	x_free(&to);
	queue_recycler_slot_done(r, ret == 0);
	if (ret < 0)
		ret = unlink(path);
	return ret;
}

/* Removes env/ID, then (format 1, or not known) msg/ID, recycling them when r allows. */
static int queue_remove_files(const char *queue_dir, struct queue_recycler *r, const char *id,
			      unsigned version, uint64_t size, struct buf *err)
{
	char *env = x_asprintf("%s/" QUEUE_DIR_ENV "/%s", queue_dir, id);
	char *msg = x_asprintf("%s/" QUEUE_DIR_MSG "/%s", queue_dir, id);
	int ret = 0;
	/* Envelope first: its leaving env/ is what dequeues the message. Format 2 has
	 * nothing else (its data is in that file). */
	char kind = version >= 2 ? QUEUE_POOL_DATA : QUEUE_POOL_ENV;
	if (queue_recycle_file(r, env, id, kind, version >= 2 ? size : 0) < 0 && errno != ENOENT) {
		buf_printf(err, "cannot remove %s: %s", env, strerror(errno));
		ret = -1;
	} else if (version < 2 && queue_recycle_file(r, msg, id, QUEUE_POOL_DATA, size) < 0 &&
		   errno != ENOENT) {
		/* The envelope is gone: cleanup takes the data file later. */
		log_warn("cannot remove %s: %s", msg, strerror(errno));
	}
	x_free(&env);
	x_free(&msg);
	return ret;
}

int queue_remove_recycle(const char *queue_dir, struct queue_recycler *r,
			 const struct queue_envelope *env, struct buf *err)
{
	return queue_remove_files(queue_dir, r, env->id, env->version, env->size, err);
}

int queue_remove(const char *queue_dir, const char *id, struct buf *err)
{
	/* Format unknown: both names are removed (a missing msg/ID is no error). */
	return queue_remove_files(queue_dir, NULL, id, 1, 0, err);
}
