/* queue-commit: group commit of queue writers for an event loop.
 *
 * Sessions hand finished writers to queue_commit_async(). One worker thread takes every
 * writer pending at that moment as a batch: each writer's file gets its envelope
 * appended and is made durable (one fdatasync), the files are renamed from msg/ to env/,
 * env/ is made durable once, and then the loop is woken through a pipe; the loop thread
 * calls each writer's callback. A slow flush thus serves every session that arrived
 * while it ran. With sync_method = syncfs a batch costs two flushes in all.
 *
 * The file fsyncs of a batch are issued at the same time by a few sync threads: each
 * fsync ends in a disk cache flush, and flushes requested together are merged by the
 * block layer and the file system's journal (and concurrent syncfs calls share one, see
 * durable.c), so a batch costs about one flush for its files instead of one per message.
 * msg/ needs no flush: a file's name there is only the name it is written under, and
 * the one that counts (env/ID) is made durable by the flush of env/.
 */
#include "queue-private.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "durable.h"
#include "util.h"
#include "xalloc.h"

#define QUEUE_SYNC_THREADS 8

struct queue_committer {
	pthread_t thread;
	pthread_t syncers[QUEUE_SYNC_THREADS];
	/* The batch being fsync'd: writers jobs[next..] are free to take; guarded by lock. */
	struct queue_writer **jobs;
	size_t njobs, next, unfinished;
	pthread_cond_t work, finished;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct queue_writer *pending, *pending_tail; /* FIFO, guarded by lock */
	struct queue_writer *done, *done_tail;       /* FIFO, guarded by lock */
	bool stop;
	int pipe_fds[2];
	struct event *ev;
};

static void queue_list_push(struct queue_writer **head, struct queue_writer **tail,
			    struct queue_writer *w)
{
	w->next = NULL;
	if (*tail != NULL)
		(*tail)->next = w;
	else
		*head = w;
	*tail = w;
}

/* Has a writer before w in the batch the same queue folder? */
static bool queue_batch_seen(const struct queue_writer *batch, const struct queue_writer *w)
{
	for (const struct queue_writer *o = batch; o != w; o = o->next)
		if (strcmp(o->queue_dir, w->queue_dir) == 0)
			return true;
	return false;
}

/* Fsyncs QUEUE/sub once per queue folder of the batch (one, in practice); when that
 * fails, every writer of that folder fails. */
static void queue_batch_fsync(struct queue_writer *batch, const char *sub)
{
	for (struct queue_writer *w = batch; w != NULL; w = w->next) {
		if (queue_batch_seen(batch, w))
			continue;
		char *dir = x_asprintf("%s/%s", w->queue_dir, sub);
		if (durable_dir(dir) < 0) {
			int e = errno;
			for (struct queue_writer *o = w; o != NULL; o = o->next)
				if (o->ok && strcmp(o->queue_dir, w->queue_dir) == 0) {
					o->ok = false;
					snprintf(o->error, sizeof(o->error),
						 "cannot fsync %s: %s", dir, strerror(e));
				}
		}
		x_free(&dir);
	}
}

/* Takes jobs of the current batch (a writer's file) and does them until none is left
 * (called with the lock held, returns with it held). */
static void queue_sync_some(struct queue_committer *qc)
{
	while (qc->next < qc->njobs) {
		struct queue_writer *w = qc->jobs[qc->next++];
		pthread_mutex_unlock(&qc->lock);
		queue_writer_prepare(w);
		pthread_mutex_lock(&qc->lock);
		if (--qc->unfinished == 0)
			pthread_cond_signal(&qc->finished);
	}
}

static void *queue_syncer_thread(void *arg)
{
	struct queue_committer *qc = arg;
	pthread_mutex_lock(&qc->lock);
	while (!qc->stop) {
		queue_sync_some(qc);
		pthread_cond_wait(&qc->work, &qc->lock);
	}
	pthread_mutex_unlock(&qc->lock);
	return NULL;
}

/* Appends the envelope to the file of every writer of the batch and fdatasyncs it,
 * several at once. */
static void queue_batch_prepare(struct queue_committer *qc, struct queue_writer *batch)
{
	size_t n = 0;
	for (struct queue_writer *w = batch; w != NULL; w = w->next)
		n++;
	struct queue_writer **jobs = x_calloc(n, sizeof(*jobs));
	n = 0;
	for (struct queue_writer *w = batch; w != NULL; w = w->next)
		jobs[n++] = w;
	pthread_mutex_lock(&qc->lock);
	qc->jobs = jobs;
	qc->njobs = qc->unfinished = n;
	qc->next = 0;
	/* As many sync threads as there are jobs beside the one this thread takes: a
	 * broadcast would wake all of them for a batch of one. */
	for (size_t i = 1; i < qc->njobs && i <= QUEUE_SYNC_THREADS; i++)
		pthread_cond_signal(&qc->work);
	queue_sync_some(qc);
	while (qc->unfinished > 0)
		pthread_cond_wait(&qc->finished, &qc->lock);
	qc->jobs = NULL;
	qc->njobs = qc->next = 0;
	pthread_mutex_unlock(&qc->lock);
	free(jobs);
}

