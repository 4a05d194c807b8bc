/* procmail-run: the interpreter: procmail_run() evaluates an rc file against one message.
 *
 * Statements run in order on a stack of frames (the rc file, INCLUDERC files, nested
 * blocks); each frame keeps procmail's chaining state for A/a (did the last recipe without
 * A/a match), E (did the preceding recipe run) and e/a (did its action succeed), as the
 * real procmail 3.22 behaves (see test-procmail.c). Actions go to struct procmail_ops; a
 * delivering recipe that succeeds ends processing unless flagged c; falling off the end
 * delivers to $DEFAULT (then $ORGMAIL). A "c" block runs as a clone of the whole run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procmail-int.h"
#include "xalloc.h"

static void run_loop(struct pm_vm *vm);

static bool push_frame(struct pm_vm *vm, const struct procmail_stmt *stmts, size_t n,
		       bool file_base)
{
	if (vm->nframes >= PM_MAX_FRAMES) {
		pm_logf(vm, false, "procmail: Nesting too deep, skipped\n");
		return false;
	}
	struct pm_frame *f = &vm->frames[vm->nframes++];
	memset(f, 0, sizeof(*f));
	f->stmts = stmts;
	f->n = n;
	f->file_base = file_base;
	f->lastsucc = true;
	return true;
}

/* A relative path is taken from $MAILDIR, procmail's working directory. */
static char *resolve(const struct pm_vm *vm, const char *path)
{
	const char *dir = pm_get(vm, "MAILDIR");
	if (path[0] == '/' || dir == NULL || *dir == 0)
		return x_strdup(path);
	return x_asprintf("%s/%s", dir, path);
}

static struct procmail_rc *load_rc(struct pm_vm *vm, const char *name)
{
	struct buf text = BUF_INIT, err = BUF_INIT;
	char *path = resolve(vm, name);
	struct procmail_rc *rc = NULL;
	buf_init(&text, PROCMAIL_MAX_RC_SIZE + 1);
	if (vm->nloaded >= PROCMAIL_MAX_SWITCH) {
		pm_logf(vm, false, "procmail: Too many rcfiles, skipped \"%s\"\n", name);
	} else if (vm->ops->read_file(vm->ctx, path, &text) < 0) {
		pm_logf(vm, false, "procmail: Couldn't read \"%s\"\n", name);
	} else {
		rc = procmail_parse(name, text.data ? text.data : "", text.len, &err);
		if (rc == NULL)
			pm_logf(vm, false, "procmail: %s\n", buf_cstr(&err));
	}
	if (rc != NULL) {
		vm->loaded = x_reallocarray(vm->loaded, vm->nloaded + 1, sizeof(*vm->loaded));
		vm->loaded[vm->nloaded++] = rc;
	}
	x_free(&path);
	buf_free(&text);
	buf_free(&err);
	return rc;
}

static void set_global_lock(struct pm_vm *vm, const char *value)
{
	if (vm->global_lock != NULL) {
		vm->ops->unlock(vm->ctx, vm->global_lock);
		x_free(&vm->global_lock);
	}
	if (value == NULL || *value == 0)
		return;
	char *path = resolve(vm, value);
	if (vm->ops->lock(vm->ctx, path) == 0)
		vm->global_lock = path;
	else {
		pm_logf(vm, false, "procmail: Lock failure on \"%s\"\n", value);
		x_free(&path);
	}
}

/* Pops frames down to (and including) the current rc file's frame. */
static void leave_rcfile(struct pm_vm *vm)
{
	while (vm->nframes > 0 && !vm->frames[vm->nframes - 1].file_base)
		vm->nframes--;
	if (vm->nframes > 0)
		vm->nframes--;
}

static void special_assign(struct pm_vm *vm, const char *name, const char *value)
{
	if (strcmp(name, "LOG") == 0) {
		pm_logf(vm, false, "%s", value);
	} else if (strcmp(name, "LOCKFILE") == 0) {
		set_global_lock(vm, value);
	} else if (strcmp(name, "INCLUDERC") == 0 || strcmp(name, "SWITCHRC") == 0) {
		bool sw = name[0] == 'S';
		if (sw && *value == 0) {
			leave_rcfile(vm);
			return;
		}
		size_t files = 0;
		for (size_t i = 0; i < vm->nframes; i++)
			files += vm->frames[i].file_base;
		if (!sw && files > PROCMAIL_MAX_DEPTH) {
			pm_logf(vm, false, "procmail: INCLUDERC nested too deeply\n");
			return;
		}
		struct procmail_rc *rc = load_rc(vm, value);
		if (rc == NULL)
			return;
		if (sw)
			leave_rcfile(vm);
		push_frame(vm, rc->stmts, rc->nstmts, true);
	} else if (strcmp(name, "SHIFT") == 0) {
		long n = atol(value);
		if (n > 0) {
			size_t k = (size_t)n < vm->nargs ? (size_t)n : vm->nargs;
			vm->args += k;
			vm->nargs -= k;
		}
	}
}

