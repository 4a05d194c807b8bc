/* deliver-mh: MH folders (procmail's "dir/.") and plain directory folders ("msg.XXXX").
 *
 * An MH message is a file named by the next number after the highest one in the folder,
 * created with O_EXCL so that two deliveries at once take different numbers; a plain
 * directory gets a unique "msg." name. Both are written whole, fsync'd, and the folder
 * fsync'd before success is reported.
 */
#include "deliver-int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "durable.h"
#include "util.h"
#include "xalloc.h"

/* The highest message number in an MH folder (0 when none). -1 + errno. */
static long mh_highest(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	long max = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *p = de->d_name;
		while (isdigit((unsigned char)*p))
			p++;
		if (p == de->d_name || *p != 0 || p - de->d_name > 9)
			continue;
		long n = atol(de->d_name);
		if (n > max)
			max = n;
	}
	closedir(d);
	return max;
}

/* Writes src into a new file made by open(O_EXCL), then fsyncs it and the folder. */
static int put_file(int fd, const char *path, const struct deliver_src *src,
		    struct delivery_result *res)
{
	if (deliver_src_write(fd, src) < 0 || durable_file(fd) < 0) {
		deliver_result_errno(res, "cannot write", path, errno);
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) < 0) {
		deliver_result_errno(res, "cannot write", path, errno);
		unlink(path);
		return -1;
	}
	if (durable_parent(path) < 0) {
		deliver_result_errno(res, "cannot fsync the folder of", path, errno);
		return -1;
	}
	deliver_result_set(res, DELIVERY_OK, "2.0.0", "delivered");
	return 0;
}

/* Creates a fresh file: MH numbers from the highest up, or msg. names. fd or -1. */
static int create_next(const char *dir, bool mh, unsigned umask_bits, struct buf *path,
		       struct delivery_result *res)
{
	long next = 0;
	if (mh) {
		next = mh_highest(dir);
		if (next < 0) {
			deliver_result_errno(res, "cannot read", dir, errno);
			return -1;
		}
	}
	for (int tries = 0; tries < 1000; tries++) {
		buf_reset(path);
		if (mh) {
			buf_printf(path, "%s/%ld", dir, ++next);
		} else {
			struct timeval tv;
			gettimeofday(&tv, NULL);
			buf_printf(path, "%s/msg.%lx%lx%x", dir, (long)tv.tv_sec, (long)tv.tv_usec,
				   (unsigned)getpid() + (unsigned)tries);
		}
		int fd = open(buf_cstr(path), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			      0666 & ~(mode_t)umask_bits);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST) {
			deliver_result_errno(res, "cannot create", buf_cstr(path), errno);
			return -1;
		}
	}
	deliver_result_errno(res, "cannot create a file in", dir, EEXIST);
	return -1;
}

int deliver_dir_put(const char *dir, bool mh, const struct deliver_src *src, unsigned umask_bits,
		    struct buf *path_r, struct delivery_result *res)
{
	if (mkdir_p(dir, 0700) < 0) {
		deliver_result_errno(res, "cannot create", dir, errno);
		return -1;
	}
	struct buf path = BUF_INIT;
	int fd = create_next(dir, mh, umask_bits, &path, res);
	int r = fd < 0 ? -1 : put_file(fd, buf_cstr(&path), src, res);
	if (r == 0 && path_r != NULL)
		buf_append_str(path_r, buf_cstr(&path));
	buf_free(&path);
	return r;
}
