/* smtp-command: SMTP command lines and their arguments (RFC 5321 4.1).
 *
 * smtp_command_parse splits one command line (CRLF removed) into a verb and its
 * arguments; the smtp_*_args_parse functions parse the arguments of MAIL, RCPT (with the
 * ESMTP parameters of RFC 1870 SIZE, RFC 6152 BODY, RFC 3030 BINARYMIME, RFC 6531
 * SMTPUTF8, RFC 3461 DSN, RFC 4954 AUTH), BDAT (RFC 3030) and EHLO/HELO. All are pure
 * functions over the bytes given; errors come back as the reply to send.
 */
#ifndef TERN_SMTP_COMMAND_H
#define TERN_SMTP_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp-path.h"
#include "smtp-reply.h"

enum smtp_verb {
	SMTP_VERB_EHLO,
	SMTP_VERB_HELO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_HELP,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_XMAILQ, /* private (RFC 5321 4.1.5): the queue listing, local socket only */
	SMTP_VERB_COUNT,
	SMTP_VERB_UNKNOWN = SMTP_VERB_COUNT,
};

struct smtp_command {
	enum smtp_verb verb;
	const char *args; /* points into the line: after the verb and its space; "" if none */
	size_t args_len;  /* trailing spaces removed */
};

/* The verb's name in upper case ("UNKNOWN" for SMTP_VERB_UNKNOWN). */
const char *smtp_verb_name(enum smtp_verb verb);

/* Parses one command line (without its CRLF; it must not contain NUL). 0 on success;
 * -1 with err: 500 5.5.2 for a malformed line, 500 5.5.1 for an unknown verb (cmd->verb
 * is then SMTP_VERB_UNKNOWN), 501 5.5.4 for missing or unexpected arguments. */
int smtp_command_parse(const char *line, size_t len, struct smtp_command *cmd,
		       struct smtp_error *err);

enum smtp_body { SMTP_BODY_NONE, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME, SMTP_BODY_BINARYMIME };
enum smtp_ret { SMTP_RET_NONE, SMTP_RET_FULL, SMTP_RET_HDRS };
enum {
	SMTP_NOTIFY_NEVER = 1 << 0,
	SMTP_NOTIFY_SUCCESS = 1 << 1,
	SMTP_NOTIFY_FAILURE = 1 << 2,
	SMTP_NOTIFY_DELAY = 1 << 3,
};

#define SMTP_XTEXT_MAX 500 /* ENVID is at most 100 (RFC 3461 4.4), ORCPT 500 (4.2) */

struct smtp_mail_args {
	struct smtp_path path;
	bool size_set;
	uint64_t size;       /* SIZE=; UINT64_MAX when the number does not fit */
	enum smtp_body body; /* BODY= */
	bool smtputf8;       /* SMTPUTF8 */
	enum smtp_ret ret;   /* RET= */
	char *envid;         /* ENVID= (xtext, as given), or NULL */
	char *auth;          /* AUTH= (xtext, as given), or NULL */
};

struct smtp_rcpt_args {
	struct smtp_path path;
	unsigned notify; /* SMTP_NOTIFY_* bits; 0 when not given */
	char *orcpt;     /* ORCPT= (addr-type;xtext, as given), or NULL */
};

/* args: what follows "MAIL " ("FROM:<path> params"). UTF-8 in the path without SMTPUTF8
 * is 553 5.6.7 (RFC 6531 3.5); unknown parameters are 555 5.5.4 (RFC 5321 4.1.1.11). */
int smtp_mail_args_parse(const char *args, size_t len, struct smtp_mail_args *m,
			 struct smtp_error *err);
void smtp_mail_args_free(struct smtp_mail_args *m);
/* args: what follows "RCPT " ("TO:<path> params"); smtputf8: the transaction's MAIL had
 * SMTPUTF8. */
int smtp_rcpt_args_parse(const char *args, size_t len, bool smtputf8, struct smtp_rcpt_args *r,
			 struct smtp_error *err);
void smtp_rcpt_args_free(struct smtp_rcpt_args *r);
/* "BDAT size [LAST]" (RFC 3030 2). */
int smtp_bdat_args_parse(const char *args, size_t len, uint64_t *size_r, bool *last_r,
			 struct smtp_error *err);
/* The EHLO/HELO argument: a domain or address literal (RFC 5321 4.1.1.1). Clients send
 * all kinds of names, so anything printable without spaces is accepted (RFC 5321 4.1.4:
 * a server must not refuse mail for a wrong HELO name); *name_r is a copy. */
int smtp_helo_arg_parse(const char *args, size_t len, char **name_r, struct smtp_error *err);
/* Is s[0..n) xtext (RFC 3461 4)? */
bool smtp_xtext_valid(const char *s, size_t n);

#endif
