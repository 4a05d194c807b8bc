/* privdrop: giving up root in a worker. The master keeps root only to bind sockets and
 * start workers; every worker switches to run_user before it reads any network input,
 * and sets no-new-privs so nothing it runs can gain privilege again. */
#include "master-int.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int privdrop_to(const char *user, struct buf *err)
{
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		buf_printf(err, "run_user %s: no such account", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		buf_printf(err, "switching to %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		buf_printf(err, "could still become root after dropping to %s", user);
		return -1;
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return 0;
}
