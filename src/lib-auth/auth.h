/* auth: the one login policy every protocol uses (SMTP AUTH, IMAP LOGIN/AUTHENTICATE,
 * POP3 USER/PASS/AUTH), on top of the user directory and the SASL mechanisms.
 *
 * - Clear-text mechanisms (PLAIN, LOGIN, and the USER/PASS and LOGIN commands) only
 *   under TLS, or on a loopback connection when auth_plaintext_loopback is yes.
 * - Failures are delayed and counted per client address and per user (lib-sasl's
 *   limiter); too many lock the source out for auth_lockout_time.
 * - Every attempt is logged with protocol, mechanism, user, address and result, never
 *   with the password.
 */
#ifndef TERN_AUTH_H
#define TERN_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "sasl.h"

struct conf;
struct userdb;
struct auth;

struct auth *auth_new(const struct conf *c);
void auth_free(struct auth **a);
/* Applies a reloaded configuration (keeps the failure counts). */
void auth_reconfigure(struct auth *a, const struct conf *c);
struct userdb *auth_userdb(struct auth *a);

/* May a clear-text password be sent on this connection? */
bool auth_plaintext_ok(const struct auth *a, bool tls, bool loopback);
/* user_source = system: the protocol workers pass credentials to the auth role (login.h). */
bool auth_system_users(const struct auth *a);
/* The SASL mechanisms to advertise on this connection ("SCRAM-SHA-256 PLAIN LOGIN";
 * system users: "PLAIN LOGIN" only where plaintext is allowed, else ""). */
const char *auth_mech_list(const struct auth *a, bool tls, bool loopback);
/* Starts a SASL exchange backed by the user directory; NULL for an unknown mechanism. */
struct sasl_server *auth_sasl_start(struct auth *a, const char *mech, bool success_data);

/* Before an attempt: milliseconds this address or user is still locked out (0: go on). */
uint64_t auth_locked_ms(struct auth *a, const char *ip, const char *user);
/* Checks a clear-text password (USER/PASS, LOGIN). On OK, *address_r (if not NULL) gets
 * the canonical address, to free. */
enum sasl_lookup auth_password(struct auth *a, const char *user, const char *password,
			       char **address_r);
/* A system user's password (sysuser_verify): OK, BAD, or TEMPFAIL (logged) when it
 * cannot be checked, e.g. without the right to read shadow. */
enum sasl_lookup auth_system_check(const char *login, const char *password);
/* After an attempt: logs it and counts it. ok: success; reason: a word for the log on
 * failure ("bad-credentials", "unknown-user", "malformed", ...). Returns how long to wait
 * (ms) before answering a failure, and sets *locked_r when the source is now locked. */
uint64_t auth_record(struct auth *a, const char *proto, const char *mech, const char *ip,
		     const char *user, bool ok, const char *reason, bool *locked_r);

/* Checks a clear-text password without blocking the event loop: the crypt(3) comparison
 * runs in a thread pool. done(arg, result, address) is called later in base's loop thread
 * (address: the canonical address when result is OK). Returns the job (to cancel when
 * the session goes away first), or NULL when the user directory cannot be read (answer
 * with a temporary failure). */
struct event_base;
struct auth_job;
typedef void auth_job_done_cb(void *arg, enum sasl_lookup result, const char *address);
/* For auth-async.c: where struct auth keeps its thread pool. */
struct auth_pool;
struct auth_pool **auth_pool_slot(struct auth *a);
struct auth_job *auth_password_async(struct auth *a, struct event_base *base, const char *user,
				     const char *password, auth_job_done_cb *done, void *arg);
/* The session of job is gone: its callback will not be called. */
void auth_job_cancel(struct auth_job *job);

#endif
