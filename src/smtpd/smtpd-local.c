/* smtpd-local: local submission over a Unix socket, so that every Unix user can send mail
 * with the sendmail command without write access to the queue and without a set-uid
 * program (doc/system-users.md).
 *
 * The master binds local_submit_socket (default DATA/run/submit, mode 0666) and hands it
 * to the smtp workers as the listener SMTPD_LOCAL_LISTENER. A connection there is a
 * session whose client is the local user the kernel names (SO_PEERCRED): trusted like
 * `sendmail -bs` (it may relay; no AUTH, no TLS), with the limits of the SMTP server and
 * at most local_submit_max_per_user sessions per uid. Unless the uid is trusted (root,
 * run_user, sendmail_trusted_users), the envelope sender must be the user's own address
 * (LOGIN@first local domain) or the null sender (RFC 3834 3.3: auto-replies): 553 5.7.1
 * otherwise. The trace field is the one `tern sendmail` writes when it queues directly,
 * made by smtpd_local_received for both, and the queue gets the same attributes (uid,
 * origin=sendmail).
 * Trusts: the kernel's uid of the peer; nothing the client sends.
 */
#include "smtpd.h"
#include "smtpd-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"
#include "util.h"
#include "xalloc.h"

char *smtpd_local_socket_path(const struct conf *c)
{
	if (!conf_bool(c, "local_submit"))
		return NULL;
	const char *p = conf_str(c, "local_submit_socket");
	if (p[0] != '\0')
		return x_strdup(p);
	return x_asprintf("%s/run/submit", conf_str(c, "data_dir"));
}

char *smtpd_local_qualify(const struct conf *c)
{
	char **domains;
	size_t n = conf_words(conf_str(c, "domains"), &domains);
	char *q = x_strdup(n > 0 ? domains[0] : conf_str(c, "hostname"));
	conf_words_free(&domains, n);
	return q;
}

bool smtpd_local_trusted(const struct conf *c, uid_t uid, const char *login)
{
	return conf_list_has(c, "sendmail_trusted_users", login) ||
	       smtpd_local_owner(c, uid, login);
}

bool smtpd_local_owner(const struct conf *c, uid_t uid, const char *login)
{
	if (uid == 0)
		return true;
	const char *run_user = conf_str(c, "run_user");
	if (run_user[0] != '\0')
		return strcmp(run_user, login) == 0;
	struct stat st; /* no run_user: the account that owns the queue */
	return stat(conf_str(c, "queue_dir"), &st) == 0 && st.st_uid == uid;
}

void smtpd_local_received(struct buf *out, const char *host, long uid, const char *id,
			  const char *rcpt)
{
	char date[64];
	rfc5322_date(time(NULL), date, sizeof(date));
	buf_printf(out, "Received: by %s (Tern sendmail, from userid %ld)\n\tid %s", host, uid, id);
	if (rcpt != NULL)
		buf_printf(out, "\n\tfor <%s>", rcpt);
	buf_printf(out, "; %s\n", date);
}

/* Every folder above path must be searchable by others, or nobody but us reaches it. */
static void smtpd_local_check_reach(const char *path)
{
	char *dir = x_strdup(path);
	for (char *slash = strrchr(dir, '/'); slash != NULL && slash != dir;
	     slash = strrchr(dir, '/')) {
		*slash = '\0';
		struct stat st;
		if (stat(dir, &st) == 0 && !(st.st_mode & S_IXOTH)) {
			log_warn("local submission: %s is not searchable by other users, so they "
				 "cannot reach %s (chmod o+x %s, or set local_submit_socket)",
				 dir, path, dir);
			break;
		}
	}
	x_free(&dir);
}

int smtpd_local_listen(const struct conf *c, struct buf *err)
{
	char *path = smtpd_local_socket_path(c);
	if (path == NULL)
		return -1;
	char *tmp = x_asprintf("%s.new", path);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = -1;
	if (strlen(tmp) >= sizeof(sun.sun_path)) {
		buf_printf(err, "%s: path too long for a socket", path);
		goto out;
	}
	char *dir = x_strdup(path);
	char *slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0)
			chmod(dir, 0755); /* whatever the umask: others must search it */
		else if (errno != EEXIST)
			log_warn("local submission: mkdir %s: %s", dir, strerror(errno));
	}
	x_free(&dir);
	/* Made under another name and renamed into place once it has its mode: a client
	 * connecting meanwhile finds the old socket or the finished one. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", tmp);
	unlink(tmp);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(tmp, 0666) < 0 ||
	    listen(fd, 128) < 0 || rename(tmp, path) < 0) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		fd = -1;
		goto out;
	}
	smtpd_local_check_reach(path);
out:
	x_free(&tmp);
	x_free(&path);
	return fd;
}

bool smtpd_local_sender_ok(const struct smtpd_session *s, const struct smtp_path *sender)
{
	if (s->local_trusted || sender->mailbox[0] == '\0')
		return true;
	char *q = smtpd_local_qualify(s->set->conf);
	char *own = x_asprintf("%s@%s", s->local_user, q);
	bool ok = strcasecmp(sender->mailbox, own) == 0;
	x_free(&own);
	x_free(&q);
	return ok;
}

void smtpd_local_queue_attrs(const struct smtpd_session *s, struct queue_writer *w)
{
	char uid[32];
	snprintf(uid, sizeof(uid), "%ld", (long)s->local_uid);
	queue_writer_set_attr(w, "origin", "sendmail");
	queue_writer_set_attr(w, "uid", uid);
}
