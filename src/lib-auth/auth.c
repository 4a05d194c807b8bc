/* auth: login policy and the SASL callbacks over the user directory (see auth.h). */
#include "auth.h"
#include "conf.h"
#include "log.h"
#include "sasl-limiter.h"
#include "sysuser.h"
#include "userdb.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct auth_pool;

struct auth {
	struct auth_pool *pool; /* auth-async.c: made at the first asynchronous check */
	struct userdb *db;
	struct sasl_limiter *limiter;
	struct sasl_callbacks cb;
	bool plaintext_loopback;
	bool system_users; /* user_source = system: passwords are checked by the auth role */
};

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

enum sasl_lookup auth_password(struct auth *a, const char *user, const char *password,
			       char **address_r)
{
	struct user_info info;
	struct buf err = BUF_INIT;
	int found = userdb_lookup(a->db, user, &info, &err);
	if (found < 0) {
		log_error("auth: user directory: %s", buf_cstr(&err));
		buf_free(&err);
		return SASL_LOOKUP_TEMPFAIL;
	}
	buf_free(&err);
	if (found == 0) {
		/* Spend the same time as a real check, so timing tells nothing. */
		password_check(password, "$6$rounds=5000$tern.nouser$KnO.YfQJrD3ly1lLn1GG8T"
					 "Ux9CF0dN9pCOHhKn.eJrPUzFvfCcvWvDn9EfLmc2z4Gj0Hq3OTMB2"
					 "dJ6UQxCkfj1");
		return SASL_LOOKUP_UNKNOWN;
	}
	enum sasl_lookup r = info.system ? auth_system_check(info.login, password)
	                     : password_check(password, info.hash) ? SASL_LOOKUP_OK
								  : SASL_LOOKUP_BAD;
	if (r == SASL_LOOKUP_OK && address_r != NULL)
		*address_r = x_strdup(info.address);
	user_info_free(&info);
	return r;
}

enum sasl_lookup auth_system_check(const char *login, const char *password)
{
	int r = sysuser_verify(login, password);
	if (r < 0) {
		log_error("auth: cannot check the password of system user %s: %s%s", login,
			  strerror(errno),
			  errno == EACCES ? " (this process may not read /etc/shadow)" : "");
		return SASL_LOOKUP_TEMPFAIL;
	}
	return r == 1 ? SASL_LOOKUP_OK : SASL_LOOKUP_BAD;
}

static enum sasl_lookup cb_password(void *ctx, const char *user, const char *password)
{
	return auth_password(ctx, user, password, NULL);
}

static enum sasl_lookup cb_scram(void *ctx, const char *user, enum sasl_scram_hash hash,
				 struct sasl_scram_secret *secret_r)
{
	struct auth *a = ctx;
	struct user_info info;
	struct buf err = BUF_INIT;
	int found = userdb_lookup(a->db, user, &info, &err);
	if (found < 0) {
		log_error("auth: user directory: %s", buf_cstr(&err));
		buf_free(&err);
		return SASL_LOOKUP_TEMPFAIL;
	}
	buf_free(&err);
	if (found == 0)
		return SASL_LOOKUP_UNKNOWN;
	enum sasl_lookup r = SASL_LOOKUP_UNKNOWN;
	if (info.scram != NULL && sasl_scram_secret_find(info.scram, hash, secret_r) == 0)
		r = SASL_LOOKUP_OK;
	user_info_free(&info);
	return r;
}

static void auth_limiter_setup(struct auth *a, const struct conf *c)
{
	struct sasl_limiter_settings set;
	sasl_limiter_settings_default(&set);
	set.delay_min_ms = conf_num(c, "auth_failure_delay") * 1000;
	if (set.delay_max_ms < set.delay_min_ms)
		set.delay_max_ms = set.delay_min_ms;
	set.max_failures = (unsigned)conf_num(c, "auth_max_failures");
	set.user_max_failures = set.max_failures;
	set.lockout_ms = conf_num(c, "auth_lockout_time") * 1000;
	set.window_ms = set.lockout_ms;
	/* A reload starts a new limiter only when the settings change; counts go with it. */
	sasl_limiter_free(&a->limiter);
	a->limiter = sasl_limiter_new(&set);
}

