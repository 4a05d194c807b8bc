/* deliver-autoreply: sending an automatic answer (Sieve vacation, `tern vacation`) from
 * the null reverse-path (RFC 3834 3.3: <> so that no responder answers the answer), the
 * one place both responders send through.
 *
 * A process that may write Tern's queue (the delivery agent, a worker) queues the answer
 * itself (deliver_forward: durable before it counts as sent). Any other (vacation(1) run
 * from a user's .forward, or as root) hands it to a sendmail program: vacation_sendmail,
 * or by default our own `tern sendmail` (this binary, or the `tern` beside tern-deliver),
 * which switches to the queue's owner.
 */
#include "deliver-int.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "xalloc.h"

#define AUTOREPLY_DEFAULT_SENDMAIL "/usr/sbin/sendmail"
#define AUTOREPLY_DEFAULT_TIMEOUT 300

/* May this process put a file into the queue that the queue manager can read? */
static bool queue_writable(const char *qdir)
{
	struct stat st;
	if (stat(qdir, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	if (geteuid() == 0)
		return st.st_uid == 0; /* else it would be root's file in another's queue */
	return st.st_uid == geteuid() && access(qdir, W_OK | X_OK) == 0;
}

/* Our own `tern` binary: this one (tern, or tern-core: both have sendmail), or the `tern`
 * beside it when this is tern-deliver. */
static char *tern_binary(void)
{
	char self[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (k <= 0)
		return NULL;
	self[k] = '\0';
	char *slash = strrchr(self, '/');
	if (slash == NULL || strcmp(slash + 1, "tern") == 0 || strcmp(slash + 1, "tern-core") == 0)
		return x_strdup(self);
	char *sibling = x_asprintf("%.*s/tern", (int)(slash - self), self);
	if (access(sibling, X_OK) == 0)
		return sibling;
	x_free(&sibling);
	return NULL;
}

/* argv of the sendmail program: the option's words, or our own `tern sendmail`. */
static size_t sendmail_argv(const struct conf *c, const char *conf_path, char ***argv_r)
{
	const char *opt = c != NULL ? conf_str(c, "vacation_sendmail") : "";
	char **words = NULL;
	size_t n = *opt != '\0' ? conf_words(opt, &words) : 0;
	if (n > 0) {
		*argv_r = words;
		return n;
	}
	conf_words_free(&words, n);
	char *tern = c != NULL ? tern_binary() : NULL;
	char **v = x_reallocarray(NULL, 4, sizeof(char *));
	n = 0;
	if (tern != NULL) {
		v[n++] = tern;
		v[n++] = x_strdup("sendmail");
		if (conf_path != NULL) {
			v[n++] = x_strdup("-c");
			v[n++] = x_strdup(conf_path);
		}
	} else {
		v[n++] = x_strdup(AUTOREPLY_DEFAULT_SENDMAIL);
	}
	*argv_r = v;
	return n;
}

/* Runs PROGRAM -i -f <> -- RCPTS with the message on stdin. 0, or -1 + err. */
static int send_program(const struct conf *c, const char *conf_path, char *const *rcpts,
			size_t n, const struct deliver_src *src, struct buf *err)
{
	char **words;
	size_t nw = sendmail_argv(c, conf_path, &words);
	char **argv = x_reallocarray(NULL, nw + n + 5, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < nw; i++)
		argv[k++] = words[i];
	argv[k++] = "-i";
	argv[k++] = "-f";
	argv[k++] = "<>";
	argv[k++] = "--";
	for (size_t i = 0; i < n; i++)
		argv[k++] = rcpts[i];
	argv[k] = NULL;
	struct deliver_run run = {
	    .argv = argv,
	    .input = src,
	    .timeout = c != NULL ? (unsigned)conf_num(c, "deliver_command_timeout")
				 : AUTOREPLY_DEFAULT_TIMEOUT};
	int rc = deliver_run_program(&run, NULL);
	if (rc != 0)
		buf_printf(err, "%s %s (exit %d)", words[0],
			   rc == -1 ? "could not be started" : "failed", rc);
	conf_words_free(&words, nw);
	x_free(&argv);
	return rc == 0 ? 0 : -1;
}

int deliver_autoreply_send(const struct conf *c, const char *conf_path, char *const *rcpts,
			   size_t n, const char *text, size_t len, struct buf *err)
{
	struct deliver_src src = {.mem = text, .mem_len = len, .fd = -1};
	/* A system user's delivery child: its helper queues it (deliver-system.c). */
	if (c != NULL && (deliver_forward_has_channel() || queue_writable(conf_str(c, "queue_dir"))))
		return deliver_forward(c, "", rcpts, n, &src, NULL, err);
	return send_program(c, conf_path, rcpts, n, &src, err);
}
