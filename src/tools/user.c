/* user: `tern user add|del|passwd|list [ADDRESS] -c CONF`, the virtual user directory.
 *
 * add and passwd read the password from the first line of stdin when stdin is not a
 * terminal and that line is not empty; otherwise they generate one and print it.
 * Passwords are stored only as crypt(3) hashes. add creates the user's Maildir with the
 * special-use folders (Sent, Drafts, Trash, Junk, Archive, subscribed); del
 * removes the account but keeps the mail (say --purge to remove it too).
 */
#include "tools.h"
#include "conf.h"
#include "log.h"
#include "sasl.h"
#include "store.h"
#include "userdb.h"
#include "util.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct user_opts {
	const char *conf;
	uint64_t quota_bytes, quota_messages;
	bool purge;
};

static int user_usage(void)
{
	fprintf(stderr, "usage: tern user add|passwd ADDRESS [--quota BYTES] [--quota-messages N] "
			"[-c CONF]\n       tern user del ADDRESS [--purge] [-c CONF]\n"
			"       tern user list [-c CONF]\n");
	return 64;
}

/* A 16-character password from /dev/urandom, in an alphabet without look-alikes. */
static char *generate_password(void)
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char raw[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read_full(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw))
		fatal("cannot read /dev/urandom");
	close(fd);
	char *pw = x_malloc(sizeof(raw) + 1);
	for (size_t i = 0; i < sizeof(raw); i++)
		pw[i] = alphabet[raw[i] % (sizeof(alphabet) - 1)];
	pw[sizeof(raw)] = '\0';
	return pw;
}

/* The password to set, and whether it was generated (then it is printed). */
static char *read_password(bool *generated_r)
{
	*generated_r = false;
	if (!isatty(STDIN_FILENO)) {
		char line[1024];
		if (fgets(line, sizeof(line), stdin) != NULL) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] != '\0')
				return x_strdup(line);
		}
	}
	*generated_r = true;
	return generate_password();
}

/* The Maildir (and its tmp/new/cur, and the domain folder above it), owned like DATA; a new
 * user's (special) also gets the special-use folders, subscribed, so that the first login
 * only finds them there. */
static void make_maildir(const struct conf *c, const char *path, bool special)
{
	static const char *const sub[] = {"/..", "", "/tmp", "/new", "/cur"};
	struct stat dst;
	bool give = geteuid() == 0 && stat(conf_str(c, "data_dir"), &dst) == 0;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		char *p = x_asprintf("%s%s", path, sub[i]);
		if (i > 0 && mkdir_p(p, 0700) < 0)
			fprintf(stderr, "tern user: %s: %s\n", p, strerror(errno));
		else if (i == 0 && mkdir_p(p, 0750) < 0)
			fprintf(stderr, "tern user: %s: %s\n", p, strerror(errno));
		else if (give && chown(p, dst.st_uid, dst.st_gid) < 0)
			fprintf(stderr, "tern user: chown %s: %s\n", p, strerror(errno));
		free(p);
	}
	struct store *st = NULL;
	struct buf err = BUF_INIT;
	if (special && (store_open(path, store_detect_format(path), &st, &err) < 0 ||
			(store_special_make(st, give ? dst.st_uid : (uid_t)-1,
					    give ? dst.st_gid : (gid_t)-1, &err) < 0)))
		fprintf(stderr, "tern user: %s: %s\n", path, buf_cstr(&err));
	if (special)
		store_close(&st);
	buf_free(&err);
}

static int user_set(struct conf *c, struct userdb *db, const char *address, bool is_add,
		    const struct user_opts *o)
{
	struct buf err = BUF_INIT;
	struct user_info info;
	int found = userdb_lookup(db, address, &info, &err);
	const char *at = strrchr(address, '@');
	int ret = 0;
	if (found < 0) {
		fprintf(stderr, "tern user: %s\n", buf_cstr(&err));
		ret = 75;
	} else if (is_add && found == 1) {
		fprintf(stderr, "tern user: %s already exists\n", address);
		ret = 65;
	} else if (!is_add && found == 0) {
		fprintf(stderr, "tern user: no such user: %s\n", address);
		ret = 67;
	} else if (at == NULL || !userdb_is_local_domain(db, at + 1)) {
		fprintf(stderr, "tern user: %s is not in a local domain (domains = %s)\n", address,
			conf_str(c, "domains"));
		ret = 65;
	}
	if (ret != 0) {
		if (found == 1)
			user_info_free(&info);
		buf_free(&err);
		return ret;
	}
	uint64_t qb = o->quota_bytes, qm = o->quota_messages;
	if (found == 1) {
		if (qb == UINT64_MAX)
			qb = info.quota_bytes;
		if (qm == UINT64_MAX)
			qm = info.quota_messages;
		user_info_free(&info);
	}
	bool generated;
	char *password = read_password(&generated);
	char *hash = password_hash(password);
	if (hash == NULL)
		fatal("crypt(3) could not hash the password");
	/* The SCRAM secrets (SHA-256 and SHA-1) beside it, when the password is one SCRAM can
	 * take. */
	struct buf scram = BUF_INIT;
	if (sasl_scram_secrets_make(password, 0, &scram) < 0)
		buf_reset(&scram);
	if (userdb_put(db, address, hash, buf_cstr(&scram), qb == UINT64_MAX ? 0 : qb, qm == UINT64_MAX ? 0 : qm,
		       &err) < 0) {
		fprintf(stderr, "tern user: %s\n", buf_cstr(&err));
		ret = 73;
	} else {
		if (userdb_lookup(db, address, &info, &err) == 1) {
			make_maildir(c, info.maildir, is_add);
			printf("%s %s\n", is_add ? "added" : "password changed for", info.address);
			user_info_free(&info);
		}
		if (generated)
			printf("password: %s\n", password);
	}
	explicit_bzero(password, strlen(password));
	free(password);
	free(hash);
	buf_free(&scram);
	buf_free(&err);
	return ret;
}

