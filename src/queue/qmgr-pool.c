/* qmgr-pool: delivery threads for the queue manager (see qmgr-pool.h). */
#include "qmgr-pool.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "userdb.h"
#include "xalloc.h"

struct qmgr_pool_thread {
	struct qmgr_pool *pool;
	struct qmgr q; /* shares conf and queue_dir with the loop's; own user directory */
	pthread_t tid;
};

struct qmgr_pool {
	struct qmgr *loop_q;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct qmgr_job *todo, *todo_tail, *done_list;
	bool quit;
	size_t in_flight;
	size_t nthreads;
	struct qmgr_pool_thread *threads;
	int pipe_fds[2];
	struct event *ev_done;
	qmgr_pool_done_cb *done;
	void *arg;
};

static void *qmgr_pool_run(void *arg)
{
	struct qmgr_pool_thread *t = arg;
	struct qmgr_pool *p = t->pool;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->todo == NULL && !p->quit)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->todo == NULL)
			break;
		struct qmgr_job *job = p->todo;
		p->todo = job->next;
		if (p->todo == NULL)
			p->todo_tail = NULL;
		pthread_mutex_unlock(&p->lock);
		job->outcome = qmgr_process(&t->q, &job->entry, job->now, job->relay_in,
					   &job->relay_out);
		pthread_mutex_lock(&p->lock);
		/* A non-empty list means a wake-up is already on its way: the loop takes
		 * the whole list (under the lock) after draining the pipe. One write per
		 * burst of passes, not one per pass. */
		bool wake = p->done_list == NULL;
		job->next = p->done_list;
		p->done_list = job;
		char one = 1;
		if (wake && write(p->pipe_fds[1], &one, 1) < 0 && errno != EAGAIN)
			log_warn("queue pool: wake-up pipe: %s", strerror(errno));
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* In the loop thread: hands finished jobs to the manager. */
static void qmgr_pool_collect(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_pool *p = arg;
	char drain[256];
	while (read(fd, drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&p->lock);
	struct qmgr_job *list = p->done_list;
	p->done_list = NULL;
	pthread_mutex_unlock(&p->lock);
	while (list != NULL) {
		struct qmgr_job *job = list;
		list = job->next;
		p->in_flight--;
		p->done(job, p->arg);
		free(job);
	}
}

struct qmgr_pool *qmgr_pool_new(struct event_base *base, struct qmgr *q, size_t threads,
				qmgr_pool_done_cb *done, void *arg)
{
	struct qmgr_pool *p = X_NEW(struct qmgr_pool);
	p->loop_q = q;
	p->done = done;
	p->arg = arg;
	p->nthreads = threads ? threads : 1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pipe2(p->pipe_fds, O_NONBLOCK | O_CLOEXEC) < 0)
		fatal("queue pool: pipe: %s", strerror(errno));
	p->ev_done = event_new(base, p->pipe_fds[0], EV_READ | EV_PERSIST, qmgr_pool_collect, p);
	if (p->ev_done == NULL || event_add(p->ev_done, NULL) < 0)
		fatal("queue pool: cannot watch the wake-up pipe");
	p->threads = x_calloc(p->nthreads, sizeof(*p->threads));
	for (size_t i = 0; i < p->nthreads; i++) {
		struct qmgr_pool_thread *t = &p->threads[i];
		t->pool = p;
		t->q = *q;
		t->q.entries = NULL;
		t->q.count = t->q.cap = 0;
		t->q.udb = userdb_open(q->conf);
		int e = pthread_create(&t->tid, NULL, qmgr_pool_run, t);
		if (e != 0)
			fatal("queue pool: pthread_create: %s", strerror(e));
	}
	return p;
}

void qmgr_pool_submit(struct qmgr_pool *p, struct qmgr_job *job)
{
	job->next = NULL;
	p->in_flight++;
	pthread_mutex_lock(&p->lock);
	if (p->todo_tail != NULL)
		p->todo_tail->next = job;
	else
		p->todo = job;
	p->todo_tail = job;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

size_t qmgr_pool_in_flight(const struct qmgr_pool *p)
{
	return p->in_flight;
}

size_t qmgr_pool_threads(const struct qmgr_pool *p)
{
	return p->nthreads;
}

void qmgr_pool_reconfigure(struct qmgr_pool *p)
{
	/* Only called with nothing in flight, so no thread touches its q now. */
	for (size_t i = 0; i < p->nthreads; i++) {
		struct qmgr_pool_thread *t = &p->threads[i];
		userdb_close(&t->q.udb);
		t->q.conf = p->loop_q->conf;
		t->q.udb = userdb_open(p->loop_q->conf);
	}
}

void qmgr_pool_free(struct qmgr_pool **pp)
{
	struct qmgr_pool *p = *pp;
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->nthreads; i++) {
		pthread_join(p->threads[i].tid, NULL);
		userdb_close(&p->threads[i].q.udb);
	}
	/* Jobs still queued were never started: their entries are simply not busy any more. */
	while (p->todo != NULL) {
		struct qmgr_job *j = p->todo;
		p->todo = j->next;
		free(j);
	}
	qmgr_pool_collect(p->pipe_fds[0], 0, p);
	event_free(p->ev_done);
	close(p->pipe_fds[0]);
	close(p->pipe_fds[1]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->threads);
	x_free(pp);
}
