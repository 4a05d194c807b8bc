/* qmgr-reconcile: a notification is sent once, also across a crash.
 *
 * A pass queues a notification (bounce, delay warning, success report) before it
 * appends the state records (f, w, o) of the recipients it reports to the original, so
 * that a crash never loses the notification; the notification's envelope names those
 * records ("dsn_of", lib-queue/queue-report.c), committed with it. Two moments make the
 * original hold them before anything could notify about those recipients again:
 *   - at a start after an unclean stop, before any pass: every queued notification
 *     (the crash may have come between its commit and the records);
 *   - at each pass of a notification, before it is delivered (with several delivery
 *     threads it may be delivered and removed while the pass that queued it has not
 *     yet written the records; a crash then would leave nothing to reconcile from).
 * Records the original already has are not written again; a removed original needs
 * nothing. See doc/queue-format.md, "A notification exactly once".
 */
#include "qmgr-int.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

int qmgr_reconcile(struct qmgr *q, const struct queue_envelope *n, struct buf *err)
{
	if (queue_envelope_attr(n, QUEUE_REPORT_ATTR) == NULL)
		return 0;
	struct queue_report *reports;
	size_t count;
	struct buf why = BUF_INIT;
	if (queue_envelope_reports(n, &reports, &count, &why) < 0) {
		/* Nothing to go by: the notification is still delivered. */
		log_warn("%s: %s", n->id, buf_cstr(&why));
		buf_free(&why);
		return 0;
	}
	int r = 0;
	struct queue_envelope *origin = NULL;
	for (size_t i = 0; i < count && r == 0; i++) {
		if (origin == NULL || strcmp(origin->id, reports[i].origin) != 0) {
			queue_envelope_free(&origin);
			buf_reset(&why);
			enum queue_load l =
			    queue_envelope_load(q->queue_dir, reports[i].origin, &origin, &why);
			if (l == QUEUE_LOAD_ERROR) {
				buf_printf(err, "origin %s: %s", reports[i].origin, buf_cstr(&why));
				r = -1;
			}
			/* Missing: delivered and removed. Damaged: its own pass moves it
			 * to corrupt/ (nothing more will be sent about it). */
			if (l != QUEUE_LOAD_OK)
				continue;
		}
		struct buf recs = BUF_INIT;
		size_t added = queue_report_missing(origin, &reports[i], n->id, &recs);
		buf_reset(&why);
		if (added > 0 && queue_append_records(q->queue_dir, origin->id, &recs, &why) < 0) {
			if (errno != ENOENT) { /* ENOENT: removed meanwhile, nothing to record */
				buf_printf(err, "origin %s: %s", origin->id, buf_cstr(&why));
				r = -1;
			}
		} else if (added > 0) {
			log_info("%s: %zu %c record%s written for the notification %s (its pass "
				 "had not recorded them)", origin->id, added, reports[i].key,
				 added == 1 ? "" : "s", n->id);
			/* Read again for the next report: the records are now in it. */
			queue_envelope_free(&origin);
		}
		buf_free(&recs);
	}
	queue_envelope_free(&origin);
	queue_reports_free(&reports, count);
	buf_free(&why);
	return r;
}

void qmgr_reconcile_queue(struct qmgr *q)
{
	size_t done = 0;
	for (size_t i = 0; i < q->count; i++) {
		struct queue_envelope *env = NULL;
		struct buf err = BUF_INIT;
		/* Damaged or unreadable ones are dealt with by their own pass. */
		if (queue_envelope_load(q->queue_dir, q->entries[i].id, &env, &err) ==
			QUEUE_LOAD_OK &&
		    queue_envelope_attr(env, QUEUE_REPORT_ATTR) != NULL) {
			buf_reset(&err);
			if (qmgr_reconcile(q, env, &err) < 0)
				log_error("%s: %s (its pass tries again before delivering it)",
					  env->id, buf_cstr(&err));
			done++;
		}
		queue_envelope_free(&env);
		buf_free(&err);
	}
	if (done > 0)
		log_info("unclean stop before: %zu queued notification%s checked against "
			 "their messages", done, done == 1 ? "" : "s");
}