static void exec_assign(struct pm_vm *vm, const struct procmail_stmt *st)
{
	if (st->name == NULL) {
		pm_logf(vm, false, "procmail: Skipped \"%s\"\n", st->value);
		return;
	}
	if (st->value == NULL) {
		pm_logf(vm, true, "procmail: Assigning \"%s\"\n", st->name);
		pm_unset(vm, st->name);
		if (strcmp(st->name, "SWITCHRC") == 0)
			leave_rcfile(vm);
		else if (strcmp(st->name, "LOCKFILE") == 0)
			set_global_lock(vm, NULL);
		return;
	}
	struct buf v = BUF_INIT;
	if (pm_expand(vm, st->value, PM_EXP_WORD, &v, NULL) < 0) {
		pm_logf(vm, false, "procmail: Exceeded LINEBUF, rcfile abandoned\n");
		buf_free(&v);
		leave_rcfile(vm);
		return;
	}
	char *value = buf_steal(&v);
	pm_logf(vm, true, "procmail: Assigning \"%s=%s\"\n", st->name, value);
	pm_set(vm, st->name, value);
	special_assign(vm, st->name, value);
	x_free(&value);
}

/* What h and b send to an action. */
static void feed_text(const struct pm_vm *vm, unsigned flags, const char **p, size_t *len)
{
	bool h = flags & PROCMAIL_F_HEADER_FEED, b = flags & PROCMAIL_F_BODY_FEED;
	*p = vm->msg.data != NULL ? vm->msg.data : "";
	*len = vm->msg.len;
	if (h && !b) {
		*len = vm->hdr_len;
	} else if (b && !h) {
		*p += vm->hdr_len;
		*len -= vm->hdr_len;
	}
}

static void log_abstract(struct pm_vm *vm, const char *folder, size_t len)
{
	const char *la = pm_get(vm, "LOGABSTRACT");
	if (pm_get(vm, "LOGFILE") == NULL || (la != NULL && !pm_bool(la, true)))
		return;
	struct buf b = BUF_INIT;
	const char *m = vm->msg.data != NULL ? vm->msg.data : "";
	if (strncmp(m, "From ", 5) == 0)
		buf_printf(&b, "%.*s\n", (int)strcspn(m, "\n"), m);
	for (const char *p = m; p < m + vm->hdr_len; p = strchr(p, '\n') + 1) {
		if (strncasecmp(p, "Subject:", 8) == 0) {
			buf_printf(&b, " %.*s\n", (int)strcspn(p, "\n"), p);
			break;
		}
		if (strchr(p, '\n') == NULL)
			break;
	}
	buf_printf(&b, "  Folder: %s", folder);
	size_t col = 10 + strlen(folder);
	do {
		buf_append_char(&b, '\t');
		col = (col / 8 + 1) * 8;
	} while (col < 72);
	buf_printf(&b, "%7zu\n", len);
	pm_logf(vm, false, "%s", buf_cstr(&b));
	buf_free(&b);
}

/* Marks a successful delivering action. */
static void delivered(struct pm_vm *vm, const struct procmail_recipe *r, const char *folder,
		      size_t len)
{
	const char *la = pm_get(vm, "LOGABSTRACT");
	bool all = la != NULL && strcmp(la, "all") == 0;
	if (all || !(r->flags & PROCMAIL_F_COPY))
		log_abstract(vm, folder, len);
	if (!(r->flags & PROCMAIL_F_COPY)) {
		vm->delivered = true;
		vm->stop = true;
	}
}

static enum procmail_folder_kind folder_kind(char *path)
{
	size_t n = strlen(path);
	if (n >= 2 && strcmp(path + n - 2, "/.") == 0) {
		path[n - 2] = 0;
		return PROCMAIL_FOLDER_MH;
	}
	if (n >= 2 && path[n - 1] == '/') {
		while (n > 1 && path[n - 1] == '/')
			path[--n] = 0;
		return PROCMAIL_FOLDER_MAILDIR;
	}
	return PROCMAIL_FOLDER_FILE;
}

