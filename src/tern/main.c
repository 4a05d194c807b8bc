/* tern: one command, many subcommands. The table maps a subcommand (or the name the
 * program was called by: sendmail, mailq, newaliases) to the function that runs it.
 *
 * This file makes two programs (src/tern/meson.build):
 *  - `tern`, the lean front, built without TERN_CORE: it links the subcommands that need
 *    none of OpenSSL, libevent, libunbound and PAM (deliver, sendmail, mailq, newaliases,
 *    vacation, biff, ...), so that what an MTA, a cron job or a script starts for every
 *    message loads libc, libm and nothing else (bench/README.md, "Local delivery": the
 *    dynamic linker's relocation of those libraries was 1.8 ms of CPU at every start).
 *    For the other subcommands it executes tern-core with the same arguments.
 *  - `tern-core` (installed in LIBEXECDIR/tern), built with TERN_CORE: every subcommand.
 *    `tern serve` runs there, and its workers are tern-core too (/proc/self/exe).
 * The user sees one `tern` either way: same arguments, same argv[0], same exit status.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "deliver-cmd.h"
#include "store-cmds.h"
#include "tern-paths.h"
#include "tern-version.h"
#include "tools.h"
#ifdef TERN_CORE
#include "imapd.h"
#include "master.h"
#include "pop3d.h"
#include "sieved.h"
#include "smtpd.h"
#endif

struct command {
	const char *name;
	int (*run)(int argc, char **argv); /* NULL: tern-core runs it */
	const char *usage;
};

static int cmd_version(int argc, char **argv)
{
	printf("tern %s\n", TERN_VERSION);
	return 0;
}

/* LEAN: in both programs; CORE: needs a library the front does not load. */
#define LEAN(f) f
#ifdef TERN_CORE
#define CORE(f) f
#else
#define CORE(f) NULL
#endif

static const struct command commands[] = {
	{"init", CORE(cmd_init), "init DIR --domain D [--hostname H]"},
	{"serve", CORE(cmd_serve), "serve [-c CONF]"},
	{"check", LEAN(cmd_check), "check [-c CONF]"},
	{"user", CORE(cmd_user), "user add|del|passwd|list [ADDRESS] [-c CONF]"},
	{"sendmail", LEAN(cmd_sendmail), "sendmail [-t] [-i] [-f FROM] [-F NAME] [-bs|-bp] [RCPT...]"},
	{"mailq", LEAN(cmd_mailq), "mailq [-c CONF]"},
	{"newaliases", LEAN(cmd_newaliases), "newaliases [-c CONF]"},
	{"queue", LEAN(cmd_queue), "queue list|show ID|flush|delete ID|hold ID|release ID [-c CONF]"},
	{"imap", CORE(cmd_imap), "imap --inetd [-u USER] [-c CONF]"},
	{"pop3", CORE(cmd_pop3), "pop3 --inetd [-u USER] [-c CONF]"},
	{"managesieve", CORE(cmd_managesieve), "managesieve --inetd [-u USER] [-c CONF]"},
	{"reindex", LEAN(cmd_reindex), "reindex [USER|PATH [FOLDER]] [-c CONF]"},
	{"repair", LEAN(cmd_repair), "repair USER|PATH [--dry-run] [--max-message-size SIZE] [-c CONF]"},
	{"convert", LEAN(cmd_convert), "convert USER|PATH --to mbox|maildir [--keep-old] [-c CONF]"},
	{"deliver", LEAN(cmd_deliver), "deliver [-s] [-f SENDER] (-a ADDRESS | -d USER) [-c CONF]"},
	{"vacation", LEAN(cmd_vacation),
	 "vacation [-i] [-r INTERVAL] [-a ALIAS]... [-j] [-x] [-l] [-f DB] [-m MSG] [-s SENDER] "
	 "[-d] [-c CONF] [USER]"},
	{"sieve", LEAN(cmd_sieve),
	 "sieve check FILE... | list|deactivate ADDRESS | put ADDRESS NAME [FILE] | "
	 "get|activate|delete ADDRESS NAME [-c CONF]"},
	{"biff", LEAN(cmd_biff), "biff [y|n] [--tty PATH]"},
	{"comsat", LEAN(cmd_comsat), "comsat [--port N] [--address A] [--inetd] [--once] [--tty PATH]"},
	{"worker", CORE(cmd_worker), "worker ROLE [-c CONF] (started by tern serve)"},
	{"version", LEAN(cmd_version), "version"},
	{NULL, NULL, NULL},
};

static void usage(void)
{
	fprintf(stderr, "usage: tern COMMAND [ARGS]\n");
	for (const struct command *c = commands; c->name != NULL; c++)
		fprintf(stderr, "  tern %s\n", c->usage);
}

#ifndef TERN_CORE
/* The process's arguments, for tern-core. */
static char **main_argv;

/* Executes tern-core with main_argv: the one beside this program (the build tree), the
 * one installed with it (TERN_LIBEXECDIR_FROM_BINDIR from this program's folder), else
 * TERN_LIBEXECDIR's. Returns only on failure: EX_UNAVAILABLE (69) when there is none,
 * EX_OSERR (71) when it cannot run. */
static int run_core(void)
{
	char self[PATH_MAX], beside[PATH_MAX + 16], installed[PATH_MAX + 64];
	const char *tried[3];
	int ntried = 0, err = ENOENT;
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash = k > 0 ? memrchr(self, '/', (size_t)k) : NULL;
	if (slash != NULL) {
		int n = (int)(slash - self);
		snprintf(beside, sizeof(beside), "%.*s/tern-core", n, self);
		tried[ntried++] = beside;
		if (TERN_LIBEXECDIR_FROM_BINDIR[0] != '\0') {
			snprintf(installed, sizeof(installed), "%.*s/%s/tern-core", n, self,
				 TERN_LIBEXECDIR_FROM_BINDIR);
			tried[ntried++] = installed;
		}
	}
	tried[ntried++] = TERN_LIBEXECDIR "/tern-core";
	for (int i = 0; i < ntried; i++) {
		execv(tried[i], main_argv);
		if (errno != ENOENT || err == ENOENT)
			err = errno;
	}
	const char *what = main_argv[1] != NULL ? main_argv[1] : main_argv[0];
	if (err == ENOENT) {
		fprintf(stderr, "tern: %s: this command is run by tern-core, which is not installed "
				"(not found as", what);
		for (int i = 0; i < ntried; i++)
			fprintf(stderr, "%s %s", i == 0 ? "" : ",", tried[i]);
		fprintf(stderr, ")\n");
		return 69;
	}
	fprintf(stderr, "tern: %s: this command is run by tern-core, which cannot be run: %s\n",
		what, strerror(err));
	return 71;
}
#endif

int main(int argc, char **argv)
{
#ifdef TERN_CORE
	sendmail_smtpd = smtpd_inetd;
#else
	main_argv = argv;
	sendmail_full_program = run_core;
#endif
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
	for (const struct command *c = commands; c->name != NULL; c++) {
		if (strcmp(argv[1], c->name) != 0)
			continue;
#ifndef TERN_CORE
		if (c->run == NULL)
			return run_core();
#endif
		return c->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "tern: unknown command '%s'\n", argv[1]);
	usage();
	return 64;
}
