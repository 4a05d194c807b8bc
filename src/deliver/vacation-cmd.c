/* vacation-cmd: `tern vacation`, the command line of vacation(1) as Debian documents it
 * (-i -r -a -j -x -l -f -m -d, and -z -t -I accepted), with sendmail's -s SENDER, and -c
 * taking Tern's configuration (or, when it holds an '@' and no '/', Debian's -c CCADDR).
 *
 * USER is a login (passwd: files in its home folder) or a virtual user's address (files
 * in its mail folder). Run as root, it first becomes that account (or, for a virtual user,
 * the owner of the data folder), so the files it writes stay the user's. Standard input
 * is read to its end, as an MTA's pipe expects. See doc/vacation.md.
 */
#include "deliver-cmd.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "deliver-int.h"
#include "log.h"
#include "util.h"
#include "vacation.h"
#include "xalloc.h"

#define VAC_MAX_ALIASES 64
#define VAC_MAX_WORDS (2 * VAC_MAX_ALIASES + 32)

struct vac_args {
	bool init, list, exclude;
	const char *db, *msg, *sender, *conf, *cc, *user;
	const char *aliases[VAC_MAX_ALIASES];
	size_t n_aliases;
	bool syslog; /* errors to syslog too (log = syslog, or no configuration) */
	struct vacation_cfg cfg;
};

static int usage(void)
{
	fprintf(stderr, "usage: tern vacation [-i] [-r INTERVAL] [-a ALIAS]... [-j] [-x] [-l] "
			"[-f DB] [-m MSG] [-s SENDER] [-d] [-c CONF] [USER]\n");
	return VAC_EX_USAGE;
}

static int parse_args(int argc, char **argv, struct vac_args *a)
{
	int c;
	optind = 1;
	a->cfg.interval = VACATION_UNSET;
	while ((c = getopt(argc, argv, "a:c:df:Iijlm:r:s:t:xz")) != -1) {
		switch (c) {
		case 'a':
			if (a->n_aliases == VAC_MAX_ALIASES) {
				fprintf(stderr, "tern vacation: more than %d -a\n", VAC_MAX_ALIASES);
				return -1;
			}
			a->aliases[a->n_aliases++] = optarg;
			break;
		case 'c': /* Debian's -c CCADDR, or Tern's -c CONF */
			if (strchr(optarg, '@') != NULL && strchr(optarg, '/') == NULL)
				a->cc = optarg;
			else
				a->conf = optarg;
			break;
		case 'd':
			a->cfg.debug = true;
			break;
		case 'f':
			a->db = optarg;
			break;
		case 'I':
		case 'i':
			a->init = true;
			break;
		case 'j':
			a->cfg.any_recipient = true;
			break;
		case 'l':
			a->list = true;
			break;
		case 'm':
			a->msg = optarg;
			break;
		case 'r':
			if ((a->cfg.interval = vacation_interval_parse(optarg)) < 0) {
				fprintf(stderr, "tern vacation: bad interval \"%s\"\n", optarg);
				return -1;
			}
			break;
		case 's':
			a->sender = optarg;
			break;
		case 't': /* Solaris' interval: accepted and ignored, as Debian does */
		case 'z': /* the answer is always from <> */
			break;
		case 'x':
			a->exclude = true;
			break;
		default:
			return -1;
		}
	}
	if (argc - optind > 1 || (argc == optind && !a->init && !a->list && !a->exclude))
		return -1;
	a->user = optind < argc ? argv[optind] : NULL;
	return 0;
}

/* -c, $TERN_CONF, /etc/tern/tern.conf; without a file given and none there: NULL with
 * *ok_r true (vacation works without Tern's configuration, sending through sendmail). */
static struct conf *load_conf(const char *given, const char **path_r, bool *ok_r)
{
	const char *path = given;
	if (path == NULL || *path == '\0')
		path = getenv("TERN_CONF");
	bool explicit = path != NULL && *path != '\0';
	if (!explicit)
		path = "/etc/tern/tern.conf";
	*path_r = path;
	*ok_r = true;
	if (!explicit && access(path, F_OK) < 0)
		return NULL;
	struct buf err = BUF_INIT;
	struct conf *c = conf_load(path, &err);
	if (c == NULL) {
		fprintf(stderr, "%stern vacation: configuration %s is not valid\n", buf_cstr(&err),
			path);
		*ok_r = false;
	}
	buf_free(&err);
	return c;
}

/* path, relative ones taken from dir. */
static char *in_dir(const char *dir, const char *path, const char *dflt)
{
	const char *p = path != NULL ? path : dflt;
	return p[0] == '/' ? x_strdup(p) : x_asprintf("%s/%s", dir, p);
}