/* Delivers to one folder name; returns 0 or -1; the name written goes to lastfolder. */
static int deliver_one(struct pm_vm *vm, const char *name, const char *lockname, unsigned flags,
		       struct buf *lastfolder)
{
	char *path = resolve(vm, name);
	enum procmail_folder_kind kind = folder_kind(path);
	const char *text;
	size_t len;
	feed_text(vm, flags, &text, &len);
	const char *um = pm_get(vm, "UMASK");
	struct procmail_folder f = {.kind = kind, .path = path, .lockfile = lockname,
				    .text = text, .text_len = len,
				    .raw = flags & PROCMAIL_F_RAW, .partial = vm->partial,
				    .umask = um != NULL ? (unsigned)strtoul(um, NULL, 8) : 077};
	struct buf final = BUF_INIT;
	pm_logf(vm, true, "procmail: Opening \"%s\"\n", name);
	int rc = vm->ops->deliver(vm->ctx, &f, &final);
	if (lastfolder->len > 0)
		buf_append_char(lastfolder, ' ');
	buf_append_str(lastfolder, final.len > 0 ? buf_cstr(&final) : name);
	if (rc < 0)
		pm_logf(vm, false, "procmail: Error while writing to \"%s\"\n", name);
	buf_free(&final);
	x_free(&path);
	return rc < 0 ? -1 : 0;
}

static char *lock_name(struct pm_vm *vm, const struct procmail_recipe *r, const char *target)
{
	if (!r->local_lock)
		return NULL;
	struct buf b = BUF_INIT;
	if (r->lockfile != NULL) {
		pm_expand(vm, r->lockfile, PM_EXP_DQUOTE, &b, NULL);
	} else if (target != NULL) {
		const char *ext = pm_get(vm, "LOCKEXT");
		buf_printf(&b, "%s%s", target, ext != NULL ? ext : ".lock");
	} else {
		pm_logf(vm, false, "procmail: Couldn't determine implicit lockfile\n");
		return NULL;
	}
	char *path = resolve(vm, buf_cstr(&b));
	buf_free(&b);
	return path;
}

static bool with_lock(struct pm_vm *vm, const char *lock)
{
	if (lock == NULL)
		return true;
	if (vm->ops->lock(vm->ctx, lock) == 0)
		return true;
	pm_logf(vm, false, "procmail: Lock failure on \"%s\"\n", lock);
	return false;
}

static void without_lock(struct pm_vm *vm, char **lock)
{
	if (*lock != NULL)
		vm->ops->unlock(vm->ctx, *lock);
	x_free(lock);
}

static bool is_dir_name(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && name[n - 1] == '/' ? true : n >= 2 && strcmp(name + n - 2, "/.") == 0;
}

static bool act_folder(struct pm_vm *vm, const struct procmail_recipe *r)
{
	struct pm_words w = {0};
	if (pm_expand(vm, r->action_text, PM_EXP_WORDS, NULL, &w) < 0 || w.n == 0) {
		pm_logf(vm, false, "procmail: Missing or too long folder name\n");
		pm_words_free(&w);
		return false;
	}
	char *lock = lock_name(vm, r, w.v[0]);
	struct buf last = BUF_INIT;
	bool ok = with_lock(vm, lock);
	if (ok)
		ok = deliver_one(vm, w.v[0], lock, r->flags, &last) == 0;
	for (size_t i = 1; i < w.n && ok; i++) {
		if (is_dir_name(w.v[0]) && is_dir_name(w.v[i]))
			ok = deliver_one(vm, w.v[i], lock, r->flags, &last) == 0;
		else
			pm_logf(vm, false, "procmail: Skipped \"%s\"\n", w.v[i]);
	}
	if (ok)
		without_lock(vm, &lock);
	else
		x_free(&lock);
	pm_set(vm, "LASTFOLDER", buf_cstr(&last));
	if (ok) {
		const char *text;
		size_t len;
		feed_text(vm, r->flags, &text, &len);
		delivered(vm, r, buf_cstr(&last), len);
	}
	buf_free(&last);
	pm_words_free(&w);
	return ok;
}

