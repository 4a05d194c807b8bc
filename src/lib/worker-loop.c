/* worker-loop: see worker-loop.h. */
#include "worker-loop.h"
#include "util.h"

#include <signal.h>
#include <stddef.h>

void worker_loop_run(struct event_base *base, event_callback_fn stop, event_callback_fn reload,
		     void *arg)
{
	struct event *sigs[3] = {
	    evsignal_new(base, SIGTERM, stop, arg),
	    evsignal_new(base, SIGINT, stop, arg),
	    evsignal_new(base, SIGHUP, reload, arg),
	};
	for (size_t i = 0; i < 3; i++)
		evsignal_add(sigs[i], NULL);
	signals_ready();
	event_base_dispatch(base);
	for (size_t i = 0; i < 3; i++)
		event_free(sigs[i]);
}
