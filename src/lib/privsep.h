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

#endif