static void usage_of(const char *maildir, uint64_t *bytes, uint64_t *count)
{
	static const char *const sub[] = {"new", "cur"};
	for (size_t i = 0; i < 2; i++) {
		char *p = x_asprintf("%s/%s", maildir, sub[i]);
		DIR *d = opendir(p);
		struct dirent *de;
		while (d != NULL && (de = readdir(d)) != NULL) {
			struct stat st;
			if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, 0) < 0)
				continue;
			*bytes += (uint64_t)st.st_size;
			(*count)++;
		}
		if (d != NULL)
			closedir(d);
		free(p);
	}
}

static void list_one(const struct user_info *u, void *arg)
{
	uint64_t bytes = 0, count = 0;
	usage_of(u->maildir, &bytes, &count);
	char qb[32] = "-", qm[32] = "-";
	if (u->quota_bytes)
		snprintf(qb, sizeof(qb), "%llu", (unsigned long long)u->quota_bytes);
	if (u->quota_messages)
		snprintf(qm, sizeof(qm), "%llu", (unsigned long long)u->quota_messages);
	printf("%-40s %12llu %8llu %12s %8s\n", u->address, (unsigned long long)bytes,
	       (unsigned long long)count, qb, qm);
}

static int user_del(struct userdb *db, const char *address, bool purge)
{
	struct buf err = BUF_INIT;
	struct user_info info;
	int found = userdb_lookup(db, address, &info, &err);
	if (found != 1) {
		fprintf(stderr, "tern user: %s\n", found < 0 ? buf_cstr(&err) : "no such user");
		buf_free(&err);
		return found < 0 ? 75 : 67;
	}
	int ret = 0;
	if (userdb_delete(db, info.address, &err) < 0) {
		fprintf(stderr, "tern user: %s\n", buf_cstr(&err));
		ret = 73;
	} else if (purge) {
		char *cmd = x_asprintf("rm -rf -- '%s'", info.maildir);
		if (strchr(info.maildir, '\'') != NULL || system(cmd) != 0)
			fprintf(stderr, "tern user: could not remove %s\n", info.maildir);
		free(cmd);
		printf("deleted %s and its mail\n", info.address);
	} else {
		printf("deleted %s; its mail is kept in %s\n", info.address, info.maildir);
	}
	user_info_free(&info);
	buf_free(&err);
	return ret;
}

int cmd_user(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"quota", required_argument, NULL, 'Q'},
		{"quota-messages", required_argument, NULL, 'M'},
		{"purge", no_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	struct user_opts o = {NULL, UINT64_MAX, UINT64_MAX, false};
	int ch;
	while ((ch = getopt_long(argc, argv, "+c:", longopts, NULL)) != -1) {
		if (ch == 'c')
			o.conf = optarg;
		else if (ch == 'Q' && parse_size(optarg, &o.quota_bytes) == 0)
			;
		else if (ch == 'M' && parse_size(optarg, &o.quota_messages) == 0)
			;
		else if (ch == 'P')
			o.purge = true;
		else
			return user_usage();
	}
	/* Options may also follow the verb and address. */
	int rest = argc - optind;
	char **args = argv + optind;
	if (rest < 1)
		return user_usage();
	const char *verb = args[0];
	optind = 0; /* GNU getopt: 0 re-initialises the scan */
	while ((ch = getopt_long(rest, args, "c:", longopts, NULL)) != -1) {
		if (ch == 'c')
			o.conf = optarg;
		else if (ch == 'Q' && parse_size(optarg, &o.quota_bytes) == 0)
			;
		else if (ch == 'M' && parse_size(optarg, &o.quota_messages) == 0)
			;
		else if (ch == 'P')
			o.purge = true;
		else
			return user_usage();
	}
	const char *address = optind < rest ? args[optind] : NULL;
	bool want_addr = strcmp(verb, "list") != 0;
	if ((want_addr && (address == NULL || optind + 1 != rest)) ||
	    (!want_addr && optind != rest))
		return user_usage();
	struct conf *c = tool_load_conf(o.conf);
	struct userdb *db = userdb_open(c);
	int ret;
	if (strcmp(verb, "add") == 0 || strcmp(verb, "passwd") == 0) {
		ret = user_set(c, db, address, verb[0] == 'a', &o);
	} else if (strcmp(verb, "del") == 0) {
		ret = user_del(db, address, o.purge);
	} else if (strcmp(verb, "list") == 0) {
		struct buf err = BUF_INIT;
		printf("%-40s %12s %8s %12s %8s\n", "ADDRESS", "BYTES", "MESSAGES", "QUOTA",
		       "QUOTA-MSG");
		ret = userdb_foreach(db, list_one, NULL, &err) < 0 ? 75 : 0;
		if (ret != 0)
			fprintf(stderr, "tern user: %s\n", buf_cstr(&err));
		buf_free(&err);
	} else {
		ret = user_usage();
	}
	userdb_close(&db);
	conf_free(&c);
	return ret;
}