static void auth_cache_setup(const struct conf *c)
{
	uint64_t ttl = conf_num(c, "auth_cache_ttl"); /* seconds */
	uint64_t size = conf_num(c, "auth_cache_size");
	password_cache_configure(ttl > UINT32_MAX ? UINT32_MAX : (unsigned)ttl,
				 size > 1000000 ? 1000000 : (unsigned)size);
}

struct auth *auth_new(const struct conf *c)
{
	struct auth *a = X_NEW(struct auth);
	a->db = userdb_open(c);
	a->cb.lookup_password = cb_password;
	a->cb.lookup_scram = cb_scram;
	a->cb.ctx = a;
	a->plaintext_loopback = conf_bool(c, "auth_plaintext_loopback");
	a->system_users = sysuser_mode(c);
	auth_limiter_setup(a, c);
	auth_cache_setup(c);
	return a;
}

void auth_reconfigure(struct auth *a, const struct conf *c)
{
	userdb_close(&a->db);
	a->db = userdb_open(c);
	a->plaintext_loopback = conf_bool(c, "auth_plaintext_loopback");
	a->system_users = sysuser_mode(c);
	auth_limiter_setup(a, c);
	auth_cache_setup(c);
}

void auth_free(struct auth **ap)
{
	struct auth *a = *ap;
	if (a == NULL)
		return;
	userdb_close(&a->db);
	sasl_limiter_free(&a->limiter);
	x_free(ap);
}

struct auth_pool **auth_pool_slot(struct auth *a)
{
	return &a->pool;
}

struct userdb *auth_userdb(struct auth *a)
{
	return a->db;
}

bool auth_plaintext_ok(const struct auth *a, bool tls, bool loopback)
{
	return tls || (loopback && a->plaintext_loopback);
}

bool auth_system_users(const struct auth *a)
{
	return a->system_users;
}

const char *auth_mech_list(const struct auth *a, bool tls, bool loopback)
{
	/* shadow keeps crypt(3) hashes, from which no SCRAM secret can be made */
	if (a->system_users)
		return auth_plaintext_ok(a, tls, loopback) ? "PLAIN LOGIN" : "";
	return sasl_mech_list(auth_plaintext_ok(a, tls, loopback));
}

struct sasl_server *auth_sasl_start(struct auth *a, const char *mech, bool success_data)
{
	struct sasl_server_settings set = {.cb = &a->cb, .success_data = success_data};
	return sasl_server_new(mech, &set);
}

uint64_t auth_locked_ms(struct auth *a, const char *ip, const char *user)
{
	return sasl_limiter_check(a->limiter, ip, user, wall_ms());
}

uint64_t auth_record(struct auth *a, const char *proto, const char *mech, const char *ip,
		     const char *user, bool ok, const char *reason, bool *locked_r)
{
	const char *u = user != NULL ? log_safe(user, strlen(user), 128) : "";
	bool locked = false;
	uint64_t delay = 0;
	if (ok) {
		sasl_limiter_success(a->limiter, ip, user);
		log_info("auth: proto=%s, mech=%s, user=<%s>, ip=[%s], result=ok", proto, mech, u,
			 ip);
	} else {
		delay = sasl_limiter_fail(a->limiter, ip, user, wall_ms(), &locked);
		log_warn("auth: proto=%s, mech=%s, user=<%s>, ip=[%s], result=%s%s", proto, mech, u,
			 ip, reason, locked ? ", now locked out" : "");
	}
	if (locked_r != NULL)
		*locked_r = locked;
	return delay;
}
