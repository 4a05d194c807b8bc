/* sasl-limiter: slows down and locks out password guessing, per client address and per
 * user, in a bounded table (a hash with LRU eviction). Pure: no clock of its own, the
 * caller passes the time in milliseconds (now_ms() in production, a fake clock in tests).
 *
 * Use: before starting AUTH, sasl_limiter_check(); when it returns non-zero, refuse
 * (SMTP 454 4.7.0 or 535 5.7.8, IMAP NO [UNAVAILABLE], POP3 -ERR [IN-USE]) without running
 * the mechanism. After a failed exchange, sasl_limiter_fail() gives the delay to wait
 * before sending the failure reply (answer nothing else meanwhile). After a success,
 * sasl_limiter_success(). Failures older than the window are forgotten.
 */
#ifndef TERN_SASL_LIMITER_H
#define TERN_SASL_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sasl_limiter_settings {
	uint64_t delay_min_ms;	   /* the delay after a first failure (auth_failure_delay) */
	uint64_t delay_max_ms;	   /* the delay doubles up to this */
	unsigned int max_failures; /* per address: this many in the window lock it (0: never) */
	unsigned int user_max_failures; /* per user likewise (0: never; see sasl-limiter.c) */
	uint64_t window_ms;		/* failures older than this are forgotten */
	uint64_t lockout_ms;		/* how long a lock lasts (auth_lockout_time) */
	size_t capacity;		/* entries kept (addresses + users); the oldest go first */
};

/* Defaults matching conf-defaults.c: 2 s doubling to 15 s, 10 failures in 15 min lock
 * for 15 min, user limit the same, 8192 entries. */
void sasl_limiter_settings_default(struct sasl_limiter_settings *set_r);

struct sasl_limiter;

struct sasl_limiter *sasl_limiter_new(const struct sasl_limiter_settings *set);
void sasl_limiter_free(struct sasl_limiter **l);
/* Is the address or the user (NULL: not known yet) locked out? 0 if not, otherwise the
 * milliseconds the lock still lasts. */
uint64_t sasl_limiter_check(struct sasl_limiter *l, const char *addr, const char *user,
			    uint64_t now_ms);
/* Records a failure of addr (and user, when not NULL). Returns the delay to apply before
 * answering, in milliseconds; *locked_r (may be NULL) tells whether this failure locked the
 * address or user. */
uint64_t sasl_limiter_fail(struct sasl_limiter *l, const char *addr, const char *user,
			   uint64_t now_ms, bool *locked_r);
/* A successful login: forgets the failures of user (those of addr expire with the
 * window, so one known password cannot reset the count of an address). */
void sasl_limiter_success(struct sasl_limiter *l, const char *addr, const char *user);
/* Entries in use (tests). */
size_t sasl_limiter_count(const struct sasl_limiter *l);

#endif
