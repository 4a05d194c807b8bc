/* imapd-cmd-idle: IDLE (RFC 2177, RFC 9051 6.3.13). While idling the selected folder's
 * new/ and cur/ are watched with inotify (a delivery is a rename into new/, a flag change
 * a rename in cur/), and a change syncs the snapshot within ~50 ms and sends EXPUNGE,
 * EXISTS and FETCH at once. A poll every imap_idle_check_interval stands behind inotify
 * (for what it cannot see, such as another host's changes on a network file system), every
 * 2 seconds for a folder that could not be watched. "DONE" ends it.
 *
 * The worker has one inotify instance, and one watch per folder directory that all its
 * sessions in IDLE on that folder share: the kernel queues one event per change for the
 * worker, not one for each idle session (an instance per session queued the 20,000 events
 * of another session's STORE on 10,000 messages to every idle session, and the kernel's
 * limit on instances per user, 128 by default, left the sessions past it to the poll).
 */
#include "imapd-int.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include <limits.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define IDLE_DEBOUNCE_MS 50
#define IDLE_POLL_UNWATCHED_S 2

/* A folder directory watched for the sessions idling on it. */
struct idle_folder {
	char *dir;
	int wd[2]; /* new/ and cur/; -1: not watched (failed, or removed by the kernel) */
	struct imapd_session **sessions;
	size_t count, cap;
};

struct imapd_idle_watches {
	int fd;
	struct event *ev;
	struct idle_folder **folders;
	size_t count, cap;
};

static void idle_poll_add(struct imapd_session *s)
{
	struct idle_folder *f = s->idle_folder;
	bool watched = f != NULL && (f->wd[0] >= 0 || f->wd[1] >= 0);
	struct timeval tv = {watched ? (time_t)s->server->set.idle_check_s : IDLE_POLL_UNWATCHED_S,
			     0};
	evtimer_add(s->idle_timer, &tv);
}

static void idle_sync_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct imapd_session *s = arg;
	s->idle_woken = false;
	if (!s->idling || s->conn.closing)
		return;
	imapd_sync(s, true);
	imapd_session_flush(s);
	/* the sync read the index: give its pages back again */
	if (s->idling && s->state == IMAPD_S_SELECTED)
		store_folder_release_memory(s->folder);
	idle_poll_add(s);
}

/* A change in the session's folder: sync it IDLE_DEBOUNCE_MS after the first event (the
 * events of one change, or of many changes at once, are taken together). */
static void idle_wake(struct imapd_session *s)
{
	if (s->idle_woken || s->idle_timer == NULL)
		return;
	s->idle_woken = true;
	struct timeval tv = {0, IDLE_DEBOUNCE_MS * 1000};
	evtimer_add(s->idle_timer, &tv);
}

static void idle_folder_wake(struct idle_folder *f)
{
	for (size_t i = 0; i < f->count; i++)
		idle_wake(f->sessions[i]);
}

static void idle_events_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct imapd_idle_watches *w = arg;
	char buf[16 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	size_t hint = SIZE_MAX;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p + sizeof(struct inotify_event) <= buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if ((ev->mask & IN_Q_OVERFLOW) != 0) { /* events lost: everyone looks */
				for (size_t i = 0; i < w->count; i++)
					idle_folder_wake(w->folders[i]);
				continue;
			}
			/* The events of one change (a STORE renaming 10,000 files: 20,000) come
			 * from one watch: the folder of the event before is tried first. */
			size_t i = hint, k = 0;
			if (!(i < w->count && (w->folders[i]->wd[k = 0] == ev->wd ||
					       w->folders[i]->wd[k = 1] == ev->wd))) {
				for (i = 0; i < w->count; i++)
					if (w->folders[i]->wd[k = 0] == ev->wd ||
					    w->folders[i]->wd[k = 1] == ev->wd)
						break;
				if (i == w->count)
					continue; /* a watch removed since */
			}
			hint = i;
			if ((ev->mask & IN_IGNORED) != 0)
				w->folders[i]->wd[k] = -1; /* the directory is gone */
			idle_folder_wake(w->folders[i]);
		}
	}
}

/* The worker's inotify instance, made at the first IDLE; NULL when it cannot be. */
static struct imapd_idle_watches *idle_watches(struct imapd_server *srv)
{
	if (srv->idle_watches != NULL)
		return srv->idle_watches->fd >= 0 ? srv->idle_watches : NULL;
	struct imapd_idle_watches *w = X_NEW(struct imapd_idle_watches);
	srv->idle_watches = w;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		log_warn("idle: no inotify instance (%s): sessions in IDLE poll every %d s",
			 strerror(errno), IDLE_POLL_UNWATCHED_S);
		return NULL;
	}
	w->ev = event_new(srv->core.base, w->fd, EV_READ | EV_PERSIST, idle_events_cb, w);
	event_add(w->ev, NULL);
	return w;
}

