/* check: `tern check -c CONF` validates the configuration and prints its effective
 * values (every option, with the line that set it or "default"). Exit 0 when valid,
 * 78 (EX_CONFIG) with one file:line error per line when not. The canonical maps are
 * checked too (lib-rewrite). */
#include "tools.h"
#include "conf.h"
#include "rewrite.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cmd_check(int argc, char **argv)
{
	const char *path = NULL;
	bool quiet = false;
	int ch;
	while ((ch = getopt(argc, argv, "c:q")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			fprintf(stderr, "usage: tern check [-q] [-c CONF]\n");
			return 64;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: tern check [-q] [-c CONF]\n");
		return 64;
	}
	struct conf *c = tool_load_conf(path);
	if (!quiet)
		conf_dump(c, stdout);
	struct buf errors = BUF_INIT;
	unsigned bad = rewrite_check(c, &errors);
	int status = 0;
	if (bad > 0) {
		fputs(buf_cstr(&errors), stderr);
		fprintf(stderr, "tern: configuration %s is not valid\n", c->path);
		status = 78;
	} else {
		fprintf(stderr, "tern: %s is valid\n", c->path);
	}
	buf_free(&errors);
	conf_free(&c);
	return status;
}