static bool act_forward(struct pm_vm *vm, const struct procmail_recipe *r)
{
	struct pm_words addrs = {0}, argv = {0};
	const char *sm = pm_get(vm, "SENDMAIL"), *flags = pm_get(vm, "SENDMAILFLAGS");
	bool ok = false;
	if (pm_expand(vm, r->action_text, PM_EXP_WORDS, NULL, &addrs) < 0 || addrs.n == 0) {
		pm_logf(vm, false, "procmail: No addresses to forward to\n");
		goto out;
	}
	struct buf line = BUF_INIT;
	buf_printf(&line, "\"$SENDMAIL\" %s", flags != NULL ? "$SENDMAILFLAGS" : "-oi");
	pm_expand(vm, buf_cstr(&line), PM_EXP_WORDS, NULL, &argv);
	buf_free(&line);
	if (sm == NULL && argv.n > 0) {
		x_free(&argv.v[0]);
		argv.v[0] = x_strdup("/usr/sbin/sendmail");
	}
	for (size_t i = 0; i < addrs.n && argv.n < PM_MAX_WORDS; i++) {
		argv.v = x_reallocarray(argv.v, argv.n + 2, sizeof(char *));
		argv.v[argv.n++] = x_strdup(addrs.v[i]);
		argv.v[argv.n] = NULL;
	}
	char **envp = pm_envp(vm);
	const char *text;
	size_t len;
	feed_text(vm, r->flags, &text, &len);
	struct procmail_cmd cmd = {.argv = argv.v, .envp = envp, .cwd = pm_get(vm, "MAILDIR"),
				   .input = text, .input_len = len, .wait = true,
				   .ignore_write_errors = r->flags & PROCMAIL_F_IGNORE};
	pm_logf(vm, true, "procmail: Forwarding to \"%s\"\n", r->action_text);
	ok = vm->ops->forward(vm->ctx, &cmd) == 0;
	pm_envp_free(&envp);
	if (ok)
		delivered(vm, r, argv.v[0], len);
	else
		pm_logf(vm, false, "procmail: Forward to \"%s\" failed\n", r->action_text);
out:
	pm_words_free(&addrs);
	pm_words_free(&argv);
	return ok;
}

/* Splits a filter's output into the message (or the header or body it replaces). */
static void replace_message(struct pm_vm *vm, unsigned flags, const struct buf *out)
{
	bool h = flags & PROCMAIL_F_HEADER_FEED, b = flags & PROCMAIL_F_BODY_FEED;
	struct buf m = BUF_INIT;
	const char *d = out->data != NULL ? out->data : "";
	if (h && !b) {
		buf_append(&m, d, out->len);
		buf_append(&m, vm->msg.data + vm->hdr_len, vm->msg.len - vm->hdr_len);
	} else if (b && !h) {
		buf_append(&m, vm->msg.data, vm->hdr_len);
		buf_append(&m, d, out->len);
	} else {
		buf_append(&m, d, out->len);
	}
	buf_free(&vm->msg);
	vm->msg = m;
	const char *e = memmem(m.data ? m.data : "", m.len, "\n\n", 2);
	vm->hdr_len = m.len > 0 && m.data[0] == '\n' ? 1 : e != NULL ? (size_t)(e - m.data) + 2
								     : m.len;
	vm->total_len = vm->partial ? vm->total_len : m.len;
}

static bool act_pipe(struct pm_vm *vm, const struct procmail_recipe *r)
{
	const char *text;
	size_t len;
	bool wait = r->flags & (PROCMAIL_F_WAIT | PROCMAIL_F_WAIT_QUIET);
	bool capture = r->capture_var != NULL, filter = r->flags & PROCMAIL_F_FILTER;
	feed_text(vm, r->flags, &text, &len);
	char *lock = lock_name(vm, r, NULL);
	if (!with_lock(vm, lock)) {
		x_free(&lock);
		return false;
	}
	int rc;
	struct buf out = BUF_INIT;
	buf_init(&out, capture ? PROCMAIL_MAX_OUTPUT : PROCMAIL_MAX_MESSAGE);
	if (capture || filter) {
		rc = pm_run_program(vm, r->action_text, text, len, wait || filter, &out);
	} else {
		struct pm_words argv = {0};
		pm_command_argv(vm, r->action_text, &argv);
		char **envp = pm_envp(vm);
		struct procmail_cmd cmd = {.argv = argv.v, .envp = envp,
					   .cwd = pm_get(vm, "MAILDIR"), .input = text,
					   .input_len = len, .wait = wait,
					   .quiet = r->flags & PROCMAIL_F_WAIT_QUIET,
					   .ignore_write_errors = r->flags & PROCMAIL_F_IGNORE};
		pm_set(vm, "LASTFOLDER", r->action_text);
		pm_logf(vm, true, "procmail: Executing \"%s\"\n", r->action_text);
		rc = vm->ops->pipe(vm->ctx, &cmd);
		pm_envp_free(&envp);
		pm_words_free(&argv);
	}
	without_lock(vm, &lock);
	vm->last_exit = rc;
	bool ok = wait ? rc == 0 : rc >= 0;
	if (rc != 0 && wait && !(r->flags & PROCMAIL_F_WAIT_QUIET))
		pm_logf(vm, false, "procmail: Program failure (%d) of \"%s\"\n", rc,
			r->action_text);
	if (ok && capture) {
		if (out.len > 0 && out.data[out.len - 1] == '\n')
			out.len--;
		buf_truncate(&out, out.len);
		pm_set(vm, r->capture_var, buf_cstr(&out));
	} else if (ok && filter) {
		if (out.overflow)
			ok = false;
		else
			replace_message(vm, r->flags, &out);
	} else if (ok) {
		delivered(vm, r, r->action_text, len);
	}
	buf_free(&out);
	return ok;
}

