/* durable: fsync, or group commit with syncfs (see durable.h).
 *
 * A group keeps the number of flushes started and completed: per file system (st_dev) for
 * syncfs, per folder (its path) for the fsync of a folder. A caller needs a flush that
 * started after its own changes: if one is running, that one may have started before
 * them, so it waits for the next. The first caller to find none running starts it for
 * everyone waiting. So N threads that link files into one Maildir's new/ at the same time
 * share about two fsyncs of new/ instead of making N.
 */
#include "durable.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DURABLE_MAX_DEVICES 16
#define DURABLE_MAX_FOLDERS 32

struct durable_group {
	dev_t dev;   /* syncfs groups */
	char *path;  /* folder groups (NULL: slot unused) */
	bool used, running;
	unsigned waiters; /* callers inside durable_group_flush (a folder slot in use) */
	uint64_t started, completed;
	int last_error; /* errno of the latest flush, 0 if it succeeded */
	pthread_cond_t done;
};

static pthread_mutex_t durable_lock = PTHREAD_MUTEX_INITIALIZER;
static struct durable_group durable_groups[DURABLE_MAX_DEVICES];
static struct durable_group durable_folders[DURABLE_MAX_FOLDERS];
static uint64_t durable_dir_requests, durable_dir_flushes; /* for durable_dir_stats */
static enum durable_method durable_method_now = DURABLE_FSYNC;

void durable_set_method(enum durable_method method)
{
	durable_method_now = method;
}

enum durable_method durable_get_method(void)
{
	return durable_method_now;
}

static struct durable_group *durable_group_of(dev_t dev)
{
	for (size_t i = 0; i < DURABLE_MAX_DEVICES; i++)
		if (durable_groups[i].used && durable_groups[i].dev == dev)
			return &durable_groups[i];
	for (size_t i = 0; i < DURABLE_MAX_DEVICES; i++)
		if (!durable_groups[i].used) {
			struct durable_group *g = &durable_groups[i];
			g->used = true;
			g->dev = dev;
			pthread_cond_init(&g->done, NULL);
			return g;
		}
	return NULL;
}

/* The group of folder path (called with the lock held): its slot, else a slot nobody is
 * using (its counters start again: nobody waits on them), else NULL (no grouping). */
static struct durable_group *durable_folder_of(const char *path)
{
	struct durable_group *idle = NULL;
	for (size_t i = 0; i < DURABLE_MAX_FOLDERS; i++) {
		struct durable_group *g = &durable_folders[i];
		if (g->used && strcmp(g->path, path) == 0)
			return g;
		if (idle == NULL && (!g->used || (g->waiters == 0 && !g->running)))
			idle = g;
	}
	if (idle == NULL)
		return NULL;
	if (!idle->used) {
		pthread_cond_init(&idle->done, NULL);
		idle->used = true;
	}
	free(idle->path);
	idle->path = strdup(path);
	if (idle->path == NULL) {
		idle->used = false;
		pthread_cond_destroy(&idle->done);
		return NULL;
	}
	idle->started = idle->completed = 0;
	idle->last_error = 0;
	return idle;
}

/* Waits for (or runs) a flush of g that starts after this call; flush(arg) is the flush
 * (0, or -1 with errno). Called with the lock held, returns with it held. */
static int durable_group_flush(struct durable_group *g, int (*flush)(const void *),
			       const void *arg)
{
	uint64_t target = g->started + 1;
	g->waiters++;
	while (g->completed < target) {
		if (g->running) {
			pthread_cond_wait(&g->done, &durable_lock);
			continue;
		}
		g->running = true;
		uint64_t gen = ++g->started;
		pthread_mutex_unlock(&durable_lock);
		int r = flush(arg);
		int e = r < 0 ? errno : 0;
		pthread_mutex_lock(&durable_lock);
		g->running = false;
		g->completed = gen;
		g->last_error = e;
		pthread_cond_broadcast(&g->done);
	}
	g->waiters--;
	if (g->last_error != 0) {
		errno = g->last_error;
		return -1;
	}
	return 0;
}

static int durable_syncfs(const void *arg)
{
	return syncfs(*(const int *)arg);
}

/* Waits for (or runs) a syncfs of fd's file system that starts after this call. */
static int durable_group_sync(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	pthread_mutex_lock(&durable_lock);
	struct durable_group *g = durable_group_of(st.st_dev);
	if (g == NULL) { /* more file systems than slots: no grouping */
		pthread_mutex_unlock(&durable_lock);
		return syncfs(fd);
	}
	int r = durable_group_flush(g, durable_syncfs, &fd);
	int saved = errno;
	pthread_mutex_unlock(&durable_lock);
	errno = saved;
	return r;
}

static int durable_fsync_dir(const void *arg)
{
	const char *path = arg;
	int r = fsync_dir(path);
	if (r == 0) {
		pthread_mutex_lock(&durable_lock);
		durable_dir_flushes++;
		pthread_mutex_unlock(&durable_lock);
	}
	return r;
}

/* Waits for (or runs) an fsync of folder path that starts after this call. */
static int durable_folder_sync(const char *path)
{
	pthread_mutex_lock(&durable_lock);
	durable_dir_requests++;
	struct durable_group *g = durable_folder_of(path);
	if (g == NULL) { /* every slot busy: no grouping */
		pthread_mutex_unlock(&durable_lock);
		return durable_fsync_dir(path);
	}
	/* The flush runs with the lock released, on the group's own copy of the path: the
	 * slot is not reused while a caller is inside (waiters > 0). */
	int r = durable_group_flush(g, durable_fsync_dir, g->path);
	int saved = errno;
	pthread_mutex_unlock(&durable_lock);
	errno = saved;
	return r;
}

int durable_file(int fd)
{
	if (durable_method_now == DURABLE_SYNCFS)
		return durable_group_sync(fd);
	return fsync(fd);
}

int durable_data(int fd)
{
	if (durable_method_now == DURABLE_SYNCFS)
		return durable_group_sync(fd);
	return fdatasync(fd);
}

int durable_dir(const char *path)
{
	if (durable_method_now == DURABLE_FSYNC)
		return durable_folder_sync(path);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = durable_group_sync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}

void durable_dir_stats(uint64_t *requests, uint64_t *flushes)
{
	pthread_mutex_lock(&durable_lock);
	*requests = durable_dir_requests;
	*flushes = durable_dir_flushes;
	pthread_mutex_unlock(&durable_lock);
}

int durable_parent(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		return durable_dir(".");
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return durable_dir(dir);
}
