/* qmgr-int: the queue manager's state, shared by its loop (qmgr.c) and its delivery
 * pass over one message (qmgr-deliver.c).
 */
#ifndef TERN_QMGR_INT_H
#define TERN_QMGR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "deliver.h"
#include "dsn.h"
#include "queue.h"
#include "relay.h"

struct conf;
struct userdb;
struct relay_msg;
struct delivery_result;

/* The relay results of one message, gathered in the loop thread while its relay_msgs
 * (one per next hop) are out, then handed to a finishing pass. */
struct qmgr_relay_batch {
	char id[QUEUE_ID_MAX];
	size_t pending;			 /* relay_msgs not yet done */
	size_t rcpt_count;
	struct delivery_result *res;	 /* indexed like the envelope's recipients */
	bool *has;			 /* res[i] is set */
	bool *dsn_passed;		 /* the next hop took the DSN request (relay_rcpt) */
	struct relay_msg *msgs;		 /* to submit (linked through next) */
};

/* One queued message the manager knows of. */
struct qmgr_entry {
	char id[QUEUE_ID_MAX];
	time_t next_try; /* 0: look at it now */
	bool held;       /* skipped until a notify names it again */
	bool forced;     /* named by a notify or flush: ignore the envelope's next-try time */
	bool seen;       /* found by the latest scan */
	bool busy;       /* a delivery thread has it now */
	/* A delivery to its Maildirs may have happened without being recorded (found at
	 * an unclean start, or deferred after a try): look for the file before writing. */
	bool recheck;
};

struct qmgr {
	char *conf_path;
	struct conf *conf;
	struct userdb *udb;
	char *queue_dir;
	struct queue_recycler *recycler; /* finished messages' files go to QUEUE/free/ */
	struct qmgr_entry *entries;
	size_t count, cap;
};

/* What one delivery pass did with a message. */
enum qmgr_outcome {
	QMGR_KEEP,
	QMGR_GONE,
	QMGR_RELAY, /* local recipients done; *batch_r holds relay_msgs for the others */
};

/* Loads the message and tries every pending recipient once; records the outcomes and the
 * next try time (e->next_try), or removes the message when it is finished.
 * relay_in NULL (a first pass): local recipients are delivered, and non-local ones are
 * routed and returned in *batch_r (outcome QMGR_RELAY) without a record. relay_in set
 * (the finishing pass): the relay's results are recorded like local ones. */
enum qmgr_outcome qmgr_process(struct qmgr *q, struct qmgr_entry *e, time_t now,
			       const struct qmgr_relay_batch *relay_in,
			       struct qmgr_relay_batch **batch_r);
void qmgr_relay_batch_free(struct qmgr_relay_batch **b);

/* qmgr-relay.c */
struct relay_nexthop;
/* Routes a non-local address: 0, or -1 with res set (a deferral: a bad route). */
int qmgr_route_remote(struct qmgr *q, const char *addr, struct relay_nexthop *hop,
		      struct delivery_result *res);
/* The relay_msgs for the recipients marked remote, one per next hop. */
struct qmgr_relay_batch *qmgr_relay_build(struct qmgr *q, const struct queue_envelope *env,
					  const bool *remote, const struct relay_nexthop *hops);
/* Copies a finished relay_msg's results into the batch. */
void qmgr_relay_take_result(struct qmgr_relay_batch *b, const struct relay_msg *m);

/* Where a recipient goes in this pass. */
struct qmgr_route {
	bool local;    /* a Maildir delivery is to be tried (maildir set) */
	char *maildir;
	char *login;   /* a system user: the account, delivered by the deliver worker */
	uint64_t quota_bytes, quota_messages; /* 0: none */
	bool remote;   /* for the relay (hop set) */
	bool dsn_passed; /* relayed to a server with DSN: it reports success, not we */
	struct relay_nexthop hop;
	struct delivery_result res; /* outcome, set up front for non-local and unknown */
};

/* Queues one delivery status notification (RFC 3464, lib-dsn) to the sender about the
 * recipients idx[] of routes, with their results; action DELIVERED means "delivered" for
 * local ones and "relayed" for remote ones. Logs what it did. Returns 1 queued, 0 none
 * due (null sender, NOTIFY), -1 not queued. */
int qmgr_notify(struct qmgr *q, const struct queue_envelope *env,
		const struct qmgr_route *routes, const size_t *idx, size_t count,
		enum dsn_action action);

/* Recipients failed permanently (their indexes in failed[]): queues one delivery status
 * notification (RFC 3464) to the sender and appends their records to recs: failed when
 * the notification is safe in the queue (or none is due), else deferred so that the next
 * pass tries again. Returns whether the failures were recorded as such. */
bool qmgr_bounce(struct qmgr *q, const struct queue_envelope *env,
		 const struct qmgr_route *routes, const size_t *failed, size_t count,
		 struct buf *recs);

/* qmgr-reconcile.c: notifications exactly once (doc/queue-format.md).
 * Appends to the original of notification n the state records n stands for that it
 * lacks (a crash came between n's commit and their append). 0 (also: nothing to do, the
 * original removed), or -1 + err (n must not be delivered yet). */
int qmgr_reconcile(struct qmgr *q, const struct queue_envelope *n, struct buf *err);
/* At a start after an unclean stop, before any pass: qmgr_reconcile for every queued
 * notification among q's entries. */
void qmgr_reconcile_queue(struct qmgr *q);

#endif
