/* tern-deliver: `tern deliver` as a program of its own, for MTAs that start a delivery
 * agent for every message (Postfix's mailbox_command, fetchmail's mda, .forward pipes).
 *
 * The same code as `tern deliver` (src/deliver/deliver-cmd.c), linked without the
 * servers: it loads only libc and libm, where the `tern` binary loads OpenSSL, libevent,
 * SQLite, libunbound and their dependencies at every start, about 1.7 ms of a delivery
 * on the benchmark machine (bench/README.md, "Local delivery").
 */
#include "deliver-cmd.h"

int main(int argc, char **argv)
{
	return cmd_deliver(argc, argv);
}
