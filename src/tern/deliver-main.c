/* tern-deliver: `tern deliver` as a program of its own, for MTAs that start a delivery
 * agent for every message (Postfix's mailbox_command, fetchmail's mda, .forward pipes).
 *
 * The same code as `tern deliver` (src/deliver/deliver-cmd.c), linked without the
 * servers: it loads libc, libm and SQLite (the mail store's index), where the `tern`
 * binary also loads OpenSSL, libevent, libunbound and their dependencies at every start,
 * 1.5 to 3 ms of CPU a delivery on the benchmark machine (bench/README.md, "Local
 * delivery").
 */
#include "deliver-cmd.h"

int main(int argc, char **argv)
{
	return cmd_deliver(argc, argv);
}
