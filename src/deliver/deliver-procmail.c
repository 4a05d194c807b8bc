/* deliver-procmail: the user's procmail rc file, run by lib-filter's engine (procmail.h)
 * with the side effects done here (struct procmail_ops).
 *
 * The engine sees "From SENDER  DATE", Return-Path:, Delivered-To: and the message, whole
 * when it fits deliver_filter_max_size, else its first bytes (then folder, pipe and
 * forward actions still get the whole message from the spool file: see text_src).
 * Folders: Maildir (dir/) durably through deliver-maildir.c, MH (dir/.) and plain
 * directories through deliver-mh.c, mbox files through deliver-mbox.c (dotlock + fcntl,
 * mboxrd); Maildir and MH copies lose the From_ line, as with procmail. `!` goes back into
 * Tern's queue with the original envelope sender ($SENDMAIL is not run). Programs run for
 * system users (as the user), and for virtual users when deliver_allow_commands is on. For virtual users every path (folder,
 * lock, LOGFILE, INCLUDERC) must stay inside the user's mail folder; /dev/null is allowed.
 */
#include "deliver-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "conf.h"
#include "log.h"
#include "procmail.h"
#include "util.h"
#include "xalloc.h"

struct pm_agent {
	struct deliver_msg *m;
	struct buf text; /* what the engine was given */
	size_t pre_len;	 /* From_ line and added header lines at its start */
	size_t hdr_len;	 /* its header section, the empty line included */
	bool partial;	 /* text is only the start of the message */
	bool filtered;	 /* an f filter replaced the message: the engine's texts are whole */
	char **locks;	 /* lockfiles held */
	size_t nlocks;
	bool allow_commands;
	unsigned timeout;
};

/* Joins path to the user's folder and removes "." and ".." lexically; NULL when the
 * result leaves the folder of a virtual user. */
static char *agent_path(const struct pm_agent *a, const char *path)
{
	const char *root = a->m->user->root;
	char *full = path[0] == '/' ? x_strdup(path) : x_asprintf("%s/%s", root, path);
	struct buf out = BUF_INIT;
	char *save = NULL;
	for (char *c = strtok_r(full, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			char *slash = out.len > 0 ? strrchr(out.data, '/') : NULL;
			buf_truncate(&out, slash != NULL ? (size_t)(slash - out.data) : 0);
			continue;
		}
		buf_printf(&out, "/%s", c);
	}
	x_free(&full);
	if (out.len == 0)
		buf_append_char(&out, '/');
	char *p = buf_steal(&out);
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (a->m->user->virtual_user && (strncmp(p, root, n) != 0 || (p[n] != 0 && p[n] != '/'))) {
		log_warn("procmail: %s is outside the user's folder %s", p, root);
		x_free(&p);
	}
	return p;
}

static bool starts_from(const char *p, size_t n)
{
	return n >= 5 && memcmp(p, "From ", 5) == 0;
}

/* The bytes to write for a text the engine hands over: itself, or, when the engine holds
 * only the start of the message, the matching piece of the spool. strip: without the
 * From_ line (Maildir, MH, forwards). */
static void text_src(const struct pm_agent *a, const char *text, size_t len, bool strip,
		     struct deliver_src *src)
{
	const struct deliver_msg *m = a->m;
	*src = (struct deliver_src){.mem = text, .mem_len = len, .fd = -1};
	if (a->partial && !a->filtered && len == a->text.len) {
		src->mem = a->text.data;
		src->mem_len = a->pre_len;
		src->fd = m->fd;
		src->fd_len = m->size;
	} else if (a->partial && !a->filtered && len == a->text.len - a->hdr_len && len > 0 &&
		   memcmp(text, a->text.data + a->hdr_len, len) == 0) {
		src->mem_len = 0;
		src->fd = m->fd;
		src->fd_off = a->hdr_len - a->pre_len;
		src->fd_len = m->size - src->fd_off;
		return;
	}
	if (strip && starts_from(src->mem, src->mem_len)) {
		const char *nl = memchr(src->mem, '\n', src->mem_len);
		size_t k = nl != NULL ? (size_t)(nl - src->mem) + 1 : src->mem_len;
		src->mem += k;
		src->mem_len -= k;
	}
}

static bool lock_held(const struct pm_agent *a, const char *path)
{
	for (size_t i = 0; i < a->nlocks; i++)
		if (strcmp(a->locks[i], path) == 0)
			return true;
	return false;
}

