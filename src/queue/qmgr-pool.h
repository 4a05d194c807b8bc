/* qmgr-pool: the queue manager's delivery threads.
 *
 * A local delivery is a few fsyncs; run one at a time, the disk's latency caps the rate.
 * The pool runs up to N passes (qmgr_process) at once, each on a different message, so
 * the file system commits their fsyncs together. Each thread has its own user directory
 * handle; the configuration is shared read-only and only replaced while the pool is idle.
 * Finished passes are handed back to the loop thread through a pipe.
 */
#ifndef TERN_QMGR_POOL_H
#define TERN_QMGR_POOL_H

#include <stddef.h>
#include <time.h>

#include "qmgr-int.h"

struct event_base;
struct qmgr_pool;

/* A pass over one message: entry is a copy; the result is read back from it. */
struct qmgr_job {
	struct qmgr_entry entry;
	time_t now;
	enum qmgr_outcome outcome;
	struct qmgr_relay_batch *relay_in;  /* a finishing pass: the relay's results */
	struct qmgr_relay_batch *relay_out; /* outcome QMGR_RELAY: what to relay */
	struct qmgr_job *next;
};

typedef void qmgr_pool_done_cb(struct qmgr_job *job, void *arg);

/* Starts threads working for q (its conf and queue_dir are shared; see above). */
struct qmgr_pool *qmgr_pool_new(struct event_base *base, struct qmgr *q, size_t threads,
				qmgr_pool_done_cb *done, void *arg);
/* Hands a job over (the pool frees it after done() returns). */
void qmgr_pool_submit(struct qmgr_pool *p, struct qmgr_job *job);
size_t qmgr_pool_in_flight(const struct qmgr_pool *p);
size_t qmgr_pool_threads(const struct qmgr_pool *p);
/* After the loop replaced q->conf (only while idle): the threads reopen their directory. */
void qmgr_pool_reconfigure(struct qmgr_pool *p);
/* Waits for the jobs in flight, stops and joins the threads. */
void qmgr_pool_free(struct qmgr_pool **p);

#endif
