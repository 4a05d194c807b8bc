/* procmail-env: the environment of a procmail run and sh-like expansion of its lines.
 *
 * Variables live in one "NAME=value" array (handed to programs as their environment).
 * pm_expand() does what procmailrc(5) BUGS lists: $name, ${name}, ${name:-text},
 * ${name:+text}, ${name-text}, ${name+text}, $\name (regex-quoted), $#, $n, $@, $$, $?,
 * $_, $-, $=, with '...', "...", \x and `program` (run through the ops->run callback with
 * the message on stdin). Unquoted expansions in action lines split on blanks and newlines.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procmail-int.h"
#include "xalloc.h"

bool pm_is_name_char(char c, bool first)
{
	return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c));
}

static ssize_t var_index(const struct pm_vm *vm, const char *name, size_t len)
{
	for (size_t i = 0; i < vm->nvars; i++)
		if (strncmp(vm->vars[i], name, len) == 0 && vm->vars[i][len] == '=')
			return (ssize_t)i;
	return -1;
}

const char *pm_get(const struct pm_vm *vm, const char *name)
{
	ssize_t i = var_index(vm, name, strlen(name));
	return i < 0 ? NULL : vm->vars[i] + strlen(name) + 1;
}

void pm_set(struct pm_vm *vm, const char *name, const char *value)
{
	ssize_t i = var_index(vm, name, strlen(name));
	char *nv = x_asprintf("%s=%s", name, value);
	if (i >= 0) {
		x_free(&vm->vars[i]);
		vm->vars[i] = nv;
		return;
	}
	if (vm->nvars >= PROCMAIL_MAX_VARS) {
		x_free(&nv);
		pm_logf(vm, false, "procmail: Too many variables, \"%s\" not set\n", name);
		return;
	}
	vm->vars = x_reallocarray(vm->vars, vm->nvars + 1, sizeof(*vm->vars));
	vm->vars[vm->nvars++] = nv;
}

void pm_unset(struct pm_vm *vm, const char *name)
{
	ssize_t i = var_index(vm, name, strlen(name));
	if (i < 0)
		return;
	x_free(&vm->vars[i]);
	vm->vars[i] = vm->vars[--vm->nvars];
}

void pm_vars_copy(struct pm_vm *dst, const struct pm_vm *src)
{
	dst->vars = x_calloc(src->nvars + 1, sizeof(*dst->vars));
	for (size_t i = 0; i < src->nvars; i++)
		dst->vars[i] = x_strdup(src->vars[i]);
	dst->nvars = src->nvars;
}

void pm_vars_free(struct pm_vm *vm)
{
	for (size_t i = 0; i < vm->nvars; i++)
		x_free(&vm->vars[i]);
	x_free(&vm->vars);
	vm->nvars = 0;
}

char **pm_envp(const struct pm_vm *vm)
{
	char **e = x_calloc(vm->nvars + 1, sizeof(*e));
	for (size_t i = 0; i < vm->nvars; i++)
		e[i] = x_strdup(vm->vars[i]);
	return e;
}

void pm_envp_free(char ***envp)
{
	for (char **e = *envp; e != NULL && *e != NULL; e++)
		x_free(e);
	x_free(envp);
}

/* procmail's booleans: "on", "y", "t", "e", non-zero are true; "off", "n", "f", "d", 0 false. */
bool pm_bool(const char *v, bool dflt)
{
	if (v == NULL || *v == 0)
		return dflt;
	if (isdigit((unsigned char)*v))
		return atoi(v) != 0;
	char c = (char)tolower((unsigned char)v[0]);
	if (c == 'o')
		return tolower((unsigned char)v[1]) == 'n';
	if (c == 'y' || c == 't' || c == 'e')
		return true;
	if (c == 'n' || c == 'f' || c == 'd')
		return false;
	return dflt;
}

void pm_logf(struct pm_vm *vm, bool verbose_only, const char *fmt, ...)
{
	if (verbose_only && !pm_bool(pm_get(vm, "VERBOSE"), false))
		return;
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	vm->ops->log(vm->ctx, pm_get(vm, "LOGFILE"), buf_cstr(&b));
	buf_free(&b);
}

void pm_words_free(struct pm_words *w)
{
	for (size_t i = 0; i < w->n; i++)
		x_free(&w->v[i]);
	x_free(&w->v);
	w->n = 0;
}

struct pm_exp {
	struct pm_vm *vm;
	enum pm_expand_mode mode;
	struct buf *out;
	struct pm_words *words;
	bool in_word;
	bool dquote;
};

static void end_word(struct pm_exp *e)
{
	if (e->mode != PM_EXP_WORDS || !e->in_word)
		return;
	if (e->words->n < PM_MAX_WORDS) {
		e->words->v = x_reallocarray(e->words->v, e->words->n + 2, sizeof(char *));
		e->words->v[e->words->n++] = x_strndup(e->out->data ? e->out->data : "",
						       e->out->len);
		e->words->v[e->words->n] = NULL;
	}
	buf_reset(e->out);
	e->in_word = false;
}

