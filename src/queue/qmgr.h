/* qmgr: role queue, the queue manager.
 *
 * Scans the queue at start, listens for queue_notify() datagrams, hands each pending
 * recipient to local delivery, retries temporary failures on the back-off schedule
 * (queue_retry_min doubling to queue_retry_max), and removes a message when every
 * recipient is done. SIGTERM: finish the delivery in progress and exit. SIGHUP: reload.
 */
#ifndef TERN_QMGR_H
#define TERN_QMGR_H

int qmgr_main(const char *conf_path);

#endif
