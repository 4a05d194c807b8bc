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

int smtpd_main(const char *conf_path);
int smtpd_inetd(const char *conf_path, const char *local_user);

#endif
