/* dsn: delivery status notifications (bounces and delay warnings).
 *
 * dsn_build writes a multipart/report; report-type=delivery-status message (RFC 3464,
 * RFC 6522): a human-readable part, the message/delivery-status part (per-message and
 * per-recipient fields, RFC 3464 2.2-2.3, status codes of RFC 3463), and the original's
 * header (text/rfc822-headers) or the original itself (message/rfc822, cut at a line end
 * beyond a size limit). It only streams bytes: the caller chooses where they go.
 *
 * dsn_send_bounce is what the queue manager calls: from a queued envelope and its failed
 * (or delayed) recipients it decides whether a notification is due (RFC 3461 4.1 NOTIFY;
 * never to the null sender, except a failed bounce, which goes once to the postmaster),
 * writes it with dsn_build into a new queue file from <> and commits it.
 * Per-recipient DSN parameters come from the envelope attributes dsn_rcpt_N (N = the
 * recipient's index) "NOTIFY=FAILURE,DELAY ORCPT=rfc822;xtext", and dsn_ret, dsn_envid.
 */
#ifndef TERN_DSN_H
#define TERN_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "queue.h"

struct conf;

enum dsn_ret { DSN_RET_DEFAULT, DSN_RET_FULL, DSN_RET_HDRS };

struct dsn_rcpt {
	const char *final_rcpt;	 /* the address the delivery was for */
	const char *orcpt;	 /* ORCPT as "type;address" (decoded), or NULL */
	const char *status;	 /* enhanced status code, "5.1.1" */
	const char *diagnostic;	 /* "smtp; 550 5.1.1 text", or NULL */
	const char *remote_mta;	 /* the host that answered, or NULL */
	time_t last_attempt;	 /* 0: unknown */
};

struct dsn_params {
	const char *hostname;	/* Reporting-MTA and the From: address's domain */
	const char *to;		/* the envelope sender being notified */
	const char *queue_id;	/* of the original */
	const char *envid;	/* ENVID (decoded), or NULL */
	time_t arrival;
	time_t now;
	bool delayed;		/* a delay warning (Action: delayed) instead of a bounce */
	time_t retry_until;	/* delayed: when the queue gives up */
	enum dsn_ret ret;
	uint64_t max_size;	/* the most of the original returned (0: headers only) */
	bool eight_bit;		/* the original is 8BITMIME */
	const struct dsn_rcpt *rcpts;
	size_t rcpt_count;
	const char *boundary;	/* NULL: made from the queue ID and time */
};

/* Where dsn_build's bytes go: 0, or -1 to stop (errno set). */
typedef int dsn_write_fn(void *arg, const void *p, size_t n);

/* Writes the notification (LF line ends, as the queue stores messages). original_fd: the
 * original message, read with pread from offset 0 (-1: none). 0, or -1 with errno. */
int dsn_build_to(const struct dsn_params *p, int original_fd, dsn_write_fn *write, void *arg);
int dsn_build(const struct dsn_params *p, int original_fd, struct queue_writer *w);

/* Decodes xtext (RFC 3461 4: "+XX" hex escapes) into a new string; NULL when malformed. */
char *dsn_xtext_decode(const char *s);

/* What dsn_send_bounce needs from tern.conf. */
struct dsn_config {
	const char *queue_dir;
	const char *hostname;
	uint64_t max_size;	    /* bounce_max_size */
	char double_bounce[512];    /* double_bounce_recipient, or postmaster@first domain */
};
void dsn_config_from_conf(const struct conf *c, struct dsn_config *cfg);

struct dsn_failure {
	size_t rcpt_index;	/* in env->rcpts */
	const char *status;	/* "5.1.1" */
	const char *text;	/* the reason, or the remote server's reply */
	const char *remote_mta; /* NULL when local */
};

/* Queues a notification about the given recipients of env (failed ones, or with delayed
 * true, still deferred ones) to its sender. Recipients whose NOTIFY excludes it are left
 * out. Returns 1 with the new queue ID in id_r (and the queue manager notified), 0 when
 * nothing is due (null sender, NOTIFY, a failed double bounce: logged by the caller), or
 * -1 + err (retry later). */
int dsn_send_bounce(const struct dsn_config *cfg, const struct queue_envelope *env,
		    const struct dsn_failure *failed, size_t count, bool delayed,
		    char id_r[QUEUE_ID_MAX], struct buf *err);

#endif
