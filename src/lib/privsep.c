/* privsep: dropping root for good (see privsep.h). */
#include "privsep.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The last steps of both: no way back to root, and nothing exec'd may gain privilege. */
static int privsep_seal(const char *who, struct buf *err)
{
	if (setuid(0) == 0 || seteuid(0) == 0) {
		buf_printf(err, "could still become root after switching to %s", who);
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		buf_printf(err, "no-new-privs: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int privsep_drop(const char *user, const char *chroot_dir, struct buf *err)
{
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		buf_printf(err, "run_user %s: no such account", user);
		return -1;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (chroot_dir != NULL && (chroot(chroot_dir) < 0 || chdir("/") < 0)) {
		buf_printf(err, "chroot %s: %s", chroot_dir, strerror(errno));
		return -1;
	}
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		buf_printf(err, "switching to %s: %s", user, strerror(errno));
		return -1;
	}
	return privsep_seal(user, err);
}

int privsep_ids_of(const char *name, uid_t uid, gid_t gid, const char *extra_group,
		   struct privsep_ids *ids, struct buf *err)
{
	if (uid == 0) {
		buf_printf(err, "refusing to run a session as root (%s)", name);
		return -1;
	}
	int n = PRIVSEP_GROUPS_MAX - 1;
	if (getgrouplist(name, gid, ids->groups, &n) < 0) {
		buf_printf(err, "%s: more than %d groups", name, PRIVSEP_GROUPS_MAX - 1);
		return -1;
	}
	if (extra_group != NULL && extra_group[0] != '\0') {
		struct group *g = getgrnam(extra_group);
		if (g == NULL) {
			buf_printf(err, "group %s: no such group", extra_group);
			return -1;
		}
		ids->groups[n++] = g->gr_gid;
	}
	ids->ngroups = (size_t)n;
	ids->uid = uid;
	ids->gid = gid;
	return 0;
}

int privsep_become_ids(const struct privsep_ids *ids)
{
	if (ids->uid == 0 || setgroups(ids->ngroups, ids->groups) < 0 || setgid(ids->gid) < 0 ||
	    setuid(ids->uid) < 0)
		return -1;
	if (setuid(0) == 0 || seteuid(0) == 0) {
		errno = EPERM;
		return -1;
	}
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

int privsep_become(const char *name, uid_t uid, gid_t gid, const char *extra_group, struct buf *err)
{
	struct privsep_ids ids;
	if (privsep_ids_of(name, uid, gid, extra_group, &ids, err) < 0)
		return -1;
	if (privsep_become_ids(&ids) < 0) {
		buf_printf(err, "switching to %s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}
