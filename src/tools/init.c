/* init: `tern init DIR --domain D [--hostname H]` creates a self-contained instance:
 * DIR/tern.conf (every option written out, commented, with its default), DIR/data,
 * DIR/queue, and a self-signed certificate in DIR/tls, with listeners on 127.0.0.1 at
 * the contract's ports (DESIGN.md: SMTP 2525, submission 2587, submissions 2465, IMAP
 * 2143, IMAPS 2993, POP3 2110, POP3S 2995) and ManageSieve on its own port, 4190. Run as
 * root, the instance is given to the unprivileged account `tern` when it exists
 * (run_user). */
#include "tools.h"
#include "conf.h"
#include "init.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char init_listeners[] =
	"listen smtp {\n    address = 127.0.0.1:2525\n    protocol = smtp\n}\n\n"
	"listen submission {\n    address = 127.0.0.1:2587\n    protocol = submission\n"
	"    tls = starttls\n}\n\n"
	"listen submissions {\n    address = 127.0.0.1:2465\n    protocol = submission\n"
	"    tls = implicit\n}\n\n"
	"listen imap {\n    address = 127.0.0.1:2143\n    protocol = imap\n    tls = starttls\n}\n\n"
	"listen imaps {\n    address = 127.0.0.1:2993\n    protocol = imap\n    tls = implicit\n}\n\n"
	"listen pop3 {\n    address = 127.0.0.1:2110\n    protocol = pop3\n    tls = starttls\n}\n\n"
	"listen pop3s {\n    address = 127.0.0.1:2995\n    protocol = pop3\n    tls = implicit\n}\n\n"
	"listen sieve {\n    address = 127.0.0.1:4190\n    protocol = managesieve\n"
	"    tls = starttls\n}\n";

static bool domain_valid(const char *d)
{
	if (d[0] == '\0' || d[0] == '.' || d[0] == '-' || strlen(d) > 253)
		return false;
	for (const char *p = d; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return false;
	return true;
}

static int init_usage(void)
{
	fprintf(stderr, "usage: tern init DIR --domain DOMAIN [--hostname HOST]\n");
	return 64;
}

static int init_dirs(const char *dir, uid_t uid, gid_t gid)
{
	/* The instance and DATA may be searched (not listed) by everyone: local users' `tern
	 * sendmail` reads tern.conf and reaches DATA/run/submit (doc/system-users.md). What
	 * is below keeps 0750 or less. Set with chmod, whatever the umask. */
	static const struct {
		const char *path;
		mode_t mode;
	} subdirs[] = {{"", 0751},	     {"/data", 0751},	   {"/data/mail", 0750},
		       {"/queue", 0750},     {"/queue/tmp", 0750}, {"/queue/msg", 0750},
		       {"/queue/env", 0750}, {"/queue/corrupt", 0750}, {"/tls", 0750}};
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		char *p = x_asprintf("%s%s", dir, subdirs[i].path);
		int r = mkdir_p(p, 0750);
		if (r == 0 && subdirs[i].mode != 0750 && chmod(p, subdirs[i].mode) < 0)
			r = -1;
		if (r == 0 && uid != (uid_t)-1 && chown(p, uid, gid) < 0)
			r = -1;
		if (r < 0)
			fprintf(stderr, "tern init: %s: %s\n", p, strerror(errno));
		free(p);
		if (r < 0)
			return -1;
	}
	return 0;
}

static int write_conf(const char *path, const char *hostname, const char *domain,
		      const char *run_user)
{
	FILE *f = fopen(path, "wx");
	if (f == NULL) {
		fprintf(stderr, "tern init: %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* readable by all, whatever the umask: local users' tern sendmail reads it */
	if (fchmod(fileno(f), 0644) < 0) {
		fprintf(stderr, "tern init: %s: %s\n", path, strerror(errno));
		fclose(f);
		return -1;
	}
	const char *vars[] = {"hostname", hostname, "domains", domain, "run_user", run_user, NULL};
	if (run_user[0] == '\0')
		vars[4] = NULL;
	conf_write_template(f, vars, init_listeners);
	return fclose(f) == 0 ? 0 : -1;
}

int cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"domain", required_argument, NULL, 'd'},
		{"hostname", required_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	const char *domain = NULL, *hostname = NULL;
	int ch;
	while ((ch = getopt_long(argc, argv, "d:H:", longopts, NULL)) != -1) {
		if (ch == 'd')
			domain = optarg;
		else if (ch == 'H')
			hostname = optarg;
		else
			return init_usage();
	}
	if (optind != argc - 1 || domain == NULL)
		return init_usage();
	if (!domain_valid(domain) || (hostname != NULL && !domain_valid(hostname))) {
		fprintf(stderr, "tern init: not a valid domain name\n");
		return 64;
	}
	char *host = hostname ? x_strdup(hostname) : x_asprintf("mail.%s", domain);
	const char *dir = argv[optind];
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	const char *run_user = "";
	struct passwd *pw;
	if (geteuid() == 0 && (pw = getpwnam("tern")) != NULL) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		run_user = "tern";
	}
	if (init_dirs(dir, uid, gid) < 0)
		return 73;
	char abs[PATH_MAX];
	if (realpath(dir, abs) == NULL)
		return 73;
	char *conf = x_asprintf("%s/tern.conf", abs);
	char *cert = x_asprintf("%s/tls/cert.pem", abs);
	char *key = x_asprintf("%s/tls/key.pem", abs);
	int ret = 0;
	if (write_conf(conf, host, domain, run_user) < 0) {
		ret = 73;
	} else if (init_make_cert(cert, key, host) < 0) {
		fprintf(stderr, "tern init: could not make the TLS certificate\n");
		ret = 70;
	} else {
		if (uid != (uid_t)-1 && (chown(key, uid, gid) < 0 || chown(cert, uid, gid) < 0))
			fprintf(stderr, "tern init: chown: %s\n", strerror(errno));
		printf("Created instance %s for domain %s (host %s)\n  configuration: %s\n"
		       "  next: tern user add USER@%s -c %s\n        tern serve -c %s\n",
		       abs, domain, host, conf, domain, conf, conf);
	}
	free(conf);
	free(cert);
	free(key);
	free(host);
	return ret;
}
