/* sieved: role sieve, the ManageSieve server (RFC 5804): users manage their Sieve
 * scripts (the files `tern sieve` manages, sieve-store.h) from Thunderbird's sieve
 * add-on, Roundcube's managesieve plugin or sieve-connect.
 *
 * sieved_main: the worker started by the master; it serves every listener whose fd is
 * named in TERN_LISTEN_FDS and whose protocol is managesieve, many sessions in one
 * libevent loop. SIGTERM: BYE to every session, then exit. SIGHUP: re-read the
 * configuration. sieved_inetd: one session on stdin/stdout (inetd, ssh pipes, tests);
 * with preauth_user it starts logged in as that user (the session process of a system
 * user). cmd_managesieve: `tern managesieve --inetd [-u USER] [-c CONF]`. All return an
 * exit status. System users: as for IMAP and POP3 (doc/system-users.md).
 */
#ifndef TERN_SIEVED_H
#define TERN_SIEVED_H

int sieved_main(const char *conf_path);
int sieved_inetd(const char *conf_path, const char *preauth_user);
int cmd_managesieve(int argc, char **argv);

#endif
