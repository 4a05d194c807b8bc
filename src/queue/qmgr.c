/* qmgr: role queue. One libevent loop: inotify on the envelope folder (a new envelope
 * is a newly queued message), the notify socket ("flush", hold/release and retry-now
 * requests by queue ID), a timer for retries and the periodic rescan, SIGTERM, SIGHUP.
 *
 * Delivery passes (qmgr_process: one message, every pending recipient) run in a pool
 * of threads (qmgr-pool.c, queue_delivery_threads), never two on the same message, so
 * the fsyncs of many deliveries are committed together. The loop thread owns the list
 * of known messages; a pass works on a copy of its entry. SIGTERM stops dispatching,
 * waits for the passes in flight, leaves the clean-stop mark (queue/clean) and exits;
 * SIGHUP reloads once the pool is idle. Without that mark at start (a crash, kill -9,
 * power loss), every message found is delivered with a look for an earlier, unrecorded
 * delivery first (see qmgr-deliver.c).
 *
 * Outbound mail: a pass that finds non-local recipients returns them as relay_msgs
 * (qmgr-relay.c); this thread submits them to the relay client, which runs in this same
 * loop with many connections at once (src/relay). The entry stays busy until every
 * relay_msg of the message is done; then a finishing pass in the pool records the
 * results. SIGTERM does not wait for outbound sessions: they are cut, and the message
 * is tried again at the next start.
 */
#include "qmgr.h"
#include "qmgr-int.h"
#include "qmgr-pool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "relay.h"
#include "store.h"
#include "userdb.h"
#include "util.h"
#include "xalloc.h"

#define QMGR_RESCAN_SECS 60
#define QMGR_CLEANUP_AGE 3600

struct qmgr_loop {
	struct qmgr q;
	struct event_base *base;
	struct event *ev_notify, *ev_timer, *ev_work, *ev_term, *ev_hup, *ev_inotify;
	int notify_fd, inotify_fd;
	time_t next_scan;
	bool stopping, reload_pending;
	struct qmgr_pool *pool;
	struct relay *relay;
};

static struct qmgr_entry *qmgr_find(struct qmgr *q, const char *id)
{
	for (size_t i = 0; i < q->count; i++)
		if (strcmp(q->entries[i].id, id) == 0)
			return &q->entries[i];
	return NULL;
}

static struct qmgr_entry *qmgr_add(struct qmgr *q, const char *id)
{
	struct qmgr_entry *e = qmgr_find(q, id);
	if (e != NULL)
		return e;
	if (q->count == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 256;
		q->entries = x_reallocarray(q->entries, q->cap, sizeof(*q->entries));
	}
	e = &q->entries[q->count++];
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	return e;
}

static bool qmgr_env_exists(const struct qmgr *q, const char *id)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/env/%s", q->queue_dir, id);
	return access(path, F_OK) == 0 || errno != ENOENT;
}

/* The clean-stop mark: present only between a clean stop and the next start. */
static bool qmgr_clean_mark(const char *queue_dir, bool set)
{
	char *path = x_asprintf("%s/clean", queue_dir);
	bool was = access(path, F_OK) == 0;
	if (set) {
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || fsync(fd) < 0 || close(fd) < 0 || fsync_dir(queue_dir) < 0)
			log_warn("cannot leave the clean-stop mark %s: %s", path, strerror(errno));
	} else if (was && (unlink(path) < 0 || fsync_dir(queue_dir) < 0)) {
		fatal("cannot remove the clean-stop mark %s: %s", path, strerror(errno));
	}
	free(path);
	return was;
}

/* Sets up (or, on reload, re-bounds) the pool of recycled queue files; after an
 * unclean stop it is emptied first (doc/queue-format.md, "Recycled files"). */
static void qmgr_recycler_set(struct qmgr *q, bool unclean)
{
	unsigned files = (unsigned)conf_num(q->conf, "queue_recycle_files");
	uint64_t size = conf_num(q->conf, "queue_recycle_max_size");
	if (q->recycler == NULL)
		q->recycler = queue_recycler_new(q->queue_dir, files, size, unclean);
	else
		queue_recycler_set(q->recycler, files, size);
}

/* Reads the queue folder: new messages are added, vanished ones dropped. */
static void qmgr_scan(struct qmgr_loop *l)
{
	struct qmgr *q = &l->q;
	char **ids;
	size_t n;
	struct buf err = BUF_INIT;
	if (queue_list(q->queue_dir, &ids, &n, &err) < 0) {
		log_error("queue scan: %s", buf_cstr(&err));
		buf_free(&err);
		return;
	}
	for (size_t i = 0; i < q->count; i++)
		q->entries[i].seen = false;
	for (size_t i = 0; i < n; i++)
		qmgr_add(q, ids[i])->seen = true;
	size_t keep = 0;
	for (size_t i = 0; i < q->count; i++)
		if (q->entries[i].seen || q->entries[i].busy)
			q->entries[keep++] = q->entries[i];
	q->count = keep;
	queue_list_free(&ids, n);
	buf_free(&err);
	queue_cleanup(q->queue_dir, QMGR_CLEANUP_AGE);
	l->next_scan = time(NULL) + QMGR_RESCAN_SECS;
}

