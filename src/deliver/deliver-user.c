/* deliver-user: where a recipient's mail and filters are. The one place that answers
 * "which mailbox, which rc file, which Sieve script" for a user.
 *
 * Virtual users (the users file, userdb.h): the mail folder DATA/mail/DOMAIN/USER is the
 * Maildir INBOX and MAILDIR for procmail; the rc file is procmailrc_path (relative to that
 * folder, default .procmailrc), the Sieve script sieve_path (default
 * DATA/sieve/DOMAIN/USER/active.sieve). System users (user_source = system): HOME is the
 * MAILDIR of procmail, the INBOX is system_mailbox (/var/mail/USER or ~/Maildir), the
 * filters ~/.forward, ~/.procmailrc and system_sieve_path; Sieve folders are Maildir++
 * folders of ~/Maildir.
 */
#include "deliver.h"

#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "userdb.h"
#include "xalloc.h"

/* Expands %u (local part), %d (domain) and %% in an option's path. */
static char *expand_path(const char *pattern, const char *address)
{
	const char *at = strrchr(address, '@');
	size_t ulen = at != NULL ? (size_t)(at - address) : strlen(address);
	return userdb_expand(pattern, address, ulen, at != NULL ? at + 1 : "", NULL);
}

/* The file at path (relative ones under root) when it is a regular file, else NULL. */
static char *existing_file(const char *root, const char *path)
{
	char *full = path[0] == '/' ? x_strdup(path) : x_asprintf("%s/%s", root, path);
	struct stat st;
	if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
		return full;
	x_free(&full);
	return NULL;
}

/* The last component of path (without trailing '/'), and the one before it. */
static void path_tail(const char *path, char **last_r, char **parent_r)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	size_t b = n;
	while (b > 0 && path[b - 1] != '/')
		b--;
	*last_r = x_strndup(path + b, n - b);
	size_t e = b > 0 ? b - 1 : 0, a = e;
	while (a > 0 && path[a - 1] != '/')
		a--;
	*parent_r = x_strndup(path + a, e - a);
}

void deliver_user_from_maildir(const struct conf *c, const char *address, const char *maildir,
			       struct deliver_user *u)
{
	memset(u, 0, sizeof(*u));
	u->virtual_user = true;
	/* DATA/mail/DOMAIN/USER names the user canonically (address may carry +tag). */
	char *domain;
	path_tail(maildir, &u->login, &domain);
	u->address = *domain != 0 ? x_asprintf("%s@%s", u->login, domain) : x_strdup(address);
	u->root = x_strdup(maildir);
	u->inbox = x_strdup(maildir);
	char *rc = expand_path(conf_str(c, "procmailrc_path"), u->address);
	if (*rc != 0)
		u->procmailrc = existing_file(u->root, rc);
	x_free(&rc);
	const char *sp = conf_str(c, "sieve_path");
	char *sieve = *sp != 0 ? expand_path(sp, u->address)
			       : x_asprintf("%s/sieve/%s/%s/active.sieve", conf_str(c, "data_dir"),
					    domain, u->login);
	u->sieve = existing_file(u->root, sieve);
	u->sieve_at = sieve[0] == '/' ? sieve : x_asprintf("%s/%s", u->root, sieve);
	if (u->sieve_at != sieve)
		x_free(&sieve);
	x_free(&domain);
}

/* A path of an option for a system user: "~/" is the home folder, %u the account. */
static char *home_path(const char *pattern, const struct user_info *info)
{
	return userdb_expand(pattern, info->login, strlen(info->login), NULL, info->home);
}

void deliver_user_system(const struct conf *c, const struct user_info *info,
			 struct deliver_user *u)
{
	memset(u, 0, sizeof(*u));
	u->address = x_strdup(info->address);
	u->login = x_strdup(info->login);
	u->root = x_strdup(info->home);
	u->inbox = x_strdup(info->maildir);
	u->inbox_mbox = info->mbox;
	u->folders = info->mbox ? x_asprintf("%s/Maildir", info->home) : x_strdup(info->maildir);
	u->procmailrc = existing_file(u->root, ".procmailrc");
	u->forward = existing_file(u->root, ".forward");
	char *sieve = home_path(conf_str(c, "system_sieve_path"), info);
	if (*sieve != 0) {
		u->sieve = existing_file(u->root, sieve);
		u->sieve_at =
		    sieve[0] == '/' ? x_strdup(sieve) : x_asprintf("%s/%s", u->root, sieve);
	}
	x_free(&sieve);
}

int deliver_user_lookup(const struct conf *c, const char *address, struct deliver_user *u,
			struct buf *err)
{
	struct userdb *db = userdb_open(c);
	struct user_info info;
	int found = userdb_lookup(db, address, &info, err);
	if (found > 0 && info.system) {
		deliver_user_system(c, &info, u);
		user_info_free(&info);
	} else if (found > 0) {
		deliver_user_from_maildir(c, info.address, info.maildir, u);
		user_info_free(&info);
	}
	userdb_close(&db);
	return found;
}

const char *deliver_user_folders(const struct deliver_user *u)
{
	return u->folders != NULL ? u->folders : u->root;
}

void deliver_user_free(struct deliver_user *u)
{
	x_free(&u->address);
	x_free(&u->login);
	x_free(&u->root);
	x_free(&u->inbox);
	x_free(&u->procmailrc);
	x_free(&u->sieve);
	x_free(&u->sieve_at);
	x_free(&u->folders);
	x_free(&u->forward);
}
