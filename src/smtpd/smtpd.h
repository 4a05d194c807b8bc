/* smtpd: role smtp, inbound SMTP and submission sessions (RFC 5321).
 *
 * smtpd_main: the worker started by the master; it serves every listener whose fd is
 * named in the environment variable TERN_LISTEN_FDS ("FD:NAME,FD:NAME"; NAME is the
 * listener's name in tern.conf), many sessions in one libevent loop. SIGTERM: stop
 * accepting, answer 421 to sessions in progress, exit. SIGHUP: re-read the config.
 * smtpd_inetd: one session on stdin/stdout (`tern smtpd --inetd`, `sendmail -bs`);
 * local_user, when set, marks the session as a local submission by that Unix user.
 */
#ifndef TERN_SMTPD_H
#define TERN_SMTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct buf;
struct conf;

int smtpd_main(const char *conf_path);
int smtpd_inetd(const char *conf_path, const char *local_user);

/* Local submission (smtpd-local.c; the sendmail command is its client). */
/* The name the master gives the local submission socket in TERN_LISTEN_FDS. */
#define SMTPD_LOCAL_LISTENER "local-submit"
/* local_submit_socket (default DATA/run/submit), or NULL when local_submit is off. */
char *smtpd_local_socket_path(const struct conf *c);
/* Binds and listens on it (mode 0666, its folder made 0755 if missing): the fd, or -1 +
 * err (also -1 without err when local_submit is off). */
int smtpd_local_listen(const struct conf *c, struct buf *err);
/* The domain of unqualified local addresses: the first local domain, else hostname. */
char *smtpd_local_qualify(const struct conf *c);
/* May this user set the envelope sender (sendmail -f)? root, run_user (or the queue's
 * owner when there is none), and sendmail_trusted_users. */
bool smtpd_local_trusted(const struct conf *c, uid_t uid, const char *login);
/* Is this root, or run_user (the queue's owner when there is none)? */
bool smtpd_local_owner(const struct conf *c, uid_t uid, const char *login);
/* The trace field of a local submission (rcpt: the only recipient, or NULL). */
void smtpd_local_received(struct buf *out, const char *host, long uid, const char *id,
			  const char *rcpt);


/* The mailq listing (smtpd-mailq.c), the same for root's mailq and the local socket's. */
struct mailq_list;
/* The oldest max queued messages (0: all). NULL + err when the queue cannot be read. */
struct mailq_list *mailq_list_open(const char *queue_dir, size_t max, struct buf *err);
/* Appends the next piece of the listing (LF-ended lines) to out: a message (with the
 * column header before the first), then the summary line(s) or "Mail queue is empty".
 * false when all was given. */
bool mailq_list_next(struct mailq_list *l, struct buf *out);
void mailq_list_free(struct mailq_list **l);
struct queue_rcpt;
/* A recipient's state as mailq and tern queue show say it: pending, deferred, ... */
const char *mailq_rcpt_state(const struct queue_rcpt *r);

#endif
