/* mbox-lock: locking an mbox the way procmail, mutt and Dovecot do, so all of them can
 * write the same file: first the dotlock FILE.lock (created with O_CREAT|O_EXCL, the one
 * method that works over old NFS and that procmail's `:0:` uses), then an fcntl(2) write
 * lock on the file itself. A dotlock older than MBOX_DOTLOCK_STALE seconds, or one holding
 * the PID of a dead process on this host, is stale and removed. Waiting retries with
 * backoff and gives up after mbox_lock_timeout_ms (a temporary failure for delivery).
 * A folder where we may not create files (a /var/mail without write access) gets only the
 * fcntl lock.
 */
#include "mbox-private.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MBOX_BACKOFF_MIN_MS 5
#define MBOX_BACKOFF_MAX_MS 500

unsigned mbox_lock_timeout_ms = 60000;

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static unsigned backoff(unsigned *delay)
{
	unsigned d = *delay;
	*delay = d * 2 > MBOX_BACKOFF_MAX_MS ? MBOX_BACKOFF_MAX_MS : d * 2;
	return d + (unsigned)(random() % (d + 1)); /* jitter: writers do not march in step */
}

/* Whether an existing dotlock may be broken: old, or naming a dead process of ours. */
static bool dotlock_stale(const char *lock)
{
	struct stat st;
	if (stat(lock, &st) < 0)
		return errno == ENOENT;
	if (time(NULL) - st.st_mtime > MBOX_DOTLOCK_STALE)
		return true;
	char *text = read_file_small(lock, 64, NULL);
	if (text == NULL)
		return false;
	char *end;
	long pid = strtol(text, &end, 10);
	bool dead = end != text && (*end == '\n' || *end == '\0') && pid > 1 &&
		    kill((pid_t)pid, 0) < 0 && errno == ESRCH;
	x_free(&text);
	return dead;
}

/* 0 taken, 1 cannot be made here (no write access to the folder), -1 timeout/error. */
static int dotlock_take(const char *lock, uint64_t deadline, struct buf *err)
{
	unsigned delay = MBOX_BACKOFF_MIN_MS;
	for (;;) {
		int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			char pid[32];
			int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
			int w = write_full(fd, pid, (size_t)n);
			close(fd);
			if (w < 0) {
				unlink(lock);
				return store_err_errno(err, "write", lock);
			}
			return 0;
		}
		if (errno == EACCES || errno == EROFS)
			return 1;
		if (errno != EEXIST)
			return store_err_errno(err, "create", lock);
		if (dotlock_stale(lock)) {
			log_warn("store: removing stale lock %s", lock);
			unlink(lock);
			continue;
		}
		if (now_ms() >= deadline)
			return store_err(err, "timeout: %s is held by another program", lock);
		sleep_ms(backoff(&delay));
	}
}

/* fcntl write lock on fd, waiting with backoff until the deadline. */
static int fcntl_take(int fd, const char *path, uint64_t deadline, struct buf *err)
{
	unsigned delay = MBOX_BACKOFF_MIN_MS;
	for (;;) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return store_err_errno(err, "lock", path);
		if (now_ms() >= deadline)
			return store_err(err, "timeout: %s is locked by another program", path);
		sleep_ms(backoff(&delay));
	}
}

int mbox_fcntl_lock(int fd, const char *path, struct buf *err)
{
	return fcntl_take(fd, path, now_ms() + mbox_lock_timeout_ms, err);
}

/* Opens the file and locks it; 1 when it was replaced meanwhile (try again). */
static int open_locked(const char *path, bool create, uint64_t deadline, struct mbox_lock *lk,
		       struct buf *err)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd < 0)
		return errno == ENOENT ? store_err(err, "no mailbox %s", path)
				       : store_err_errno(err, "open", path);
	if (fcntl_take(fd, path, deadline, err) < 0) {
		close(fd);
		return -1;
	}
	struct stat a, b;
	if (fstat(fd, &a) < 0 || stat(path, &b) < 0 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev) {
		close(fd); /* renamed over while we waited: lock the new one */
		return 1;
	}
	lk->fd = fd;
	return 0;
}

int mbox_lock(const char *path, bool create, struct mbox_lock *lk, struct buf *err)
{
	lk->fd = -1;
	lk->dotlock = NULL;
	uint64_t deadline = now_ms() + mbox_lock_timeout_ms;
	char *lock = x_asprintf("%s.lock", path);
	int r = dotlock_take(lock, deadline, err);
	if (r < 0) {
		x_free(&lock);
		return -1;
	}
	if (r == 0)
		lk->dotlock = lock;
	else
		x_free(&lock);
	for (int attempt = 0; attempt < 10; attempt++) {
		r = open_locked(path, create, deadline, lk, err);
		if (r <= 0)
			break;
	}
	if (r != 0) {
		if (r > 0)
			store_err(err, "%s keeps being replaced", path);
		mbox_unlock(lk);
		return -1;
	}
	return 0;
}

void mbox_lock_swap(struct mbox_lock *lk, int new_fd)
{
	if (lk->fd >= 0)
		close(lk->fd);
	lk->fd = new_fd;
}

void mbox_unlock(struct mbox_lock *lk)
{
	if (lk->fd >= 0)
		close(lk->fd); /* releases the fcntl lock */
	lk->fd = -1;
	if (lk->dotlock != NULL) {
		unlink(lk->dotlock);
		x_free(&lk->dotlock);
	}
}