static void idle_watch(struct imapd_session *s)
{
	struct imapd_idle_watches *w = idle_watches(s->server);
	if (w == NULL)
		return;
	char *dir = imapd_folder_dir(s, s->folder_name);
	struct idle_folder *f = NULL;
	for (size_t i = 0; i < w->count && f == NULL; i++)
		if (strcmp(w->folders[i]->dir, dir) == 0)
			f = w->folders[i];
	if (f == NULL) {
		int wd[2];
		static const char *const subs[] = {"new", "cur"};
		for (int k = 0; k < 2; k++) {
			char *p = x_asprintf("%s/%s", dir, subs[k]);
			wd[k] = inotify_add_watch(w->fd, p,
						  IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
			if (wd[k] < 0)
				log_debug("idle: cannot watch %s: %s", p, strerror(errno));
			x_free(&p);
		}
		/* the same directories under another name (a symbolic link): the kernel gave
		   the watches that folder already has, which are shared then */
		for (size_t i = 0; i < w->count && f == NULL; i++)
			if (wd[1] >= 0 && w->folders[i]->wd[1] == wd[1])
				f = w->folders[i];
		if (f == NULL) {
			f = X_NEW(struct idle_folder);
			f->dir = dir;
			dir = NULL;
			f->wd[0] = wd[0];
			f->wd[1] = wd[1];
			if (w->count == w->cap)
				w->folders = x_reallocarray(w->folders, w->cap = w->cap * 2 + 4,
							    sizeof(*w->folders));
			w->folders[w->count++] = f;
		}
	}
	x_free(&dir);
	if (f->count == f->cap)
		f->sessions = x_reallocarray(f->sessions, f->cap = f->cap * 2 + 4, sizeof(*f->sessions));
	f->sessions[f->count++] = s;
	s->idle_folder = f;
}

static void idle_unwatch(struct imapd_session *s)
{
	struct idle_folder *f = s->idle_folder;
	struct imapd_idle_watches *w = s->server->idle_watches;
	s->idle_folder = NULL;
	if (f == NULL || w == NULL)
		return;
	for (size_t i = 0; i < f->count; i++) {
		if (f->sessions[i] == s) {
			f->sessions[i] = f->sessions[--f->count];
			break;
		}
	}
	if (f->count > 0)
		return;
	for (int k = 0; k < 2; k++)
		if (f->wd[k] >= 0)
			inotify_rm_watch(w->fd, f->wd[k]);
	for (size_t i = 0; i < w->count; i++) {
		if (w->folders[i] == f) {
			w->folders[i] = w->folders[--w->count];
			break;
		}
	}
	x_free(&f->sessions);
	x_free(&f->dir);
	x_free(&f);
}

void imapd_idle_watches_free(struct imapd_server *srv)
{
	struct imapd_idle_watches *w = srv->idle_watches;
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->count; i++) {
		x_free(&w->folders[i]->sessions);
		x_free(&w->folders[i]->dir);
		x_free(&w->folders[i]);
	}
	x_free(&w->folders);
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->fd >= 0)
		close(w->fd);
	x_free(&srv->idle_watches);
}

void imapd_cmd_idle(struct imapd_session *s, struct imapd_cmd *cmd)
{
	if (cmd->count != 0) {
		imapd_bad(s, "IDLE takes no arguments");
		return;
	}
	imapd_sync(s, true);
	imap_write_continuation(&s->conn.out, "idling");
	imapd_session_flush(s);
	s->idling = true;
	if (s->state != IMAPD_S_SELECTED)
		return;
	idle_watch(s);
	/* an idle session keeps its snapshot but not the index's page cache (thousands of
	   sessions may idle in one worker) */
	store_folder_release_memory(s->folder);
	s->idle_timer = evtimer_new(s->server->core.base, idle_sync_cb, s);
	s->idle_woken = false;
	idle_poll_add(s);
}

void imapd_idle_stop(struct imapd_session *s)
{
	idle_unwatch(s);
	if (s->idle_timer != NULL)
		event_free(s->idle_timer);
	s->idle_timer = NULL;
	s->idle_woken = false;
}

void imapd_idle_line(struct imapd_session *s, const char *line)
{
	imapd_idle_stop(s);
	s->idling = false;
	if (str_ieq(line, "DONE"))
		imapd_reply(s, "OK", NULL, "IDLE terminated");
	else
		imapd_bad(s, "Expected DONE");
}
