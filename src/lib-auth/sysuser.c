/* sysuser: Unix accounts as mail users (see sysuser.h): settings and lookups. Password
 * checks are in sysuser-verify.c, so that a program that only looks users up (the
 * delivery agent) links neither PAM nor crypt(3).
 *
 * Lookups go through NSS (getpwnam_r), so passwd files, NIS and LDAP all work. Passwords:
 * shadow(5) through getspnam_r and crypt(3), refusing what login(1) would refuse for a
 * locked or expired account (the rules of pam_unix: an expiry day reached, a password
 * past its maximum age, a password that must be changed first); or PAM with
 * pam_authenticate and pam_acct_mgmt. The settings are kept under a lock, since the auth
 * thread pool calls in from several threads while a reload may change them.
 */
#include "sysuser.h"
#include "sysuser-int.h"
#include "conf.h"
#include "userdb.h"
#include "util.h"
#include "xalloc.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <shadow.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_PAM
#include <security/pam_appl.h>
#endif

#define SYSUSER_NAME_MAX 256

enum sysuser_auth { SYSUSER_AUTH_SHADOW, SYSUSER_AUTH_PAM };

static pthread_mutex_t sysuser_lock = PTHREAD_MUTEX_INITIALIZER;
static uid_t sysuser_min_uid = 1000;
static char **sysuser_allow;
static size_t sysuser_allow_count;
static enum sysuser_auth sysuser_auth_method = SYSUSER_AUTH_SHADOW;
static char *sysuser_pam_service;

void sysuser_configure(const struct conf *c)
{
	char **allow;
	size_t n = conf_words(conf_str(c, "system_users_allow"), &allow);
	pthread_mutex_lock(&sysuser_lock);
	conf_words_free(&sysuser_allow, sysuser_allow_count);
	sysuser_allow = allow;
	sysuser_allow_count = n;
	sysuser_min_uid = (uid_t)conf_num(c, "system_min_uid");
	sysuser_auth_method = conf_num(c, "system_auth") == 1 ? SYSUSER_AUTH_PAM
							      : SYSUSER_AUTH_SHADOW;
	free(sysuser_pam_service);
	sysuser_pam_service = x_strdup(conf_str(c, "system_pam_service"));
	pthread_mutex_unlock(&sysuser_lock);
}

bool sysuser_mode(const struct conf *c)
{
	return conf_num(c, "user_source") == 1;
}

/* Is an account with this name and uid a mail user? */
static bool sysuser_allowed(const char *name, uid_t uid)
{
	pthread_mutex_lock(&sysuser_lock);
	bool ok = uid >= sysuser_min_uid;
	for (size_t i = 0; !ok && i < sysuser_allow_count; i++)
		ok = strcmp(sysuser_allow[i], name) == 0;
	pthread_mutex_unlock(&sysuser_lock);
	return ok;
}

/* A name that can be an account: no path or field separators, no control bytes, not
 * an option. */
static bool sysuser_name_ok(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > SYSUSER_NAME_MAX || name[0] == '-' || name[0] == '.')
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '/' || *p == ':' || *p == '\\')
			return false;
	return true;
}

/* getpwnam_r with a buffer that grows; 0 found, -1 not found (errno 0) or error. */
static int sysuser_getpw(const char *name, struct sysuser *out)
{
	size_t size = 1024;
	for (;;) {
		char *buf = x_malloc(size);
		struct passwd pw, *res = NULL;
		int e = getpwnam_r(name, &pw, buf, size, &res);
		if (e == ERANGE && size < 1024 * 1024) {
			free(buf);
			size *= 4;
			continue;
		}
		int ret = -1;
		if (res != NULL) {
			out->name = x_strdup(pw.pw_name);
			out->uid = pw.pw_uid;
			out->gid = pw.pw_gid;
			out->home = x_strdup(pw.pw_dir != NULL ? pw.pw_dir : "/");
			out->shell = x_strdup(pw.pw_shell != NULL ? pw.pw_shell : "");
			ret = 0;
		}
		free(buf);
		/* "Not found" comes as 0, ENOENT, ESRCH, EBADF or EPERM depending on the
		 * NSS module (getpwnam_r(3)). */
		errno = (res != NULL || e == 0 || e == ENOENT || e == ESRCH || e == EBADF ||
			 e == EPERM)
				? 0
				: e;
		return ret;
	}
}

int sysuser_lookup(const char *name, struct sysuser *out)
{
	memset(out, 0, sizeof(*out));
	if (name == NULL || !sysuser_name_ok(name)) {
		errno = 0;
		return -1;
	}
	int r = sysuser_getpw(name, out);
	if (r < 0 && errno == 0) {
		char *lower = str_lower(x_strdup(name));
		if (strcmp(lower, name) != 0)
			r = sysuser_getpw(lower, out);
		free(lower);
	}
	if (r < 0)
		return -1;
	if (!sysuser_allowed(out->name, out->uid)) {
		sysuser_free(out);
		errno = 0;
		return -1;
	}
	return 0;
}

void sysuser_free(struct sysuser *u)
{
	x_free(&u->name);
	x_free(&u->home);
	x_free(&u->shell);
}

bool sysuser_settings(char **pam_service_r)
{
	pthread_mutex_lock(&sysuser_lock);
	bool pam = sysuser_auth_method == SYSUSER_AUTH_PAM;
	if (pam_service_r != NULL)
		*pam_service_r =
		    x_strdup(sysuser_pam_service != NULL ? sysuser_pam_service : "tern");
	pthread_mutex_unlock(&sysuser_lock);
	return pam;
}
