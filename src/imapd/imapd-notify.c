/* imapd-notify: NOTIFY (RFC 5465) for the message events MessageNew, MessageExpunge and
 * FlagChange, on the filters SELECTED, SELECTED-DELAYED, INBOXES, PERSONAL, SUBSCRIBED,
 * SUBTREE and MAILBOXES. Other events are refused with BADEVENT (5.). The observed
 * mailboxes are the ones that exist when NOTIFY SET runs.
 *
 * Once set, the session looks every NOTIFY_POLL_MS while no command runs: the selected
 * mailbox is synced as before a tagged reply (EXPUNGE or VANISHED, EXISTS, FETCH, and the
 * search context updates), and every other observed mailbox whose counters moved gets an
 * unsolicited STATUS with the items of its events (5.2-5.3). With STATUS, NOTIFY SET first
 * sends STATUS for each of them (5.1).
 */
#include "imapd-int.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include <string.h>

#define NOTIFY_POLL_MS 1000
#define NOTIFY_EV_NEW 1u
#define NOTIFY_EV_EXPUNGE 2u
#define NOTIFY_EV_FLAGS 4u

struct notify_box {
	char *name; /* stored name */
	unsigned events;
	char *last; /* the last STATUS line sent (or computed) */
};

struct imapd_notify {
	unsigned selected_events;
	struct notify_box *boxes;
	size_t count;
	struct event *timer;
};

void imapd_notify_free(struct imapd_session *s)
{
	struct imapd_notify *n = s->notify;
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->count; i++) {
		x_free(&n->boxes[i].name);
		x_free(&n->boxes[i].last);
	}
	x_free(&n->boxes);
	if (n->timer != NULL)
		event_free(n->timer);
	x_free(&s->notify);
}

/* Adds (or widens) the observed mailbox name. */
static void notify_add(struct imapd_notify *n, const char *name, unsigned events)
{
	for (size_t i = 0; i < n->count; i++)
		if (strcmp(n->boxes[i].name, name) == 0) {
			n->boxes[i].events |= events;
			return;
		}
	n->boxes = x_reallocarray(n->boxes, n->count + 1, sizeof(*n->boxes));
	n->boxes[n->count++] = (struct notify_box){x_strdup(name), events, NULL};
}

/* The event list of a filter: 0 for NONE; -1 with the reply sent. */
static int notify_events(struct imapd_session *s, const struct imap_arg *arg, unsigned *ev_r)
{
	static const char *const known[] = {"AnnotationChange", "MailboxName",
					    "SubscriptionChange", "MailboxMetadataChange",
					    "ServerMetadataChange", NULL};
	const struct imap_arg *v;
	size_t n;
	*ev_r = 0;
	if (imap_arg_is_atom(arg, "NONE"))
		return 0;
	if (!imap_arg_get_list(arg, &v, &n) || n == 0) {
		imapd_bad(s, "Invalid NOTIFY events");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (imap_arg_is_atom(&v[i], "MessageNew")) {
			*ev_r |= NOTIFY_EV_NEW;
			if (i + 1 < n && v[i + 1].type == IMAP_ARG_LIST)
				i++; /* fetch attributes: FETCH is not sent, the EXISTS says it */
		} else if (imap_arg_is_atom(&v[i], "MessageExpunge")) {
			*ev_r |= NOTIFY_EV_EXPUNGE;
		} else if (imap_arg_is_atom(&v[i], "FlagChange")) {
			*ev_r |= NOTIFY_EV_FLAGS;
		} else {
			bool valid = false;
			for (size_t k = 0; known[k] != NULL; k++)
				valid |= imap_arg_is_atom(&v[i], known[k]);
			if (!valid) {
				imapd_bad(s, "Unknown NOTIFY event");
				return -1;
			}
			imapd_reply(s, "NO", "BADEVENT (MessageNew MessageExpunge FlagChange)",
				    "Event not supported");
			return -1;
		}
	}
	return 0;
}

/* Adds the mailboxes of one filter whose (stored) names are in names. */
static void notify_filter_boxes(struct imapd_session *s, struct imapd_notify *n,
				const char *kind, char **pats, size_t npats, unsigned events)
{
	char **names = NULL;
	size_t count = 0;
	struct buf err = BUF_INIT;
	if (str_ieq(kind, "SUBSCRIBED"))
		names = imapd_subs_read(s, &count);
	else if (store_list(s->store, &names, &count, &err) < 0)
		count = 0;
	buf_free(&err);
	for (size_t i = 0; i < count; i++) {
		bool take = str_ieq(kind, "PERSONAL") || str_ieq(kind, "SUBSCRIBED") ||
			    (str_ieq(kind, "INBOXES") && strcmp(names[i], "INBOX") == 0);
		for (size_t k = 0; k < npats && !take; k++) {
			size_t len = strlen(pats[k]);
			take = strcmp(names[i], pats[k]) == 0 ||
			       (str_ieq(kind, "SUBTREE") && strncmp(names[i], pats[k], len) == 0 &&
				names[i][len] == IMAPD_HIERARCHY_SEP);
		}
		if (take)
			notify_add(n, names[i], events);
	}
	store_list_free(&names, count);
}

