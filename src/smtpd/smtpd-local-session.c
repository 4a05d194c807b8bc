/* smtpd-local-session: the server side of local submission (smtpd-local.c) and of XMAILQ
 * (smtpd-mailq.c): accepting a connection on the local socket, and the command that
 * streams the queue listing. Apart from the rest of those files, which the sendmail and
 * mailq commands use without the SMTP server (and so without libevent and OpenSSL) in the
 * lean `tern` program (src/tern/main.c).
 */
#include "smtpd.h"
#include "smtpd-private.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

void smtpd_local_accept(struct smtpd_listener *l, int fd)
{
	struct smtpd_server *srv = l->srv;
	const struct smtpd_settings *set = srv->settings;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_error("local submission: SO_PEERCRED: %s", strerror(errno));
		close(fd);
		return;
	}
	char who[64];
	snprintf(who, sizeof(who), "local uid=%ld", (long)cred.uid);
	if (srv->nsessions >= set->max_conns) {
		smtpd_refuse(fd, who, "server limit", false);
		return;
	}
	uint64_t same = 0;
	for (struct smtpd_session *s = srv->sessions; s != NULL; s = s->next)
		same += s->local_socket && s->local_uid == cred.uid;
	if (same >= conf_num(set->conf, "local_submit_max_per_user")) {
		smtpd_refuse(fd, who, "per-user limit", false);
		return;
	}
	struct passwd *pw = getpwuid(cred.uid);
	if (pw == NULL) {
		static const char msg[] = "554 5.7.1 Error: your uid has no account here\r\n";
		ssize_t w = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
		close(fd);
		log_info("reject: CONNECT from %s: no passwd entry", who);
		return;
	}
	char *login = x_strdup(pw->pw_name);
	struct smtpd_session *s = smtpd_session_new(srv, fd, -1, NULL, 0, l, login);
	if (s != NULL) {
		s->local_socket = true;
		s->local_uid = cred.uid;
		s->local_trusted = smtpd_local_trusted(set->conf, cred.uid, login);
		snprintf(s->client, sizeof(s->client), "%s", who);
	}
	x_free(&login);
}

/* May this session's user list the queue (mailq_users)? */
static bool smtpd_mailq_allowed(const struct smtpd_session *s)
{
	const char *who = conf_str(s->set->conf, "mailq_users");
	if (strcmp(who, "any") == 0)
		return true;
	if (strcmp(who, "trusted") == 0)
		return s->local_trusted;
	return smtpd_local_owner(s->set->conf, s->local_uid, s->local_user);
}

void smtpd_cmd_xmailq(struct smtpd_session *s, const struct smtp_command *cmd)
{
	if (!s->local_socket) {
		smtpd_reply(s, 500, "5.5.1", "Command unrecognized");
		return;
	}
	if (!smtpd_mailq_allowed(s)) {
		smtpd_reply(s, 550, "5.7.1", "Error: you may not list the queue (mailq_users = %s)",
			    conf_str(s->set->conf, "mailq_users"));
		smtpd_log_reject(s, "XMAILQ", 550, "5.7.1", "mailq_users", NULL);
		return;
	}
	struct buf err = BUF_INIT;
	s->mailq = mailq_list_open(s->set->queue_dir,
				   (size_t)conf_num(s->set->conf, "mailq_max_entries"), &err);
	if (s->mailq == NULL) {
		log_error("mailq for %s: %s", s->client, buf_cstr(&err));
		smtpd_reply(s, 451, "4.3.0", "Error: cannot read the queue");
	} else {
		log_info("mailq from %s user=%s", s->client, s->local_user);
		s->mailq_state = s->state;
		s->state = SMTPD_MAILQ;
	}
	buf_free(&err);
}

void smtpd_mailq_step(struct smtpd_session *s)
{
	struct buf piece = BUF_INIT;
	bool more = mailq_list_next(s->mailq, &piece);
	struct evbuffer *out = bufferevent_get_output(s->out);
	const char *p = buf_cstr(&piece);
	for (const char *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		evbuffer_add(out, "211-", 4);
		evbuffer_add(out, p, (size_t)(nl - p));
		evbuffer_add(out, "\r\n", 2);
	}
	buf_free(&piece);
	if (!more) {
		mailq_list_free(&s->mailq);
		s->state = s->mailq_state;
		smtpd_reply(s, 211, NULL, "End of the queue listing");
	}
}
