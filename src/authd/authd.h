/* authd: role auth, the privileged half of system users' logins (user_source = system).
 *
 * authd_main: started by the master as root (the only worker that keeps root), it
 * listens on DATA/login/auth (a SOCK_SEQPACKET socket only root and run_user may use),
 * checks each login request of the pre-login IMAP and POP3 workers (lockout, password
 * with sysuser_verify, sessions per user) and starts a session process as the user,
 * whose socket goes back to the worker. See lib-login's login.h and
 * doc/system-users.md. Returns a process exit status.
 */
#ifndef TERN_AUTHD_H
#define TERN_AUTHD_H

int authd_main(const char *conf_path);

#endif
