/* store-cmds: mailbox maintenance commands (`tern reindex`, `tern repair`, `tern convert`).
 * Each takes its own argv (argv[0] is the command name), prints a usage line on a wrong
 * call, and returns the process exit status (0, 64 usage, 67 no such user, 75 failure,
 * 78 configuration). */
#ifndef TERN_STORE_CMDS_H
#define TERN_STORE_CMDS_H

int cmd_reindex(int argc, char **argv);
int cmd_repair(int argc, char **argv);
int cmd_convert(int argc, char **argv);

#endif
