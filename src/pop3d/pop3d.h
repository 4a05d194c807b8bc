/* pop3d: role pop3, the POP3 server (RFC 1939, RFC 2449 CAPA, RFC 3206 response codes).
 *
 * pop3d_main: the worker started by the master; it serves every listener whose fd is
 * named in the environment variable TERN_LISTEN_FDS ("FD:NAME,FD:NAME"; NAME is the
 * listener's name in tern.conf) and whose protocol is pop3, many sessions in one libevent
 * loop. SIGTERM: answer "-ERR [SYS/TEMP] server shutting down" to every session and exit
 * (no session enters UPDATE, so nothing is deleted). SIGHUP: re-read the configuration.
 * pop3d_inetd: one session on stdin/stdout (inetd, ssh pipes, tests); with preauth_user
 * the session starts in the TRANSACTION state for that user (the caller vouches for it).
 * cmd_pop3: `tern pop3 --inetd [-u USER] [-c CONF]`.
 * All return a process exit status.
 */
#ifndef TERN_POP3D_H
#define TERN_POP3D_H

int pop3d_main(const char *conf_path);
int pop3d_inetd(const char *conf_path, const char *preauth_user);
int cmd_pop3(int argc, char **argv);

#endif
