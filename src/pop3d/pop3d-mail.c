/* pop3d-mail: the TRANSACTION state commands of RFC 1939 section 5 (STAT, LIST, DELE,
 * NOOP, RSET), UIDL (section 7) and QUIT with the UPDATE state (section 6).
 *
 * Message numbers index the snapshot taken at login. Sizes are CRLF sizes
 * (store_msg_vsize). A UIDL is "%08x%08x" of the message's IMAP UID and the folder's
 * UIDVALIDITY (the same pair as Dovecot's %08Xu%08Xv, in lower case): stable across
 * sessions and index rebuilds (the store keeps UIDs), and shared with IMAP. Deletions
 * happen only at QUIT: \Deleted then expunge of exactly the marked UIDs; RETR'd messages
 * get \Seen at the same time. A dropped connection changes nothing.
 */
#include "pop3d-int.h"
#include "log.h"
#include "store.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

struct pop3d_msg *pop3d_msg_arg(struct pop3d_session *s, const char *arg)
{
	size_t n = 0, i = 0;
	for (; arg[i] >= '0' && arg[i] <= '9' && i < 10; i++)
		n = n * 10 + (size_t)(arg[i] - '0');
	if (i == 0 || arg[i] != '\0' || n == 0 || n > s->msg_count) {
		pop3d_session_err(s, POP3_CODE_NONE, "no such message");
		return NULL;
	}
	struct pop3d_msg *m = &s->msgs[n - 1];
	if (m->deleted) {
		pop3d_session_err(s, POP3_CODE_NONE, "message %zu already deleted", n);
		return NULL;
	}
	return m;
}

uint64_t pop3d_msg_vsize(struct pop3d_session *s, struct pop3d_msg *m)
{
	if (!m->vsize_known) {
		struct buf err = BUF_INIT;
		if (store_msg_vsize(s->folder, m->uid, &m->vsize, &err) < 0) {
			/* gone behind our back: report the size the snapshot had */
			ssize_t idx = store_folder_find(s->folder, m->uid);
			m->vsize = idx >= 0 ? store_folder_msg(s->folder, (size_t)idx)->size : 0;
		}
		buf_free(&err);
		m->vsize_known = true;
	}
	return m->vsize;
}

static size_t msg_number(struct pop3d_session *s, const struct pop3d_msg *m)
{
	return (size_t)(m - s->msgs) + 1;
}

/* Messages not marked deleted, and their octets. */
static void mail_totals(struct pop3d_session *s, size_t *count_r, uint64_t *octets_r)
{
	*count_r = 0;
	*octets_r = 0;
	for (size_t i = 0; i < s->msg_count; i++)
		if (!s->msgs[i].deleted) {
			(*count_r)++;
			*octets_r += pop3d_msg_vsize(s, &s->msgs[i]);
		}
}

void pop3d_cmd_stat(struct pop3d_session *s, const struct pop3_command *cmd)
{
	size_t count;
	uint64_t octets;
	mail_totals(s, &count, &octets);
	pop3d_session_ok(s, "%zu %llu", count, (unsigned long long)octets);
}

void pop3d_cmd_list(struct pop3d_session *s, const struct pop3_command *cmd)
{
	if (cmd->argc == 1) {
		struct pop3d_msg *m = pop3d_msg_arg(s, cmd->args[0]);
		if (m != NULL)
			pop3d_session_ok(s, "%zu %llu", msg_number(s, m),
					 (unsigned long long)pop3d_msg_vsize(s, m));
		return;
	}
	size_t count;
	uint64_t octets;
	mail_totals(s, &count, &octets);
	pop3d_session_ok(s, "%zu messages (%llu octets)", count, (unsigned long long)octets);
	for (size_t i = 0; i < s->msg_count; i++)
		if (!s->msgs[i].deleted)
			pop3_reply_line(&s->conn.out, "%zu %llu", i + 1,
					(unsigned long long)pop3d_msg_vsize(s, &s->msgs[i]));
	pop3_reply_end(&s->conn.out);
}