static void put_char(struct pm_exp *e, char c)
{
	buf_append_char(e->out, c);
	e->in_word = true;
}

/* Appends an expansion result: split on blanks when unquoted in WORDS mode. */
static void put_value(struct pm_exp *e, const char *v, size_t len, bool split)
{
	if (e->mode != PM_EXP_WORDS || e->dquote || !split) {
		buf_append(e->out, v, len);
		e->in_word = e->in_word || e->dquote;
		if (len > 0)
			e->in_word = true;
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (v[i] == ' ' || v[i] == '\t' || v[i] == '\n')
			end_word(e);
		else
			put_char(e, v[i]);
	}
}

static void put_regex_quoted(struct pm_exp *e, const char *v)
{
	for (; *v; v++) {
		if (strchr("\\^$.[]|()*+?{}/", *v) != NULL)
			buf_append_char(e->out, '\\');
		buf_append_char(e->out, *v);
	}
	e->in_word = true;
}

static void expand_into(struct pm_exp *e, const char *s, size_t len);

/* `...`: runs the program with the message on stdin; trailing newlines removed. */
static void expand_backquote(struct pm_exp *e, const char *cmd, size_t len)
{
	struct buf line = BUF_INIT, out = BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		if (cmd[i] == '\\' && i + 1 < len && strchr("`\\$", cmd[i + 1]) != NULL)
			i++;
		buf_append_char(&line, cmd[i]);
	}
	buf_init(&out, PROCMAIL_MAX_OUTPUT);
	struct pm_vm *vm = e->vm;
	vm->last_exit = pm_run_program(vm, buf_cstr(&line), vm->msg.data, vm->msg.len, true, &out);
	while (out.len > 0 && out.data[out.len - 1] == '\n')
		out.len--;
	put_value(e, out.data ? out.data : "", out.len, true);
	buf_free(&line);
	buf_free(&out);
}

static const char *special_var(struct pm_exp *e, char c, char *tmp, size_t tmplen)
{
	struct pm_vm *vm = e->vm;
	switch (c) {
	case '$':
		snprintf(tmp, tmplen, "%ld", vm->pid);
		return tmp;
	case '#':
		snprintf(tmp, tmplen, "%zu", vm->nargs);
		return tmp;
	case '?':
		snprintf(tmp, tmplen, "%d", vm->last_exit);
		return tmp;
	case '=':
		snprintf(tmp, tmplen, "%ld", vm->score);
		return tmp;
	case '_':
		return vm->rcname != NULL ? vm->rcname : "";
	case '-':
		return pm_get(vm, "LASTFOLDER") ? pm_get(vm, "LASTFOLDER") : "";
	default:
		if (isdigit((unsigned char)c)) {
			size_t n = (size_t)(c - '0');
			return n == 0 ? "procmail" : n <= vm->nargs ? vm->args[n - 1] : "";
		}
		return NULL;
	}
}

/* ${name...}: returns how many bytes of s (after "${") were used. */
static size_t expand_braces(struct pm_exp *e, const char *s, size_t len)
{
	size_t n = 0, depth = 1, end;
	while (n < len && pm_is_name_char(s[n], n == 0))
		n++;
	for (end = n; end < len; end++) {
		if (s[end] == '{')
			depth++;
		else if (s[end] == '}' && --depth == 0)
			break;
	}
	char *name = x_strndup(s, n);
	const char *v = pm_get(e->vm, name);
	const char *op = s + n;
	size_t oplen = end - n;
	bool colon = oplen > 0 && op[0] == ':';
	if (colon) {
		op++;
		oplen--;
	}
	bool set = v != NULL && (!colon || *v != 0);
	if (oplen > 0 && op[0] == '-') {
		if (set)
			put_value(e, v, strlen(v), true);
		else
			expand_into(e, op + 1, oplen - 1);
	} else if (oplen > 0 && op[0] == '+') {
		if (set)
			expand_into(e, op + 1, oplen - 1);
	} else if (v != NULL) {
		put_value(e, v, strlen(v), true);
	}
	x_free(&name);
	return end < len ? end + 1 : end;
}

