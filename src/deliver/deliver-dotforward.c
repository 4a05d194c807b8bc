/* deliver-dotforward: a system user's ~/.forward, as sendmail and Postfix's local(8) read it.
 *
 * Entries are separated by commas or new lines; a line starting with '#' is a comment; an
 * entry may be "quoted" (for commands with commas or spaces). Each entry is one of:
 *   \USER      the user's own mailbox (their procmail rc or Sieve script, else the INBOX),
 *              with no further forwarding (a \ of another name is forwarded to it);
 *   |COMMAND   run with /bin/sh -c as the user, the message on stdin ("|tern vacation
 *              ARGS" runs in this process instead, so its answer can be queued);
 *   /PATH      (or ~/PATH) an mbox file, locked as every mbox;
 *   ADDRESS    forwarded through Tern's queue with the original envelope sender
 *              (RFC 5321 3.4: bounces go to whoever sent it), unqualified names in the
 *              user's domain.
 * The file is used only when it is a regular file of the user (or root) that nobody else
 * may write, as sendmail insists; else it is logged and ignored. Runs in the delivery
 * child, as the user. A deferral of any entry defers the whole delivery.
 */
#include "deliver-int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define DOTFORWARD_MAX_SIZE (64 * 1024)
#define DOTFORWARD_MAX_ENTRIES 1000

struct fwd_entries {
	char **v;
	size_t n;
};

static void entries_add(struct fwd_entries *e, const char *p, size_t len)
{
	while (len > 0 && (*p == ' ' || *p == '\t'))
		p++, len--;
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
		len--;
	if (len >= 2 && p[0] == '"' && p[len - 1] == '"')
		p++, len -= 2;
	if (len == 0 || e->n == DOTFORWARD_MAX_ENTRIES)
		return;
	e->v = x_reallocarray(e->v, e->n + 1, sizeof(*e->v));
	e->v[e->n++] = x_strndup(p, len);
}

/* Splits the file's text into entries (commas outside quotes, new lines). */
static void parse_entries(const char *text, struct fwd_entries *e)
{
	for (const char *line = text; *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t llen = end != NULL ? (size_t)(end - line) : strlen(line);
		const char *p = line;
		while (p < line + llen && (*p == ' ' || *p == '\t'))
			p++;
		if (p < line + llen && *p != '#') {
			bool quoted = false;
			const char *start = p;
			for (; p < line + llen; p++) {
				if (*p == '"')
					quoted = !quoted;
				else if (*p == ',' && !quoted) {
					entries_add(e, start, (size_t)(p - start));
					start = p + 1;
				}
			}
			entries_add(e, start, (size_t)(p - start));
		}
		line += llen + (end != NULL);
	}
}

/* Reads ~/.forward when it is safe to: NULL when absent, unsafe or unreadable. */
static char *read_forward(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		if (errno != ENOENT)
			log_warn(".forward: %s: %s; delivering to the mailbox", path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (st.st_uid != getuid() && st.st_uid != 0) ||
	    (st.st_mode & 022) != 0 || st.st_size > DOTFORWARD_MAX_SIZE) {
		log_warn(".forward: %s is not a regular file of its user that only they may write "
			 "(or is larger than %d bytes); ignored",
			 path, DOTFORWARD_MAX_SIZE);
		close(fd);
		return NULL;
	}
	char *text = x_malloc((size_t)st.st_size + 1);
	ssize_t n = read_full(fd, text, (size_t)st.st_size);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	return text;
}

/* Records one entry's outcome: the worst of all so far wins (defer over bounce over ok). */
static void merge(struct delivery_result *all, const struct delivery_result *one)
{
	if (one->status == DELIVERY_DEFER ||
	    (one->status == DELIVERY_BOUNCE && all->status == DELIVERY_OK))
		*all = *one;
}

