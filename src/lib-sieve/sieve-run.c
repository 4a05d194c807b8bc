/* sieve-run: the interpreter of the control commands and actions, and sieve_execute().
 *
 * RFC 5228 3 (if/elsif/else, stop), 4 (keep, fileinto, redirect, discard), RFC 5229 4
 * (set), RFC 5232 3 (setflag, addflag, removeflag; the internal flags variable used by
 * keep/fileinto without :flags), RFC 5429 (reject, ereject), RFC 6609 (include with
 * :once/:optional, return, global; depth and count bounded), RFC 5463 (error). A runtime
 * error ends the run: the result is then only the implicit keep (RFC 5228 2.10.6).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime-part.h"
#include "sieve-run.h"
#include "xalloc.h"

int sieve_runtime_error(struct sieve_run *r, int line, const char *fmt, ...)
{
	if (r->failed)
		return -1;
	va_list ap;
	r->failed = true;
	r->err->line = line;
	r->err->col = 0;
	va_start(ap, fmt);
	vsnprintf(r->err->msg, sizeof(r->err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

char **sieve_flags_copy(const struct sieve_strs *flags)
{
	if (flags->count == 0)
		return NULL;
	char **v = x_calloc(flags->count + 1, sizeof(char *));
	for (size_t i = 0; i < flags->count; i++)
		v[i] = x_strdup(flags->v[i]);
	return v;
}

/* The IMAP spelling of a system flag (RFC 3501 2.3.2), or NULL. */
static const char *system_flag(const char *s, size_t n)
{
	static const char *const sys[] = {"\\Seen",    "\\Answered", "\\Flagged",
					  "\\Deleted", "\\Draft",    "\\Recent"};
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		if (strlen(sys[i]) == n && strncasecmp(sys[i], s, n) == 0)
			return sys[i];
	return NULL;
}

/* Adds each space-separated flag of s to set, once (flags compare case-insensitively). */
static void flags_add(struct sieve_strs *set, const char *s)
{
	while (*s != '\0') {
		size_t n = strcspn(s, " ");
		bool dup = n == 0;
		for (size_t i = 0; i < set->count && !dup; i++)
			dup = strlen(set->v[i]) == n && strncasecmp(set->v[i], s, n) == 0;
		const char *canon = system_flag(s, n);
		if (!dup && set->count < SIEVE_MAX_LIST)
			sieve_strs_add(set, canon != NULL ? canon : s, n);
		s += n;
		s += strspn(s, " ");
	}
}

static void flags_remove(struct sieve_strs *set, const char *s)
{
	while (*s != '\0') {
		size_t n = strcspn(s, " ");
		for (size_t i = 0; i < set->count; i++) {
			if (strlen(set->v[i]) == n && strncasecmp(set->v[i], s, n) == 0) {
				free(set->v[i]);
				set->v[i] = set->v[--set->count];
				break;
			}
		}
		s += n;
		s += strspn(s, " ");
	}
}

/* The flags of a list argument (expanded), as a fresh set. */
static void flags_of(struct sieve_run *r, const struct sieve_arg *a, struct sieve_strs *out)
{
	for (size_t i = 0; i < a->count; i++) {
		char *s = sieve_expand_str(r, a->strs[i]);
		flags_add(out, s);
		free(s);
	}
}

static void join_flags(const struct sieve_strs *set, struct buf *out)
{
	for (size_t i = 0; i < set->count; i++)
		buf_printf(out, "%s%s", i > 0 ? " " : "", set->v[i]);
}

/* setflag/addflag/removeflag, on the internal variable or on a named one. */
static int cmd_flags(struct sieve_run *r, const struct sieve_node *n)
{
	const struct sieve_opts *o = &n->opts;
	struct sieve_strs set = {0}, named = {0};
	struct sieve_strs *target = &r->flags;
	char *var = NULL;
	struct sieve_scope *scope = r->local;
	if (o->npos == 2) {
		var = sieve_expand_str(r, o->pos[0]->strs[0]);
		if (!sieve_var_name_valid(var, false)) {
			free(var);
			return sieve_runtime_error(r, n->line, "invalid variable name");
		}
		if (sieve_var_find(r->local, var) == NULL && sieve_var_find(&r->global, var))
			scope = &r->global;
		struct sieve_var *v = sieve_var_find(scope, var);
		if (v != NULL && v->value.data != NULL)
			flags_add(&named, v->value.data);
		target = &named;
	}
	flags_of(r, o->pos[o->npos - 1], &set);
	if (n->spec->id == SIEVE_CMD_SETFLAG)
		sieve_strs_free(target);
	for (size_t i = 0; i < set.count; i++) {
		if (n->spec->id == SIEVE_CMD_REMOVEFLAG)
			flags_remove(target, set.v[i]);
		else
			flags_add(target, set.v[i]);
	}
	if (var != NULL) {
		struct buf b = BUF_INIT;
		join_flags(&named, &b);
		sieve_var_set(r, scope, var, b.data != NULL ? b.data : "", b.len);
		buf_free(&b);
	}
	free(var);
	sieve_strs_free(&named);
	sieve_strs_free(&set);
	return r->failed ? -1 : 0;
}

