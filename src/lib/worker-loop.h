/* worker-loop: the event loop of a worker with the master's signals: SIGTERM and SIGINT
 * call stop, SIGHUP calls reload; signals_ready() is called once they are watched (the
 * master blocks SIGHUP across the exec until then), and the loop runs until stop ends it.
 */
#ifndef TERN_WORKER_LOOP_H
#define TERN_WORKER_LOOP_H

#include <event2/event.h>

void worker_loop_run(struct event_base *base, event_callback_fn stop, event_callback_fn reload,
		     void *arg);

#endif
