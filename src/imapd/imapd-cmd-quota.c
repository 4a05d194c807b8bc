/* imapd-cmd-quota: QUOTA (RFC 9208): GETQUOTAROOT, GETQUOTA, SETQUOTA.
 *
 * A user has one quota root, "" (RFC 9208 3: a server-defined name), covering every
 * folder: the quota_bytes / quota_messages of the user directory, which local delivery
 * enforces. STORAGE is reported in units of 1024 octets (RFC 9208 5.1), MESSAGE in
 * messages. A user without a quota has no quota root. Limits are set by the
 * administrator (`tern user`), so SETQUOTA is refused.
 */
#include "imapd-int.h"
#include "log.h"
#include "store.h"

#include <inttypes.h>
#include <string.h>

static bool quota_none(const struct imapd_session *s)
{
	return s->user.quota_bytes == 0 && s->user.quota_messages == 0;
}

/* Writes "* QUOTA "" (...)"; false (NO sent) when the usage cannot be counted. */
static bool quota_untagged(struct imapd_session *s)
{
	uint64_t bytes = 0, messages = 0;
	struct buf err = BUF_INIT;
	if (store_usage(s->store, &bytes, &messages, &err) < 0) {
		log_error("quota: user=<%s>: %s", s->user.address, buf_cstr(&err));
		imapd_reply(s, "NO", "SERVERBUG", "Cannot count the mailbox usage");
		buf_free(&err);
		return false;
	}
	buf_free(&err);
	struct buf list = BUF_INIT;
	if (s->user.quota_bytes != 0)
		buf_printf(&list, "STORAGE %" PRIu64 " %" PRIu64, (bytes + 1023) / 1024,
			   s->user.quota_bytes / 1024);
	if (s->user.quota_messages != 0)
		buf_printf(&list, "%sMESSAGE %" PRIu64 " %" PRIu64, list.len ? " " : "", messages,
			   s->user.quota_messages);
	imapd_untagged(s, "QUOTA \"\" (%s)", buf_cstr(&list));
	buf_free(&list);
	return true;
}

void imapd_cmd_getquotaroot(struct imapd_session *s, struct imapd_cmd *cmd)
{
	const char *name;
	size_t len;
	if (cmd->count != 1 || !imap_arg_get_astring(&cmd->args[0], &name, &len)) {
		imapd_bad(s, "GETQUOTAROOT takes a mailbox name");
		return;
	}
	struct buf line = BUF_INIT;
	buf_append_str(&line, "QUOTAROOT ");
	imap_write_astring(&line, name, len, s->utf8 ? IMAP_WRITE_UTF8 : 0);
	if (quota_none(s)) {
		imapd_untagged(s, "%s", buf_cstr(&line));
	} else {
		buf_append_str(&line, " \"\"");
		imapd_untagged(s, "%s", buf_cstr(&line));
		if (!quota_untagged(s)) {
			buf_free(&line);
			return;
		}
	}
	buf_free(&line);
	imapd_reply(s, "OK", NULL, "GETQUOTAROOT completed");
}

void imapd_cmd_getquota(struct imapd_session *s, struct imapd_cmd *cmd)
{
	const char *root;
	size_t len;
	if (cmd->count != 1 || !imap_arg_get_astring(&cmd->args[0], &root, &len)) {
		imapd_bad(s, "GETQUOTA takes a quota root");
		return;
	}
	if (len != 0 || quota_none(s)) {
		imapd_reply(s, "NO", "NONEXISTENT", "No such quota root");
		return;
	}
	if (quota_untagged(s))
		imapd_reply(s, "OK", NULL, "GETQUOTA completed");
}

void imapd_cmd_setquota(struct imapd_session *s, struct imapd_cmd *cmd)
{
	imapd_reply(s, "NO", "NOPERM", "Quotas are set by the administrator");
}
