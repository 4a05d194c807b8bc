/* sieve-cmd: `tern sieve`, a user's Sieve scripts (doc/deliver.md, "Sieve").
 *
 *   tern sieve check FILE...              compile; errors as FILE:LINE:COLUMN: reason
 *   tern sieve list ADDRESS               the scripts, "*" before the active one
 *   tern sieve put ADDRESS NAME [FILE]    install NAME (from FILE or stdin) if it compiles
 *   tern sieve get ADDRESS NAME           print NAME
 *   tern sieve activate ADDRESS NAME      make NAME the one script deliveries run
 *   tern sieve deactivate ADDRESS         no script runs
 *   tern sieve delete ADDRESS NAME        remove NAME (not the active one)
 *
 * The scripts are kept by sieve-store.c (shared with the ManageSieve server): NAME.sieve
 * in the user's script folder, the active one a symbolic link at the user's active path. Run as root, the command first becomes the owner of the data
 * folder (virtual users) or the user (system users), so files stay theirs. Exit 0, 1 for a
 * script that does not compile, or a sysexits code (64 usage, 67 no user, 73, 75, 78).
 */
#include "deliver-cmd.h"
#include "deliver-int.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "sieve.h"
#include "sieve-store.h"
#include "util.h"
#include "xalloc.h"


enum {
	EX_OK = 0,
	EX_BAD = 1,
	EX_USAGE_ = 64,
	EX_NOUSER_ = 67,
	EX_CANTCREAT_ = 73,
	EX_TEMPFAIL_ = 75,
	EX_CONFIG_ = 78
};

static int usage(void)
{
	fprintf(stderr, "usage: tern sieve check FILE...\n"
			"       tern sieve list|deactivate ADDRESS [-c CONF]\n"
			"       tern sieve put ADDRESS NAME [FILE] [-c CONF]\n"
			"       tern sieve get|activate|delete ADDRESS NAME [-c CONF]\n");
	return EX_USAGE_;
}

/* Compiles text; prints the error as WHERE:LINE:COLUMN. 0 ok, EX_BAD. */
static int check_text(const char *where, const char *text, size_t len)
{
	struct sieve_error e = {0};
	struct sieve_script *s = sieve_compile(text, len, &e);
	if (s == NULL) {
		fprintf(stderr, "%s:%d:%d: %s\n", where, e.line, e.col, e.msg);
		return EX_BAD;
	}
	sieve_script_free(&s);
	return EX_OK;
}

static char *read_all(const char *file, size_t *len_r)
{
	if (file != NULL && strcmp(file, "-") != 0)
		return read_file_small(file, SIEVE_MAX_SCRIPT_SIZE, len_r);
	struct buf b = BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		buf_append(&b, chunk, n);
		if (b.len > SIEVE_MAX_SCRIPT_SIZE) {
			buf_free(&b);
			errno = EFBIG;
			return NULL;
		}
	}
	*len_r = b.len;
	buf_append_char(&b, 0);
	return buf_steal(&b);
}

static struct conf *load_conf(const char *given)
{
	const char *path = given != NULL && *given != 0 ? given : getenv("TERN_CONF");
	if (path == NULL || *path == 0)
		path = "/etc/tern/tern.conf";
	struct buf err = BUF_INIT;
	struct conf *c = conf_load(path, &err);
	if (c == NULL)
		fprintf(stderr, "%stern sieve: configuration %s is not valid\n", buf_cstr(&err),
			path);
	buf_free(&err);
	return c;
}

/* Finds the user; as root then becomes the owner of their files: the data folder's owner
 * for a virtual user, the home's owner for a system user. 0 or a sysexits code. */
static int find_user(const struct conf *c, const char *address, struct deliver_user *u)
{
	struct buf err = BUF_INIT;
	int rc = EX_OK;
	int found = deliver_user_lookup(c, address, u, &err);
	if (found <= 0) {
		if (found == 0)
			buf_printf(&err, "no such user %s", address);
		rc = found == 0 ? EX_NOUSER_ : EX_TEMPFAIL_;
	} else if (u->sieve_at == NULL) {
		buf_printf(&err, "%s has no Sieve script path (sieve_path, system_sieve_path)",
			   address);
		rc = EX_CONFIG_;
	} else if (geteuid() == 0 && u->virtual_user) {
		if (become_owner_of(conf_str(c, "data_dir"), &err) < 0)
			rc = EX_TEMPFAIL_;
	} else if (geteuid() == 0) {
		struct stat st;
		if (stat(u->root, &st) < 0 || setgroups(1, &st.st_gid) < 0 ||
		    setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0) {
			buf_printf(&err, "cannot become the owner of %s: %s", u->root,
				   strerror(errno));
			rc = EX_TEMPFAIL_;
		}
	}
	if (found > 0 && rc != EX_OK)
		deliver_user_free(u);
	if (rc != EX_OK)
		fprintf(stderr, "tern sieve: %s\n", buf_cstr(&err));
	buf_free(&err);
	return rc;
}