static void run_pipe(struct deliver_msg *m, const char *cmd, struct delivery_result *res)
{
	struct deliver_src src;
	deliver_msg_src(m, &src);
	char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
	struct deliver_run run = {.argv = argv,
				  .cwd = m->user->root,
				  .input = &src,
				  .timeout = (unsigned)conf_num(m->ctx->conf, "deliver_command_timeout")};
	int rc = deliver_run_program(&run, NULL);
	if (rc == 0)
		deliver_result_set(res, DELIVERY_OK, "2.0.0", "piped to a command");
	else if (rc < 0 || rc == 75 || rc >= 128)
		deliver_result_set(res, DELIVERY_DEFER, "4.3.0", ".forward command failed (%d)", rc);
	else
		deliver_result_set(res, DELIVERY_BOUNCE, "5.3.0", ".forward command exited %d", rc);
}

static void append_file(struct deliver_msg *m, const char *entry, struct delivery_result *res)
{
	char *path = entry[0] == '~' ? x_asprintf("%s%s", m->user->root, entry + 1)
				     : x_strdup(entry);
	struct deliver_src src;
	deliver_msg_src(m, &src);
	uint64_t off;
	if (deliver_mbox_append(path, true, m->from_line, &src, false, 077, &off, res) == 0)
		deliver_result_set(res, DELIVERY_OK, "2.0.0", "appended to %s", path);
	x_free(&path);
}

/* The addresses as one forward: the message without our Return-Path:. */
static void forward_all(struct deliver_msg *m, char **addrs, size_t n,
			struct delivery_result *res)
{
	struct deliver_src src;
	deliver_msg_src(m, &src);
	const char *nl = strchr(m->head, '\n');
	src.mem = nl + 1;
	src.mem_len = strlen(src.mem);
	struct buf id = BUF_INIT, err = BUF_INIT;
	if (deliver_forward(m->ctx->conf, m->req->sender, addrs, n, &src, &id, &err) == 0) {
		log_info("%s: .forward of %s: forwarded as %s to %zu address(es)",
			 m->req->queue_id, m->user->login, buf_cstr(&id), n);
		deliver_result_set(res, DELIVERY_OK, "2.0.0", "forwarded as %s", buf_cstr(&id));
	} else {
		deliver_result_set(res, DELIVERY_DEFER, "4.3.0", ".forward: %s", buf_cstr(&err));
	}
	buf_free(&id);
	buf_free(&err);
}

int deliver_dotforward(struct deliver_msg *m, struct delivery_result *res, int *code_r)
{
	char *text = read_forward(m->user->forward);
	struct fwd_entries e = {0};
	if (text != NULL)
		parse_entries(text, &e);
	x_free(&text);
	if (e.n == 0)
		return 0;
	const char *at = strrchr(m->user->address, '@');
	char **addrs = x_calloc(e.n, sizeof(*addrs));
	size_t naddrs = 0;
	bool self = false;
	deliver_result_set(res, DELIVERY_OK, "2.0.0", "delivered by .forward");
	for (size_t i = 0; i < e.n; i++) {
		const char *x = e.v[i];
		struct delivery_result one;
		if (x[0] == '\\' && strcmp(x + 1, m->user->login) == 0) {
			self = true;
			continue;
		}
		if (x[0] == '\\')
			x++;
		if (x[0] == '|') {
			if (deliver_vacation_command(m, x + 1, &one) == 0)
				run_pipe(m, x + 1, &one);
			merge(res, &one);
		} else if (x[0] == '/' || (x[0] == '~' && x[1] == '/')) {
			append_file(m, x, &one);
			merge(res, &one);
		} else if (strncmp(x, ":include:", 9) == 0) {
			log_warn(".forward of %s: :include: is not supported there; skipped",
				 m->user->login);
		} else if (strchr(x, '@') == NULL && at != NULL) {
			addrs[naddrs++] = x_asprintf("%s%s", x, at);
		} else {
			addrs[naddrs++] = x_strdup(x);
		}
	}
	if (naddrs > 0) {
		struct delivery_result one;
		forward_all(m, addrs, naddrs, &one);
		merge(res, &one);
	}
	if (self) {
		struct delivery_result one;
		deliver_filtered(m, &one);
		merge(res, &one);
	}
	for (size_t i = 0; i < naddrs; i++)
		x_free(&addrs[i]);
	x_free(&addrs);
	for (size_t i = 0; i < e.n; i++)
		x_free(&e.v[i]);
	x_free(&e.v);
	*code_r = deliver_exit_code(res);
	return 1;
}
