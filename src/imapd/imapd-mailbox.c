/* imapd-mailbox: mailbox names and the commands that manage mailboxes (RFC 9051 5.1,
 * 6.3.4-6.3.7, 6.3.10): CREATE, DELETE, RENAME (INBOX included: its messages move),
 * SUBSCRIBE, UNSUBSCRIBE, NAMESPACE (RFC 2342: one personal namespace, separator "/").
 * Names travel as modified UTF-7 (RFC 3501 5.1.3), or UTF-8 after ENABLE UTF8=ACCEPT
 * (RFC 6855 3); the store keeps the mUTF-7 form. Special-use attributes (RFC 6154) come
 * from the well-known names. Subscriptions live in MAILDIR/subscriptions, one name a line
 * (lib-store's store_subs_read/_change).
 */
#include "imapd-int.h"
#include "log.h"
#include "mutf7.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

char *imapd_mailbox_arg(struct imapd_session *s, const struct imap_arg *arg)
{
	const char *name;
	size_t len;
	if (!imap_arg_get_astring(arg, &name, &len) || len == 0 || strlen(name) != len ||
	    len > STORE_FOLDER_NAME_MAX) {
		imapd_bad(s, "Invalid mailbox name");
		return NULL;
	}
	struct buf b = BUF_INIT;
	if (s->utf8 && !mutf7_is_valid(name, len)) {
		if (mutf7_encode(name, len, &b) < 0) {
			buf_free(&b);
			imapd_bad(s, "Mailbox name is not valid UTF-8");
			return NULL;
		}
	} else if (!mutf7_is_valid(name, len)) {
		imapd_reply(s, "NO", "CANNOT", "Mailbox name is not valid modified UTF-7");
		return NULL;
	} else {
		buf_append(&b, name, len);
	}
	char *stored = buf_steal(&b);
	if (str_iprefix(stored, "INBOX") && (stored[5] == '\0' || stored[5] == '/'))
		memcpy(stored, "INBOX", 5);
	return stored;
}

void imapd_write_mailbox(struct imapd_session *s, struct buf *out, const char *stored)
{
	struct buf u = BUF_INIT;
	const char *error;
	if (mutf7_decode(stored, strlen(stored), &u, &error) < 0 ||
	    imap_write_mailbox(out, u.data, u.len, s->utf8 ? IMAP_WRITE_UTF8 : 0) < 0)
		imap_write_astring(out, stored, strlen(stored), 0);
	buf_free(&u);
}

const char *imapd_special_use(const char *name)
{
	/* the attribute of each of lib-store's store_special_names, in their order */
	static const char *const attrs[STORE_SPECIAL_COUNT] = {"\\Sent", "\\Drafts", "\\Trash",
								"\\Junk", "\\Archive"};
	for (size_t i = 0; i < STORE_SPECIAL_COUNT; i++)
		if (strcmp(store_special_names[i], name) == 0)
			return attrs[i];
	return NULL;
}

char **imapd_subs_read(struct imapd_session *s, size_t *count_r)
{
	return store_subs_read(s->user.maildir, count_r);
}

int imapd_subs_change(struct imapd_session *s, const char *name, bool add)
{
	struct buf err = BUF_INIT;
	int rc = store_subs_change(s->user.maildir, &name, 1, add, (uid_t)-1, (gid_t)-1, &err);
	if (rc < 0)
		log_warn("user=<%s>: cannot %s", s->user.address, buf_cstr(&err));
	buf_free(&err);
	return rc;
}

/* Is name an existing folder? */
static bool mailbox_exists(struct imapd_session *s, const char *name)
{
	char **list;
	size_t n;
	struct buf err = BUF_INIT;
	bool found = false;
	if (store_list(s->store, &list, &n, &err) == 0) {
		for (size_t i = 0; i < n && !found; i++)
			found = strcmp(list[i], name) == 0;
		store_list_free(&list, n);
	}
	buf_free(&err);
	return found;
}

void imapd_cmd_create(struct imapd_session *s, struct imapd_cmd *cmd)
{
	if (cmd->count != 1) {
		imapd_bad(s, "CREATE takes a mailbox name");
		return;
	}
	char *name = imapd_mailbox_arg(s, &cmd->args[0]);
	if (name == NULL)
		return;
	size_t len = strlen(name);
	while (len > 1 && name[len - 1] == IMAPD_HIERARCHY_SEP)
		name[--len] = '\0';
	struct buf err = BUF_INIT;
	if (strcmp(name, "INBOX") == 0 || mailbox_exists(s, name))
		imapd_reply(s, "NO", "ALREADYEXISTS", "Mailbox already exists");
	else if (store_folder_create(s->store, name, &err) < 0)
		imapd_reply(s, "NO", "CANNOT", "%s", buf_cstr(&err));
	else
		imapd_reply(s, "OK", NULL, "CREATE completed");
	buf_free(&err);
	x_free(&name);
}