/* Prints the scripts, "*" before the active one. */
static int list_scripts(const struct sieve_store *st)
{
	char *active = sieve_store_active(st);
	char **names = NULL;
	size_t n = sieve_store_list(st, &names);
	if (active != NULL && *active == 0)
		printf("* (%s, a file)\n", st->user->sieve_at);
	for (size_t i = 0; i < n; i++) {
		bool on = active != NULL && strcmp(active, names[i]) == 0;
		printf("%s %s\n", on ? "*" : " ", names[i]);
		x_free(&names[i]);
	}
	x_free(&names);
	x_free(&active);
	return EX_OK;
}

/* The exit code of a store result, with its message. */
static int store_rc(int r, const char *name, struct buf *err)
{
	switch (r) {
	case SIEVE_STORE_OK:
		return EX_OK;
	case SIEVE_STORE_NONEXISTENT:
		fprintf(stderr, "tern sieve: no script %s\n", name);
		return EX_BAD;
	case SIEVE_STORE_ACTIVE:
		fprintf(stderr, "tern sieve: %s is the active script\n", name);
		return EX_BAD;
	case SIEVE_STORE_BAD_NAME:
		fprintf(stderr, "tern sieve: bad script name \"%s\"\n", name);
		return EX_USAGE_;
	default:
		fprintf(stderr, "tern sieve: %s\n", buf_cstr(err));
		return r == SIEVE_STORE_EXISTS ? EX_BAD : EX_CANTCREAT_;
	}
}

/* text: put's script, read before the command changes its identity. */
static int run(const struct conf *c, const char *cmd, char **args, int nargs, const char *text,
	       size_t len)
{
	struct deliver_user u;
	int rc = find_user(c, args[0], &u);
	if (rc != EX_OK)
		return rc;
	struct sieve_store st;
	sieve_store_open(&st, &u);
	const char *name = nargs > 1 ? args[1] : NULL;
	struct buf err = BUF_INIT;
	if (name != NULL && !sieve_store_name_ok(name, strlen(name))) {
		fprintf(stderr, "tern sieve: bad script name \"%s\"\n", name);
		rc = EX_USAGE_;
	} else if (strcmp(cmd, "list") == 0) {
		rc = list_scripts(&st);
	} else if (strcmp(cmd, "put") == 0) {
		if ((rc = check_text(name, text, len)) == EX_OK)
			rc = store_rc(sieve_store_put(&st, name, text, len, &err), name, &err);
	} else if (strcmp(cmd, "get") == 0) {
		size_t glen = 0;
		char *got = NULL;
		rc = store_rc(sieve_store_get(&st, name, SIEVE_MAX_SCRIPT_SIZE, &got, &glen, &err),
			      name, &err);
		if (rc == EX_OK)
			fwrite(got, 1, glen, stdout);
		x_free(&got);
	} else if (strcmp(cmd, "activate") == 0) {
		rc = store_rc(sieve_store_activate(&st, name, &err), name, &err);
	} else if (strcmp(cmd, "deactivate") == 0) {
		rc = sieve_store_deactivate(&st, &err) == SIEVE_STORE_OK ? EX_OK : EX_BAD;
		if (rc != EX_OK)
			fprintf(stderr, "tern sieve: %s\n", buf_cstr(&err));
	} else if (strcmp(cmd, "delete") == 0) {
		rc = store_rc(sieve_store_delete(&st, name, &err), name, &err);
	}
	buf_free(&err);
	sieve_store_close(&st);
	deliver_user_free(&u);
	return rc;
}

int cmd_sieve(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	const char *cmd = argv[1], *conf_path = NULL;
	char *args[4];
	int nargs = 0;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf_path = argv[++i];
		else if (nargs < 4)
			args[nargs++] = argv[i];
		else
			return usage();
	}
	if (strcmp(cmd, "check") == 0) {
		int rc = nargs > 0 ? EX_OK : usage();
		for (int i = 0; i < nargs; i++) {
			size_t len = 0;
			char *text = read_file_small(args[i], SIEVE_MAX_SCRIPT_SIZE, &len);
			if (text == NULL) {
				fprintf(stderr, "%s: %s\n", args[i], strerror(errno));
				rc = EX_BAD;
			} else if (check_text(args[i], text, len) != EX_OK) {
				rc = EX_BAD;
			}
			x_free(&text);
		}
		return rc;
	}
	static const struct {
		const char *name;
		int min, max;
	} cmds[] = {{"list", 1, 1}, {"deactivate", 1, 1}, {"put", 2, 3},
		    {"get", 2, 2},  {"activate", 2, 2},	  {"delete", 2, 2}};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmd, cmds[i].name) != 0)
			continue;
		if (nargs < cmds[i].min || nargs > cmds[i].max)
			return usage();
		size_t len = 0;
		char *text = NULL;
		if (strcmp(cmd, "put") == 0 &&
		    (text = read_all(nargs > 2 ? args[2] : NULL, &len)) == NULL) {
			fprintf(stderr, "tern sieve: cannot read the script: %s\n",
				strerror(errno));
			return EX_BAD;
		}
		struct conf *c = load_conf(conf_path);
		int rc = c != NULL ? run(c, cmd, args, nargs, text, len) : EX_CONFIG_;
		conf_free(&c);
		x_free(&text);
		return rc;
	}
	return usage();
}
