/* store-special: the special-use folders every user gets (RFC 6154: Sent, Drafts, Trash,
 * Junk, Archive, by their well-known names) and the subscriptions file beside the mailbox
 * (IMAP SUBSCRIBE: one name a line).
 *
 * `tern user add` makes the folders with the Maildir; a login makes those that are missing
 * (a system user, a Maildir made by other means), which costs one stat each when they are
 * there. A Maildir folder is made with its directories only: its index is built on its
 * first open or STATUS. A single mbox file (/var/mail/USER) has only INBOX.
 */
#include "store-private.h"
#include "maildir/maildir-private.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUBS_MAX (1024 * 1024)

const char *const store_special_names[STORE_SPECIAL_COUNT] = {"Sent", "Drafts", "Trash",
							      "Junk", "Archive"};

char **store_subs_read(const char *root, size_t *count_r)
{
	char *path = path_beside_mailbox(root, STORE_SUBSCRIPTIONS);
	size_t len;
	char *text = read_file_small(path, SUBS_MAX, &len);
	x_free(&path);
	char **v = NULL;
	size_t n = 0;
	for (char *p = text, *save = NULL, *line = p ? strtok_r(p, "\n", &save) : NULL;
	     line != NULL; line = strtok_r(NULL, "\n", &save)) {
		v = x_reallocarray(v, n + 1, sizeof(*v));
		v[n++] = x_strdup(line);
	}
	x_free(&text);
	*count_r = n;
	return v;
}

static bool name_in(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* Changes are serialised by a lock file beside the subscriptions, so that two sessions
 * subscribing at once each see the other's name (a read-modify-write under the lock);
 * readers need no lock: the file is replaced whole by a rename. */
int store_subs_change(const char *root, const char *const *names, size_t count, bool add,
		      uid_t uid, gid_t gid, struct buf *err)
{
	char *path = path_beside_mailbox(root, STORE_SUBSCRIPTIONS);
	char *lock = x_asprintf("%s.lock", path);
	int lfd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX) < 0) {
		int rc = store_err_errno(err, "lock", lock);
		if (lfd >= 0)
			close(lfd);
		x_free(&lock);
		x_free(&path);
		return rc;
	}
	if (uid != (uid_t)-1 && fchown(lfd, uid, gid) < 0)
		log_warn("store: %s: chown: %s", lock, strerror(errno));
	size_t n;
	char **v = store_subs_read(root, &n);
	struct buf b = BUF_INIT;
	bool changed = false;
	for (size_t i = 0; i < n; i++) {
		/* adding: a name there already stays where it is; removing: every copy goes */
		bool listed = name_in(v[i], names, count);
		if (!add && listed)
			changed = true;
		else
			buf_printf(&b, "%s\n", v[i]);
	}
	for (size_t i = 0; add && i < count; i++) {
		if (name_in(names[i], (const char *const *)v, n) || name_in(names[i], names, i))
			continue;
		buf_printf(&b, "%s\n", names[i]);
		changed = true;
	}
	store_list_free(&v, n);
	int rc = 0;
	if (changed && file_replace(path, b.data, b.len, 0600, uid, gid, FILE_SYNC_ALL) < 0)
		rc = store_err_errno(err, "write", path);
	close(lfd);
	buf_free(&b);
	x_free(&lock);
	x_free(&path);
	return rc;
}

/* Not Maildir: the folders the store lists, and store_folder_create for the others. */
static int special_make_other(struct store *s, bool made[STORE_SPECIAL_COUNT],
			      struct buf *err)
{
	struct stat st;
	if (stat(s->root, &st) == 0 && !S_ISDIR(st.st_mode))
		return 0; /* one mbox file: it has only INBOX */
	char **list;
	size_t n;
	if (store_list(s, &list, &n, err) < 0)
		return -1;
	int ret = 0;
	for (size_t i = 0; i < STORE_SPECIAL_COUNT; i++) {
		if (name_in(store_special_names[i], (const char *const *)list, n))
			continue;
		if (store_folder_create(s, store_special_names[i], err) < 0)
			ret = -1;
		else
			made[i] = true;
	}
	store_list_free(&list, n);
	return ret;
}

int store_special_make(struct store *s, uid_t uid, gid_t gid, struct buf *err)
{
	bool made[STORE_SPECIAL_COUNT] = {false};
	int ret = 0;
	if (s->format == STORE_FORMAT_MAILDIR) {
		for (size_t i = 0; i < STORE_SPECIAL_COUNT; i++) {
			int r = maildir_folder_make(s, store_special_names[i], uid, gid, err);
			if (r < 0)
				ret = -1;
			made[i] = r > 0;
		}
	} else {
		ret = special_make_other(s, made, err);
	}
	const char *names[STORE_SPECIAL_COUNT];
	size_t n = 0;
	for (size_t i = 0; i < STORE_SPECIAL_COUNT; i++)
		if (made[i])
			names[n++] = store_special_names[i];
	struct buf serr = BUF_INIT;
	if (n > 0 && store_subs_change(s->root, names, n, true, uid, gid, &serr) < 0 && ret == 0)
		ret = store_err(err, "%s", buf_cstr(&serr));
	buf_free(&serr);
	return ret;
}
