/* tool: what every command shares: finding and loading the configuration. */
#include "tools.h"
#include "conf.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *tool_conf_path(const char *given)
{
	if (given != NULL && given[0] != '\0')
		return given;
	const char *env = getenv("TERN_CONF");
	if (env != NULL && env[0] != '\0')
		return env;
	return "/etc/tern/tern.conf";
}

struct conf *tool_load_conf(const char *given)
{
	struct buf err = BUF_INIT;
	const char *path = tool_conf_path(given);
	struct conf *c = conf_load(path, &err);
	if (c == NULL) {
		fprintf(stderr, "%s", buf_cstr(&err));
		fprintf(stderr, "tern: configuration %s could not be loaded\n", path);
		exit(78); /* EX_CONFIG */
	}
	buf_free(&err);
	log_set_level((enum log_level)conf_num(c, "log_level"));
	return c;
}

int tool_become_data_owner(const struct conf *c)
{
	struct buf err = BUF_INIT;
	int r = become_owner_of(conf_str(c, "data_dir"), &err);
	if (r < 0)
		fprintf(stderr, "tern: %s\n", buf_cstr(&err));
	buf_free(&err);
	return r;
}
