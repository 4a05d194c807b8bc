/* tools: administrator commands. Each takes its own argv (argv[0] is the command name),
 * prints a usage line on a wrong call, and returns the process exit status. */
#ifndef TERN_TOOLS_H
#define TERN_TOOLS_H

struct conf;

int cmd_init(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_sendmail(int argc, char **argv);
int cmd_mailq(int argc, char **argv);
int cmd_newaliases(int argc, char **argv);
int cmd_queue(int argc, char **argv);

/* The configuration path: -c's value if given, else $TERN_CONF, else /etc/tern/tern.conf. */
const char *tool_conf_path(const char *given);
/* Loads the configuration or prints the errors and exits 78 (EX_CONFIG). */
struct conf *tool_load_conf(const char *given);
/* Run as root on an instance whose data belongs to another account (run_user): becomes
 * that account, so that indexes and mailbox files stay readable by the workers. 0, or -1
 * after printing why. A no-op when not root or when the data belongs to root. */
int tool_become_data_owner(const struct conf *c);

#endif
