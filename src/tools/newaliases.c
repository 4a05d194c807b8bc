/* newaliases: `tern newaliases` (also run as argv[0] newaliases), sendmail's command for
 * rebuilding the aliases database. Here it compiles every table of alias_maps,
 * virtual_alias_maps and the canonical maps (lib-lookup) into its PATH.db, as the account
 * that owns the data folder, and reports malformed lines as file:line. A missing alias
 * file is not an error.
 */
#include "newaliases.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "lookup.h"
#include "tools.h"
#include "xalloc.h"

/* Compiles the tables of one option; the number of failures. */
static int newaliases_option(const struct conf *c, const char *option, const char *type)
{
	char **words;
	size_t n = conf_words(conf_str(c, option), &words);
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		const char *file;
		char *spec = lookup_conf_spec(c, words[i], &file);
		struct buf warn = BUF_INIT, err = BUF_INIT;
		if (access(file, F_OK) < 0 && errno == ENOENT) {
			printf("%s: no such file, nothing to do\n", file);
		} else {
			int count = lookup_compile(spec, type, &warn, &err);
			fputs(buf_cstr(&warn), stderr);
			if (count < 0) {
				fprintf(stderr, "newaliases: %s\n", buf_cstr(&err));
				failed++;
			} else {
				printf("%s: %d entries\n", file, count);
			}
		}
		buf_free(&warn);
		buf_free(&err);
		free(spec);
	}
	conf_words_free(&words, n);
	return failed;
}

int cmd_newaliases(int argc, char **argv)
{
	const char *conf_path = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt != 'c') {
			fprintf(stderr, "usage: newaliases [-c CONF]\n");
			return 64;
		}
		conf_path = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: newaliases [-c CONF]\n");
		return 64;
	}
	struct conf *c = tool_load_conf(conf_path);
	if (tool_become_data_owner(c) < 0) {
		conf_free(&c);
		return 75;
	}
	int failed = newaliases_option(c, "alias_maps", "aliases") +
		     newaliases_option(c, "virtual_alias_maps", "map") +
		     newaliases_option(c, "canonical_maps", "map") +
		     newaliases_option(c, "sender_canonical_maps", "map") +
		     newaliases_option(c, "recipient_canonical_maps", "map");
	conf_free(&c);
	return failed > 0 ? 75 : 0;
}