static int deliver_mbox_folder(struct pm_agent *a, const struct procmail_folder *f,
			       const char *path, struct delivery_result *res)
{
	struct deliver_src src;
	text_src(a, f->text, f->text_len, true, &src);
	struct buf from = BUF_INIT;
	if (starts_from(f->text, f->text_len))
		buf_append(&from, f->text,
			   strcspn(f->text, "\n") < f->text_len ? strcspn(f->text, "\n")
								: f->text_len);
	else
		buf_append_str(&from, a->m->from_line);
	char *lock = x_asprintf("%s.lock", path);
	uint64_t off = 0;
	int r = deliver_mbox_append(path, !lock_held(a, lock), buf_cstr(&from), &src, f->raw,
				    f->umask, &off, res);
	if (r == 0 && strcmp(path, a->m->user->inbox) == 0) {
		buf_reset(&a->m->inbox_path);
		buf_append_str(&a->m->inbox_path, path);
		a->m->inbox_offset = off;
	}
	x_free(&lock);
	buf_free(&from);
	return r;
}

static int op_deliver(void *ctx, const struct procmail_folder *f, struct buf *name_r)
{
	struct pm_agent *a = ctx;
	if (strcmp(f->path, "/dev/null") == 0)
		return 0;
	char *path = agent_path(a, f->path);
	if (path == NULL)
		return -1;
	struct deliver_src src;
	struct delivery_result res;
	struct stat st;
	int r;
	text_src(a, f->text, f->text_len, true, &src);
	if (f->kind == PROCMAIL_FOLDER_MAILDIR)
		r = deliver_msg_maildir(a->m, path, &src, name_r, &res);
	else if (f->kind == PROCMAIL_FOLDER_MH)
		r = deliver_dir_put(path, true, &src, f->umask, name_r, &res);
	else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		r = deliver_dir_put(path, false, &src, f->umask, name_r, &res);
	else {
		r = deliver_mbox_folder(a, f, path, &res);
		if (r == 0)
			buf_append_str(name_r, path);
	}
	if (r < 0)
		log_warn("procmail: %s: %s %s", log_safe(path, strlen(path), 300), res.enhanced,
			 res.text);
	x_free(&path);
	return r;
}

static int op_forward(void *ctx, const struct procmail_cmd *cmd)
{
	struct pm_agent *a = ctx;
	struct deliver_src src;
	text_src(a, cmd->input, cmd->input_len, true, &src);
	/* Our Return-Path: goes; the next hop adds its own (RFC 5321 4.4). */
	if (src.mem_len >= 12 && strncasecmp(src.mem, "Return-Path:", 12) == 0) {
		const char *nl = memchr(src.mem, '\n', src.mem_len);
		size_t k = nl != NULL ? (size_t)(nl - src.mem) + 1 : src.mem_len;
		src.mem += k;
		src.mem_len -= k;
	}
	/* argv: $SENDMAIL $SENDMAILFLAGS addresses...: the words that are not options. */
	char **rcpts = x_calloc(1, sizeof(char *));
	size_t n = 0;
	for (size_t i = 1; cmd->argv[i] != NULL; i++) {
		if (cmd->argv[i][0] == '-' || cmd->argv[i][0] == 0)
			continue;
		rcpts = x_reallocarray(rcpts, n + 1, sizeof(char *));
		rcpts[n++] = cmd->argv[i];
	}
	struct buf id = BUF_INIT, err = BUF_INIT;
	int r = deliver_forward(a->m->ctx->conf, a->m->req->sender, rcpts, n, &src, &id, &err);
	if (r < 0)
		log_warn("procmail: forward failed: %s", buf_cstr(&err));
	else
		log_info("%s: forwarded as %s to %zu address(es)", a->m->req->queue_id,
			 buf_cstr(&id), n);
	x_free(&rcpts);
	buf_free(&id);
	buf_free(&err);
	return r < 0 ? -1 : 0;
}

/* Runs a program for pipe and run; refused unless commands are allowed. A program that
 * does not read all its input fails only as a pipe or filter (not as a condition). */
