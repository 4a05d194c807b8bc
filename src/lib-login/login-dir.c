/* login-dir: DATA/login, where the pre-login workers of system mode are chrooted. It holds
 * nothing but the auth process's socket, so a worker can reach that socket (at /auth)
 * and nothing else of the file system. Root owns it and only root may write in it. */
#include "login.h"
#include "conf.h"
#include "log.h"
#include "privsep.h"
#include "xalloc.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *login_dir(const struct conf *c)
{
	return x_asprintf("%s/login", conf_str(c, "data_dir"));
}

int login_dir_prepare(const char *dir, struct buf *err)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		buf_printf(err, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	struct stat st;
	if (lstat(dir, &st) < 0) {
		buf_printf(err, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) != 0) {
		buf_printf(err, "%s must be a folder owned by root that only root may write to",
			   dir);
		return -1;
	}
	return 0;
}

int login_confine(const struct conf *c, bool *chrooted_r, char **socket_r)
{
	struct buf err_buf = BUF_INIT, *err = &err_buf;
	*chrooted_r = false;
	*socket_r = NULL;
	char *dir = login_dir(c);
	int r = 0;
	if (geteuid() == 0) {
		tzset(); /* log time stamps: /etc/localtime is out of reach afterwards */
		r = login_dir_prepare(dir, err);
		if (r == 0)
			r = privsep_drop(conf_str(c, "run_user"), dir, err);
		*chrooted_r = r == 0;
	}
	if (r == 0)
		*socket_r = *chrooted_r ? x_strdup("/" LOGIN_SOCKET_NAME)
					: x_asprintf("%s/" LOGIN_SOCKET_NAME, dir);
	else
		log_error("%s", buf_cstr(err));
	buf_free(err);
	x_free(&dir);
	return r;
}
