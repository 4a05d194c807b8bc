/* crashpoint: an LD_PRELOAD shim for tests/test_crashpoint.py (test only, never installed).
 *
 * In the one process whose argv is "tern worker ROLE ..." with ROLE =
 * $TERN_CRASHPOINT_ROLE, it counts the calls that make a message durable or move it
 * (rename, renameat, renameat2, link, linkat, unlink, unlinkat, fsync, fdatasync,
 * syncfs, ftruncate, write, pwrite, copy_file_range) whose file lies under one of the
 * colon-separated prefixes of $TERN_CRASHPOINT_PREFIX (the path given, or for a
 * descriptor the path /proc/self/fd names), and kills itself with
 * SIGKILL just before or just after call number $TERN_CRASHPOINT_AT ("before" or "after"
 * in $TERN_CRASHPOINT_WHEN; "torn": a write or pwrite of more than one byte writes only
 * the first half of its bytes, then the process dies, as if killed in the middle of
 * it; any other call: as "before"; "fail": call N is not made and fails with EIO, and
 * the process goes on, as when a disk reports an error). $TERN_CRASHPOINT_FAIL_AT = M
 * makes call M fail so as well, whatever AT does (a failure, then a crash later on).
 * AT = 0 kills nothing: the calls are only traced. Each
 * counted call is appended to $TERN_CRASHPOINT_TRACE as "N NAME PATH" (before the call).
 * The kill happens once: first the file $TERN_CRASHPOINT_FIRED is created (O_EXCL), and
 * a process started while it exists (the worker the master starts again) counts nothing.
 * Other processes (the master, the other workers, the tools) are left alone.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool cp_active;
static long cp_at, cp_fail_at;
static bool cp_after, cp_torn, cp_fail;
static const char *cp_prefix;
static const char *cp_trace;
static const char *cp_fired;
static atomic_long cp_count;

__attribute__((constructor)) static void cp_init(void)
{
	const char *role = getenv("TERN_CRASHPOINT_ROLE");
	cp_prefix = getenv("TERN_CRASHPOINT_PREFIX");
	cp_fired = getenv("TERN_CRASHPOINT_FIRED");
	if (role == NULL || cp_prefix == NULL || cp_fired == NULL)
		return;
	char cmd[4096];
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return;
	cmd[n] = '\0';
	/* argv[1] = "worker", argv[2] = the role */
	const char *a1 = cmd + strlen(cmd) + 1;
	if (a1 >= cmd + n || strcmp(a1, "worker") != 0)
		return;
	const char *a2 = a1 + strlen(a1) + 1;
	if (a2 >= cmd + n || strcmp(a2, role) != 0)
		return;
	if (access(cp_fired, F_OK) == 0)
		return;
	const char *at = getenv("TERN_CRASHPOINT_AT");
	const char *when = getenv("TERN_CRASHPOINT_WHEN");
	cp_at = at != NULL ? atol(at) : 0;
	const char *fail_at = getenv("TERN_CRASHPOINT_FAIL_AT");
	cp_fail_at = fail_at != NULL ? atol(fail_at) : 0;
	cp_after = when != NULL && strcmp(when, "after") == 0;
	cp_torn = when != NULL && strcmp(when, "torn") == 0;
	cp_fail = when != NULL && strcmp(when, "fail") == 0;
	cp_trace = getenv("TERN_CRASHPOINT_TRACE");
	cp_active = true;
}

static bool cp_under(const char *path)
{
	for (const char *p = cp_prefix; path != NULL && *p != '\0';) {
		size_t len = strcspn(p, ":");
		if (len > 0 && strncmp(path, p, len) == 0)
			return true;
		p += len;
		if (*p == ':')
			p++;
	}
	return false;
}

static bool cp_fd_path(int fd, char *out, size_t size)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, out, size - 1);
	if (n < 0)
		return false;
	out[n] = '\0';
	return cp_under(out);
}

/* A path relative to dirfd, made absolute for the prefix test. */
static bool cp_at_path(int dirfd, const char *path, char *out, size_t size)
{
	if (path[0] == '/' || dirfd == AT_FDCWD) {
		if (path[0] == '/')
			snprintf(out, size, "%s", path);
		else if (getcwd(out, size) != NULL)
			snprintf(out + strlen(out), size - strlen(out), "/%s", path);
		else
			return false;
		return cp_under(out);
	}
	char dir[PATH_MAX];
	if (!cp_fd_path(dirfd, dir, sizeof(dir)))
		return false;
	int k = snprintf(out, size, "%s/%s", dir, path);
	return k > 0 && (size_t)k < size;
}