static int agent_run(struct pm_agent *a, const struct procmail_cmd *cmd, struct buf *out_r,
		     bool whole_input)
{
	if (!a->allow_commands) {
		log_warn("procmail: not running \"%s\": deliver_allow_commands = no",
			 log_safe(cmd->argv[0], strlen(cmd->argv[0]), 200));
		return -1;
	}
	struct deliver_src src;
	text_src(a, cmd->input != NULL ? cmd->input : "", cmd->input_len, false, &src);
	char *cwd = agent_path(a, cmd->cwd != NULL && *cmd->cwd ? cmd->cwd : ".");
	struct deliver_run run = {.argv = cmd->argv,
				  .envp = cmd->envp,
				  .cwd = cwd != NULL ? cwd : a->m->user->root,
				  .input = &src,
				  .timeout = a->timeout,
				  .ignore_write_errors = cmd->ignore_write_errors || !whole_input};
	int rc = deliver_run_program(&run, out_r);
	x_free(&cwd);
	return rc;
}

static int op_pipe(void *ctx, const struct procmail_cmd *cmd)
{
	return agent_run(ctx, cmd, NULL, true);
}

static int op_run(void *ctx, const struct procmail_cmd *cmd, struct buf *out_r)
{
	struct pm_agent *a = ctx;
	/* An f filter is the only caller with this output limit. */
	bool filter = out_r != NULL && out_r->limit == PROCMAIL_MAX_MESSAGE;
	int rc = agent_run(a, cmd, out_r, filter);
	/* A filter that worked: the engine now holds its output, whole, instead of the
	 * start of the spooled message. */
	if (rc == 0 && filter)
		a->filtered = true;
	return rc;
}

static int op_read_file(void *ctx, const char *path, struct buf *out_r)
{
	char *p = agent_path(ctx, path);
	size_t len = 0;
	char *text = p != NULL ? read_file_small(p, PROCMAIL_MAX_RC_SIZE, &len) : NULL;
	x_free(&p);
	if (text == NULL)
		return -1;
	buf_append(out_r, text, len);
	x_free(&text);
	return 0;
}

static int op_lock(void *ctx, const char *path)
{
	struct pm_agent *a = ctx;
	char *p = agent_path(a, path);
	if (p == NULL || deliver_dotlock(p) < 0) {
		if (p != NULL)
			log_warn("procmail: cannot lock %s: %s", p, strerror(errno));
		x_free(&p);
		return -1;
	}
	a->locks = x_reallocarray(a->locks, a->nlocks + 1, sizeof(char *));
	a->locks[a->nlocks++] = p;
	return 0;
}

static void op_unlock(void *ctx, const char *path)
{
	struct pm_agent *a = ctx;
	char *p = agent_path(a, path);
	for (size_t i = 0; p != NULL && i < a->nlocks; i++) {
		if (strcmp(a->locks[i], p) != 0)
			continue;
		deliver_dotunlock(p);
		x_free(&a->locks[i]);
		a->locks[i] = a->locks[--a->nlocks];
		break;
	}
	x_free(&p);
}

