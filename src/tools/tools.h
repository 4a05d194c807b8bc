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

/* `sendmail -bs` as root or the queue's owner runs the SMTP server on stdin/stdout. The
 * program that links the server (tern-core, src/tern/main.c) sets sendmail_smtpd to
 * smtpd_inetd; the lean `tern` front, which does not, sets sendmail_full_program instead:
 * it runs tern-core with this process's arguments (returning only on failure, with the
 * exit status after printing why), called before the command changes its uid. */
extern int (*sendmail_smtpd)(const char *conf_path, const char *local_user);
extern int (*sendmail_full_program)(void);

/* The configuration path: -c's value if given, else $TERN_CONF, else /etc/tern/tern.conf. */
const char *tool_conf_path(const char *given);
/* Loads the configuration or prints the errors and exits 78 (EX_CONFIG). */
struct conf *tool_load_conf(const char *given);
/* Run as root on an instance whose data belongs to another account (run_user): becomes
 * that account, so that indexes and mailbox files stay readable by the workers. 0, or -1
 * after printing why. A no-op when not root or when the data belongs to root. */
int tool_become_data_owner(const struct conf *c);

#endif
