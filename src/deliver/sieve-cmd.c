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
 * A script NAME is NAME.sieve in the user's script folder (deliver_sieve_dir); the active
 * one is a symbolic link at the user's active path (sieve_path, system_sieve_path) to it,
 * replaced by rename so a delivery sees the old script or the new one. A legacy active
 * script that is a regular file is listed as "active" and kept (activate moves it to
 * NAME "active" first). Run as root, the command first becomes the owner of the data
 * folder (virtual users) or the user (system users), so files stay theirs. Exit 0, 1 for a
 * script that does not compile, or a sysexits code (64 usage, 67 no user, 73, 75, 78).
 */
#include "deliver-cmd.h"
#include "deliver-int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "sieve.h"
#include "util.h"
#include "xalloc.h"

#define SIEVE_NAME_MAX 128
#define SIEVE_LIST_MAX 1000

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

/* A script name: one path component, printable, no leading '.'. */
static bool name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > SIEVE_NAME_MAX || name[0] == '.')
		return false;
	for (const char *p = name; *p != 0; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/')
			return false;
	return true;
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

/* The name the active link points to ("NAME" of .../NAME.sieve), "" when the active script
 * is a regular file, NULL when there is none. */
static char *active_name(const struct deliver_user *u)
{
	struct stat st;
	if (lstat(u->sieve_at, &st) < 0)
		return NULL;
	if (!S_ISLNK(st.st_mode))
		return x_strdup("");
	char target[4096];
	ssize_t n = readlink(u->sieve_at, target, sizeof(target) - 1);
	if (n < 0)
		return NULL;
	target[n] = 0;
	const char *base = strrchr(target, '/');
	base = base != NULL ? base + 1 : target;
	size_t bl = strlen(base);
	if (bl <= 6 || strcmp(base + bl - 6, ".sieve") != 0)
		return x_strdup("");
	return x_strndup(base, bl - 6);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_scripts(const struct deliver_user *u, const char *dir)
{
	char *active = active_name(u);
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while (d != NULL && n < SIEVE_LIST_MAX && (de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 6 && strcmp(de->d_name + l - 6, ".sieve") == 0 && de->d_name[0] != '.') {
			names = x_reallocarray(names, n + 1, sizeof(*names));
			names[n++] = x_strndup(de->d_name, l - 6);
		}
	}
	if (d != NULL)
		closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	if (active != NULL && *active == 0)
		printf("* (%s, a file)\n", u->sieve_at);
	for (size_t i = 0; i < n; i++) {
		bool on = active != NULL && strcmp(active, names[i]) == 0;
		/* a legacy active.sieve in the scripts folder is the active file itself */
		char *p = x_asprintf("%s/%s.sieve", dir, names[i]);
		if (strcmp(p, u->sieve_at) != 0)
			printf("%s %s\n", on ? "*" : " ", names[i]);
		x_free(&p);
		x_free(&names[i]);
	}
	x_free(&names);
	x_free(&active);
	return EX_OK;
}

/* Writes data to path by a temporary file and rename. */
static int put_file(const char *path, const char *data, size_t len)
{
	char *tmp = x_asprintf("%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r = fd >= 0 && write_full(fd, data, len) == 0 && fsync(fd) == 0 ? 0 : -1;
	if (fd >= 0 && close(fd) < 0)
		r = -1;
	if (r == 0 && rename(tmp, path) < 0)
		r = -1;
	if (r < 0) {
		fprintf(stderr, "tern sieve: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	x_free(&tmp);
	return r < 0 ? EX_CANTCREAT_ : EX_OK;
}

/* Points the active link at target (relative to the link's folder), by rename. */
static int link_active(const struct deliver_user *u, const char *target)
{
	char *tmp = x_asprintf("%s.%ld.tmp", u->sieve_at, (long)getpid());
	unlink(tmp);
	int r = symlink(target, tmp) == 0 && rename(tmp, u->sieve_at) == 0 ? 0 : -1;
	if (r < 0) {
		fprintf(stderr, "tern sieve: cannot activate %s: %s\n", target, strerror(errno));
		unlink(tmp);
	}
	x_free(&tmp);
	return r < 0 ? EX_CANTCREAT_ : EX_OK;
}

static int activate(const struct deliver_user *u, const char *dir, const char *name)
{
	char *path = x_asprintf("%s/%s.sieve", dir, name);
	struct stat st;
	int rc = EX_OK;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "tern sieve: no script %s\n", name);
		rc = EX_BAD;
	} else {
		char *active = active_name(u);
		/* a legacy active file is kept as the script "active" (if that name is free) */
		if (active != NULL && *active == 0) {
			char *keep = x_asprintf("%s/active.sieve", dir);
			if (strcmp(keep, u->sieve_at) != 0 && lstat(keep, &st) < 0 &&
			    rename(u->sieve_at, keep) < 0)
				rc = EX_CANTCREAT_;
			x_free(&keep);
		}
		x_free(&active);
		/* the link's target, relative to the active path's folder */
		const char *slash = strrchr(u->sieve_at, '/');
		size_t pl = slash != NULL ? (size_t)(slash - u->sieve_at) : 0;
		const char *rel =
		    strncmp(path, u->sieve_at, pl) == 0 && path[pl] == '/' ? path + pl + 1 : path;
		if (rc == EX_OK)
			rc = link_active(u, rel);
	}
	x_free(&path);
	return rc;
}

/* text: put's script, read before the command changes its identity. */
static int run(const struct conf *c, const char *cmd, char **args, int nargs, const char *text,
	       size_t len)
{
	struct deliver_user u;
	int rc = find_user(c, args[0], &u);
	if (rc != EX_OK)
		return rc;
	char *dir = deliver_sieve_dir(&u);
	const char *name = nargs > 1 ? args[1] : NULL;
	char *path = name != NULL ? x_asprintf("%s/%s.sieve", dir, name) : NULL;
	if (name != NULL && !name_ok(name)) {
		fprintf(stderr, "tern sieve: bad script name \"%s\"\n", name);
		rc = EX_USAGE_;
	} else if (strcmp(cmd, "list") == 0) {
		rc = list_scripts(&u, dir);
	} else if (strcmp(cmd, "put") == 0) {
		if ((rc = check_text(name, text, len)) == EX_OK) {
			if (mkdir_p(dir, 0700) < 0) {
				fprintf(stderr, "tern sieve: cannot create %s: %s\n", dir,
					strerror(errno));
				rc = EX_CANTCREAT_;
			} else {
				rc = put_file(path, text, len);
			}
		}
	} else if (strcmp(cmd, "get") == 0) {
		size_t glen = 0;
		char *got = read_file_small(path, SIEVE_MAX_SCRIPT_SIZE, &glen);
		if (got == NULL) {
			fprintf(stderr, "tern sieve: no script %s\n", name);
			rc = EX_BAD;
		} else {
			fwrite(got, 1, glen, stdout);
		}
		x_free(&got);
	} else if (strcmp(cmd, "activate") == 0) {
		rc = activate(&u, dir, name);
	} else if (strcmp(cmd, "deactivate") == 0) {
		char *active = active_name(&u);
		if (active != NULL && *active == 0)
			fprintf(stderr, "tern sieve: %s is a file, not a link: left as it is\n",
				u.sieve_at);
		else if (active != NULL && unlink(u.sieve_at) < 0)
			rc = EX_CANTCREAT_;
		rc = active != NULL && *active == 0 ? EX_BAD : rc;
		x_free(&active);
	} else if (strcmp(cmd, "delete") == 0) {
		char *active = active_name(&u);
		if (active != NULL && strcmp(active, name) == 0) {
			fprintf(stderr, "tern sieve: %s is the active script\n", name);
			rc = EX_BAD;
		} else if (unlink(path) < 0) {
			fprintf(stderr, "tern sieve: cannot delete %s: %s\n", name,
				strerror(errno));
			rc = EX_BAD;
		}
		x_free(&active);
	}
	x_free(&path);
	x_free(&dir);
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