static void vm_free(struct pm_vm *vm);
static void finish(struct pm_vm *vm);

/* A "c" block: procmail forks a clone that runs the block and the rest of the rc file. */
static void run_clone(struct pm_vm *vm, const struct procmail_recipe *r)
{
	if (*vm->clones >= PM_MAX_CLONES) {
		pm_logf(vm, false, "procmail: Too many clones, block skipped\n");
		return;
	}
	(*vm->clones)++;
	struct pm_vm *c = X_NEW(struct pm_vm);
	*c = *vm;
	pm_vars_copy(c, vm);
	c->msg = (struct buf)BUF_INIT;
	buf_append(&c->msg, vm->msg.data ? vm->msg.data : "", vm->msg.len);
	c->loaded = NULL;
	c->nloaded = 0;
	c->global_lock = NULL;
	c->rcname = x_strdup(vm->rcname ? vm->rcname : "");
	if (push_frame(c, r->block, r->nblock, false)) {
		run_loop(c);
		finish(c);
	}
	vm_free(c);
	x_free(&c);
}

static bool do_action(struct pm_vm *vm, const struct procmail_recipe *r)
{
	switch (r->action) {
	case PROCMAIL_ACT_FOLDER:
		return act_folder(vm, r);
	case PROCMAIL_ACT_FORWARD:
		return act_forward(vm, r);
	case PROCMAIL_ACT_PIPE:
		return act_pipe(vm, r);
	case PROCMAIL_ACT_BLOCK:
		if (r->flags & PROCMAIL_F_COPY)
			run_clone(vm, r);
		else
			push_frame(vm, r->block, r->nblock, false);
		return true;
	}
	return false;
}

/* The gate of A/a/E/e, the conditions, then the action; see the file comment. */
static void exec_recipe(struct pm_vm *vm, const struct procmail_recipe *r)
{
	struct pm_frame *f = &vm->frames[vm->nframes - 1];
	unsigned fl = r->flags;
	bool and_flag = fl & (PROCMAIL_F_AND | PROCMAIL_F_AND_SUCC);
	bool gate = true;
	if (fl & PROCMAIL_F_AND)
		gate = gate && f->lastcond;
	if (fl & PROCMAIL_F_AND_SUCC)
		gate = gate && f->lastcond && f->lastsucc;
	if (fl & PROCMAIL_F_ELSE)
		gate = gate && !f->prev_exec;
	if (fl & PROCMAIL_F_ERROR)
		gate = gate && f->prev_exec && !f->lastsucc;
	if (!gate) {
		if (!and_flag)
			f->lastcond = false;
		if (!(fl & PROCMAIL_F_ELSE))
			f->prev_exec = false;
		return;
	}
	bool matched = pm_conditions(vm, r);
	if (!and_flag)
		f->lastcond = matched;
	f->prev_exec = matched;
	if (!matched)
		return;
	bool ok = do_action(vm, r);
	/* a block pushed a frame: f still points at this recipe's level */
	f->lastsucc = ok;
}

static void run_loop(struct pm_vm *vm)
{
	while (vm->nframes > 0 && !vm->stop) {
		struct pm_frame *f = &vm->frames[vm->nframes - 1];
		if (f->idx >= f->n) {
			vm->nframes--;
			continue;
		}
		const struct procmail_stmt *st = &f->stmts[f->idx++];
		if (st->is_recipe)
			exec_recipe(vm, &st->recipe);
		else
			exec_assign(vm, st);
	}
}

