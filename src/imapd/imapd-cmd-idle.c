/* imapd-cmd-idle: IDLE (RFC 2177, RFC 9051 6.3.13). While idling the selected folder's
 * new/ and cur/ are watched with inotify (a delivery is a rename into new/, a flag change
 * a rename in cur/), and a change syncs the snapshot within ~50 ms and sends EXPUNGE,
 * EXISTS and FETCH at once; a 2-second poll stands behind inotify. "DONE" ends it.
 */
#include "imapd-int.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define IDLE_DEBOUNCE_MS 50
#define IDLE_POLL_S 2

static void idle_sync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imapd_session *s = arg;
	if (!s->idling || s->conn.closing)
		return;
	imapd_sync(s, true);
	imapd_session_flush(s);
	/* the sync read the index: give its pages back again */
	if (s->idling && s->state == IMAPD_S_SELECTED)
		store_folder_release_memory(s->folder);
	struct timeval tv = {IDLE_POLL_S, 0};
	evtimer_add(s->idle_timer, &tv);
}

static void idle_inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imapd_session *s = arg;
	char ev[4096];
	while (read(fd, ev, sizeof(ev)) > 0)
		;
	struct timeval tv = {0, IDLE_DEBOUNCE_MS * 1000};
	evtimer_add(s->idle_timer, &tv);
}

static void idle_watch(struct imapd_session *s)
{
	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inotify_fd < 0)
		return;
	char *dir = imapd_folder_dir(s, s->folder_name);
	static const char *const subs[] = {"new", "cur"};
	for (size_t i = 0; i < 2; i++) {
		char *p = x_asprintf("%s/%s", dir, subs[i]);
		if (inotify_add_watch(s->inotify_fd, p,
				      IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) < 0)
			log_debug("idle: cannot watch %s", p);
		x_free(&p);
	}
	x_free(&dir);
	s->idle_ev = event_new(s->server->core.base, s->inotify_fd, EV_READ | EV_PERSIST,
			       idle_inotify_cb, s);
	event_add(s->idle_ev, NULL);
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
	struct timeval tv = {IDLE_POLL_S, 0};
	evtimer_add(s->idle_timer, &tv);
}

void imapd_idle_stop(struct imapd_session *s)
{
	if (s->idle_ev != NULL)
		event_free(s->idle_ev);
	if (s->idle_timer != NULL)
		event_free(s->idle_timer);
	s->idle_ev = NULL;
	s->idle_timer = NULL;
	if (s->inotify_fd >= 0)
		close(s->inotify_fd);
	s->inotify_fd = -1;
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
