/* smtpd-cmd-basic: the verb table and the commands outside a mail transaction:
 * EHLO/HELO (RFC 5321 4.1.1.1, extensions of RFC 1870, 2920, 6152, 2034, 6531, 3030),
 * RSET, NOOP, QUIT, HELP, VRFY (RFC 5321 3.5.3: 252 when we will not say), EXPN.
 * EHLO also offers STARTTLS (RFC 3207 4: only before TLS) and AUTH (RFC 4954 3), whose
 * commands are in smtpd-tls.c and smtpd-auth.c.
 */
#include "smtpd-private.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "userdb.h"
#include "xalloc.h"

static const struct smtpd_command smtpd_commands[] = {
    {SMTP_VERB_EHLO, SMTPD_ANY_COMMAND, false, smtpd_cmd_ehlo},
    {SMTP_VERB_HELO, SMTPD_ANY_COMMAND, false, smtpd_cmd_helo},
    {SMTP_VERB_MAIL, SMTPD_READY, true, smtpd_cmd_mail},
    {SMTP_VERB_RCPT, SMTPD_MAIL | SMTPD_RCPT, true, smtpd_cmd_rcpt},
    {SMTP_VERB_DATA, SMTPD_RCPT, false, smtpd_cmd_data},
    /* BDAT always reads its chunk, even when refused (RFC 3030 2), so it is allowed
     * everywhere and its handler decides. */
    {SMTP_VERB_BDAT, SMTPD_ANY_COMMAND, true, smtpd_cmd_bdat},
    {SMTP_VERB_RSET, SMTPD_ANY_COMMAND, true, smtpd_cmd_rset},
    {SMTP_VERB_NOOP, SMTPD_ANY_COMMAND, false, smtpd_cmd_noop},
    {SMTP_VERB_QUIT, SMTPD_ANY_COMMAND, false, smtpd_cmd_quit},
    {SMTP_VERB_HELP, SMTPD_ANY_COMMAND, true, smtpd_cmd_help},
    {SMTP_VERB_VRFY, SMTPD_ANY_COMMAND, false, smtpd_cmd_vrfy},
    {SMTP_VERB_EXPN, SMTPD_ANY_COMMAND, false, smtpd_cmd_expn},
    {SMTP_VERB_STARTTLS, SMTPD_GREET | SMTPD_READY, false, smtpd_cmd_starttls},
    {SMTP_VERB_AUTH, SMTPD_ANY_COMMAND, false, smtpd_cmd_auth},
    {SMTP_VERB_XMAILQ, SMTPD_GREET | SMTPD_READY, false, smtpd_cmd_xmailq},
};

const struct smtpd_command *smtpd_command_find(enum smtp_verb verb)
{
	for (size_t i = 0; i < sizeof(smtpd_commands) / sizeof(smtpd_commands[0]); i++)
		if (smtpd_commands[i].verb == verb)
			return &smtpd_commands[i];
	return NULL;
}

static bool smtpd_hello(struct smtpd_session *s, const struct smtp_command *cmd)
{
	struct smtp_error err;
	char *name;
	if (smtp_helo_arg_parse(cmd->args, cmd->args_len, &name, &err) < 0) {
		smtpd_reply_error(s, &err);
		return false;
	}
	/* RFC 5321 4.1.4: a new EHLO/HELO ends any transaction in progress. */
	smtpd_transaction_reset(s);
	x_free(&s->helo);
	s->helo = name;
	s->state = SMTPD_READY;
	return true;
}

void smtpd_cmd_ehlo(struct smtpd_session *s, const struct smtp_command *cmd)
{
	if (!smtpd_hello(s, cmd))
		return;
	s->esmtp = true;
	struct buf b = BUF_INIT;
	buf_printf(&b,
		   "%s\nPIPELINING\nSIZE %llu\n8BITMIME\nENHANCEDSTATUSCODES\nSMTPUTF8\n"
		   "CHUNKING\nDSN",
		   s->set->hostname, (unsigned long long)s->set->max_message_size);
	if (s->set->vrfy)
		buf_append_str(&b, "\nVRFY");
	if (s->tls_mode == SMTPD_TLS_STARTTLS && !s->tls && s->tls_ctx != NULL)
		buf_append_str(&b, "\nSTARTTLS");
	const char *mechs = smtpd_auth_ehlo(s);
	if (mechs != NULL && mechs[0] != '\0')
		buf_printf(&b, "\nAUTH %s", mechs);
	smtpd_reply(s, 250, NULL, "%s", buf_cstr(&b));
	buf_free(&b);
}

void smtpd_cmd_helo(struct smtpd_session *s, const struct smtp_command *cmd)
{
	if (!smtpd_hello(s, cmd))
		return;
	s->esmtp = false;
	smtpd_reply(s, 250, NULL, "%s", s->set->hostname);
}

void smtpd_cmd_rset(struct smtpd_session *s, const struct smtp_command *cmd)
{
	smtpd_transaction_reset(s);
	smtpd_reply(s, 250, "2.0.0", "Ok");
}

void smtpd_cmd_noop(struct smtpd_session *s, const struct smtp_command *cmd)
{
	smtpd_reply(s, 250, "2.0.0", "Ok");
}

void smtpd_cmd_quit(struct smtpd_session *s, const struct smtp_command *cmd)
{
	smtpd_session_close(s, 221, "2.0.0", "Bye");
}

void smtpd_cmd_help(struct smtpd_session *s, const struct smtp_command *cmd)
{
	smtpd_reply(s, 214, "2.0.0",
		    "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY STARTTLS "
		    "AUTH");
}

/* VRFY: with smtp_vrfy on, says whether a local user exists; else 252 (RFC 5321 3.5.3). */
void smtpd_cmd_vrfy(struct smtpd_session *s, const struct smtp_command *cmd)
{
	if (!s->set->vrfy) {
		smtpd_reply(s, 252, "2.1.5",
			    "Cannot VRFY user, but will accept message and "
			    "attempt delivery");
		return;
	}
	char *arg = x_strndup(cmd->args, cmd->args_len);
	size_t n = strlen(arg);
	if (n >= 2 && arg[0] == '<' && arg[n - 1] == '>') {
		memmove(arg, arg + 1, n - 2);
		arg[n - 2] = '\0';
	}
	struct user_info info;
	struct buf err = BUF_INIT;
	int r = strchr(arg, '@') ? userdb_lookup(s->set->userdb, arg, &info, &err) : 0;
	if (r > 0) {
		smtpd_reply(s, 250, "2.1.5", "<%s>", info.address);
		user_info_free(&info);
	} else if (r == 0) {
		smtpd_reply(s, 550, "5.1.1", "<%s>: User unknown", arg);
	} else {
		log_error("user directory: %s", buf_cstr(&err));
		smtpd_reply(s, 451, "4.3.0", "Temporary lookup failure");
	}
	buf_free(&err);
	free(arg);
}

void smtpd_cmd_expn(struct smtpd_session *s, const struct smtp_command *cmd)
{
	smtpd_reply(s, 502, "5.5.1", "EXPN not available");
}