/* Finds USER: its folder, its address and, as root, becomes it. 0 or a sysexits code. */
static int find_user(const struct conf *c, const char *user, char **dir_r, char **addr_r)
{
	struct buf err = BUF_INIT;
	int rc = 0;
	if (user != NULL && strchr(user, '@') != NULL) {
		struct deliver_user u;
		int found = -1;
		if (c == NULL)
			buf_append_str(&err, "a virtual user needs Tern's configuration (-c CONF)");
		else if (become_owner_of(conf_str(c, "data_dir"), &err) == 0)
			found = deliver_user_lookup(c, user, &u, &err);
		if (found > 0) {
			*dir_r = x_strdup(u.root);
			*addr_r = x_strdup(u.address);
			deliver_user_free(&u);
		} else {
			if (found == 0)
				buf_printf(&err, "no such user %s", user);
			rc = found == 0 ? VAC_EX_NOUSER : c == NULL ? VAC_EX_CONFIG : VAC_EX_TEMPFAIL;
		}
	} else {
		struct passwd *pw = user != NULL ? getpwnam(user) : getpwuid(getuid());
		if (pw == NULL) {
			buf_printf(&err, "no such user %s", user != NULL ? user : "(uid)");
			rc = VAC_EX_NOUSER;
		} else if (geteuid() == 0 && pw->pw_uid != 0 &&
			   (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
			    setuid(pw->pw_uid) < 0)) {
			buf_printf(&err, "cannot become %s: %s", pw->pw_name, strerror(errno));
			rc = VAC_EX_TEMPFAIL;
		} else {
			char **domains = NULL;
			size_t nd = c != NULL ? conf_words(conf_str(c, "domains"), &domains) : 0;
			*dir_r = x_strdup(pw->pw_dir);
			*addr_r = x_asprintf("%s@%s", pw->pw_name,
					     nd > 0  ? domains[0]
					     : c != NULL ? conf_str(c, "hostname")
							 : host_name());
			conf_words_free(&domains, nd);
		}
	}
	if (rc != 0)
		fprintf(stderr, "tern vacation: %s\n", buf_cstr(&err));
	buf_free(&err);
	return rc;
}

/* -i, -l, -x (and -r with them): the database only. */
static int manage_db(const struct vac_args *a, const char *db_path)
{
	const struct conf *c = a->cfg.conf;
	struct vacation_db db;
	struct buf err = BUF_INIT;
	int e = 0, rc = VAC_EX_OK;
	/* -i starts afresh, also over another program's (dbm) database */
	if (vacation_db_open(db_path, c != NULL ? conf_num(c, "vacation_db_max_size") : 4 << 20,
			     c != NULL ? (unsigned)conf_num(c, "vacation_lock_timeout") : 30,
			     a->init, &db, &e, &err) < 0) {
		fprintf(stderr, "tern vacation: %s\n", buf_cstr(&err));
		buf_free(&err);
		return e == ENOLCK ? VAC_EX_TEMPFAIL : e == EINVAL ? VAC_EX_DATAERR : VAC_EX_CANTCREAT;
	}
	if (a->list)
		vacation_db_list(&db, stdout);
	char line[1024];
	while (a->exclude && fgets(line, sizeof(line), stdin) != NULL) {
		char *s = line + strspn(line, " \t");
		s[strcspn(s, " \t\r\n")] = '\0';
		if (*s != '\0')
			vacation_db_set(&db, s, 0, true);
	}
	if (a->cfg.interval != VACATION_UNSET)
		db.interval = a->cfg.interval;
	int64_t iv = db.interval != VACATION_UNSET
			 ? db.interval
			 : (int64_t)(c != NULL ? conf_num(c, "vacation_interval") : 7 * 86400);
	buf_reset(&err);
	if ((a->init || a->exclude || a->cfg.interval != VACATION_UNSET) &&
	    vacation_db_save(db_path, &db, iv, (int64_t)time(NULL), &err) < 0) {
		fprintf(stderr, "tern vacation: %s\n", buf_cstr(&err));
		rc = VAC_EX_CANTCREAT;
	}
	vacation_db_close(&db);
	buf_free(&err);
	return rc;
}

static ssize_t stdin_read(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	ssize_t n;
	while ((n = read(0, buf, len)) < 0 && errno == EINTR)
		;
	return n;
}

/* Reads standard input to its end, so the MTA's pipe sees every byte taken. */
static void drain_stdin(void)
{
	char buf[8192];
	while (stdin_read(NULL, buf, sizeof(buf)) > 0)
		;
}

static int run(struct vac_args *a, const char *conf_path)
{
	char *dir = NULL, *addr = NULL;
	int rc = find_user(a->cfg.conf, a->user, &dir, &addr);
	if (rc != 0)
		return rc;
	char *db = in_dir(dir, a->db, VACATION_DB_FILE);
	char *msg = in_dir(dir, a->msg, VACATION_MSG_FILE);
	if (a->init || a->list || a->exclude) {
		rc = manage_db(a, db);
	} else {
		char *login = x_strndup(addr, strcspn(addr, "@"));
		const char *names[VAC_MAX_ALIASES + 2];
		size_t n = 0;
		names[n++] = strchr(a->user, '@') != NULL ? addr : login;
		for (size_t i = 0; i < a->n_aliases; i++)
			names[n++] = a->aliases[i];
		names[n] = NULL;
		a->cfg.db_path = db;
		a->cfg.msg_path = msg;
		a->cfg.names = names;
		a->cfg.sender = a->sender;
		a->cfg.from = addr;
		a->cfg.cc = a->cc;
		a->cfg.conf_path = conf_path;
		struct buf err = BUF_INIT;
		rc = vacation_process(&a->cfg, stdin_read, NULL, &err);
		drain_stdin();
		if (rc != 0) {
			fprintf(stderr, "tern vacation: %s\n", buf_cstr(&err));
			if (a->syslog)
				log_warn("%s: %s", addr, buf_cstr(&err));
		}
		buf_free(&err);
		x_free(&login);
	}
	x_free(&db);
	x_free(&msg);
	x_free(&dir);
	x_free(&addr);
	return rc;
}

