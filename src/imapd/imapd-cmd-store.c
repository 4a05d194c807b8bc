/* imapd-cmd-store: STORE and UID STORE (RFC 9051 6.4.6; RFC 7162 3.1.3 UNCHANGEDSINCE and
 * the MODIFIED response code), and EXPUNGE / UID EXPUNGE (RFC 9051 6.4.3, 6.4.9; RFC 4315
 * 2.1). STORE answers with the new flags unless .SILENT; the EXPUNGE responses of an
 * expunge come from the sync before the tagged reply.
 */
#include "imapd-int.h"
#include "store.h"
#include "xalloc.h"

#include <inttypes.h>
#include <string.h>

/* Drops the messages modified since unchangedsince, adding them to modified. */
static size_t store_unchanged(struct imapd_session *s, uint32_t *idx, size_t n, uint64_t since,
			      struct imap_seqset *modified, bool uid)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = store_folder_msg(s->folder, idx[i]);
		if (m->modseq > since) {
			uint32_t v = uid ? m->uid : idx[i] + 1;
			imap_seqset_add(modified, v, v);
		} else {
			idx[k++] = idx[i];
		}
	}
	return k;
}

static void store_report(struct imapd_session *s, const uint32_t *idx, size_t n, bool silent)
{
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = store_folder_msg(s->folder, idx[i]);
		imap_seqset_add(&s->shown, m->uid, m->uid);
		if (silent && !s->condstore)
			continue;
		buf_printf(&s->conn.out, "* %" PRIu32 " FETCH (UID %" PRIu32, idx[i] + 1, m->uid);
		if (!silent) { /* RFC 7162 3.1.3: MODSEQ is reported even for .SILENT */
			buf_append_str(&s->conn.out, " FLAGS ");
			imapd_flags_write(s, &s->conn.out, m);
		}
		if (s->condstore)
			buf_printf(&s->conn.out, " MODSEQ (%" PRIu64 ")", m->modseq);
		buf_append_str(&s->conn.out, ")\r\n");
	}
}

void imapd_cmd_store(struct imapd_session *s, struct imapd_cmd *cmd)
{
	struct imap_store st;
	const char *error;
	if (cmd->count < 2 || imap_store_parse(cmd->args + 1, cmd->count - 1, &st, &error) < 0) {
		imapd_bad(s,
			  cmd->count < 2 ? "STORE takes a message set, an item and flags" : error);
		return;
	}
	uint32_t *idx, flags, kw;
	size_t n;
	if (imapd_seqset_resolve(s, &cmd->args[0], cmd->uid, &idx, &n) < 0) {
		imap_store_free(&st);
		return;
	}
	if (s->readonly) {
		imapd_reply(s, "NO", "READ-ONLY", "Mailbox is read-only");
	} else if (imapd_flags_to_store(s, &st.flags, st.op != IMAP_STORE_REMOVE, &flags, &kw) ==
		   0) {
		struct imap_seqset modified = IMAP_SEQSET_INIT;
		if (st.unchangedsince_set) {
			imapd_condstore_enable(s);
			n = store_unchanged(s, idx, n, st.unchangedsince, &modified, cmd->uid);
		}
		uint32_t *uids = x_reallocarray(NULL, n + 1, sizeof(uint32_t));
		for (size_t i = 0; i < n; i++)
			uids[i] = store_folder_msg(s->folder, idx[i])->uid;
		enum store_flags_op op = st.op == IMAP_STORE_ADD      ? STORE_FLAGS_ADD
					 : st.op == IMAP_STORE_REMOVE ? STORE_FLAGS_REMOVE
								      : STORE_FLAGS_REPLACE;
		struct buf err = BUF_INIT;
		if (n > 0 && store_set_flags(s->folder, uids, n, op, flags, kw, &err) < 0) {
			imapd_reply(s, "NO", "SERVERBUG", "%s", buf_cstr(&err));
		} else {
			store_report(s, idx, n, st.silent);
			struct buf code = BUF_INIT;
			if (modified.count > 0) {
				buf_append_str(&code, "MODIFIED ");
				imap_seqset_write(&modified, &code);
			}
			imapd_reply(s, "OK", modified.count ? buf_cstr(&code) : NULL,
				    "%sSTORE completed", cmd->uid ? "UID " : "");
			buf_free(&code);
		}
		buf_free(&err);
		x_free(&uids);
		imap_seqset_free(&modified);
	}
	x_free(&idx);
	imap_store_free(&st);
}

void imapd_cmd_expunge(struct imapd_session *s, struct imapd_cmd *cmd)
{
	uint32_t *idx = NULL, *uids = NULL;
	size_t n = 0;
	if (cmd->uid ? cmd->count != 1 : cmd->count != 0) {
		imapd_bad(s,
			  cmd->uid ? "UID EXPUNGE takes a UID set" : "EXPUNGE takes no arguments");
		return;
	}
	if (cmd->uid) {
		if (imapd_seqset_resolve(s, &cmd->args[0], true, &idx, &n) < 0)
			return;
		uids = x_reallocarray(NULL, n + 1, sizeof(uint32_t));
		for (size_t i = 0; i < n; i++)
			uids[i] = store_folder_msg(s->folder, idx[i])->uid;
	}
	struct buf err = BUF_INIT;
	if (s->readonly)
		imapd_reply(s, "NO", "READ-ONLY", "Mailbox is read-only");
	else if ((!cmd->uid || n > 0) && store_expunge(s->folder, uids, n, &err) < 0)
		imapd_reply(s, "NO", "SERVERBUG", "%s", buf_cstr(&err));
	else
		imapd_reply(s, "OK", NULL, "%sEXPUNGE completed", cmd->uid ? "UID " : "");
	buf_free(&err);
	x_free(&idx);
	x_free(&uids);
}
