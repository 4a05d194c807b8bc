/* imapd-cmd-status: STATUS (RFC 9051 6.3.11; RFC 3501 6.3.10 RECENT; RFC 7162 3.1.6
 * HIGHESTMODSEQ; RFC 8438 SIZE; RFC 7889 APPENDLIMIT), shared with LIST-STATUS. The
 * counts come from a fresh snapshot of the folder; RECENT from imapd-recent.c.
 */
#include "imapd-int.h"
#include "store.h"
#include "xalloc.h"

#include <inttypes.h>
#include <string.h>

static const char *const status_items[] = {
    "MESSAGES", "UIDNEXT",	 "UIDVALIDITY", "UNSEEN",      "DELETED",
    "SIZE",	"HIGHESTMODSEQ", "RECENT",	"APPENDLIMIT", NULL,
};

bool imapd_status_items_valid(const struct imap_arg *items, size_t count)
{
	if (count == 0)
		return false;
	for (size_t i = 0; i < count; i++) {
		size_t k = 0;
		while (status_items[k] != NULL && !imap_arg_is_atom(&items[i], status_items[k]))
			k++;
		if (status_items[k] == NULL)
			return false;
	}
	return true;
}

static uint64_t status_value(struct imapd_session *s, const char *name, struct store_folder *f,
			     const char *item)
{
	size_t n = store_folder_count(f);
	uint64_t v = 0;
	if (strcmp(item, "MESSAGES") == 0)
		return n;
	if (strcmp(item, "UIDNEXT") == 0)
		return store_folder_uidnext(f);
	if (strcmp(item, "UIDVALIDITY") == 0)
		return store_folder_uidvalidity(f);
	if (strcmp(item, "HIGHESTMODSEQ") == 0)
		return store_folder_highestmodseq(f);
	if (strcmp(item, "APPENDLIMIT") == 0)
		return s->server->set.max_literal;
	if (strcmp(item, "RECENT") == 0)
		return imapd_recent_status(s, name, f);
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = store_folder_msg(f, i);
		if (strcmp(item, "UNSEEN") == 0)
			v += (m->flags & STORE_FLAG_SEEN) == 0;
		else if (strcmp(item, "DELETED") == 0)
			v += (m->flags & STORE_FLAG_DELETED) != 0;
		else if (strcmp(item, "SIZE") == 0)
			v += m->size;
	}
	return v;
}

/* The item of items[i] (validated by the caller). */
static const char *status_item(const struct imap_arg *arg)
{
	for (size_t k = 0; status_items[k] != NULL; k++)
		if (imap_arg_is_atom(arg, status_items[k]))
			return status_items[k];
	return NULL;
}

/* Without DELETED and RECENT, every item is among the totals the index keeps: answered
 * without a snapshot of the folder (cheap on a large one). 1 done, 0 not possible, -1. */
static int status_from_totals(struct imapd_session *s, const char *name,
			      const struct imap_arg *items, size_t count, struct buf *err)
{
	for (size_t i = 0; i < count; i++) {
		const char *item = status_item(&items[i]);
		if (strcmp(item, "DELETED") == 0 || strcmp(item, "RECENT") == 0)
			return 0;
	}
	struct store_folder_status st;
	if (store_folder_status(s->store, name, &st, err) < 0)
		return -1;
	buf_append_str(&s->conn.out, "* STATUS ");
	imapd_write_mailbox(s, &s->conn.out, name);
	buf_append_str(&s->conn.out, " (");
	for (size_t i = 0; i < count; i++) {
		const char *item = status_item(&items[i]);
		uint64_t v = strcmp(item, "MESSAGES") == 0	  ? st.messages
			     : strcmp(item, "UIDNEXT") == 0	  ? st.uidnext
			     : strcmp(item, "UIDVALIDITY") == 0	  ? st.uidvalidity
			     : strcmp(item, "UNSEEN") == 0	  ? st.unseen
			     : strcmp(item, "SIZE") == 0	  ? st.size
			     : strcmp(item, "HIGHESTMODSEQ") == 0 ? st.highestmodseq
								  : s->server->set.max_literal;
		buf_printf(&s->conn.out, "%s%s %" PRIu64, i ? " " : "", item, v);
	}
	buf_append_str(&s->conn.out, ")\r\n");
	return 1;
}

int imapd_status_write(struct imapd_session *s, const char *name, const struct imap_arg *items,
		       size_t count, struct buf *err)
{
	int fast = status_from_totals(s, name, items, count, err);
	if (fast != 0)
		return fast < 0 ? -1 : 0;
	struct store_folder *f;
	if (store_folder_open(s->store, name, &f, err) < 0)
		return -1;
	buf_append_str(&s->conn.out, "* STATUS ");
	imapd_write_mailbox(s, &s->conn.out, name);
	buf_append_str(&s->conn.out, " (");
	for (size_t i = 0; i < count; i++) {
		const char *item = status_item(&items[i]);
		buf_printf(&s->conn.out, "%s%s %" PRIu64, i ? " " : "", item, status_value(s, name, f, item));
	}
	buf_append_str(&s->conn.out, ")\r\n");
	store_folder_close(&f);
	return 0;
}

void imapd_cmd_status(struct imapd_session *s, struct imapd_cmd *cmd)
{
	const struct imap_arg *items;
	size_t n;
	if (cmd->count != 2 || !imap_arg_get_list(&cmd->args[1], &items, &n) ||
	    !imapd_status_items_valid(items, n)) {
		imapd_bad(s, "STATUS takes a mailbox and a list of items");
		return;
	}
	char *name = imapd_mailbox_arg(s, &cmd->args[0]);
	if (name == NULL)
		return;
	struct buf err = BUF_INIT;
	if (imapd_status_write(s, name, items, n, &err) < 0)
		imapd_reply(s, "NO", "NONEXISTENT", "%s", buf_cstr(&err));
	else
		imapd_reply(s, "OK", NULL, "STATUS completed");
	buf_free(&err);
	x_free(&name);
}
