/* store-cmds: `tern reindex [USER|PATH [FOLDER]]`, `tern repair USER|PATH [--dry-run]
 * [--max-message-size SIZE]` and `tern convert USER|PATH --to mbox|maildir [--keep-old]`,
 * all with [-c CONF]. A USER is looked up in the user directory (its store is its mail
 * folder, Maildir or mbox as found on disk); an argument with a '/' is a store path and
 * needs no configuration. The work is in lib-store (store_reindex, store_repair,
 * store_convert); these print what was done, one line per action.
 */
#include "store-cmds.h"
#include "conf.h"
#include "store.h"
#include "tools.h"
#include "userdb.h"
#include "util.h"
#include "xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EX_USAGE_ 64
#define EX_NOUSER_ 67
#define EX_TEMPFAIL_ 75
#define REPAIR_DEFAULT_MAX "100M"

struct roots {
	char **paths;
	char **names;
	size_t count;
};

static void roots_add(struct roots *r, const char *name, const char *path)
{
	r->paths = x_reallocarray(r->paths, r->count + 1, sizeof(char *));
	r->names = x_reallocarray(r->names, r->count + 1, sizeof(char *));
	r->paths[r->count] = x_strdup(path);
	r->names[r->count++] = x_strdup(name);
}

static void roots_free(struct roots *r)
{
	for (size_t i = 0; i < r->count; i++) {
		x_free(&r->paths[i]);
		x_free(&r->names[i]);
	}
	x_free(&r->paths);
	x_free(&r->names);
}

static void add_user(const struct user_info *u, void *arg)
{
	roots_add(arg, u->address, u->maildir);
}

/* The store(s) to work on: a path as given, one user, or every user (who == NULL).
 * 0, or an exit status. */
static int find_roots(const char *conf, const char *who, struct roots *r, const char *cmd)
{
	if (who != NULL && strchr(who, '/') != NULL) {
		roots_add(r, who, who);
		return 0;
	}
	struct conf *c = tool_load_conf(conf);
	/* Files the workers must go on reading are made as the owner of the data. */
	if (tool_become_data_owner(c) < 0) {
		conf_free(&c);
		return 77;
	}
	struct userdb *db = userdb_open(c);
	struct buf err = BUF_INIT;
	int ret = 0;
	if (who == NULL) {
		if (userdb_foreach(db, add_user, r, &err) < 0)
			ret = EX_TEMPFAIL_;
	} else {
		struct user_info info;
		int found = userdb_lookup(db, who, &info, &err);
		if (found == 1) {
			roots_add(r, info.address, info.maildir);
			user_info_free(&info);
		}
		ret = found < 0 ? EX_TEMPFAIL_ : found == 0 ? EX_NOUSER_ : 0;
		if (found == 0)
			buf_printf(&err, "no such user %s", who);
	}
	if (ret != 0)
		fprintf(stderr, "tern %s: %s\n", cmd, buf_cstr(&err));
	buf_free(&err);
	userdb_close(&db);
	conf_free(&c);
	return ret;
}

static void print_line(void *ctx, const char *line)
{
	printf("%s%s\n", ctx != NULL ? (const char *)ctx : "", line);
	fflush(stdout);
}

int cmd_reindex(int argc, char **argv)
{
	static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
						 {NULL, 0, NULL, 0}};
	const char *conf = NULL;
	int ch;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (ch != 'c')
			goto usage;
		conf = optarg;
	}
	if (argc - optind > 2)
		goto usage;
	const char *who = optind < argc ? argv[optind] : NULL;
	const char *folder = optind + 1 < argc ? argv[optind + 1] : NULL;
	struct roots r = {0};
	int ret = find_roots(conf, who, &r, "reindex");
	for (size_t i = 0; ret == 0 && i < r.count; i++) {
		struct buf err = BUF_INIT;
		if (access(r.paths[i], F_OK) < 0) {
			printf("%s: no mail yet (%s)\n", r.names[i], r.paths[i]);
		} else if (store_reindex(r.paths[i], folder, &err) < 0) {
			fprintf(stderr, "tern reindex: %s: %s\n", r.names[i], buf_cstr(&err));
			ret = EX_TEMPFAIL_;
		} else {
			printf("%s: reindexed %s (%s)\n", r.names[i],
			       folder ? folder : "all folders", r.paths[i]);
		}
		buf_free(&err);
	}
	roots_free(&r);
	return ret;
