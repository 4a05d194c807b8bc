/* deliver-cmd: `tern deliver`, the local delivery agent as a command (Postfix's
 * mailbox_command, fetchmail's mda, a .forward pipe). See doc/deliver.md. */
#ifndef TERN_DELIVER_CMD_H
#define TERN_DELIVER_CMD_H

/* tern deliver [-s] [-f SENDER] (-a ADDRESS | -d USER) [-c CONF]: one message on stdin for
 * one recipient (-s: each message of an mbox on stdin). Returns a sysexits code: 0, 64 usage, 65 data error or mail loop, 67 unknown
 * user, 73 cannot create, 75 temporary failure, 77 no permission, 78 configuration. */
int cmd_deliver(int argc, char **argv);

/* tern vacation [-i] [-r INTERVAL] [-a ALIAS]... [-j] [-x] [-l] [-f DB] [-m MSG] [-s SENDER]
 * [-d] [-c CONF] [USER]: vacation(1) (vacation-cmd.c, doc/vacation.md). Sysexits codes. */
int cmd_vacation(int argc, char **argv);

/* tern sieve check|list|put|get|activate|deactivate|delete ... (sieve-cmd.c): a user's
 * Sieve scripts. 0, 1 for a script that does not compile, or a sysexits code. */
int cmd_sieve(int argc, char **argv);

#endif