int cmd_vacation(int argc, char **argv)
{
	struct vac_args a = {0};
	if (parse_args(argc, argv, &a) < 0)
		return usage();
	const char *conf_path;
	bool ok;
	struct conf *c = load_conf(a.conf, &conf_path, &ok);
	if (!ok)
		return VAC_EX_CONFIG;
	/* errors go to stderr (the MTA's bounce text) and to syslog, as vacation(1) does */
	a.syslog = c == NULL || conf_num(c, "log") == 1;
	log_init("vacation", a.syslog);
	a.cfg.conf = c;
	int rc = run(&a, c != NULL ? conf_path : NULL);
	conf_free(&c);
	return rc;
}

/* ---- "|tern vacation ARGS" in a .forward, run by the delivery agent itself ---- */

/* Splits a command into words ('...' and "..." quote); 0 when it has shell syntax other
 * than words (then the shell runs it as any command). */
static size_t split_words(const char *cmd, char *buf, char **w, size_t max)
{
	size_t n = 0;
	char *o = buf;
	const char *p = cmd;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return n;
		if (n == max)
			return 0;
		w[n++] = o;
		while (*p != '\0' && *p != ' ' && *p != '\t') {
			if (*p == '\'' || *p == '"') {
				const char *e = strchr(p + 1, *p);
				if (e == NULL)
					return 0;
				memcpy(o, p + 1, (size_t)(e - p - 1));
				o += e - p - 1;
				p = e + 1;
			} else if (strchr("|&;<>()$`\\*?[#~=%{}\n", *p) != NULL) {
				return 0;
			} else {
				*o++ = *p++;
			}
		}
		*o++ = '\0';
	}
}

/* Is word Tern's binary ("tern", or a path ending in "/tern")? */
static bool is_tern(const char *word)
{
	const char *slash = strrchr(word, '/');
	return strcmp(slash != NULL ? slash + 1 : word, "tern") == 0;
}

static void run_in_agent(struct deliver_msg *m, struct vac_args *a)
{
	const struct deliver_user *u = m->user;
	const char *names[VAC_MAX_ALIASES + 4];
	size_t n = 0;
	names[n++] = u->login; /* the login name, as vacation(1) matches it */
	names[n++] = u->address;
	names[n++] = m->req->recipient;
	for (size_t i = 0; i < a->n_aliases; i++)
		names[n++] = a->aliases[i];
	names[n] = NULL;
	char *db = in_dir(u->root, a->db, VACATION_DB_FILE);
	char *msg = in_dir(u->root, a->msg, VACATION_MSG_FILE);
	a->cfg.conf = m->ctx->conf;
	a->cfg.db_path = db;
	a->cfg.msg_path = msg;
	a->cfg.names = names;
	a->cfg.sender = a->sender != NULL ? a->sender : m->req->sender;
	a->cfg.from = u->address;
	a->cfg.cc = a->cc;
	a->cfg.debug = false;
	struct buf err = BUF_INIT;
	if (deliver_vacation_run(m, &a->cfg, &err) != 0)
		log_warn("%s: .forward of %s: tern vacation: %s (the other entries are delivered)",
			 m->req->queue_id, u->login, buf_cstr(&err));
	buf_free(&err);
	x_free(&db);
	x_free(&msg);
}

int deliver_vacation_command(struct deliver_msg *m, const char *cmd, struct delivery_result *res)
{
	char *buf = x_malloc(strlen(cmd) + 1);
	char *w[VAC_MAX_WORDS + 1];
	size_t n = split_words(cmd, buf, w, VAC_MAX_WORDS);
	struct vac_args a = {0};
	int handled = 0;
	if (n >= 2 && is_tern(w[0]) && strcmp(w[1], "vacation") == 0) {
		w[n] = NULL;
		int saved = opterr;
		opterr = 0;
		bool ok = parse_args((int)n - 1, w + 1, &a) == 0 && !a.init && !a.list && !a.exclude;
		opterr = saved;
		/* USER, when given, must be this user: else the program runs as any command */
		handled = ok && (a.user == NULL || strcmp(a.user, m->user->login) == 0 ||
				 strcasecmp(a.user, m->user->address) == 0);
	}
	if (handled) {
		run_in_agent(m, &a);
		deliver_result_set(res, DELIVERY_OK, "2.0.0", "tern vacation");
	}
	x_free(&buf);
	return handled;
}