usage:
	fprintf(stderr, "usage: tern reindex [USER|PATH [FOLDER]] [-c CONF]\n");
	return EX_USAGE_;
}

int cmd_repair(int argc, char **argv)
{
	static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
						 {"dry-run", no_argument, NULL, 'n'},
						 {"max-message-size", required_argument, NULL, 'm'},
						 {NULL, 0, NULL, 0}};
	const char *conf = NULL, *max = REPAIR_DEFAULT_MAX;
	struct store_repair_opts o = {.report = print_line};
	int ch;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "c:nm:", longopts, NULL)) != -1) {
		if (ch == 'c')
			conf = optarg;
		else if (ch == 'n')
			o.dry_run = true;
		else if (ch == 'm')
			max = optarg;
		else
			goto usage;
	}
	if (argc - optind != 1 || parse_size(max, &o.max_message_size) < 0)
		goto usage;
	struct roots r = {0};
	int ret = find_roots(conf, argv[optind], &r, "repair");
	if (ret == 0 && o.dry_run)
		o.ctx = "dry run: ";
	for (size_t i = 0; ret == 0 && i < r.count; i++) {
		struct buf err = BUF_INIT;
		int found = store_repair(r.paths[i], &o, &err);
		if (found < 0) {
			fprintf(stderr, "tern repair: %s: %s\n", r.names[i], buf_cstr(&err));
			ret = EX_TEMPFAIL_;
		}
		buf_free(&err);
	}
	roots_free(&r);
	return ret;
usage:
	fprintf(stderr, "usage: tern repair USER|PATH [--dry-run] [--max-message-size SIZE] "
			"[-c CONF]\n");
	return EX_USAGE_;
}

int cmd_convert(int argc, char **argv)
{
	static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
						 {"to", required_argument, NULL, 't'},
						 {"keep-old", no_argument, NULL, 'k'},
						 {NULL, 0, NULL, 0}};
	const char *conf = NULL, *to = NULL;
	bool keep_old = false;
	int ch;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "c:t:k", longopts, NULL)) != -1) {
		if (ch == 'c')
			conf = optarg;
		else if (ch == 't')
			to = optarg;
		else if (ch == 'k')
			keep_old = true;
		else
			goto usage;
	}
	if (argc - optind != 1 || to == NULL ||
	    (strcmp(to, "mbox") != 0 && strcmp(to, "maildir") != 0))
		goto usage;
	struct roots r = {0};
	int ret = find_roots(conf, argv[optind], &r, "convert");
	enum store_format fmt = strcmp(to, "mbox") == 0 ? STORE_FORMAT_MBOX : STORE_FORMAT_MAILDIR;
	for (size_t i = 0; ret == 0 && i < r.count; i++) {
		struct buf err = BUF_INIT;
		if (store_convert(r.paths[i], fmt, keep_old, print_line, NULL, &err) < 0) {
			fprintf(stderr, "tern convert: %s: %s\n", r.names[i], buf_cstr(&err));
			ret = EX_TEMPFAIL_;
		} else {
			printf("%s: converted to %s (%s)\n", r.names[i], to, r.paths[i]);
		}
		buf_free(&err);
	}
	roots_free(&r);
	return ret;
usage:
	fprintf(stderr, "usage: tern convert USER|PATH --to mbox|maildir [--keep-old] [-c CONF]\n");
	return EX_USAGE_;
}