/* The due, not held entry with the oldest ID, or NULL; *next_r: the earliest future try. */
static struct qmgr_entry *qmgr_next_due(struct qmgr *q, time_t now, time_t *next_r)
{
	struct qmgr_entry *best = NULL;
	for (size_t i = 0; i < q->count; i++) {
		struct qmgr_entry *e = &q->entries[i];
		if (e->held || e->busy)
			continue;
		if (e->next_try > now) {
			if (e->next_try < *next_r)
				*next_r = e->next_try;
		} else if (best == NULL || strcmp(e->id, best->id) < 0) {
			best = e;
		}
	}
	return best;
}

/* Hands due messages to the delivery threads (up to one each); when none is due, sets
 * the timer for the earliest retry or rescan. */
static void qmgr_work(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_loop *l = arg;
	if (l->stopping || l->reload_pending)
		return;
	time_t now = time(NULL);
	if (now >= l->next_scan)
		qmgr_scan(l);
	time_t next = l->next_scan;
	while (qmgr_pool_in_flight(l->pool) < qmgr_pool_threads(l->pool)) {
		struct qmgr_entry *e = qmgr_next_due(&l->q, now, &next);
		if (e == NULL)
			break;
		struct qmgr_job *job = X_NEW(struct qmgr_job);
		job->entry = *e;
		job->now = now;
		e->busy = true;
		e->forced = false;
		qmgr_pool_submit(l->pool, job);
	}
	struct timeval tv = {.tv_sec = next > now ? next - now : 0};
	evtimer_add(l->ev_timer, &tv);
}

static void qmgr_reload(struct qmgr_loop *l);

/* Hands a pass's relay_msgs to the relay; the entry stays busy until they are done. */
static void qmgr_relay_start(struct qmgr_loop *l, struct qmgr_entry *e,
			     struct qmgr_relay_batch *b)
{
	if (l->stopping || e == NULL) {
		qmgr_relay_batch_free(&b);
		if (e != NULL)
			e->busy = false;
		return;
	}
	e->busy = true;
	struct relay_msg *list = b->msgs;
	b->msgs = NULL;
	while (list != NULL) {
		struct relay_msg *m = list;
		list = m->next;
		m->owner = b;
		relay_submit(l->relay, m);
	}
}

/* A relay_msg is done (loop thread): when it was the message's last, finish the pass. */
static void qmgr_relay_done(struct relay_msg *m, void *arg)
{
	struct qmgr_loop *l = arg;
	struct qmgr_relay_batch *b = m->owner;
	qmgr_relay_take_result(b, m);
	relay_msg_free(&m);
	if (--b->pending > 0)
		return;
	struct qmgr_entry *e = qmgr_find(&l->q, b->id);
	if (l->stopping || e == NULL) {
		if (e != NULL)
			e->busy = false;
		qmgr_relay_batch_free(&b);
		return;
	}
	struct qmgr_job *job = X_NEW(struct qmgr_job);
	job->entry = *e;
	job->entry.forced = true; /* record now, whatever retry time the envelope holds */
	job->now = time(NULL);
	job->relay_in = b;
	qmgr_pool_submit(l->pool, job);
}

/* A pass finished (loop thread): bring its entry up to date. */
static void qmgr_done(struct qmgr_job *job, void *arg)
{
	struct qmgr_loop *l = arg;
	struct qmgr_entry *e = qmgr_find(&l->q, job->entry.id);
	qmgr_relay_batch_free(&job->relay_in);
	if (job->outcome == QMGR_RELAY) {
		if (e != NULL) {
			bool forced = e->forced;
			*e = job->entry;
			e->forced = forced;
		}
		qmgr_relay_start(l, e, job->relay_out);
		job->relay_out = NULL;
	} else if (e != NULL) {
		bool forced = e->forced; /* a notify during the pass asks for another look */
		*e = job->entry;
		e->busy = false;
		if (job->outcome == QMGR_GONE)
			*e = l->q.entries[--l->q.count];
		else if (forced)
			e->next_try = 0, e->forced = true, e->held = false;
	}
	if (qmgr_pool_in_flight(l->pool) == 0) {
		if (l->stopping)
			event_base_loopbreak(l->base);
		else if (l->reload_pending)
			qmgr_reload(l);
	}
	if (!l->stopping)
		event_active(l->ev_work, 0, 0);
}

