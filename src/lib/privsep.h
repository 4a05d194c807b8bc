/* privsep: giving up root, the same way in every process that does (STYLE.md point 9).
 *
 * privsep_drop: a worker that parses network input becomes run_user for good, chrooted
 * first when it needs no file system (the pre-login IMAP/POP3 workers of system-user
 * mode). privsep_become: a session process becomes one mail user (its uid, gid, its
 * groups from the group database, and optionally one more group such as "mail" for the
 * dotlocks of /var/mail). Both set no-new-privs and check that root cannot come back.
 */
#ifndef TERN_PRIVSEP_H
#define TERN_PRIVSEP_H

#include <sys/types.h>

#include "buf.h"

/* Switches to user (chrooted into chroot_dir first unless NULL); 0, or -1 with err. */
int privsep_drop(const char *user, const char *chroot_dir, struct buf *err);
/* Switches to the account name/uid/gid with its supplementary groups, plus extra_group
 * when not NULL or empty (an unknown group name is an error). uid 0 is refused. 0, or -1
 * with err. */
int privsep_become(const char *name, uid_t uid, gid_t gid, const char *extra_group,
		   struct buf *err);

/* The same in two steps, for a process with threads that forks a child to switch: the
 * group database is read before the fork (privsep_ids_of), and the child makes only
 * system calls (privsep_become_ids: no locks, no allocation). */
#define PRIVSEP_GROUPS_MAX 256
struct privsep_ids {
	uid_t uid;
	gid_t gid;
	gid_t groups[PRIVSEP_GROUPS_MAX];
	size_t ngroups;
};
int privsep_ids_of(const char *name, uid_t uid, gid_t gid, const char *extra_group,
		   struct privsep_ids *ids, struct buf *err);
/* 0, or -1 with errno (the step that failed is not told: the caller is a child). */
int privsep_become_ids(const struct privsep_ids *ids);

#endif
