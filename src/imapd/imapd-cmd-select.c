/* imapd-cmd-select: SELECT and EXAMINE (RFC 9051 6.3.2-6.3.3, RFC 3501 6.3.1-6.3.2 for
 * RECENT and UNSEEN; RFC 7162 3.1.8 CONDSTORE parameter and HIGHESTMODSEQ), CLOSE,
 * UNSELECT (RFC 3691), CHECK, and the untagged updates of a selected mailbox (RFC 9051
 * 7.4.1, 5.5): EXPUNGE is only sent when no command using sequence numbers is running,
 * so FETCH, STORE and SEARCH by number never sync; everything else syncs before its
 * tagged reply.
 */
#include "imapd-int.h"
#include "log.h"
#include "store.h"
#include "xalloc.h"

#include <inttypes.h>
#include <string.h>

void imapd_unselect(struct imapd_session *s)
{
	imapd_idle_stop(s);
	store_folder_close(&s->folder);
	x_free(&s->folder_name);
	imap_seqset_clear(&s->saved);
	imap_seqset_clear(&s->shown);
	imap_seqset_clear(&s->recent);
	imapd_context_clear(s);
	s->recent_seen = 0;
	if (s->state == IMAPD_S_SELECTED)
		s->state = IMAPD_S_AUTH;
}

void imapd_condstore_enable(struct imapd_session *s)
{
	if (s->condstore)
		return;
	s->condstore = true;
	if (s->folder != NULL)
		imapd_untagged(s, "OK [HIGHESTMODSEQ %" PRIu64 "] Highest",
			       store_folder_highestmodseq(s->folder));
}

static void select_write(struct imapd_session *s)
{
	struct store_folder *f = s->folder;
	size_t n = store_folder_count(f);
	buf_append_str(&s->conn.out, "* FLAGS ");
	imapd_folder_flags_write(s, &s->conn.out, false);
	buf_append_str(&s->conn.out, "\r\n* OK [PERMANENTFLAGS ");
	imapd_folder_flags_write(s, &s->conn.out, !s->readonly);
	buf_append_str(&s->conn.out, "] Flags permitted\r\n");
	imapd_untagged(s, "%zu EXISTS", n);
	if (!s->rev2) {
		imapd_untagged(s, "%zu RECENT", imapd_recent_count(s));
		for (size_t i = 0; i < n; i++)
			if ((store_folder_msg(f, i)->flags & STORE_FLAG_SEEN) == 0) {
				imapd_untagged(s, "OK [UNSEEN %zu] First unseen", i + 1);
				break;
			}
	}
	imapd_untagged(s, "OK [UIDVALIDITY %" PRIu32 "] UIDs valid", store_folder_uidvalidity(f));
	imapd_untagged(s, "OK [UIDNEXT %" PRIu32 "] Predicted next UID", store_folder_uidnext(f));
	imapd_untagged(s, "OK [HIGHESTMODSEQ %" PRIu64 "] Highest", store_folder_highestmodseq(f));
	if (s->rev2) { /* RFC 9051 6.3.2 */
		buf_append_str(&s->conn.out, "* LIST () \"/\" ");
		imapd_write_mailbox(s, &s->conn.out, s->folder_name);
		buf_append_str(&s->conn.out, "\r\n");
	}
}

/* SELECT parameters: CONDSTORE (RFC 7162 3.1.8), QRESYNC (...) (3.2.5); -1 with BAD sent. */
static int select_params(struct imapd_session *s, const struct imap_arg *arg,
			 struct imapd_qresync *q)
{
	const struct imap_arg *p;
	size_t np;
	if (!imap_arg_get_list(arg, &p, &np) || np == 0) {
		imapd_bad(s, "Unsupported SELECT parameter");
		return -1;
	}
	for (size_t i = 0; i < np; i++) {
		if (imap_arg_is_atom(&p[i], "CONDSTORE")) {
			s->condstore = true;
		} else if (imap_arg_is_atom(&p[i], "QRESYNC") && i + 1 < np && !q->active) {
			if (!s->qresync) {
				imapd_bad(s, "QRESYNC is not enabled");
				return -1;
			}
			if (imapd_qresync_parse(&p[++i], q) < 0) {
				imapd_bad(s, "Invalid QRESYNC parameter");
				return -1;
			}
		} else {
			imapd_bad(s, "Unsupported SELECT parameter");
			return -1;
		}
	}
	return 0;
}