static void qmgr_kick(struct qmgr_loop *l)
{
	if (!l->stopping)
		event_active(l->ev_work, 0, 0);
}

static void qmgr_timer(evutil_socket_t fd, short what, void *arg)
{
	qmgr_kick(arg);
}

static void qmgr_notify_read(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_loop *l = arg;
	char msg[128];
	ssize_t n;
	while ((n = recv(fd, msg, sizeof(msg) - 1, 0)) >= 0) {
		msg[n] = '\0';
		if (strcmp(msg, "flush") == 0) {
			for (size_t i = 0; i < l->q.count; i++)
				l->q.entries[i].next_try = 0, l->q.entries[i].forced = true;
			l->next_scan = 0;
		} else if (queue_id_valid(msg) &&
			   (qmgr_find(&l->q, msg) != NULL || qmgr_env_exists(&l->q, msg))) {
			/* New, released or to be retried now: look at it again. (A message
			 * not known here whose envelope is gone was already delivered and
			 * removed: the smtp worker's datagram can come after inotify's event
			 * and the whole delivery; it needs no pass.) */
			struct qmgr_entry *e = qmgr_add(&l->q, msg);
			e->next_try = 0;
			e->held = false;
			e->forced = true;
		}
	}
	qmgr_kick(l);
}

static int qmgr_bind_notify(struct qmgr_loop *l)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct buf path = BUF_INIT;
	queue_notify_path(l->q.queue_dir, &path);
	if (path.len >= sizeof(sun.sun_path))
		fatal("notify socket path too long: %s", buf_cstr(&path));
	memcpy(sun.sun_path, path.data, path.len + 1);
	l->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->notify_fd < 0)
		fatal("notify socket: %s", strerror(errno));
	unlink(sun.sun_path);
	if (bind(l->notify_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		fatal("bind %s: %s", buf_cstr(&path), strerror(errno));
	/* Anyone allowed into the queue folder may tell the manager to look. */
	chmod(sun.sun_path, 0666);
	buf_free(&path);
	return 0;
}

static void qmgr_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct qmgr_loop *l = arg;
	log_info("stopping on signal %d", (int)sig);
	l->stopping = true;
	if (qmgr_pool_in_flight(l->pool) == 0)
		event_base_loopbreak(l->base);
}

static void qmgr_reload(struct qmgr_loop *l)
{
	struct buf err = BUF_INIT;
	l->reload_pending = false;
	struct conf *c = conf_load(l->q.conf_path, &err);
	if (c == NULL) {
		log_error("reload: keeping the old configuration: %s", buf_cstr(&err));
	} else {
		if (strcmp(conf_str(c, "queue_dir"), l->q.queue_dir) != 0)
			log_warn("reload: queue_dir changes take effect at restart");
		if (relay_reconfigure(l->relay, c, &err) < 0)
			log_error("reload: outbound delivery keeps its old options: %s",
				  buf_cstr(&err));
		userdb_close(&l->q.udb);
		conf_free(&l->q.conf);
		l->q.conf = c;
		l->q.udb = userdb_open(c);
		qmgr_pool_reconfigure(l->pool);
		qmgr_recycler_set(&l->q, false);
		log_set_level((enum log_level)conf_num(c, "log_level"));
		log_info("configuration reloaded");
	}
	buf_free(&err);
	l->next_scan = 0;
	qmgr_kick(l);
}

/* SIGHUP: the configuration is replaced once no delivery pass is using it. */
static void qmgr_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct qmgr_loop *l = arg;
	l->reload_pending = true;
	if (qmgr_pool_in_flight(l->pool) == 0)
		qmgr_reload(l);
}

/* inotify on env/: each envelope renamed in is a new message; an overflow, a rescan. */
static void qmgr_inotify_read(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_loop *l = arg;
	char ev_buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	while ((n = read(fd, ev_buf, sizeof(ev_buf))) > 0) {
		for (char *p = ev_buf; p < ev_buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				l->next_scan = 0;
			else if (ev->len > 0 && queue_id_valid(ev->name))
				qmgr_add(&l->q, ev->name);
			p += sizeof(*ev) + ev->len;
		}
	}
	qmgr_kick(l);
}

static void qmgr_watch_env(struct qmgr_loop *l)
{
	char *env = x_asprintf("%s/env", l->q.queue_dir);
	l->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (l->inotify_fd < 0 || inotify_add_watch(l->inotify_fd, env, IN_MOVED_TO) < 0)
		fatal("inotify on %s: %s", env, strerror(errno));
	free(env);
}

