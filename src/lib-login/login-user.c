/* login-user: who a preauthenticated session (`tern imap|pop3 --inetd -u USER`) serves
 * (login.h). In system mode that is a Unix account, and the session process is that
 * account: its files stay its own, as with any program the user runs. */
#include "login.h"
#include "conf.h"
#include "privsep.h"
#include "sysuser.h"
#include "userdb.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *login_system_mailbox(const struct conf *c, const char *name, const char *home, bool *mbox_r,
			   struct buf *err)
{
	const char *t = conf_str(c, "system_mailbox");
	if (strncmp(t, "mbox:", 5) == 0) {
		*mbox_r = true;
		t += 5;
	} else if (strncmp(t, "maildir:", 8) == 0) {
		*mbox_r = false;
		t += 8;
	} else {
		buf_printf(err, "system_mailbox %s: expected mbox:PATH or maildir:PATH", t);
		return NULL;
	}
	struct buf path = BUF_INIT;
	if (t[0] == '~' && t[1] == '/') {
		buf_printf(&path, "%s/", home);
		t += 2;
	}
	for (; *t != '\0'; t++) {
		if (*t != '%') {
			buf_append(&path, t, 1);
		} else if (t[1] == 'u' || t[1] == 'h' || t[1] == '%') {
			t++;
			buf_append_str(&path, *t == 'u' ? name : *t == 'h' ? home : "%");
		} else {
			buf_printf(err, "system_mailbox: unknown %%%c (known: %%u %%h %%%%)", t[1]);
			buf_free(&path);
			return NULL;
		}
	}
	if (path.len == 0 || path.data[0] != '/') {
		buf_printf(err, "system_mailbox gives '%s' for %s: not an absolute path",
			   buf_cstr(&path), name);
		buf_free(&path);
		return NULL;
	}
	return buf_steal(&path);
}

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

int login_become(const struct conf *c, const struct sysuser *u, struct buf *err)
{
	return privsep_become(u->name, u->uid, u->gid, conf_str(c, "system_mail_group"), err);
}

/* The system user's mailbox, an empty mbox file made when missing. */
static char *user_mailbox(const struct conf *c, const struct sysuser *u, struct buf *err)
{
	bool mbox;
	char *path = login_system_mailbox(c, u->name, u->home, &mbox, err);
	if (path == NULL || !mbox)
		return path;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
	} else if (errno != EEXIST) {
		buf_printf(err, "creating %s: %s", path, strerror(errno));
		x_free(&path);
	}
	return path;
}

int login_user_info(const struct conf *c, struct userdb *db, const char *user,
		    struct user_info *info, struct buf *err)
{
	if (!sysuser_mode(c))
		return userdb_lookup(db, user, info, err);
	struct sysuser u;
	sysuser_configure(c);
	errno = 0;
	if (sysuser_lookup(user, &u) < 0) {
		if (errno == 0)
			return 0;
		buf_printf(err, "passwd lookup of %s: %s", user, strerror(errno));
		return -1;
	}
	int r = -1;
	char *path = NULL;
	if (geteuid() == 0 && login_become(c, &u, err) < 0)
		goto out;
	if (geteuid() != u.uid) {
		buf_printf(err, "a session of %s must run as that user (uid %ld), not uid %ld",
			   u.name, (long)u.uid, (long)geteuid());
		goto out;
	}
	path = user_mailbox(c, &u, err);
	if (path == NULL)
		goto out;
	memset(info, 0, sizeof(*info));
	info->address = x_strdup(u.name);
	info->maildir = path;
	r = 1;
out:
	sysuser_free(&u);
	return r;
}