static int cmd_store(struct sieve_run *r, const struct sieve_node *n)
{
	const struct sieve_opts *o = &n->opts;
	struct sieve_action a = {.line = n->line, .copy = o->copy, .create = o->create};
	if (n->spec->id == SIEVE_CMD_KEEP) {
		a.type = SIEVE_ACT_KEEP;
		a.mailbox = x_strdup("INBOX");
	} else {
		a.type = SIEVE_ACT_FILEINTO;
		a.mailbox = sieve_expand_str(r, o->pos[0]->strs[0]);
	}
	if (o->flags != NULL) {
		struct sieve_strs set = {0};
		flags_of(r, o->flags, &set);
		a.flags = sieve_flags_copy(&set);
		sieve_strs_free(&set);
	} else {
		a.flags = sieve_flags_copy(&r->flags);
	}
	return sieve_result_add(r, &a);
}

static int cmd_simple(struct sieve_run *r, const struct sieve_node *n, enum sieve_action_type t)
{
	struct sieve_action a = {.type = t, .line = n->line, .copy = n->opts.copy};
	if (t == SIEVE_ACT_REDIRECT) {
		a.address = sieve_expand_str(r, n->opts.pos[0]->strs[0]);
		if (strchr(a.address, '@') == NULL || strpbrk(a.address, " <>\r\n") != NULL) {
			sieve_action_clear(&a);
			return sieve_runtime_error(r, n->line, "invalid redirect address");
		}
	} else if (t == SIEVE_ACT_REJECT || t == SIEVE_ACT_EREJECT) {
		a.text = sieve_expand_str(r, n->opts.pos[0]->strs[0]);
	}
	return sieve_result_add(r, &a);
}

static int cmd_set(struct sieve_run *r, const struct sieve_node *n)
{
	struct buf v = BUF_INIT;
	const struct sieve_arg *val = n->opts.pos[1];
	sieve_expand(r, val->strs[0], val->lens[0], &v);
	sieve_apply_modifiers(n->opts.mods, &v);
	const char *name = n->opts.pos[0]->strs[0];
	struct sieve_scope *scope = r->local;
	if (sieve_var_find(r->local, name) == NULL && sieve_var_find(&r->global, name) != NULL)
		scope = &r->global;
	sieve_var_set(r, scope, name, v.data != NULL ? v.data : "", v.len);
	buf_free(&v);
	return r->failed ? -1 : 0;
}

static int cmd_global(struct sieve_run *r, const struct sieve_node *n)
{
	const struct sieve_arg *a = n->opts.pos[0];
	for (size_t i = 0; i < a->count; i++)
		if (sieve_var_find(&r->global, a->strs[i]) == NULL)
			sieve_var_set(r, &r->global, a->strs[i], "", 0);
	return r->failed ? -1 : 0;
}

static int run_script(struct sieve_run *r, const struct sieve_script *s);

static int cmd_include(struct sieve_run *r, const struct sieve_node *n)
{
	const struct sieve_opts *o = &n->opts;
	char *name = sieve_expand_str(r, o->pos[0]->strs[0]);
	struct sieve_error e = {0};
	const struct sieve_script *s =
	    r->ops->include != NULL ? r->ops->include(r->ops->ctx, o->global, name, &e) : NULL;
	int ret = 0;
	if (s == NULL) {
		if (!o->optional || e.msg[0] != '\0')
			ret = sieve_runtime_error(r, n->line, "include \"%s\": %s", name,
						  e.msg[0] != '\0' ? e.msg : "script not found");
		free(name);
		return ret;
	}
	free(name);
	for (size_t i = 0; o->once && i < r->nonce; i++)
		if (r->once[i] == s)
			return 0;
	if (r->include_depth >= SIEVE_MAX_INCLUDE_DEPTH || r->nincludes >= SIEVE_MAX_INCLUDES)
		return sieve_runtime_error(r, n->line, "includes nested too deeply or too many");
	r->once[r->nonce++] = s; /* every include counts for a later :once */
	r->nincludes++;
	r->include_depth++;
	ret = run_script(r, s);
	r->include_depth--;
	return ret;
}

