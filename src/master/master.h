/* master: `tern serve`, the process that binds the listeners, starts one worker per
 * role (a re-exec of this binary: `tern worker ROLE -c CONF`), restarts a worker that
 * dies, passes SIGHUP on as a reload, and on SIGTERM stops the workers and waits. */
#ifndef TERN_MASTER_H
#define TERN_MASTER_H

int cmd_serve(int argc, char **argv);
int cmd_worker(int argc, char **argv);

#endif
