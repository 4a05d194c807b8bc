/* smtpd-cmd-mail: MAIL and RCPT (RFC 5321 4.1.1.2, 4.1.1.3; SIZE RFC 1870 4; SMTPUTF8
 * RFC 6531 3.4; recipient limits RFC 5321 4.5.3.1.8).
 *
 * Only local domains are accepted, and in them only existing users (the user directory
 * says): no relaying, ever, except for a trusted local submission (inetd with a local
 * user) or an authenticated client (RFC 4954, RFC 6409), whose other recipients are
 * queued as given. Submission needs AUTH first (RFC 6409 4.3: 530 5.7.0), and an
 * authenticated client sends as itself (RFC 6409 6.1: 553 5.7.1, smtpd-auth.c). Address tricks
 * (user%host@local, "user@host"@local, bang paths) are not routed anywhere: they are unknown users.
 */
#include "smtpd-private.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "userdb.h"
#include "util.h"
#include "xalloc.h"

static void smtpd_mail_reject(struct smtpd_session *s, int code, const char *enh, const char *text)
{
	smtpd_reply(s, code, enh, "%s", text);
	smtpd_log_reject(s, "MAIL", code, enh, text, NULL);
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
	smtpd_transaction_reset(s);
	s->mail = m;
	s->state = SMTPD_MAIL;
	smtpd_reply(s, 250, "2.1.0", "Ok");
}

static void smtpd_rcpt_reject(struct smtpd_session *s, const char *to, int code, const char *enh,
			      const char *text)
{
	smtpd_reply(s, code, enh, "<%s>: %s", to, text);
	smtpd_log_reject(s, "RCPT", code, enh, text, to);
}

static void smtpd_rcpt_add(struct smtpd_session *s, const char *addr, const char *given)
{
	for (size_t i = 0; i < s->nrcpt; i++)
		if (str_ieq(s->rcpts[i].addr, addr))
			return; /* once is enough */
	if (s->nrcpt == s->rcpt_cap) {
		s->rcpt_cap = s->rcpt_cap ? s->rcpt_cap * 2 : 8;
		s->rcpts = x_reallocarray(s->rcpts, s->rcpt_cap, sizeof(*s->rcpts));
	}
	s->rcpts[s->nrcpt].addr = x_strdup(addr);
	s->rcpts[s->nrcpt].given = x_strdup(given);
	s->nrcpt++;
}

/* The address to look up: <postmaster> alone means the postmaster of our first domain
 * (RFC 5321 4.1.1.3). NULL when no local domain is configured. */
static char *smtpd_rcpt_address(struct smtpd_session *s, const struct smtp_path *p)
{
	if (p->domain[0] != '\0')
		return x_strdup(p->mailbox);
	char **words;
	size_t n = conf_words(conf_str(s->set->conf, "domains"), &words);
	char *a = n > 0 ? x_asprintf("%s@%s", p->local, words[0]) : NULL;
	conf_words_free(&words, n);
	return a;
}

void smtpd_cmd_rcpt(struct smtpd_session *s, const struct smtp_command *cmd)
{
	struct smtp_error err;
	struct smtp_rcpt_args r;
	if (smtp_rcpt_args_parse(cmd->args, cmd->args_len, s->mail.smtputf8, &r, &err) < 0) {
		smtpd_reply_error(s, &err);
		smtpd_log_reject(s, "RCPT", err.code, err.enh, err.text, NULL);
		return;
	}
	if (s->bdat_active) {
		smtpd_reply(s, 503, "5.5.1", "Error: RCPT after BDAT");
	} else if (s->nrcpt >= s->set->max_recipients) {
		smtpd_rcpt_reject(s, r.path.mailbox, 452, "4.5.3", "Too many recipients");
	} else {
		char *addr = smtpd_rcpt_address(s, &r.path);
		const char *at = addr ? strrchr(addr, '@') : NULL;
		bool local =
		    at != NULL && !r.path.literal && userdb_is_local_domain(s->set->userdb, at + 1);
		struct user_info info;
		struct buf lerr = BUF_INIT;
		int found = local ? userdb_lookup(s->set->userdb, addr, &info, &lerr) : 0;
		bool relay = s->local_user != NULL || s->auth_user != NULL;
		if (!local && relay && addr != NULL) {
			smtpd_rcpt_add(s, addr, r.path.mailbox);
			s->state = SMTPD_RCPT;
			smtpd_reply(s, 250, "2.1.5", "Ok");
		} else if (!local) {
			smtpd_rcpt_reject(s, r.path.mailbox, 554, "5.7.1", "Relay access denied");
		} else if (found > 0) {
			smtpd_rcpt_add(s, info.address, r.path.mailbox);
			user_info_free(&info);
			s->state = SMTPD_RCPT;
			smtpd_reply(s, 250, "2.1.5", "Ok");
		} else if (found == 0) {
			smtpd_rcpt_reject(s, r.path.mailbox, 550, "5.1.1",
					  "Recipient address rejected: User unknown");
		} else {
			log_error("user directory: %s", buf_cstr(&lerr));
			smtpd_rcpt_reject(s, r.path.mailbox, 451, "4.3.0",
					  "Temporary lookup failure");
		}
		buf_free(&lerr);
		free(addr);
	}
	smtp_rcpt_args_free(&r);
}
