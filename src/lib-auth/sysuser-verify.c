/* sysuser-verify: the password checks of Unix accounts (see sysuser.h): shadow(5) through
 * getspnam_r and crypt(3), refusing what login(1) would refuse for a locked or expired
 * account (the rules of pam_unix), or PAM with pam_authenticate and pam_acct_mgmt. Apart
 * from sysuser.c so that programs that only look accounts up do not link PAM or crypt(3).
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
	char *service;
	(void)sysuser_settings(&service);
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
	int r = sysuser_settings(NULL) ? sysuser_verify_pam(u.name, password)
				       : sysuser_verify_shadow(u.name, password);
	int e = errno;
	sysuser_free(&u);
	errno = e;
	return r;
}