/* One $ construct at s[0] == '$'; returns the bytes used. */
static size_t expand_dollar(struct pm_exp *e, const char *s, size_t len)
{
	char tmp[32];
	if (len < 2)
		goto literal;
	if (s[1] == '{')
		return 2 + expand_braces(e, s + 2, len - 2);
	if (s[1] == '\\' && len > 2 && pm_is_name_char(s[2], true)) {
		size_t n = 2;
		while (n < len && pm_is_name_char(s[n], n == 2))
			n++;
		char *name = x_strndup(s + 2, n - 2);
		const char *v = pm_get(e->vm, name);
		put_regex_quoted(e, v != NULL ? v : "");
		x_free(&name);
		return n;
	}
	if (pm_is_name_char(s[1], true)) {
		size_t n = 1;
		while (n < len && pm_is_name_char(s[n], n == 1))
			n++;
		char *name = x_strndup(s + 1, n - 1);
		const char *v = pm_get(e->vm, name);
		if (v != NULL)
			put_value(e, v, strlen(v), true);
		x_free(&name);
		return n;
	}
	if (s[1] == '@') {
		for (size_t i = 0; i < e->vm->nargs; i++) {
			if (i > 0 && e->dquote && e->mode == PM_EXP_WORDS)
				end_word(e);
			else if (i > 0)
				put_value(e, " ", 1, true);
			put_value(e, e->vm->args[i], strlen(e->vm->args[i]), !e->dquote);
		}
		return 2;
	}
	const char *v = special_var(e, s[1], tmp, sizeof(tmp));
	if (v != NULL) {
		put_value(e, v, strlen(v), true);
		return 2;
	}
literal:
	put_char(e, '$');
	return 1;
}

static size_t find_close(const char *s, size_t len, size_t i, char q)
{
	while (i < len && s[i] != q) {
		if (q != '\'' && s[i] == '\\' && i + 1 < len)
			i++;
		i++;
	}
	return i;
}

static void expand_into(struct pm_exp *e, const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		char c = s[i];
		bool dq_only = e->mode == PM_EXP_DQUOTE;
		if (c == '$') {
			i += expand_dollar(e, s + i, len - i);
		} else if (c == '`') {
			size_t j = find_close(s, len, i + 1, '`');
			expand_backquote(e, s + i + 1, j - i - 1);
			i = j + 1;
		} else if (c == '\\' && i + 1 < len) {
			bool keep = (e->dquote || dq_only) && strchr("$`\"\\\n", s[i + 1]) == NULL;
			if (keep)
				put_char(e, c);
			put_char(e, s[i + 1]);
			i += 2;
		} else if (!dq_only && c == '"') {
			e->dquote = !e->dquote;
			e->in_word = true;
			i++;
		} else if (!dq_only && !e->dquote && c == '\'') {
			size_t j = find_close(s, len, i + 1, '\'');
			buf_append(e->out, s + i + 1, (j < len ? j : len) - i - 1);
			e->in_word = true;
			i = j + 1;
		} else if (e->mode == PM_EXP_WORDS && !e->dquote && (c == ' ' || c == '\t' ||
								      c == '\n')) {
			end_word(e);
			i++;
		} else if (e->mode == PM_EXP_WORDS && !e->dquote && c == '#' && !e->in_word) {
			break; /* a comment to the end of the line */
		} else {
			put_char(e, c);
			i++;
		}
	}
}

int pm_expand(struct pm_vm *vm, const char *text, enum pm_expand_mode mode, struct buf *out,
	      struct pm_words *words)
{
	struct buf tmp = BUF_INIT;
	struct pm_exp e = {.vm = vm, .mode = mode, .out = mode == PM_EXP_WORDS ? &tmp : out,
			   .words = words};
	buf_init(e.out, PROCMAIL_MAX_LINE);
	if (words != NULL) {
		words->v = x_calloc(1, sizeof(char *));
		words->n = 0;
	}
	expand_into(&e, text, strlen(text));
	end_word(&e);
	bool overflow = e.out->overflow;
	buf_free(&tmp);
	if (overflow) {
		pm_set(vm, "PROCMAIL_OVERFLOW", "yes");
		return -1;
	}
	return 0;
}

int pm_command_argv(struct pm_vm *vm, const char *line, struct pm_words *argv)
{
	const char *metas = pm_get(vm, "SHELLMETAS");
	if (metas == NULL)
		metas = "&|<>~;?*[";
	if (strpbrk(line, metas) == NULL)
		return pm_expand(vm, line, PM_EXP_WORDS, NULL, argv);
	const char *shell = pm_get(vm, "SHELL"), *flags = pm_get(vm, "SHELLFLAGS");
	argv->v = x_calloc(4, sizeof(char *));
	argv->v[0] = x_strdup(shell != NULL && *shell ? shell : "/bin/sh");
	argv->v[1] = x_strdup(flags != NULL ? flags : "-c");
	argv->v[2] = x_strdup(line);
	argv->n = 3;
	return 0;
}

int pm_run_program(struct pm_vm *vm, const char *line, const char *in, size_t in_len,
		   bool wait, struct buf *out)
{
	struct pm_words argv = {0};
	if (pm_command_argv(vm, line, &argv) < 0 || argv.n == 0) {
		pm_words_free(&argv);
		return -1;
	}
	char **envp = pm_envp(vm);
	struct procmail_cmd cmd = {.argv = argv.v, .envp = envp, .cwd = pm_get(vm, "MAILDIR"),
				   .input = in, .input_len = in_len, .wait = wait};
	pm_logf(vm, true, "procmail: Executing \"%s\"\n", line);
	int rc = vm->ops->run(vm->ctx, &cmd, out);
	pm_envp_free(&envp);
	pm_words_free(&argv);
	return rc;
}