static void op_log(void *ctx, const char *logfile, const char *text)
{
	if (logfile == NULL || *logfile == 0) {
		fputs(text, stderr);
		return;
	}
	char *p = agent_path(ctx, logfile);
	int fd =
	    p != NULL ? open(p, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
	if (fd >= 0) {
		if (write_full(fd, text, strlen(text)) < 0)
			log_warn("procmail: cannot write %s: %s", p, strerror(errno));
		close(fd);
	}
	x_free(&p);
}

static const struct procmail_ops agent_ops = {
    .deliver = op_deliver,
    .forward = op_forward,
    .pipe = op_pipe,
    .run = op_run,
    .read_file = op_read_file,
    .lock = op_lock,
    .unlock = op_unlock,
    .log = op_log,
};

/* The engine's text: From_ line, added header lines, and the message or its start. */
static int agent_text(struct pm_agent *a, uint64_t limit)
{
	struct deliver_msg *m = a->m;
	buf_printf(&a->text, "%s\n%s", m->from_line, m->head);
	a->pre_len = a->text.len;
	a->partial = m->size > limit;
	size_t want = (size_t)(a->partial ? limit : m->size);
	char *p = buf_reserve(&a->text, want);
	ssize_t n = want > 0 ? pread(m->fd, p, want, 0) : 0;
	if (n < 0 || (size_t)n != want)
		return -1;
	a->text.len += want;
	a->text.data[a->text.len] = 0;
	const char *e = memmem(a->text.data, a->text.len, "\n\n", 2);
	a->hdr_len = e != NULL ? (size_t)(e - a->text.data) + 2 : a->text.len;
	return 0;
}

static char *env_var(const char *name, const char *value)
{
	return x_asprintf("%s=%s", name, value);
}

/* The initial environment: HOME and MAILDIR are the user's mail folder (a system user's
 * home), DEFAULT the INBOX (a Maildir: "INBOX/"; a system user's mbox: its path). */
static void agent_env(const struct pm_agent *a, char **vars)
{
	const struct deliver_user *u = a->m->user;
	char *inbox = x_asprintf("%s%s", u->inbox, u->inbox_mbox ? "" : "/");
	size_t i = 0;
	vars[i++] = env_var("HOME", u->root);
	vars[i++] = env_var("MAILDIR", u->root);
	vars[i++] = env_var("DEFAULT", inbox);
	vars[i++] = env_var("ORGMAIL", inbox);
	vars[i++] = env_var("LOGNAME", u->login);
	vars[i++] = env_var("USER", u->login);
	vars[i++] = env_var("SHELL", "/bin/sh");
	vars[i++] = env_var("PATH", "/usr/local/bin:/usr/bin:/bin");
	vars[i++] = env_var("HOST", a->m->req->hostname);
	vars[i++] = env_var("SENDER", a->m->req->sender);
	vars[i++] = env_var("RECIPIENT", a->m->req->recipient);
	vars[i] = NULL;
	x_free(&inbox);
}

/* What the run comes to: procmail's EXITCODE wins when the rc file set it. */
static int agent_result(enum procmail_result pr, int exitcode, struct delivery_result *res)
{
	if (pr == PROCMAIL_FAILED) {
		deliver_result_set(res, DELIVERY_DEFER, "4.3.0",
				   "procmail recipes: no folder took the message");
		return 75;
	}
	if (exitcode <= 0) {
		deliver_result_set(res, DELIVERY_OK, "2.0.0", "delivered by procmail recipes");
		return 0;
	}
	if (exitcode == 75)
		deliver_result_set(res, DELIVERY_DEFER, "4.3.0", "procmail EXITCODE=75");
	else
		deliver_result_set(res, DELIVERY_BOUNCE, exitcode == 67 ? "5.1.1" : "5.3.0",
				   "procmail EXITCODE=%d", exitcode);
	return exitcode;
}

static struct procmail_rc *agent_parse(const struct deliver_user *u)
{
	size_t len = 0;
	char *text = read_file_small(u->procmailrc, PROCMAIL_MAX_RC_SIZE, &len);
	if (text == NULL) {
		log_warn("procmail: cannot read %s: %s; delivering to the INBOX", u->procmailrc,
			 strerror(errno));
		return NULL;
	}
	struct buf err = BUF_INIT;
	struct procmail_rc *rc = procmail_parse(u->procmailrc, text, len, &err);
	if (rc == NULL)
		log_warn("procmail: %s; delivering to the INBOX", buf_cstr(&err));
	buf_free(&err);
	x_free(&text);
	return rc;
}

int deliver_procmail(struct deliver_msg *m, struct delivery_result *res)
{
	struct procmail_rc *rc = agent_parse(m->user);
	if (rc == NULL)
		return deliver_plain(m, res);
	const struct conf *c = m->ctx->conf;
	struct pm_agent a = {.m = m,
			     /* A system user's commands run as that user, like procmail's. */
			     .allow_commands = conf_bool(c, "deliver_allow_commands") ||
					       !m->user->virtual_user,
			     .timeout = (unsigned)conf_num(c, "deliver_command_timeout")};
	int code;
	if (agent_text(&a, conf_num(c, "deliver_filter_max_size")) < 0) {
		deliver_result_errno(res, "cannot read", "the message", errno ? errno : EIO);
		code = 75;
	} else {
		char *vars[16];
		agent_env(&a, vars);
		struct procmail_env_init env = {.vars = (const char *const *)vars,
						.pid = (long)getpid()};
		int exitcode = -1;
		enum procmail_result pr =
		    procmail_run(rc, &agent_ops, &a, &env, a.text.data, a.text.len,
				 a.pre_len + m->size, a.partial, &exitcode);
		code = agent_result(pr, exitcode, res);
		for (size_t i = 0; vars[i] != NULL; i++)
			x_free(&vars[i]);
	}
	while (a.nlocks > 0)
		op_unlock(&a, a.locks[a.nlocks - 1]);
	x_free(&a.locks);
	buf_free(&a.text);
	procmail_rc_free(&rc);
	return code;
}