static void qmgr_setup_events(struct qmgr_loop *l)
{
	l->base = event_base_new();
	if (l->base == NULL)
		fatal("event_base_new failed");
	l->ev_notify = event_new(l->base, l->notify_fd, EV_READ | EV_PERSIST, qmgr_notify_read, l);
	l->ev_timer = evtimer_new(l->base, qmgr_timer, l);
	l->ev_work = event_new(l->base, -1, 0, qmgr_work, l);
	l->ev_term = evsignal_new(l->base, SIGTERM, qmgr_sigterm, l);
	l->ev_hup = evsignal_new(l->base, SIGHUP, qmgr_sighup, l);
	l->ev_inotify = event_new(l->base, l->inotify_fd, EV_READ | EV_PERSIST, qmgr_inotify_read, l);
	if (l->ev_inotify == NULL || event_add(l->ev_inotify, NULL) < 0)
		fatal("cannot watch the envelope folder");
	if (l->ev_notify == NULL || l->ev_timer == NULL || l->ev_work == NULL ||
	    l->ev_term == NULL || l->ev_hup == NULL || event_add(l->ev_notify, NULL) < 0 ||
	    event_add(l->ev_term, NULL) < 0 || event_add(l->ev_hup, NULL) < 0)
		fatal("cannot set up the event loop");
	evsignal_add(evsignal_new(l->base, SIGINT, qmgr_sigterm, l), NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void qmgr_teardown(struct qmgr_loop *l)
{
	qmgr_pool_free(&l->pool);
	event_free(l->ev_inotify);
	close(l->inotify_fd);
	event_free(l->ev_notify);
	event_free(l->ev_timer);
	event_free(l->ev_work);
	event_free(l->ev_term);
	event_free(l->ev_hup);
	event_base_free(l->base);
	close(l->notify_fd);
	userdb_close(&l->q.udb);
	conf_free(&l->q.conf);
	queue_recycler_free(&l->q.recycler);
	x_free(&l->q.queue_dir);
	x_free(&l->q.conf_path);
	x_free(&l->q.entries);
}

int qmgr_main(const char *conf_path)
{
	struct qmgr_loop l = {.notify_fd = -1, .inotify_fd = -1};
	struct buf err = BUF_INIT;
	l.q.conf_path = x_strdup(conf_path);
	l.q.conf = conf_load(conf_path, &err);
	if (l.q.conf == NULL) {
		fprintf(stderr, "tern queue: %s\n", buf_cstr(&err));
		buf_free(&err);
		x_free(&l.q.conf_path);
		return 78;
	}
	log_init("queue", conf_num(l.q.conf, "log") == 1);
	log_set_level((enum log_level)conf_num(l.q.conf, "log_level"));
	l.q.queue_dir = x_strdup(conf_str(l.q.conf, "queue_dir"));
	if (queue_dirs_create(l.q.queue_dir, &err) < 0)
		fatal("%s", buf_cstr(&err));
	l.q.udb = userdb_open(l.q.conf);
	store_set_lock_timeout((unsigned)conf_num(l.q.conf, "mbox_lock_timeout") * 1000);
	qmgr_bind_notify(&l);
	qmgr_watch_env(&l);
	qmgr_setup_events(&l);
	signals_ready();
	bool clean = qmgr_clean_mark(l.q.queue_dir, false);
	/* Before the pool: its threads copy l.q. */
	qmgr_recycler_set(&l.q, !clean);
	l.pool = qmgr_pool_new(l.base, &l.q, conf_num(l.q.conf, "queue_delivery_threads"),
			       qmgr_done, &l);
	l.relay = relay_new(l.base, l.q.conf, qmgr_relay_done, &l, &err);
	if (l.relay == NULL)
		fatal("outbound delivery: %s", buf_cstr(&err));
	qmgr_scan(&l);
	for (size_t i = 0; i < l.q.count && !clean; i++)
		l.q.entries[i].recheck = true;
	/* Before any pass: a notification queued just before the crash gets its records
	 * into its original, which would otherwise notify again (qmgr-reconcile.c). */
	if (!clean)
		qmgr_reconcile_queue(&l.q);
	log_info("queue manager started: %zu messages in %s%s", l.q.count, l.q.queue_dir,
		 clean || l.q.count == 0 ? ""
					 : " (unclean stop before: looking for unrecorded deliveries)");
	qmgr_kick(&l);
	event_base_dispatch(l.base);
	qmgr_pool_free(&l.pool);
	relay_free(&l.relay);
	qmgr_clean_mark(l.q.queue_dir, true);
	log_info("queue manager stopped");
	/* The SIGINT event is owned by the base; freeing the base is enough for it. */
	qmgr_teardown(&l);
	buf_free(&err);
	return 0;
}
