/* deliver-lock: mailbox locking as procmail and mutt do it (DESIGN.md principle 6).
 *
 * A dotlock is FILE.lock made with O_EXCL; one older than DELIVER_LOCK_STALE seconds is
 * left by a dead process and removed (procmail's LOCKTIMEOUT). Then the mailbox file itself
 * gets an fcntl write lock. Waits are bounded: after DELIVER_LOCK_WAIT seconds the
 * delivery gives up with a temporary failure.
 */
#include "deliver-int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define DELIVER_LOCK_STALE 300
#define DELIVER_LOCK_WAIT 360

/* Sleeps a little between tries: 50 ms growing to 1 s. */
static void lock_pause(unsigned tries)
{
	unsigned ms = tries < 20 ? 50 * (tries + 1) : 1000;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int deliver_dotlock(const char *path)
{
	time_t start = time(NULL);
	for (unsigned tries = 0;; tries++) {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (errno != EEXIST)
			return -1;
		struct stat st;
		time_t now = time(NULL);
		if (lstat(path, &st) == 0 && now - st.st_mtime > DELIVER_LOCK_STALE) {
			log_warn("removing stale lock %s (%llds old)", path,
				 (long long)(now - st.st_mtime));
			unlink(path);
			continue;
		}
		if (now - start > DELIVER_LOCK_WAIT) {
			errno = ETIMEDOUT;
			return -1;
		}
		lock_pause(tries);
	}
}

void deliver_dotunlock(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("cannot remove lock %s: %s", path, strerror(errno));
}

int deliver_fcntl_lock(int fd)
{
	time_t start = time(NULL);
	/* Open-file-description locks: they conflict with the POSIX locks of mutt and procmail
	 * and also between the threads of one process (the queue delivers in threads). */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	for (unsigned tries = 0;; tries++) {
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		if (errno != EACCES && errno != EAGAIN && errno != EINTR)
			return -1;
		if (time(NULL) - start > DELIVER_LOCK_WAIT) {
			errno = ETIMEDOUT;
			return -1;
		}
		lock_pause(tries);
	}
}
