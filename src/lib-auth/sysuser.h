/* sysuser: Unix accounts as mail users (user_source = system).
 *
 * Accounts come from the passwd database (getpwnam_r: files, NIS, LDAP through NSS);
 * passwords are checked against shadow (getspnam_r + crypt(3), compared in constant time)
 * or through PAM (system_auth = pam). Only accounts with a uid of at least system_min_uid,
 * or named in system_users_allow, are mail users: daemon and system accounts are not.
 * Reading shadow needs root (or group shadow); without it sysuser_verify returns -1
 * with errno EACCES. Every function is safe to call from several threads at once.
 */
#ifndef TERN_SYSUSER_H
#define TERN_SYSUSER_H

#include <stdbool.h>
#include <sys/types.h>

struct conf;

struct sysuser {
	char *name;
	uid_t uid;
	gid_t gid;
	char *home;
	char *shell;
};

/* Finds the mail user called name (the exact account name; a name with upper-case
 * letters that matches no account is tried in lower case). 0 found (out filled, free
 * with sysuser_free), -1 not found or not a mail user (errno 0), or error (errno set:
 * the passwd database could not be read). */
int sysuser_lookup(const char *name, struct sysuser *out);
/* Checks name's password. 1 ok, 0 wrong password, unknown user, locked account ('!' or
 * '*' hash, empty password), expired account or password; -1 system error (errno set;
 * EACCES: this process may not read shadow). An unknown user costs a hash computation
 * too, so timing tells nothing. */
int sysuser_verify(const char *name, const char *password);
void sysuser_free(struct sysuser *u);

/* Takes system_min_uid, system_users_allow, system_auth and system_pam_service from c.
 * Before the first call: uid 1000 and up, shadow. Call again on reload. */
void sysuser_configure(const struct conf *c);
/* Is system mode on (user_source = system)? */
bool sysuser_mode(const struct conf *c);

#endif
