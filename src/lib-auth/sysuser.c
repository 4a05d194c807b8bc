/* sysuser: Unix accounts as mail users (see sysuser.h).
 *
 * Lookups go through NSS (getpwnam_r), so passwd files, NIS and LDAP all work. Passwords:
 * shadow(5) through getspnam_r and crypt(3), refusing what login(1) would refuse for a
 * locked or expired account (the rules of pam_unix: an expiry day reached, a password
 * past its maximum age, a password that must be changed first); or PAM with
 * pam_authenticate and pam_acct_mgmt. The settings are kept under a lock, since the auth
 * thread pool calls in from several threads while a reload may change them.
 */
#include "sysuser.h"
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

/* A hash of the kind shadow holds today, compared against for unknown users. */
static char *sysuser_dummy_hash;
static pthread_once_t sysuser_dummy_once = PTHREAD_ONCE_INIT;

static void sysuser_dummy_init(void)
{
	sysuser_dummy_hash = password_hash("tern: no such user");
}

static void sysuser_spend_time(const char *password)
{
	pthread_once(&sysuser_dummy_once, sysuser_dummy_init);
	(void)password_check(password, sysuser_dummy_hash);
}

/* shadow(5) ageing, as pam_unix applies it: 1 when the account may log in. */
static int sysuser_shadow_current(const struct spwd *sp)
{
	long today = (long)(time(NULL) / 86400);
	if (sp->sp_expire > 0 && today >= sp->sp_expire)
		return 0; /* the account expired */
	if (sp->sp_lstchg == 0)
		return 0; /* the password must be changed before any login */
	if (sp->sp_lstchg > 0 && sp->sp_max >= 0 && sp->sp_max < 99999 &&
	    today - sp->sp_lstchg > sp->sp_max)
		return 0; /* the password is past its maximum age (and inactive after it) */
	return 1;
}

static int sysuser_verify_shadow(const char *account, const char *password)
{
	size_t size = 1024;
	for (;;) {
		char *buf = x_malloc(size);
		struct spwd sp, *res = NULL;
		errno = 0;
		int e = getspnam_r(account, &sp, buf, size, &res);
		if (e == ERANGE && size < 1024 * 1024) {
			free(buf);
			size *= 4;
			continue;
		}
		int ret;
		if (res == NULL) {
			/* glibc's getspnam_r answers ENOENT both when the account has no
			 * shadow entry and when shadow cannot be opened; tell them apart. */
			if (e == 0 || e == ENOENT)
				e = access("/etc/shadow", R_OK) == 0 ? 0 : EACCES;
			sysuser_spend_time(password);
			ret = e == 0 ? 0 : -1;
			errno = e;
		} else {
			ret = password_check_crypt(password, sp.sp_pwdp) ? 1 : 0;
			if (ret == 1)
				ret = sysuser_shadow_current(&sp);
			errno = 0;
		}
		explicit_bzero(buf, size);
		free(buf);
		return ret;
	}
}

#ifdef HAVE_PAM
/* PAM's questions: the password for every hidden prompt, nothing for the rest. */
static int sysuser_pam_conv(int n, const struct pam_message **msg, struct pam_response **resp_r,
			    void *arg)
{
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	struct pam_response *resp = calloc((size_t)n, sizeof(*resp));
	if (resp == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF) {
			resp[i].resp = strdup(arg);
			if (resp[i].resp == NULL) {
				for (int j = 0; j < i; j++)
					free(resp[j].resp);
				free(resp);
				return PAM_BUF_ERR;
			}
		} else if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
			for (int j = 0; j < i; j++)
				free(resp[j].resp);
			free(resp);
			return PAM_CONV_ERR; /* a second question (OTP...) cannot be answered */
		}
	}
	*resp_r = resp;
	return PAM_SUCCESS;
}

/* PAM modules ask for a delay after a failure (pam_unix: 2 s, slept in pam_authenticate);
 * Tern's own policy delays the answer without blocking (auth_failure_delay), so none here. */
static void sysuser_pam_no_delay(int status, unsigned delay_usec, void *arg)
{
}

static int sysuser_verify_pam(const char *account, const char *password)
{
	pthread_mutex_lock(&sysuser_lock);
	char *service = x_strdup(sysuser_pam_service != NULL ? sysuser_pam_service : "tern");
	pthread_mutex_unlock(&sysuser_lock);
	struct pam_conv conv = {sysuser_pam_conv, (void *)password};
	pam_handle_t *ph = NULL;
	int r = pam_start(service, account, &conv, &ph);
	free(service);
	if (r == PAM_SUCCESS)
		r = pam_set_item(ph, PAM_FAIL_DELAY, (const void *)sysuser_pam_no_delay);
	if (r == PAM_SUCCESS)
		r = pam_authenticate(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (r == PAM_SUCCESS)
		r = pam_acct_mgmt(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (ph != NULL)
		pam_end(ph, r);
	switch (r) {
	case PAM_SUCCESS:
		errno = 0;
		return 1;
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_MAXTRIES:
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_PERM_DENIED:
	case PAM_CRED_INSUFFICIENT:
		errno = 0;
		return 0;
	default:
		errno = EIO; /* PAM_AUTHINFO_UNAVAIL, PAM_SYSTEM_ERR, PAM_BUF_ERR, ... */
		return -1;
	}
}
#else
/* PAM modules ask for a delay after a failure (pam_unix: 2 s, slept in pam_authenticate);
 * Tern's own policy delays the answer without blocking (auth_failure_delay), so none here. */
static void sysuser_pam_no_delay(int status, unsigned delay_usec, void *arg)
{
}

static int sysuser_verify_pam(const char *account, const char *password)
{
	errno = ENOSYS; /* built without libpam */
	return -1;
}
#endif

int sysuser_verify(const char *name, const char *password)
{
	struct sysuser u;
	if (password == NULL)
		password = "";
	if (sysuser_lookup(name, &u) < 0) {
		int e = errno;
		sysuser_spend_time(password);
		errno = e;
		return e == 0 ? 0 : -1;
	}
	if (password[0] == '\0') {
		sysuser_free(&u);
		sysuser_spend_time(password);
		errno = 0;
		return 0; /* never an empty password, whatever shadow or PAM would allow */
	}
	pthread_mutex_lock(&sysuser_lock);
	enum sysuser_auth method = sysuser_auth_method;
	pthread_mutex_unlock(&sysuser_lock);
	int r = method == SYSUSER_AUTH_PAM ? sysuser_verify_pam(u.name, password)
					   : sysuser_verify_shadow(u.name, password);
	int e = errno;
	sysuser_free(&u);
	errno = e;
	return r;
}
