/* smtpd-cmd-mail: MAIL (RFC 5321 4.1.1.2; SIZE RFC 1870 4; SMTPUTF8 RFC 6531 3.4; RET and
 * ENVID of RFC 3461 4.3, 4.4, kept for the queue by smtpd-data.c).
 *
 * Submission needs AUTH first (RFC 6409 4.3: 530 5.7.0), and an authenticated client sends
 * as itself (RFC 6409 6.1: 553 5.7.1, smtpd-auth.c). RCPT and relay control are in
 * smtpd-rcpt.c. The sender is then rewritten (canonical maps, masquerading: lib-rewrite),
 * after the sender rule has judged it as the client gave it.
 */
#include "smtpd-private.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rewrite.h"
#include "util.h"
#include "xalloc.h"

static void smtpd_mail_reject(struct smtpd_session *s, int code, const char *enh, const char *text)
{
	smtpd_reply(s, code, enh, "%s", text);
	smtpd_log_reject(s, "MAIL", code, enh, text, NULL);
}

/* Rewrites the envelope sender in place; -1 when a table could not be read. */
static int smtpd_mail_rewrite(struct smtpd_session *s, struct smtp_path *path)
{
	struct rewrite *r = s->set->rewrite;
	if (path->mailbox[0] == '\0' || !rewrite_enabled(r, REWRITE_ENVELOPE_SENDER))
		return 0;
	char *out = NULL;
	struct buf err = BUF_INIT;
	int k = rewrite_address(r, REWRITE_ENVELOPE_SENDER, path->mailbox, &out, &err);
	if (k < 0)
		log_error("sender rewriting: %s", buf_cstr(&err));
	buf_free(&err);
	if (k <= 0)
		return k;
	log_debug("%s: sender <%s> rewritten to <%s>", s->client,
		  log_safe(path->mailbox, strlen(path->mailbox), 300), log_safe(out, strlen(out), 300));
	const char *at = strrchr(out, '@');
	free(path->local);
	free(path->domain);
	path->local = x_strndup(out, (size_t)(at - out));
	path->domain = x_strdup(at + 1);
	free(path->mailbox);
	path->mailbox = out;
	return 0;
}

void smtpd_cmd_mail(struct smtpd_session *s, const struct smtp_command *cmd)
{
	if (s->submission && s->local_user == NULL && s->auth_user == NULL) {
		/* RFC 6409 4.3, RFC 4954 6: submission needs authentication. */
		smtpd_mail_reject(s, 530, "5.7.0", "Authentication required");
		return;
	}
	struct smtp_error err;
	struct smtp_mail_args m;
	if (smtp_mail_args_parse(cmd->args, cmd->args_len, &m, &err) < 0) {
		smtpd_mail_reject(s, err.code, err.enh, err.text);
		return;
	}
	if (m.size_set && m.size > s->set->max_message_size) {
		smtp_mail_args_free(&m);
		smtpd_mail_reject(s, 552, "5.3.4", "Message size exceeds fixed limit");
		return;
	}
	if (m.body == SMTP_BODY_BINARYMIME) {
		smtp_mail_args_free(&m);
		smtpd_mail_reject(s, 555, "5.5.4", "BINARYMIME not supported");
		return;
	}
	if (s->auth_user != NULL && !smtpd_auth_sender_ok(s, &m.path)) {
		log_info("reject: MAIL from %s: sender <%s> not owned by user <%s>", s->client,
			 log_safe(m.path.mailbox, strlen(m.path.mailbox), 300),
			 log_safe(s->auth_user, strlen(s->auth_user), 300));
		smtp_mail_args_free(&m);
		smtpd_reply(s, 553, "5.7.1", "Sender address rejected: not owned by user %s",
			    s->auth_user);
		return;
	}
	if (s->local_socket && !smtpd_local_sender_ok(s, &m.path)) {
		log_info("reject: MAIL from %s: sender <%s> is not user %s's own", s->client,
			 log_safe(m.path.mailbox, strlen(m.path.mailbox), 300), s->local_user);
		smtp_mail_args_free(&m);
		smtpd_reply(s, 553, "5.7.1", "Sender address rejected: not owned by user %s",
			    s->local_user);
		return;
	}
	if (smtpd_mail_rewrite(s, &m.path) < 0) {
		smtp_mail_args_free(&m);
		smtpd_mail_reject(s, 451, "4.3.0", "Temporary lookup failure");
		return;
	}
	smtpd_transaction_reset(s);
	s->mail = m;
	s->state = SMTPD_MAIL;
	smtpd_reply(s, 250, "2.1.0", "Ok");
}
