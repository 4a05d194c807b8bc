/* imapd: role imap, the IMAP4rev1 / IMAP4rev2 server (RFC 3501, RFC 9051).
 *
 * imapd_main: the worker started by the master; it serves every listener whose fd is named
 * in the environment variable TERN_LISTEN_FDS ("FD:NAME,FD:NAME"; NAME is the listener's
 * name in tern.conf) and whose protocol is imap, many sessions in one libevent loop.
 * SIGTERM: "* BYE server shutting down" to every session, then exit. SIGHUP: re-read the
 * configuration. imapd_inetd: one session on stdin/stdout (inetd, ssh pipes, tests); with
 * preauth_user the session starts authenticated ("* PREAUTH", RFC 3501 7.1.4).
 * cmd_imap: `tern imap --inetd [-u USER] [-c CONF]`. All return a process exit status.
 */
#ifndef TERN_IMAPD_H
#define TERN_IMAPD_H

int imapd_main(const char *conf_path);
int imapd_inetd(const char *conf_path, const char *preauth_user);
int cmd_imap(int argc, char **argv);

#endif