/* The commit steps for one batch. */
static void queue_batch_commit(struct queue_committer *qc, struct queue_writer *batch)
{
	queue_batch_prepare(qc, batch);
	for (struct queue_writer *w = batch; w != NULL; w = w->next)
		queue_writer_publish_env(w);
	queue_batch_fsync(batch, QUEUE_DIR_ENV);
	for (struct queue_writer *w = batch; w != NULL; w = w->next)
		if (!w->ok)
			queue_writer_unlink_all(w);
}

static void *queue_committer_thread(void *arg)
{
	struct queue_committer *qc = arg;
	pthread_mutex_lock(&qc->lock);
	for (;;) {
		while (qc->pending == NULL && !qc->stop)
			pthread_cond_wait(&qc->wake, &qc->lock);
		if (qc->pending == NULL)
			break;
		struct queue_writer *batch = qc->pending;
		qc->pending = qc->pending_tail = NULL;
		pthread_mutex_unlock(&qc->lock);
		queue_batch_commit(qc, batch);
		pthread_mutex_lock(&qc->lock);
		while (batch != NULL) {
			struct queue_writer *next = batch->next;
			queue_list_push(&qc->done, &qc->done_tail, batch);
			batch = next;
		}
		char c = 1;
		if (write(qc->pipe_fds[1], &c, 1) < 0 && errno != EAGAIN)
			log_warn("queue committer: cannot wake the event loop: %s",
				 strerror(errno));
	}
	pthread_mutex_unlock(&qc->lock);
	return NULL;
}

/* Calls the callbacks of finished writers, in the loop thread. */
static void queue_committer_deliver_done(struct queue_committer *qc)
{
	pthread_mutex_lock(&qc->lock);
	struct queue_writer *list = qc->done;
	qc->done = qc->done_tail = NULL;
	pthread_mutex_unlock(&qc->lock);
	while (list != NULL) {
		struct queue_writer *w = list;
		list = w->next;
		w->next = NULL;
		w->done(w->done_arg, w->ok, w->ok ? NULL : w->error);
	}
}

static void queue_committer_wakeup(evutil_socket_t fd, short what, void *arg)
{
	char drain[64];
	while (read(fd, drain, sizeof(drain)) > 0)
		;
	queue_committer_deliver_done(arg);
}

struct queue_committer *queue_committer_new(struct event_base *base)
{
	struct queue_committer *qc = X_NEW(struct queue_committer);
	if (pipe2(qc->pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal("queue committer: pipe: %s", strerror(errno));
	pthread_mutex_init(&qc->lock, NULL);
	pthread_cond_init(&qc->wake, NULL);
	pthread_cond_init(&qc->work, NULL);
	pthread_cond_init(&qc->finished, NULL);
	qc->ev = event_new(base, qc->pipe_fds[0], EV_READ | EV_PERSIST, queue_committer_wakeup,
			   qc);
	if (qc->ev == NULL || event_add(qc->ev, NULL) < 0)
		fatal("queue committer: cannot add event");
	int r = pthread_create(&qc->thread, NULL, queue_committer_thread, qc);
	for (size_t i = 0; r == 0 && i < QUEUE_SYNC_THREADS; i++)
		r = pthread_create(&qc->syncers[i], NULL, queue_syncer_thread, qc);
	if (r != 0)
		fatal("queue committer: pthread_create: %s", strerror(r));
	return qc;
}

void queue_commit_async(struct queue_committer *qc, struct queue_writer *w,
			queue_commit_cb *done, void *arg)
{
	w->done = done;
	w->done_arg = arg;
	pthread_mutex_lock(&qc->lock);
	queue_list_push(&qc->pending, &qc->pending_tail, w);
	pthread_cond_signal(&qc->wake);
	pthread_mutex_unlock(&qc->lock);
}

void queue_committer_free(struct queue_committer **qcp)
{
	struct queue_committer *qc = *qcp;
	if (qc == NULL)
		return;
	/* The thread commits what is pending before it stops; their callbacks run here. */
	pthread_mutex_lock(&qc->lock);
	qc->stop = true;
	pthread_cond_signal(&qc->wake);
	pthread_mutex_unlock(&qc->lock);
	pthread_join(qc->thread, NULL);
	pthread_mutex_lock(&qc->lock);
	pthread_cond_broadcast(&qc->work);
	pthread_mutex_unlock(&qc->lock);
	for (size_t i = 0; i < QUEUE_SYNC_THREADS; i++)
		pthread_join(qc->syncers[i], NULL);
	queue_committer_deliver_done(qc);
	event_free(qc->ev);
	close(qc->pipe_fds[0]);
	close(qc->pipe_fds[1]);
	pthread_mutex_destroy(&qc->lock);
	pthread_cond_destroy(&qc->wake);
	pthread_cond_destroy(&qc->work);
	pthread_cond_destroy(&qc->finished);
	x_free(qcp);
}