/* One "(filter events)" group; -1 with the reply sent. */
static int notify_group(struct imapd_session *s, struct imapd_notify *n,
			const struct imap_arg *arg)
{
	const struct imap_arg *v;
	size_t c;
	const char *kind;
	unsigned events;
	if (!imap_arg_get_list(arg, &v, &c) || c < 2 || !imap_arg_get_atom(&v[0], &kind)) {
		imapd_bad(s, "Invalid NOTIFY filter");
		return -1;
	}
	bool names = str_ieq(kind, "SUBTREE") || str_ieq(kind, "MAILBOXES");
	if (names ? c != 3 : c != 2) {
		imapd_bad(s, "Invalid NOTIFY filter");
		return -1;
	}
	if (notify_events(s, &v[c - 1], &events) < 0)
		return -1;
	if (str_ieq(kind, "SELECTED") || str_ieq(kind, "SELECTED-DELAYED")) {
		n->selected_events |= events;
		return 0;
	}
	if (!names && !str_ieq(kind, "INBOXES") && !str_ieq(kind, "PERSONAL") &&
	    !str_ieq(kind, "SUBSCRIBED")) {
		imapd_bad(s, "Unknown NOTIFY filter");
		return -1;
	}
	const struct imap_arg *list = &v[1];
	size_t np = 1;
	if (names && v[1].type == IMAP_ARG_LIST)
		imap_arg_get_list(&v[1], &list, &np);
	char **pats = x_calloc(np + 1, sizeof(char *));
	int ret = 0;
	for (size_t k = 0; names && k < np && ret == 0; k++)
		if ((pats[k] = imapd_mailbox_arg(s, &list[k])) == NULL)
			ret = -1;
	if (ret == 0)
		notify_filter_boxes(s, n, kind, pats, names ? np : 0, events);
	for (size_t k = 0; k < np; k++)
		x_free(&pats[k]);
	x_free(&pats);
	return ret;
}

/* Writes the STATUS of box when it differs from the last one (always when force). */
static void notify_status(struct imapd_session *s, struct notify_box *b, bool force)
{
	struct imap_arg items[5];
	size_t n = 0;
	memset(items, 0, sizeof(items));
	if (b->events & (NOTIFY_EV_NEW | NOTIFY_EV_EXPUNGE))
		items[n++].str = "MESSAGES";
	if (b->events & NOTIFY_EV_NEW)
		items[n++].str = "UIDNEXT";
	if (b->events & (NOTIFY_EV_NEW | NOTIFY_EV_FLAGS))
		items[n++].str = "UIDVALIDITY";
	if ((b->events & NOTIFY_EV_FLAGS) || (s->qresync && (b->events & NOTIFY_EV_EXPUNGE)))
		items[n++].str = "HIGHESTMODSEQ";
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		items[i].type = IMAP_ARG_ATOM;
		items[i].len = strlen(items[i].str);
	}
	size_t start = s->conn.out.len;
	struct buf err = BUF_INIT;
	if (imapd_status_write(s, b->name, items, n, &err) < 0) {
		buf_free(&err);
		return;
	}
	buf_free(&err);
	const char *line = s->conn.out.data + start;
	bool same = b->last != NULL && strcmp(b->last, line) == 0;
	if (!same) {
		x_free(&b->last);
		b->last = x_strdup(line);
	}
	if (same && !force)
		buf_truncate(&s->conn.out, start);
}

static void notify_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imapd_session *s = arg;
	struct imapd_notify *n = s->notify;
	struct timeval tv = {0, NOTIFY_POLL_MS * 1000};
	evtimer_add(n->timer, &tv);
	if (s->conn.busy || s->conn.closing || s->idling || s->append != NULL || s->cmd.tag != NULL ||
	    imapd_output_full(s))
		return;
	if (s->folder != NULL && n->selected_events != 0)
		imapd_sync(s, true);
	for (size_t i = 0; i < n->count; i++)
		if (s->folder_name == NULL || strcmp(s->folder_name, n->boxes[i].name) != 0)
			notify_status(s, &n->boxes[i], false);
	imapd_session_flush(s);
}

void imapd_cmd_notify(struct imapd_session *s, struct imapd_cmd *cmd)
{
	if (cmd->count == 1 && imap_arg_is_atom(&cmd->args[0], "NONE")) {
		imapd_notify_free(s);
		imapd_reply(s, "OK", NULL, "NOTIFY completed");
		return;
	}
	size_t i = 1;
	bool status = cmd->count > 1 && imap_arg_is_atom(&cmd->args[1], "STATUS");
	if (cmd->count < 2 || !imap_arg_is_atom(&cmd->args[0], "SET")) {
		imapd_bad(s, "NOTIFY takes SET or NONE");
		return;
	}
	i += status;
	struct imapd_notify *n = X_NEW(struct imapd_notify);
	for (; i < cmd->count; i++) {
		if (notify_group(s, n, &cmd->args[i]) < 0) {
			struct imapd_notify *keep = s->notify;
			s->notify = n;
			imapd_notify_free(s);
			s->notify = keep;
			return;
		}
	}
	imapd_notify_free(s);
	s->notify = n;
	for (size_t k = 0; k < n->count; k++)
		if (s->folder_name == NULL || strcmp(s->folder_name, n->boxes[k].name) != 0) {
			size_t start = s->conn.out.len;
			notify_status(s, &n->boxes[k], true);
			if (!status) /* remember the counters, send nothing */
				buf_truncate(&s->conn.out, start);
		}
	n->timer = evtimer_new(s->server->core.base, notify_poll_cb, s);
	struct timeval tv = {0, NOTIFY_POLL_MS * 1000};
	evtimer_add(n->timer, &tv);
	imapd_reply(s, "OK", NULL, "NOTIFY completed");
}
