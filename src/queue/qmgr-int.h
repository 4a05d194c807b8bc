/* qmgr-int: the queue manager's state, shared by its loop (qmgr.c) and its delivery
 * pass over one message (qmgr-deliver.c).
 */
#ifndef TERN_QMGR_INT_H
#define TERN_QMGR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "queue.h"

struct conf;
struct userdb;

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
	struct qmgr_entry *entries;
	size_t count, cap;
};

/* What one delivery pass did with a message. */
enum qmgr_outcome { QMGR_KEEP, QMGR_GONE };

/* Loads the message and tries every pending recipient once; records the outcomes and the
 * next try time (e->next_try), or removes the message when it is finished. */
enum qmgr_outcome qmgr_process(struct qmgr *q, struct qmgr_entry *e, time_t now);

#endif
