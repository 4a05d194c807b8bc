/* imapd-cmd-copy: COPY, UID COPY (RFC 9051 6.4.7), MOVE, UID MOVE (RFC 6851), with the
 * COPYUID response code of UIDPLUS (RFC 4315 3). MOVE sends the EXPUNGE responses of the
 * moved messages (from the sync before the tagged reply, RFC 6851 3.3), and the COPYUID
 * in an untagged OK before them.
 */
#include "imapd-int.h"
#include "store.h"
#include "xalloc.h"

#include <inttypes.h>
#include <string.h>

static void copy_run(struct imapd_session *s, struct imapd_cmd *cmd, bool move)
{
	if (cmd->count != 2) {
		imapd_bad(s, "Expected a message set and a mailbox");
		return;
	}
	uint32_t *idx;
	size_t n;
	char *name = imapd_mailbox_arg(s, &cmd->args[1]);
	if (name == NULL)
		return;
	if (imapd_seqset_resolve(s, &cmd->args[0], cmd->uid, &idx, &n) < 0) {
		x_free(&name);
		return;
	}
	struct store_folder *dst;
	struct buf err = BUF_INIT;
	if (move && s->readonly) {
		imapd_reply(s, "NO", "READ-ONLY", "Mailbox is read-only");
	} else if (store_folder_open(s->store, name, &dst, &err) < 0) {
		imapd_reply(s, "NO", "TRYCREATE", "%s", buf_cstr(&err));
	} else {
		struct imap_seqset src = IMAP_SEQSET_INIT, out = IMAP_SEQSET_INIT;
		int rc = 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			uint32_t uid = store_folder_msg(s->folder, idx[i])->uid, nu;
			rc = move ? store_move(s->folder, uid, dst, &nu, &err)
				  : store_copy(s->folder, uid, dst, &nu, &err);
			if (rc == 0) {
				imap_seqset_add(&src, uid, uid);
				imap_seqset_add(&out, nu, nu);
			}
		}
		struct buf code = BUF_INIT;
		if (src.count > 0) {
			buf_printf(&code, "COPYUID %" PRIu32 " ", store_folder_uidvalidity(dst));
			imap_seqset_write(&src, &code);
			buf_append_char(&code, ' ');
			imap_seqset_write(&out, &code);
		}
		store_folder_close(&dst);
		if (rc < 0) {
			imapd_reply(s, "NO", "SERVERBUG", "%s", buf_cstr(&err));
		} else if (move) {
			if (code.len > 0)
				imapd_untagged(s, "OK [%s] Moved", buf_cstr(&code));
			imapd_reply(s, "OK", NULL, "%sMOVE completed", cmd->uid ? "UID " : "");
		} else {
			imapd_reply(s, "OK", code.len ? buf_cstr(&code) : NULL, "%sCOPY completed",
				    cmd->uid ? "UID " : "");
		}
		buf_free(&code);
		imap_seqset_free(&src);
		imap_seqset_free(&out);
	}
	buf_free(&err);
	x_free(&idx);
	x_free(&name);
}

void imapd_cmd_copy(struct imapd_session *s, struct imapd_cmd *cmd)
{
	copy_run(s, cmd, false);
}

void imapd_cmd_move(struct imapd_session *s, struct imapd_cmd *cmd)
{
	copy_run(s, cmd, true);
}