void pop3d_cmd_uidl(struct pop3d_session *s, const struct pop3_command *cmd)
{
	if (cmd->argc == 1) {
		struct pop3d_msg *m = pop3d_msg_arg(s, cmd->args[0]);
		if (m != NULL)
			pop3d_session_ok(s, "%zu %08x%08x", msg_number(s, m), m->uid,
					 s->uidvalidity);
		return;
	}
	pop3d_session_ok(s, "unique-id listing follows");
	for (size_t i = 0; i < s->msg_count; i++)
		if (!s->msgs[i].deleted)
			pop3_reply_line(&s->conn.out, "%zu %08x%08x", i + 1, s->msgs[i].uid,
					s->uidvalidity);
	pop3_reply_end(&s->conn.out);
}

void pop3d_cmd_dele(struct pop3d_session *s, const struct pop3_command *cmd)
{
	struct pop3d_msg *m = pop3d_msg_arg(s, cmd->args[0]);
	if (m == NULL)
		return;
	m->deleted = true;
	pop3d_session_ok(s, "message %zu deleted", msg_number(s, m));
}

void pop3d_cmd_noop(struct pop3d_session *s, const struct pop3_command *cmd)
{
	pop3d_session_ok(s, "%s", "");
}

void pop3d_cmd_rset(struct pop3d_session *s, const struct pop3_command *cmd)
{
	for (size_t i = 0; i < s->msg_count; i++)
		s->msgs[i].deleted = false;
	size_t count;
	uint64_t octets;
	mail_totals(s, &count, &octets);
	pop3d_session_ok(s, "maildrop has %zu messages (%llu octets)", count,
			 (unsigned long long)octets);
}

/* The UPDATE state: \Seen for what was read, then removal of what was deleted. */
static int mail_update(struct pop3d_session *s, size_t *left_r)
{
	uint32_t *seen = x_calloc(s->msg_count + 1, sizeof(uint32_t));
	uint32_t *gone = x_calloc(s->msg_count + 1, sizeof(uint32_t));
	size_t nseen = 0, ngone = 0;
	for (size_t i = 0; i < s->msg_count; i++) {
		if (s->msgs[i].deleted)
			gone[ngone++] = s->msgs[i].uid;
		else if (s->msgs[i].retrieved && !s->msgs[i].seen)
			seen[nseen++] = s->msgs[i].uid; /* a flag write (and sync) only if new */
	}
	struct buf err = BUF_INIT;
	int r = 0;
	if (nseen > 0 && store_set_flags(s->folder, seen, nseen, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
					 0, &err) < 0) {
		log_warn("logout: user=<%s> setting \\Seen: %s", s->user.address, buf_cstr(&err));
		buf_reset(&err);
	}
	if (ngone > 0 && (store_set_flags(s->folder, gone, ngone, STORE_FLAGS_ADD,
					  STORE_FLAG_DELETED, 0, &err) < 0 ||
			  store_expunge(s->folder, gone, ngone, &err) < 0)) {
		log_error("logout: user=<%s> expunge: %s", s->user.address, buf_cstr(&err));
		r = -1;
	}
	buf_free(&err);
	x_free(&seen);
	x_free(&gone);
	*left_r = s->msg_count - ngone;
	return r;
}

void pop3d_cmd_quit(struct pop3d_session *s, const struct pop3_command *cmd)
{
	if (s->state == POP3D_STATE_AUTH) {
		pop3d_session_ok(s, "Tern POP3 server signing off");
		pop3d_session_close(s);
		return;
	}
	s->state = POP3D_STATE_UPDATE;
	size_t left = 0;
	int r = mail_update(s, &left);
	for (size_t i = 0; i < s->msg_count; i++)
		s->dele_count += s->msgs[i].deleted;
	log_info("logout: user=<%s> ip=[%s] retr=%u dele=%u%s", s->user.address, s->conn.ip,
		 s->retr_count, s->dele_count, r < 0 ? " result=expunge-failed" : "");
	if (r < 0)
		pop3d_session_err(s, POP3_CODE_SYS_TEMP, "some deleted messages were not removed");
	else
		pop3d_session_ok(s, "Tern POP3 server signing off (%zu message%s left)", left,
				 left == 1 ? "" : "s");
	pop3d_logout(s);
	pop3d_session_close(s);
}
