/* worker: `tern worker ROLE -c CONF`, the entry of each role process the master starts.
 * One table maps role names to their main functions and the listener protocols they
 * serve. */
#include "master.h"
#include "worker.h"
#include "deliver.h"
#include "log.h"
#include "authd.h"
#include "imapd.h"
#include "pop3d.h"
#include "sieved.h"
#include "qmgr.h"
#include "smtpd.h"
#include "tools.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct worker_role {
	const char *name;
	int (*main)(const char *conf_path);
	const char *protocols[3];
};

static const struct worker_role worker_roles[] = {
	{"smtp", smtpd_main, {"smtp", "submission", NULL}},
	{"queue", qmgr_main, {NULL}},
	{"pop3", pop3d_main, {"pop3", NULL}},
	{"imap", imapd_main, {"imap", NULL}},
	{"sieve", sieved_main, {"managesieve", NULL}},
	{"deliver", deliver_worker_main, {NULL}}, /* system users only; keeps root */
	{"auth", authd_main, {NULL}}, /* system users only; keeps root: passwords, sessions */
	{NULL, NULL, {NULL}},
};

const char *worker_role_for_protocol(const char *protocol)
{
	for (const struct worker_role *r = worker_roles; r->name != NULL; r++)
		for (size_t i = 0; r->protocols[i] != NULL; i++)
			if (strcmp(r->protocols[i], protocol) == 0)
				return r->name;
	return NULL;
}

int cmd_worker(int argc, char **argv)
{
	const char *path = NULL;
	if (argc >= 4 && strcmp(argv[2], "-c") == 0)
		path = argv[3];
	if (argc < 2 || (argc != 2 && path == NULL)) {
		fprintf(stderr, "usage: tern worker ROLE [-c CONF]\n");
		return 64;
	}
	for (const struct worker_role *r = worker_roles; r->name != NULL; r++)
		if (strcmp(r->name, argv[1]) == 0)
			return r->main(tool_conf_path(path));
	fprintf(stderr, "tern worker: unknown role '%s'\n", argv[1]);
	return 64;
}