static int run_command(struct sieve_run *r, const struct sieve_node *n)
{
	switch (n->spec->id) {
	case SIEVE_CMD_REQUIRE:
		return 0;
	case SIEVE_CMD_STOP:
		r->stopped = true;
		return 0;
	case SIEVE_CMD_RETURN:
		r->returned = true;
		return 0;
	case SIEVE_CMD_KEEP:
	case SIEVE_CMD_FILEINTO:
		return cmd_store(r, n);
	case SIEVE_CMD_DISCARD:
		return cmd_simple(r, n, SIEVE_ACT_DISCARD);
	case SIEVE_CMD_REDIRECT:
		return cmd_simple(r, n, SIEVE_ACT_REDIRECT);
	case SIEVE_CMD_REJECT:
		return cmd_simple(r, n, SIEVE_ACT_REJECT);
	case SIEVE_CMD_EREJECT:
		return cmd_simple(r, n, SIEVE_ACT_EREJECT);
	case SIEVE_CMD_VACATION:
		return sieve_cmd_vacation(r, n);
	case SIEVE_CMD_SET:
		return cmd_set(r, n);
	case SIEVE_CMD_SETFLAG:
	case SIEVE_CMD_ADDFLAG:
	case SIEVE_CMD_REMOVEFLAG:
		return cmd_flags(r, n);
	case SIEVE_CMD_INCLUDE:
		return cmd_include(r, n);
	case SIEVE_CMD_GLOBAL:
		return cmd_global(r, n);
	case SIEVE_CMD_ERROR: {
		char *m = sieve_expand_str(r, n->opts.pos[0]->strs[0]);
		sieve_runtime_error(r, n->line, "%s", m);
		free(m);
		return -1;
	}
	default:
		return sieve_runtime_error(r, n->line, "'%s' is not a command", n->name);
	}
}

int sieve_run_block(struct sieve_run *r, struct sieve_node *const *cmds, size_t n)
{
	bool branch_done = false; /* an if/elsif of this chain ran its block */
	for (size_t i = 0; i < n && !r->stopped && !r->returned; i++) {
		const struct sieve_node *c = cmds[i];
		enum sieve_cmd_id id = c->spec->id;
		if (id == SIEVE_CMD_IF || id == SIEVE_CMD_ELSIF || id == SIEVE_CMD_ELSE) {
			if (id == SIEVE_CMD_IF)
				branch_done = false;
			if (branch_done)
				continue;
			bool v = true;
			if (id != SIEVE_CMD_ELSE && sieve_eval_test(r, c->tests[0], &v) < 0)
				return -1;
			if (v) {
				branch_done = true;
				if (sieve_run_block(r, c->block, c->nblock) < 0)
					return -1;
			}
			continue;
		}
		if (run_command(r, c) < 0)
			return -1;
	}
	return 0;
}

/* Runs one script (the main one or an included one) with its own local variables. */
static int run_script(struct sieve_run *r, const struct sieve_script *s)
{
	struct sieve_scope local = {0}, *saved_local = r->local;
	uint32_t saved_exts = r->exts;
	r->local = &local;
	r->exts = s->exts;
	int ret = sieve_run_block(r, s->cmds, s->ncmds);
	r->returned = false;
	r->local = saved_local;
	r->exts = saved_exts;
	sieve_scope_free(&local);
	return ret;
}

static void run_free(struct sieve_run *r)
{
	for (size_t i = 0; i < r->nhdrs; i++) {
		free(r->hdrs[i].name);
		free(r->hdrs[i].value);
	}
	free(r->hdrs);
	buf_free(&r->data);
	if (r->tree != NULL)
		mime_part_free(&r->tree);
	sieve_scope_free(&r->global);
	for (size_t i = 0; i < SIEVE_MAX_MATCH_VARS; i++)
		buf_free(&r->match[i]);
	sieve_strs_free(&r->flags);
}

enum sieve_status sieve_execute(const struct sieve_script *script, const struct sieve_message *msg,
				const struct sieve_envelope *env, const struct sieve_ops *ops,
				struct sieve_result *res)
{
	static const struct sieve_ops no_ops;
	static const struct sieve_envelope no_env = {.from = "", .to = ""};
	struct sieve_run r = {.msg = msg,
			      .env = env != NULL ? env : &no_env,
			      .ops = ops != NULL ? ops : &no_ops,
			      .res = res,
			      .err = &res->error,
			      .implicit_keep = true};
	memset(res, 0, sizeof(*res));
	r.now = r.ops->now != 0 ? r.ops->now : time(NULL);
	if (run_script(&r, script) < 0 || r.failed) {
		/* RFC 5228 2.10.6: on a runtime error only the implicit keep is done */
		struct sieve_error e = res->error;
		sieve_result_free(res);
		res->error = e;
		res->status = SIEVE_RUNTIME_ERROR;
		r.res = res;
		r.implicit_keep = true;
		sieve_strs_free(&r.flags);
	}
	sieve_result_finish(&r);
	run_free(&r);
	return res->status;
}
