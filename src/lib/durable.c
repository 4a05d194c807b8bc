/* durable: fsync, or group commit with syncfs (see durable.h).
 *
 * The group commit keeps, per file system (st_dev), the number of syncfs calls started and
 * completed. A caller needs a sync that started after its own writes: if one is running,
 * that one may have started before them, so it waits for the next. The first caller to
 * find none running starts it for everyone waiting.
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
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DURABLE_MAX_DEVICES 16

struct durable_group {
	dev_t dev;
	bool used, running;
	uint64_t started, completed;
	int last_error; /* errno of the latest syncfs, 0 if it succeeded */
	pthread_cond_t done;
};

static pthread_mutex_t durable_lock = PTHREAD_MUTEX_INITIALIZER;
static struct durable_group durable_groups[DURABLE_MAX_DEVICES];
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
	uint64_t target = g->started + 1;
	int err = 0;
	while (g->completed < target) {
		if (g->running) {
			pthread_cond_wait(&g->done, &durable_lock);
			continue;
		}
		g->running = true;
		uint64_t gen = ++g->started;
		pthread_mutex_unlock(&durable_lock);
		int r = syncfs(fd);
		int e = r < 0 ? errno : 0;
		pthread_mutex_lock(&durable_lock);
		g->running = false;
		g->completed = gen;
		g->last_error = e;
		pthread_cond_broadcast(&g->done);
	}
	err = g->last_error;
	pthread_mutex_unlock(&durable_lock);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

int durable_file(int fd)
{
	if (durable_method_now == DURABLE_SYNCFS)
		return durable_group_sync(fd);
	return fsync(fd);
}

int durable_dir(const char *path)
{
	if (durable_method_now == DURABLE_FSYNC)
		return fsync_dir(path);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = durable_group_sync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
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