/* Creates the marker: false when it exists already (another thread fired). */
static bool cp_mark(void)
{
	int fd = open(cp_fired, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void cp_kill(void)
{
	if (cp_mark())
		raise(SIGKILL);
}

/* Called before each counted call: its number. A call that can be torn (a write of
 * more than one byte) is left to its wrapper in "torn" mode. */
static long cp_before_call(const char *name, const char *path, bool tearable)
{
	long n = atomic_fetch_add(&cp_count, 1) + 1;
	if (cp_trace != NULL) {
		char line[PATH_MAX + 64];
		int len = snprintf(line, sizeof(line), "%ld %s %s\n", n, name, path);
		int fd = open(cp_trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			if (syscall(SYS_write, fd, line, (size_t)len) < 0) {
				/* nothing to do: the trace is a help, not the test */
			}
			close(fd);
		}
	}
	if (n == cp_at && !cp_after && !cp_fail && !(cp_torn && tearable))
		cp_kill();
	return n;
}

static long cp_before(const char *name, const char *path)
{
	return cp_before_call(name, path, false);
}

static void cp_done(long n)
{
	if (n != 0 && n == cp_at && cp_after)
		cp_kill();
}

/* Returns what CALL gives after cp_done(N), errno as the call left it; in "fail" mode at
 * the crash point, -1 with EIO without making the call. */
#define CP_RETURN(ret_type, n, call) \
	do { \
		if ((n) != 0 && (((n) == cp_at && cp_fail && cp_mark()) || (n) == cp_fail_at)) { \
			errno = EIO; \
			return -1; \
		} \
		ret_type r_ = call; \
		int e_ = errno; \
		cp_done(n); \
		errno = e_; \
		return r_; \
	} while (0)

/* Before a write of len bytes: its number; in "torn" mode at the crash point, writes
 * the first half with write_half and dies. */
#define TEARABLE(name, fd, len, write_half, call) \
	do { \
		char a[PATH_MAX]; \
		long n_ = cp_active && cp_fd_path(fd, a, sizeof(a)) \
				  ? cp_before_call(name, a, (len) > 1) \
				  : 0; \
		if (n_ != 0 && n_ == cp_at && cp_torn) { \
			if (write_half < 0) { \
				/* dies all the same */ \
			} \
			cp_kill(); \
		} \
		CP_RETURN(ssize_t, n_, call); \
	} while (0)

#define REAL(name) \
	static __typeof__(name) *real; \
	if (real == NULL) \
		real = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

/* Runs CALL (an expression giving the result, real_ret's type) around cp_before/cp_done,
 * keeping errno as the call left it. */
#define COUNTED(ret_type, name, counted, path, call) \
	do { \
		long n_ = (counted) ? cp_before(name, path) : 0; \
		CP_RETURN(ret_type, n_, call); \
	} while (0)

int rename(const char *from, const char *to)
{
	REAL(rename);
	char a[PATH_MAX];
	bool c = cp_active && (cp_at_path(AT_FDCWD, from, a, sizeof(a)) ||
			       cp_at_path(AT_FDCWD, to, a, sizeof(a)));
	COUNTED(int, "rename", c, a, real(from, to));
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	REAL(renameat);
	char a[PATH_MAX];
	bool c = cp_active && (cp_at_path(fromfd, from, a, sizeof(a)) ||
			       cp_at_path(tofd, to, a, sizeof(a)));
	COUNTED(int, "renameat", c, a, real(fromfd, from, tofd, to));
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned flags)
{
	REAL(renameat2);
	char a[PATH_MAX];
	bool c = cp_active && (cp_at_path(fromfd, from, a, sizeof(a)) ||
			       cp_at_path(tofd, to, a, sizeof(a)));
	COUNTED(int, "renameat2", c, a, real(fromfd, from, tofd, to, flags));
}

int link(const char *from, const char *to)
{
	REAL(link);
	char a[PATH_MAX];
	bool c = cp_active && cp_at_path(AT_FDCWD, to, a, sizeof(a));
	COUNTED(int, "link", c, a, real(from, to));
}

int linkat(int fromfd, const char *from, int tofd, const char *to, int flags)
{
	REAL(linkat);
	char a[PATH_MAX];
	bool c = cp_active && cp_at_path(tofd, to, a, sizeof(a));
	COUNTED(int, "linkat", c, a, real(fromfd, from, tofd, to, flags));
}

int unlink(const char *path)
{
	REAL(unlink);
	char a[PATH_MAX];
	bool c = cp_active && cp_at_path(AT_FDCWD, path, a, sizeof(a));
	COUNTED(int, "unlink", c, a, real(path));
}

int unlinkat(int dirfd, const char *path, int flags)
{
	REAL(unlinkat);
	char a[PATH_MAX];
	bool c = cp_active && cp_at_path(dirfd, path, a, sizeof(a));
	COUNTED(int, "unlinkat", c, a, real(dirfd, path, flags));
}

#define FD_CALL(ret_type, name, fd, call) \
	do { \
		char a[PATH_MAX]; \
		bool c = cp_active && cp_fd_path(fd, a, sizeof(a)); \
		COUNTED(ret_type, name, c, a, call); \
	} while (0)

int fsync(int fd)
{
	REAL(fsync);
	FD_CALL(int, "fsync", fd, real(fd));
}

int fdatasync(int fd)
{
	REAL(fdatasync);
	FD_CALL(int, "fdatasync", fd, real(fd));
}

int syncfs(int fd)
{
	REAL(syncfs);
	FD_CALL(int, "syncfs", fd, real(fd));
}

int ftruncate(int fd, off_t len)
{
	REAL(ftruncate);
	FD_CALL(int, "ftruncate", fd, real(fd, len));
}

/* write and pwrite only on regular files under the prefix (not sockets, pipes, logs). */
ssize_t write(int fd, const void *buf, size_t len)
{
	REAL(write);
	TEARABLE("write", fd, len, real(fd, buf, len / 2), real(fd, buf, len));
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	REAL(pwrite);
	TEARABLE("pwrite", fd, len, real(fd, buf, len / 2, off), real(fd, buf, len, off));
}

ssize_t copy_file_range(int infd, off_t *inoff, int outfd, off_t *outoff, size_t len,
			unsigned flags)
{
	REAL(copy_file_range);
	FD_CALL(ssize_t, "copy_file_range", outfd, real(infd, inoff, outfd, outoff, len, flags));
}
