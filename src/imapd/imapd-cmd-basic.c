/* imapd-cmd-basic: commands of any state (RFC 9051 6.1: CAPABILITY, NOOP, LOGOUT), ID
 * (RFC 2971), ENABLE (RFC 5161; IMAP4rev2, CONDSTORE RFC 7162, UTF8=ACCEPT RFC 6855) and
 * The capability list names only what is complete (STARTTLS is in imapd-tls.c).
 */
#include "imapd-int.h"
#include "auth.h"
#include "log.h"
#include "tern-version.h"
#include "util.h"

#include <inttypes.h>
#include <string.h>

void imapd_capability_write(struct imapd_session *s, struct buf *out)
{
	buf_append_str(out, "CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE IDLE");
	if (s->state == IMAPD_S_NOAUTH) {
		if (!s->conn.tls && s->stls_ctx != NULL)
			buf_append_str(out, " STARTTLS");
		if (!imapd_plaintext_ok(s))
			buf_append_str(out, " LOGINDISABLED");
		buf_append_str(out, " SASL-IR");
		const char *mechs = auth_mech_list(s->server->core.auth, s->conn.tls || s->conn.local, s->conn.loopback);
		while (*mechs != '\0') {
			size_t n = strcspn(mechs, " ");
			if (n > 0)
				buf_printf(out, " AUTH=%.*s", (int)n, mechs);
			mechs += n + (mechs[n] == ' ');
		}
		return;
	}
	buf_append_str(out, " NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN LIST-EXTENDED LIST-STATUS"
			    " SPECIAL-USE ESEARCH SEARCHRES MULTIAPPEND CATENATE BINARY CONDSTORE QRESYNC"
			    " SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES"
			    " CONTEXT=SEARCH CONTEXT=SORT NOTIFY COMPRESS=DEFLATE UTF8=ACCEPT"
			    " STATUS=SIZE QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE");
	buf_printf(out, " APPENDLIMIT=%" PRIu64, s->server->set.max_literal);
}

void imapd_cmd_capability(struct imapd_session *s, struct imapd_cmd *cmd)
{
	if (cmd->count != 0) {
		imapd_bad(s, "CAPABILITY takes no arguments");
		return;
	}
	buf_append_str(&s->conn.out, "* ");
	imapd_capability_write(s, &s->conn.out);
	buf_append_str(&s->conn.out, "\r\n");
	imapd_reply(s, "OK", NULL, "CAPABILITY completed");
}

void imapd_cmd_noop(struct imapd_session *s, struct imapd_cmd *cmd)
{
	imapd_reply(s, "OK", NULL, "NOOP completed");
}

void imapd_cmd_logout(struct imapd_session *s, struct imapd_cmd *cmd)
{
	imapd_untagged(s, "BYE Logging out");
	if (s->state == IMAPD_S_SELECTED)
		imapd_unselect(s);
	enum imapd_state was = s->state;
	s->state = IMAPD_S_LOGOUT;
	imapd_reply(s, "OK", NULL, "LOGOUT completed");
	s->state = was; /* so that the session end logs the user out */
	imapd_session_close(s);
}

void imapd_cmd_id(struct imapd_session *s, struct imapd_cmd *cmd)
{
	const struct imap_arg *list;
	size_t n;
	if (cmd->count != 1 ||
	    (cmd->args[0].type != IMAP_ARG_NIL &&
	     (!imap_arg_get_list(&cmd->args[0], &list, &n) || n % 2 != 0 || n > 60))) {
		imapd_bad(s, "ID takes NIL or a list of field-value pairs");
		return;
	}
	imapd_untagged(s, "ID (\"name\" \"Tern\" \"version\" \"%s\")", TERN_VERSION);
	imapd_reply(s, "OK", NULL, "ID completed");
}

void imapd_cmd_enable(struct imapd_session *s, struct imapd_cmd *cmd)
{
	if (cmd->count == 0) {
		imapd_bad(s, "ENABLE needs capability names");
		return;
	}
	struct buf line = BUF_INIT;
	buf_append_str(&line, "* ENABLED");
	for (size_t i = 0; i < cmd->count; i++) {
		const char *name;
		if (!imap_arg_get_atom(&cmd->args[i], &name)) {
			buf_free(&line);
			imapd_bad(s, "ENABLE takes atoms");
			return;
		}
		bool *flag = NULL;
		if (str_ieq(name, "IMAP4rev2"))
			flag = &s->rev2;
		else if (str_ieq(name, "CONDSTORE"))
			flag = &s->condstore;
		else if (str_ieq(name, "UTF8=ACCEPT"))
			flag = &s->utf8;
		else if (str_ieq(name, "QRESYNC"))
			flag = &s->qresync;
		if (flag == NULL || *flag)
			continue;
		*flag = true;
		buf_printf(&line, " %s", name);
	}
	buf_append_str(&line, "\r\n");
	buf_append(&s->conn.out, line.data, line.len);
	if (s->qresync) /* RFC 7162 3.2.3: QRESYNC implies CONDSTORE */
		imapd_condstore_enable(s);
	buf_free(&line);
	imapd_reply(s, "OK", NULL, "ENABLE completed");
}