static void select_run(struct imapd_session *s, struct imapd_cmd *cmd, bool readonly)
{
	if (cmd->count < 1 || cmd->count > 2) {
		imapd_bad(s, "Expected a mailbox name");
		return;
	}
	struct imapd_qresync q;
	memset(&q, 0, sizeof(q));
	if (cmd->count == 2 && select_params(s, &cmd->args[1], &q) < 0) {
		imapd_qresync_free(&q);
		return;
	}
	char *name = imapd_mailbox_arg(s, &cmd->args[0]);
	if (name == NULL) {
		imapd_qresync_free(&q);
		return;
	}
	if (s->folder != NULL) {
		imapd_unselect(s);
		imapd_untagged(s, "OK [CLOSED] Previous mailbox closed");
	}
	struct buf err = BUF_INIT;
	if (store_folder_open(s->store, name, &s->folder, &err) < 0) {
		imapd_reply(s, "NO", "NONEXISTENT", "%s", buf_cstr(&err));
		buf_free(&err);
		x_free(&name);
		imapd_qresync_free(&q);
		return;
	}
	buf_free(&err);
	s->folder_name = name;
	s->readonly = readonly;
	s->state = IMAPD_S_SELECTED;
	imapd_recent_update(s);
	select_write(s);
	imapd_qresync_select(s, &q);
	imapd_qresync_free(&q);
	imapd_reply(s, "OK", readonly ? "READ-ONLY" : "READ-WRITE", "%s completed",
		    readonly ? "EXAMINE" : "SELECT");
}

void imapd_cmd_select(struct imapd_session *s, struct imapd_cmd *cmd)
{
	select_run(s, cmd, false);
}

void imapd_cmd_examine(struct imapd_session *s, struct imapd_cmd *cmd)
{
	select_run(s, cmd, true);
}

void imapd_cmd_close(struct imapd_session *s, struct imapd_cmd *cmd)
{
	struct buf err = BUF_INIT;
	if (!s->readonly && store_expunge(s->folder, NULL, 0, &err) < 0)
		log_warn("user=<%s>: CLOSE expunge: %s", s->user.address, buf_cstr(&err));
	buf_free(&err);
	imapd_unselect(s);
	imapd_reply(s, "OK", NULL, "CLOSE completed");
}

void imapd_cmd_unselect(struct imapd_session *s, struct imapd_cmd *cmd)
{
	imapd_unselect(s);
	imapd_reply(s, "OK", NULL, "UNSELECT completed");
}

void imapd_cmd_check(struct imapd_session *s, struct imapd_cmd *cmd)
{
	imapd_reply(s, "OK", NULL, "CHECK completed");
}

/* Drops expunged UIDs from the saved search result (RFC 5182 2.1). */
static void sync_saved(struct imapd_session *s, const struct store_changes *ch)
{
	if (s->saved.count == 0 || ch->expunged_count == 0)
		return;
	struct imap_seqset keep = IMAP_SEQSET_INIT;
	size_t pos = 0;
	uint32_t uid = 0;
	while (imap_seqset_next(&s->saved, &pos, &uid))
		if (store_folder_find(s->folder, uid) >= 0)
			imap_seqset_add(&keep, uid, uid);
	imap_seqset_free(&s->saved);
	s->saved = keep;
}

void imapd_sync(struct imapd_session *s, bool expunge)
{
	if (s->folder == NULL)
		return;
	if (!expunge) { /* the snapshot stays; our own flag changes are in it already */
		imapd_context_update(s);
		return;
	}
	struct store_changes ch;
	struct buf err = BUF_INIT;
	if (store_folder_sync(s->folder, &ch, &err) < 0) {
		log_warn("user=<%s>: sync %s: %s", s->user.address, s->folder_name, buf_cstr(&err));
		buf_free(&err);
		return;
	}
	buf_free(&err);
	if (ch.uidvalidity_changed) {
		imapd_untagged(s, "BYE [UIDVALIDITY] Mailbox UIDs changed, please reconnect");
		imapd_session_close(s);
		store_changes_free(&ch);
		return;
	}
	imapd_context_expunged(s, ch.expunged_uids, ch.expunged_seqs, ch.expunged_count);
	imapd_expunged_write(s, ch.expunged_uids, ch.expunged_seqs, ch.expunged_count);
	sync_saved(s, &ch);
	if (ch.new_count > 0)
		imapd_recent_update(s);
	if (ch.new_count > 0 || ch.expunged_count > 0)
		imapd_untagged(s, "%zu EXISTS", store_folder_count(s->folder));
	if (ch.new_count > 0 && !s->rev2)
		imapd_untagged(s, "%zu RECENT", imapd_recent_count(s));
	for (size_t i = 0; i < ch.changed_count; i++) {
		ssize_t idx = store_folder_find(s->folder, ch.changed_uids[i]);
		if (idx < 0 || imap_seqset_contains(&s->shown, ch.changed_uids[i]))
			continue;
		const struct store_msg *m = store_folder_msg(s->folder, (size_t)idx);
		buf_printf(&s->conn.out, "* %zd FETCH (UID %" PRIu32 " FLAGS ", idx + 1, m->uid);
		imapd_flags_write(s, &s->conn.out, m);
		if (s->condstore)
			buf_printf(&s->conn.out, " MODSEQ (%" PRIu64 ")", m->modseq);
		buf_append_str(&s->conn.out, ")\r\n");
	}
	imap_seqset_clear(&s->shown);
	store_changes_free(&ch);
	imapd_context_update(s);
}