/* Falling off the end: $DEFAULT, then $ORGMAIL as the last resort. */
static void deliver_default(struct pm_vm *vm)
{
	const char *names[2] = {pm_get(vm, "DEFAULT"), pm_get(vm, "ORGMAIL")};
	for (int i = 0; i < 2 && !vm->delivered; i++) {
		if (names[i] == NULL || *names[i] == 0 || (i == 1 && names[0] != NULL &&
							   strcmp(names[0], names[1]) == 0))
			continue;
		struct procmail_recipe r = {.flags = PROCMAIL_F_HEADER_FEED | PROCMAIL_F_BODY_FEED,
					    .local_lock = true};
		char *lock = NULL, *name = x_strdup(names[i]);
		if (!is_dir_name(name) && strcmp(name, "/dev/null") != 0)
			lock = lock_name(vm, &r, name);
		struct buf last = BUF_INIT;
		bool ok = with_lock(vm, lock) && deliver_one(vm, name, lock, r.flags, &last) == 0;
		if (ok)
			without_lock(vm, &lock);
		x_free(&lock);
		pm_set(vm, "LASTFOLDER", buf_cstr(&last));
		if (ok)
			delivered(vm, &r, buf_cstr(&last), vm->msg.len);
		buf_free(&last);
		x_free(&name);
	}
}

static void finish(struct pm_vm *vm)
{
	if (!vm->delivered)
		deliver_default(vm);
	if (vm->global_lock != NULL)
		set_global_lock(vm, NULL);
}

static void vm_free(struct pm_vm *vm)
{
	pm_vars_free(vm);
	buf_free(&vm->msg);
	for (size_t i = 0; i < vm->nloaded; i++)
		procmail_rc_free(&vm->loaded[i]);
	x_free(&vm->loaded);
	x_free(&vm->global_lock);
	x_free(&vm->rcname);
}

static void set_default(struct pm_vm *vm, const char *name, const char *value)
{
	if (pm_get(vm, name) == NULL)
		pm_set(vm, name, value);
}

enum procmail_result procmail_run(const struct procmail_rc *rc, const struct procmail_ops *ops,
				  void *ctx, const struct procmail_env_init *env,
				  const char *msg, size_t msg_len, size_t total_len, bool partial,
				  int *exitcode_r)
{
	struct pm_vm vm = {.ops = ops, .ctx = ctx, .args = env->args, .nargs = env->nargs,
			   .pid = env->pid, .total_len = total_len, .partial = partial};
	size_t clones = 0;
	vm.clones = &clones;
	vm.rcname = x_strdup(rc->name);
	for (size_t i = 0; env->vars != NULL && env->vars[i] != NULL; i++) {
		const char *eq = strchr(env->vars[i], '=');
		if (eq == NULL)
			continue;
		char *name = x_strndup(env->vars[i], (size_t)(eq - env->vars[i]));
		pm_set(&vm, name, eq + 1);
		x_free(&name);
	}
	set_default(&vm, "SHELLMETAS", "&|<>~;?*[");
	set_default(&vm, "SHELLFLAGS", "-c");
	set_default(&vm, "SHELL", "/bin/sh");
	set_default(&vm, "SENDMAIL", "/usr/sbin/sendmail");
	set_default(&vm, "SENDMAILFLAGS", "-oi");
	set_default(&vm, "LOCKEXT", ".lock");
	set_default(&vm, "MSGPREFIX", "msg.");
	if (pm_get(&vm, "DEFAULT") == NULL && pm_get(&vm, "ORGMAIL") != NULL)
		pm_set(&vm, "DEFAULT", pm_get(&vm, "ORGMAIL"));
	struct buf m = BUF_INIT;
	m.len = 0;
	buf_append(&m, msg, msg_len);
	vm.msg = (struct buf)BUF_INIT;
	replace_message(&vm, PROCMAIL_F_HEADER_FEED | PROCMAIL_F_BODY_FEED, &m);
	buf_free(&m);
	if (!partial)
		vm.total_len = msg_len;
	push_frame(&vm, rc->stmts, rc->nstmts, true);
	run_loop(&vm);
	finish(&vm);
	if (exitcode_r != NULL) {
		const char *ec = pm_get(&vm, "EXITCODE");
		*exitcode_r = ec != NULL && *ec ? atoi(ec) : -1;
	}
	enum procmail_result res = vm.delivered ? PROCMAIL_DELIVERED : PROCMAIL_FAILED;
	vm_free(&vm);
	return res;
}
