/* dsn: delivery status notifications (bounces, delay warnings, success reports).
 *
 * dsn_build writes a multipart/report; report-type=delivery-status message (RFC 3464,
 * RFC 6522): a human-readable part, the message/delivery-status part (per-message and
 * per-recipient fields, RFC 3464 2.2-2.3, status codes of RFC 3463), and the original's
 * header (text/rfc822-headers) or the original itself (message/rfc822, cut at a line end
 * beyond a size limit). It only streams bytes: the caller chooses where they go.
 *
 * dsn_send is what the queue manager calls: from a queued envelope and some of its
 * recipients (failed, delayed, delivered or relayed) it decides whether a notification is
 * due (RFC 3461 5.2.2-5.2.6 NOTIFY; never to the null sender, except a failed bounce,
 * which goes once to the postmaster), writes it with dsn_build into a new queue file from
 * <> and commits it.
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

/* The Action field of a recipient (RFC 3464 2.3.3). */
enum dsn_action {
	DSN_ACTION_FAILED,
	DSN_ACTION_DELAYED,
	DSN_ACTION_DELIVERED, /* into a mailbox here (RFC 3461 5.2.3) */
	DSN_ACTION_RELAYED,   /* to a server without DSN (RFC 3461 5.2.2 b) */
};

struct dsn_rcpt {
	enum dsn_action action;
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
	time_t retry_until;	/* for delayed recipients: when the queue gives up (0: unsaid) */
	enum dsn_ret ret;
	uint64_t max_size;	/* the most of the original returned (0: headers only) */
	bool original_sized;	/* the original is original_size bytes of its fd, not all */
	uint64_t original_size;
	bool eight_bit;		/* the original is 8BITMIME */
	const struct dsn_rcpt *rcpts;
	size_t rcpt_count;
	const char *boundary;	/* NULL: made from the queue ID and time */
};

/* Where dsn_build's bytes go: 0, or -1 to stop (errno set). */
typedef int dsn_write_fn(void *arg, const void *p, size_t n);

/* Writes the notification (LF line ends, as the queue stores messages): a bounce when
 * a recipient failed, else a delay warning when one is delayed, else a success report;
 * only a bounce returns more than the original's header (RFC 3461 6.2). original_fd: the
 * original message, read with pread from offset 0 (-1: none). 0, or -1 with errno. */
int dsn_build_to(const struct dsn_params *p, int original_fd, dsn_write_fn *write, void *arg);
int dsn_build(const struct dsn_params *p, int original_fd, struct queue_writer *w);

/* Decodes xtext (RFC 3461 4: "+XX" hex escapes) into a new string; NULL when malformed. */
char *dsn_xtext_decode(const char *s);

/* Is s well-formed xtext (RFC 3461 4: xchar, or "+" and two upper-case hex digits)? */
bool dsn_xtext_valid(const char *s);
/* Encodes printable US-ASCII as xtext ("+", "=" and blanks as "+XX") into a new string;
 * NULL when s holds anything else (RFC 3461 4.2 allows only printable ASCII). */
char *dsn_xtext_encode(const char *s);

/* The DSN parameters of a queued message as they were received, for passing them on
 * (RFC 3461 5.2.1): RET ("FULL"/"HDRS") and ENVID (xtext); a recipient's NOTIFY and
 * ORCPT (addr-type;xtext). New strings, or NULL when not given or malformed (never
 * passed on in a form the next hop would have to refuse). A recipient received without
 * ORCPT gets one made from the address as received, when that is ASCII (5.2.1 d). */
void dsn_msg_params(const struct queue_envelope *env, char **ret_r, char **envid_r);
void dsn_rcpt_params(const struct queue_envelope *env, size_t rcpt_index, char **notify_r,
		     char **orcpt_r);

/* What dsn_send needs from tern.conf. */
struct dsn_config {
	const char *queue_dir;
	const char *hostname;
	uint64_t max_size;	    /* bounce_max_size */
	uint64_t lifetime;	    /* queue_lifetime: Will-Retry-Until of delay warnings */
	char double_bounce[512];    /* double_bounce_recipient, or postmaster@first domain */
};
void dsn_config_from_conf(const struct conf *c, struct dsn_config *cfg);

/* One recipient to report on. */
struct dsn_item {
	size_t rcpt_index;	/* in env->rcpts */
	enum dsn_action action;
	const char *status;	/* "5.1.1" */
	const char *text;	/* the reason, or the remote server's reply */
	const char *remote_mta; /* NULL when local */
};

/* Does the recipient's NOTIFY ask for a report of this action (RFC 3461 5.2.2-5.2.6)?
 * Without NOTIFY: failures and delays yes, successes no. */
bool dsn_wanted(const struct queue_envelope *env, size_t rcpt_index, enum dsn_action action);

/* Queues one notification about the given recipients of env to its sender. Recipients
 * whose NOTIFY excludes their action are left out; to the postmaster (a failed bounce)
 * only failures go. Its envelope names the state records of env it stands for (f, w or
 * o per item, every item: queue_writer_add_report), written by the caller afterwards. Returns 1 with the new queue ID in id_r (and the queue manager
 * notified), 0 when nothing is due (null sender, NOTIFY, a failed double bounce: logged
 * by the caller), or -1 + err (retry later). */
int dsn_send(const struct dsn_config *cfg, const struct queue_envelope *env,
	     const struct dsn_item *items, size_t count, char id_r[QUEUE_ID_MAX],
	     struct buf *err);

#endif
