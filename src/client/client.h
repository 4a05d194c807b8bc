/* client: user programs. Each takes its own argv (argv[0] is the command name), prints a
 * usage line on a wrong call, and returns the process exit status. */
#ifndef TERN_CLIENT_H
#define TERN_CLIENT_H

/* tern biff [y|n] [--tty PATH]: shows or sets the owner-execute bit of the terminal, which
 * tells comsat whether to write new-mail notices there (as biff(1)). Exit 0 when notices
 * are on, 1 when off, 2 on error. */
int cmd_biff(int argc, char **argv);

/* tern comsat [--port N] [--address A] [--inetd] [--tty PATH] [--once]: receives
 * "USER@OFFSET:MAILBOX" datagrams and writes "New mail for USER@HOST has arrived:" with
 * From, Subject and the first lines to each terminal of USER that has biff on. */
int cmd_comsat(int argc, char **argv);

#endif
