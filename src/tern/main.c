/* tern: one binary, many commands. The table maps a subcommand (or the name the program
 * was called by: sendmail, mailq, newaliases) to the function that runs it. */
#include <stdio.h>
#include <string.h>

#include "master.h"
#include "client.h"
#include "deliver-cmd.h"
#include "imapd.h"
#include "pop3d.h"
#include "sieved.h"
#include "qmgr.h"
#include "smtpd.h"
#include "store-cmds.h"
#include "tern-version.h"
#include "tools.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static int cmd_version(int argc, char **argv)
{
	printf("tern %s\n", TERN_VERSION);
	return 0;
}

static const struct command commands[] = {
	{"init", cmd_init, "init DIR --domain D [--hostname H]"},
	{"serve", cmd_serve, "serve [-c CONF]"},
	{"check", cmd_check, "check [-c CONF]"},
	{"user", cmd_user, "user add|del|passwd|list [ADDRESS] [-c CONF]"},
	{"sendmail", cmd_sendmail, "sendmail [-t] [-i] [-f FROM] [-F NAME] [-bs|-bp] [RCPT...]"},
	{"mailq", cmd_mailq, "mailq [-c CONF]"},
	{"newaliases", cmd_newaliases, "newaliases [-c CONF]"},
	{"queue", cmd_queue, "queue list|show ID|flush|delete ID|hold ID|release ID [-c CONF]"},
	{"imap", cmd_imap, "imap --inetd [-u USER] [-c CONF]"},
	{"pop3", cmd_pop3, "pop3 --inetd [-u USER] [-c CONF]"},
	{"managesieve", cmd_managesieve, "managesieve --inetd [-u USER] [-c CONF]"},
	{"reindex", cmd_reindex, "reindex [USER|PATH [FOLDER]] [-c CONF]"},
	{"repair", cmd_repair, "repair USER|PATH [--dry-run] [--max-message-size SIZE] [-c CONF]"},
	{"convert", cmd_convert, "convert USER|PATH --to mbox|maildir [--keep-old] [-c CONF]"},
	{"deliver", cmd_deliver, "deliver [-f SENDER] (-a ADDRESS | -d USER) [-c CONF]"},
	{"vacation", cmd_vacation,
	 "vacation [-i] [-r INTERVAL] [-a ALIAS]... [-j] [-x] [-l] [-f DB] [-m MSG] [-s SENDER] "
	 "[-d] [-c CONF] [USER]"},
	{"sieve", cmd_sieve,
	 "sieve check FILE... | list|deactivate ADDRESS | put ADDRESS NAME [FILE] | "
	 "get|activate|delete ADDRESS NAME [-c CONF]"},
	{"biff", cmd_biff, "biff [y|n] [--tty PATH]"},
	{"comsat", cmd_comsat, "comsat [--port N] [--address A] [--inetd] [--once] [--tty PATH]"},
	{"worker", cmd_worker, "worker ROLE [-c CONF] (started by tern serve)"},
	{"version", cmd_version, "version"},
	{NULL, NULL, NULL},
};

static void usage(void)
{
	fprintf(stderr, "usage: tern COMMAND [ARGS]\n");
	for (const struct command *c = commands; c->name != NULL; c++)
		fprintf(stderr, "  tern %s\n", c->usage);
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	/* Called as sendmail, mailq or newaliases: the classic interfaces. */
	for (const struct command *c = commands; c->name != NULL; c++)
		if (strcmp(self, c->name) == 0 && strcmp(self, "tern") != 0 &&
		    (c->run == cmd_sendmail || c->run == cmd_mailq || c->run == cmd_newaliases))
			return c->run(argc, argv);
	if (argc < 2) {
		usage();
		return 64;
	}
	for (const struct command *c = commands; c->name != NULL; c++)
		if (strcmp(argv[1], c->name) == 0)
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "tern: unknown command '%s'\n", argv[1]);
	usage();
	return 64;
}
