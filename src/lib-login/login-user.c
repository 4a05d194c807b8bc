/* login-user: who a preauthenticated session (`tern imap|pop3 --inetd -u USER`) serves
 * (login.h). In system mode that is a Unix account, and the session process is that
 * account: its files stay its own, as with any program the user runs. */
#include "login.h"
#include "conf.h"
#include "privsep.h"
#include "userdb.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct conf *login_conf_load(const char *path, struct buf *err)
{
	const char *v = getenv("TERN_CONF_FD");
	if (v == NULL || strcmp(v, "3") != 0)
		return conf_load(path, err);
	struct conf *c = conf_load_fd(LOGIN_CONF_FD, path, err);
	close(LOGIN_CONF_FD);
	unsetenv("TERN_CONF_FD");
	return c;
}

int login_become(const struct conf *c, const struct user_info *u, struct buf *err)
{
	return privsep_become(u->login, u->uid, u->gid, conf_str(c, "system_mail_group"), err);
}

/* An mbox INBOX that does not exist yet is made empty (as the user), so that the store
 * does not take the missing file for a new Maildir. 0, or -1 with err. */
static int user_mbox_create(const struct user_info *info, struct buf *err)
{
	if (!info->mbox)
		return 0;
	int fd = open(info->maildir, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
	} else if (errno != EEXIST) {
		buf_printf(err, "creating %s: %s", info->maildir, strerror(errno));
		return -1;
	}
	return 0;
}

int login_user_info(const struct conf *c, struct userdb *db, const char *user,
		    struct user_info *info, struct buf *err)
{
	int r = userdb_lookup(db, user, info, err);
	if (r <= 0 || !info->system)
		return r;
	if (geteuid() == 0 && login_become(c, info, err) < 0)
		r = -1;
	else if (geteuid() != info->uid) {
		buf_printf(err, "a session of %s must run as that user (uid %ld), not uid %ld",
			   info->login, (long)info->uid, (long)geteuid());
		r = -1;
	} else if (user_mbox_create(info, err) < 0) {
		r = -1;
	}
	if (r < 0)
		user_info_free(info);
	return r;
}
