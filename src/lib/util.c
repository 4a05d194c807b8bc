/* util: file, path, time and string helpers. */
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int write_full(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t read_full(int fd, void *p, size_t n)
{
	char *c = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, c + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		return fsync_dir(".");
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return fsync_dir(dir);
}

int mkdir_p(const char *path, mode_t mode)
{
	/* Usually the folder or its parent exists already (a delivery into a Maildir): one
	 * mkdir answers that; the walk from / (a mkdir per component) only when it says a
	 * parent is missing. */
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

char *read_file_small(const char *path, size_t max, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	int bad = fstat(fd, &st) < 0 ? errno : (size_t)st.st_size > max ? EFBIG : 0;
	if (bad != 0) {
		close(fd);
		errno = bad;
		return NULL;
	}
	char *data = x_malloc((size_t)st.st_size + 1);
	ssize_t n = read_full(fd, data, (size_t)st.st_size);
	close(fd);
	if (n < 0) {
		free(data);
		return NULL;
	}
	data[n] = '\0';
	if (len_r != NULL)
		*len_r = (size_t)n;
	return data;
}

int file_replace(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
		 gid_t gid, enum file_sync sync)
{
	/* The temporary name is the writer's own (its process ID), so that two writers never
	 * write into one file; one left by a crashed process of the same ID is replaced. */
	char *tmp = x_asprintf("%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	int ok = fd >= 0 && fchmod(fd, mode) == 0 &&
		 (uid == (uid_t)-1 || fchown(fd, uid, gid) == 0) &&
		 write_full(fd, data, len) == 0 && (sync == FILE_SYNC_NONE || fsync(fd) == 0);
	int e = errno;
	if (fd >= 0 && close(fd) < 0 && ok) {
		ok = 0;
		e = errno;
	}
	if (ok && (rename(tmp, path) < 0 || (sync == FILE_SYNC_ALL && fsync_parent(path) < 0))) {
		ok = 0;
		e = errno;
	}
	if (!ok)
		unlink(tmp);
	x_free(&tmp);
	errno = e;
	return ok ? 0 : -1;
}

int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int set_cloexec(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFD);
	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFD, on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC));
}

uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void rfc5322_date(time_t t, char *out, size_t outlen)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	localtime_r(&t, &tm);
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(out, outlen, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec, sign, off / 60, off % 60);
}

static int ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

bool str_ieq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
			return false;
	return *a == *b;
}

bool str_iprefix(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++)
		if (ascii_lower((unsigned char)*s) != ascii_lower((unsigned char)*prefix))
			return false;
	return true;
}

char *str_lower(char *s)
{
	for (char *p = s; *p != '\0'; p++)
		*p = (char)ascii_lower((unsigned char)*p);
	return s;
}

static int parse_scaled(const char *s, uint64_t *out_r, const char *units,
			const uint64_t *scale)
{
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	uint64_t mul = 1;
	if (*end != '\0') {
		const char *u = strchr(units, *end);
		if (u == NULL || end[1] != '\0')
			return -1;
		mul = scale[u - units];
	}
	if (mul != 0 && v > UINT64_MAX / mul)
		return -1;
	*out_r = v * mul;
	return 0;
}

int parse_size(const char *s, uint64_t *out_r)
{
	static const uint64_t scale[] = {1024, 1024, 1048576, 1048576, 1073741824,
					 1073741824};
	return parse_scaled(s, out_r, "kKmMgG", scale);
}

int parse_duration(const char *s, uint64_t *seconds_r)
{
	static const uint64_t scale[] = {1, 60, 3600, 86400, 604800};
	return parse_scaled(s, seconds_r, "smhdw", scale);
}

const char *host_name(void)
{
	static char name[256];
	if (name[0] == '\0' && gethostname(name, sizeof(name) - 1) < 0)
		snprintf(name, sizeof(name), "localhost");
	return name;
}

int become_owner_of(const char *path, struct buf *err)
{
	struct stat st;
	if (geteuid() != 0)
		return 0;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0; /* made by whoever writes first */
		buf_printf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_uid == 0)
		return 0;
	if (setgroups(1, &st.st_gid) < 0 || setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0) {
		buf_printf(err, "cannot switch to the owner of %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

void signals_ready(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

char *path_beside_mailbox(const char *root, const char *name)
{
	struct stat st;
	if (stat(root, &st) < 0 || S_ISDIR(st.st_mode))
		return x_asprintf("%s/%s", root, name);
	const char *slash = strrchr(root, '/');
	if (slash == NULL)
		return x_asprintf(".%s.%s", root, name);
	return x_asprintf("%.*s/.%s.%s", (int)(slash - root), root, slash + 1, name);
}