void imapd_cmd_delete(struct imapd_session *s, struct imapd_cmd *cmd)
{
	if (cmd->count != 1) {
		imapd_bad(s, "DELETE takes a mailbox name");
		return;
	}
	char *name = imapd_mailbox_arg(s, &cmd->args[0]);
	if (name == NULL)
		return;
	struct buf err = BUF_INIT;
	if (strcmp(name, "INBOX") == 0) {
		imapd_reply(s, "NO", "CANNOT", "INBOX cannot be deleted");
	} else if (!mailbox_exists(s, name)) {
		imapd_reply(s, "NO", "NONEXISTENT", "No such mailbox");
	} else {
		if (s->folder_name != NULL && strcmp(s->folder_name, name) == 0)
			imapd_unselect(s);
		if (store_folder_delete(s->store, name, &err) < 0)
			imapd_reply(s, "NO", "CANNOT", "%s", buf_cstr(&err));
		else
			imapd_reply(s, "OK", NULL, "DELETE completed");
	}
	buf_free(&err);
	x_free(&name);
}

/* RENAME INBOX: move its messages into a new folder; INBOX stays, empty. */
static int rename_inbox(struct imapd_session *s, const char *to, struct buf *err)
{
	struct store_folder *src, *dst;
	if (store_folder_create(s->store, to, err) < 0)
		return -1;
	if (store_folder_open(s->store, "INBOX", &src, err) < 0)
		return -1;
	if (store_folder_open(s->store, to, &dst, err) < 0) {
		store_folder_close(&src);
		return -1;
	}
	int rc = 0;
	size_t n = store_folder_count(src);
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint32_t uid;
		rc = store_move(src, store_folder_msg(src, i)->uid, dst, &uid, err);
	}
	store_folder_close(&dst);
	store_folder_close(&src);
	return rc;
}

void imapd_cmd_rename(struct imapd_session *s, struct imapd_cmd *cmd)
{
	if (cmd->count != 2) {
		imapd_bad(s, "RENAME takes two mailbox names");
		return;
	}
	char *from = imapd_mailbox_arg(s, &cmd->args[0]), *to = NULL;
	if (from == NULL || (to = imapd_mailbox_arg(s, &cmd->args[1])) == NULL) {
		x_free(&from);
		return;
	}
	struct buf err = BUF_INIT;
	if (strcmp(from, "INBOX") != 0 && !mailbox_exists(s, from))
		imapd_reply(s, "NO", "NONEXISTENT", "No such mailbox");
	else if (strcmp(to, "INBOX") == 0 || mailbox_exists(s, to))
		imapd_reply(s, "NO", "ALREADYEXISTS", "Target mailbox already exists");
	else if (strcmp(from, "INBOX") == 0 ? rename_inbox(s, to, &err) < 0
					    : store_folder_rename(s->store, from, to, &err) < 0)
		imapd_reply(s, "NO", "CANNOT", "%s", buf_cstr(&err));
	else
		imapd_reply(s, "OK", NULL, "RENAME completed");
	buf_free(&err);
	x_free(&from);
	x_free(&to);
}

static void subscribe(struct imapd_session *s, struct imapd_cmd *cmd, bool add)
{
	if (cmd->count != 1) {
		imapd_bad(s, "Expected a mailbox name");
		return;
	}
	char *name = imapd_mailbox_arg(s, &cmd->args[0]);
	if (name == NULL)
		return;
	if (add && strcmp(name, "INBOX") != 0 && !mailbox_exists(s, name))
		imapd_reply(s, "NO", "NONEXISTENT", "No such mailbox");
	else if (imapd_subs_change(s, name, add) < 0)
		imapd_reply(s, "NO", "SERVERBUG", "Cannot save the subscriptions");
	else
		imapd_reply(s, "OK", NULL, "%s completed", add ? "SUBSCRIBE" : "UNSUBSCRIBE");
	x_free(&name);
}

void imapd_cmd_subscribe(struct imapd_session *s, struct imapd_cmd *cmd)
{
	subscribe(s, cmd, true);
}

void imapd_cmd_unsubscribe(struct imapd_session *s, struct imapd_cmd *cmd)
{
	subscribe(s, cmd, false);
}

void imapd_cmd_namespace(struct imapd_session *s, struct imapd_cmd *cmd)
{
	imapd_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imapd_reply(s, "OK", NULL, "NAMESPACE completed");
}
