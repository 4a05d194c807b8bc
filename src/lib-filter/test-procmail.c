/* Unit tests for the procmail engine: the parser on rc snippets, the regex dialect, and the
 * interpreter on testdata/procmail (every .rc file over every .msg file) with a fake vtable that records each call.
 *
 * The fake runs programs for conditions, filters, captures and backquotes for real (fork and
 * exec, cwd /), and records deliveries, forwards and pipes as lines ("deliver file /md/x").
 * NAME.expect holds the expected lines per message; testdata/procmail/check-real.py checks
 * the same expectations against the real procmail. PROCMAIL_TEST_WRITE=1 rewrites them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procmail-int.h"
#include "util.h"
#include "xalloc.h"

struct fake {
	struct buf rec;
	struct buf log;
};

static void rec_argv(struct buf *b, const char *what, char **argv)
{
	buf_append_str(b, what);
	for (size_t i = 0; argv[i] != NULL; i++)
		buf_printf(b, "%s%s", i == 0 ? " " : ",", argv[i]);
	buf_append_char(b, '\n');
}

static int fake_deliver(void *ctx, const struct procmail_folder *f, struct buf *name_r)
{
	struct fake *fk = ctx;
	static const char *kinds[] = {"file", "maildir", "mh"};
	buf_printf(&fk->rec, "deliver %s %s\n", kinds[f->kind], f->path);
	(void)name_r;
	return strstr(f->path, "/fail") != NULL ? -1 : 0;
}

static int fake_forward(void *ctx, const struct procmail_cmd *cmd)
{
	rec_argv(&((struct fake *)ctx)->rec, "forward", cmd->argv);
	return 0;
}

static int fake_pipe(void *ctx, const struct procmail_cmd *cmd)
{
	rec_argv(&((struct fake *)ctx)->rec, "pipe", cmd->argv);
	const char *p = cmd->argv[0];
	return p != NULL && strcmp(p, "false") == 0 ? 1 : 0;
}

/* Runs the program for real; stdin from a memfd, stdout captured into out. */
static int fake_run(void *ctx, const struct procmail_cmd *cmd, struct buf *out)
{
	(void)ctx;
	int in = memfd_create("in", 0), p[2];
	if (in < 0 || pipe(p) < 0 || write_full(in, cmd->input, cmd->input_len) < 0)
		return -1;
	lseek(in, 0, SEEK_SET);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in, 0);
		dup2(p[1], 1);
		execvpe(cmd->argv[0], cmd->argv, cmd->envp);
		_exit(127);
	}
	close(p[1]);
	close(in);
	char tmp[4096];
	ssize_t n;
	while ((n = read(p[0], tmp, sizeof(tmp))) > 0)
		if (out != NULL)
			buf_append(out, tmp, (size_t)n);
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int fake_read_file(void *ctx, const char *path, struct buf *out)
{
	(void)ctx;
	size_t len;
	char *s = read_file_small(path, PROCMAIL_MAX_RC_SIZE, &len);
	if (s == NULL)
		return -1;
	buf_append(out, s, len);
	x_free(&s);
	return 0;
}

static int fake_lock(void *ctx, const char *path)
{
	buf_printf(&((struct fake *)ctx)->rec, "lock %s\n", path);
	return 0;
}

static void fake_unlock(void *ctx, const char *path)
{
	buf_printf(&((struct fake *)ctx)->rec, "unlock %s\n", path);
}

static void fake_log(void *ctx, const char *logfile, const char *text)
{
	(void)logfile;
	buf_append_str(&((struct fake *)ctx)->log, text);
}

static const struct procmail_ops fake_ops = {
	fake_deliver, fake_forward, fake_pipe, fake_run, fake_read_file,
	fake_lock, fake_unlock, fake_log,
};

static char testdata[PATH_MAX + 256];

static void find_testdata(void)
{
	char file[4096];
	snprintf(file, sizeof(file), "%s", __FILE__);
	char rel[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s/testdata/procmail", dirname(file));
	if (realpath(rel, testdata) == NULL)
		snprintf(testdata, sizeof(testdata), "%s", rel);
}

/* Runs rc text over msg text; returns the recorded calls; the log goes to log_r if set. */
static char *run_text(const char *rc_text, const char *msg, int *result_r, char **log_r)
{
	struct buf err = BUF_INIT;
	struct procmail_rc *rc = procmail_parse("test.rc", rc_text, strlen(rc_text), &err);
	if (rc == NULL)
		fail_msg("parse: %s", buf_cstr(&err));
	char td[PATH_MAX + 300];
	snprintf(td, sizeof(td), "TESTDATA=%s", testdata);
	const char *vars[] = {"HOME=/home/u", "LOGNAME=u", "MAILDIR=/md", "DEFAULT=/md/default",
			      "ORGMAIL=/md/orgmail", "SENDMAIL=/stub/sendmail", "SHELL=/bin/sh",
			      "PATH=/usr/bin:/bin", td, NULL};
	const char *args[] = {"arg1", "arg2"};
	struct procmail_env_init env = {.vars = vars, .args = args, .nargs = 2, .pid = 4242};
	struct fake fk = {BUF_INIT, BUF_INIT};
	buf_append_str(&fk.rec, "");
	int res = procmail_run(rc, &fake_ops, &fk, &env, msg, strlen(msg), strlen(msg), false,
			       NULL);
	if (result_r != NULL)
		*result_r = res;
	if (log_r != NULL)
		*log_r = buf_steal(&fk.log);
	buf_free(&fk.log);
	procmail_rc_free(&rc);
	buf_free(&err);
	return buf_steal(&fk.rec);
}

static char *read_td(const char *name)
{
	char path[8192];
	size_t len;
	snprintf(path, sizeof(path), "%s/%s", testdata, name);
	char *s = read_file_small(path, 1024 * 1024, &len);
	if (s == NULL)
		fail_msg("cannot read %s", path);
	return s;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t list_td(const char *suffix, char **names, size_t max)
{
	DIR *d = opendir(testdata);
	struct dirent *de;
	size_t n = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL && n < max) {
		size_t l = strlen(de->d_name), sl = strlen(suffix);
		if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0)
			names[n++] = x_strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(char *), name_cmp);
	return n;
}

/* Every rc x message pair in testdata against NAME.expect. */
static void test_testdata(void **state)
{
	(void)state;
	char *rcs[100], *msgs[100];
	size_t nrc = list_td(".rc", rcs, 100), nmsg = list_td(".msg", msgs, 100);
	assert_true(nrc >= 20);
	bool write = getenv("PROCMAIL_TEST_WRITE") != NULL;
	int failures = 0;
	for (size_t i = 0; i < nrc; i++) {
		char *rc_text = read_td(rcs[i]);
		struct buf got = BUF_INIT;
		for (size_t j = 0; j < nmsg; j++) {
			char *msg = read_td(msgs[j]);
			char *rec = run_text(rc_text, msg, NULL, NULL);
			buf_printf(&got, "[%s]\n%s", msgs[j], rec);
			x_free(&rec);
			x_free(&msg);
		}
		char exp_name[300], path[8500];
		snprintf(exp_name, sizeof(exp_name), "%.*s.expect", (int)(strlen(rcs[i]) - 3),
			 rcs[i]);
		snprintf(path, sizeof(path), "%s/%s", testdata, exp_name);
		if (write) {
			FILE *f = fopen(path, "w");
			assert_non_null(f);
			fputs(buf_cstr(&got), f);
			fclose(f);
		} else {
			char *exp = read_td(exp_name);
			if (strcmp(exp, buf_cstr(&got)) != 0) {
				print_error("%s: expected\n%s\ngot\n%s\n", rcs[i], exp,
					    buf_cstr(&got));
				failures++;
			}
			x_free(&exp);
		}
		buf_free(&got);
		x_free(&rc_text);
		x_free(&rcs[i]);
	}
	for (size_t j = 0; j < nmsg; j++)
		x_free(&msgs[j]);
	assert_int_equal(failures, 0);
}

static struct procmail_rc *parse_ok(const char *text)
{
	struct buf err = BUF_INIT;
	struct procmail_rc *rc = procmail_parse("t.rc", text, strlen(text), &err);
	if (rc == NULL)
		fail_msg("unexpected parse error: %s", buf_cstr(&err));
	buf_free(&err);
	return rc;
}

static void parse_err(const char *text, const char *want)
{
	struct buf err = BUF_INIT;
	struct procmail_rc *rc = procmail_parse("t.rc", text, strlen(text), &err);
	assert_null(rc);
	assert_string_equal(buf_cstr(&err), want);
	buf_free(&err);
}

static void test_parse_flags(void **state)
{
	(void)state;
	static const char letters[] = "HBDAaEehbfcwWir";
	for (size_t i = 0; letters[i]; i++) {
		char text[64];
		snprintf(text, sizeof(text), ":0 %c\nfolder\n", letters[i]);
		struct procmail_rc *rc = parse_ok(text);
		assert_int_equal(rc->nstmts, 1);
		assert_int_equal(rc->stmts[0].recipe.flags, 1u << i);
		procmail_rc_free(&rc);
	}
	struct procmail_rc *rc = parse_ok(":0HBc: my.lock\n* x\n/dev/null\n:0:\nf\n:0 fw\n| cmd\n");
	struct procmail_recipe *r = &rc->stmts[0].recipe;
	assert_int_equal(r->flags, PROCMAIL_F_HEADER_MATCH | PROCMAIL_F_BODY_MATCH |
					   PROCMAIL_F_COPY);
	assert_true(r->local_lock);
	assert_string_equal(r->lockfile, "my.lock");
	assert_string_equal(r->action_text, "/dev/null");
	assert_true(rc->stmts[1].recipe.local_lock);
	assert_null(rc->stmts[1].recipe.lockfile);
	assert_int_equal(rc->stmts[2].recipe.action, PROCMAIL_ACT_PIPE);
	assert_string_equal(rc->stmts[2].recipe.action_text, "cmd");
	procmail_rc_free(&rc);
}

static void test_parse_conditions(void **state)
{
	(void)state;
	struct procmail_rc *rc = parse_ok(":0\n*   ^Subject: a  \n* ! ^From\n* $ ${X}y\n"
					  "* ? test -f x\n* < 1000\n* > 10\n* V ?? ^a\n"
					  "* -1.5^0.5 money\n* 2^1\n* ^A\\\n   B\n! a@b c@d\n");
	struct procmail_recipe *r = &rc->stmts[0].recipe;
	assert_int_equal(r->nconds, 10);
	assert_string_equal(r->conds[0].text, "^Subject: a");
	assert_string_equal(r->conds[1].text, "! ^From");
	assert_string_equal(r->conds[2].text, "$ ${X}y");
	assert_string_equal(r->conds[3].text, "? test -f x");
	assert_string_equal(r->conds[4].text, "< 1000");
	assert_string_equal(r->conds[6].text, "V ?? ^a");
	assert_true(r->conds[7].weighted);
	assert_true(r->conds[7].weight == -1.5 && r->conds[7].exponent == 0.5);
	assert_string_equal(r->conds[7].text, "money");
	assert_true(r->conds[8].weighted);
	assert_string_equal(r->conds[8].text, "");
	assert_string_equal(r->conds[9].text, "^AB");
	assert_int_equal(r->conds[9].line, 11);
	assert_int_equal(r->action, PROCMAIL_ACT_FORWARD);
	assert_string_equal(r->action_text, "a@b c@d");
	procmail_rc_free(&rc);
}

static void test_parse_blocks_assign(void **state)
{
	(void)state;
	struct procmail_rc *rc = parse_ok("A=1 B = \"x y\" C\n:0\n{ X=`echo a b` }\n"
					  ":0\n* a\n{\n :0\n {\n  :0 c\n  in/\n }\n}\n"
					  ":0\nV=| cat\n");
	assert_int_equal(rc->nstmts, 6);
	assert_string_equal(rc->stmts[0].name, "A");
	assert_string_equal(rc->stmts[0].value, "1");
	assert_string_equal(rc->stmts[1].name, "B");
	assert_string_equal(rc->stmts[1].value, "\"x y\"");
	assert_string_equal(rc->stmts[2].name, "C");
	assert_null(rc->stmts[2].value);
	struct procmail_recipe *r = &rc->stmts[3].recipe;
	assert_int_equal(r->action, PROCMAIL_ACT_BLOCK);
	assert_int_equal(r->nblock, 1);
	assert_string_equal(r->block[0].value, "`echo a b`");
	r = &rc->stmts[4].recipe;
	assert_int_equal(r->block[0].recipe.block[0].recipe.flags, PROCMAIL_F_COPY);
	assert_string_equal(r->block[0].recipe.block[0].recipe.action_text, "in/");
	assert_string_equal(rc->stmts[5].recipe.capture_var, "V");
	assert_string_equal(rc->stmts[5].recipe.action_text, "cat");
	procmail_rc_free(&rc);
}

static void test_parse_errors(void **state)
{
	(void)state;
	parse_err("A=1\n:0\n* x\n", "t.rc:2: missing action");
	parse_err("\n\n:0\n{\n:0\nx\n", "t.rc:4: block not closed by '}'");
	parse_err("}\n", "t.rc:1: '}' without a block");
	parse_err(":0 Q\nx\n", "t.rc:1: unknown recipe flag");
	parse_err("A=\"abc\n", "t.rc:2: unterminated quote");
	struct buf deep = BUF_INIT;
	for (int i = 0; i < PROCMAIL_MAX_DEPTH + 2; i++)
		buf_append_str(&deep, ":0\n{\n");
	parse_err(buf_cstr(&deep), "t.rc:66: blocks nested too deeply");
	buf_free(&deep);
}

static bool pm_re_match(const char *pattern, const char *text, bool icase, char **match_r)
{
	struct pm_regex re;
	struct buf err = BUF_INIT, m = BUF_INIT;
	if (pm_regex_compile(&re, pattern, icase, &err) < 0)
		fail_msg("%s", buf_cstr(&err));
	bool ok = pm_regex_search(&re, text, strlen(text), &m);
	if (match_r != NULL)
		*match_r = x_strdup(buf_cstr(&m));
	pm_regex_free(&re);
	buf_free(&m);
	buf_free(&err);
	return ok;
}

static void test_regex(void **state)
{
	(void)state;
	const char *h = "From: Alice <alice@example.org>\nTo: bob@example.com\nSubject: Hi {x}\n";
	char *m;
	assert_true(pm_re_match("^subject: hi", h, true, NULL));
	assert_false(pm_re_match("^subject: hi", h, false, NULL));
	assert_true(pm_re_match("^Subject:.*{x}", h, true, NULL));
	assert_true(pm_re_match("example\\.com$", h, true, NULL));
	assert_false(pm_re_match("com$^Subject", h, true, NULL));
	assert_true(pm_re_match("com$Subject", h, true, NULL));
	assert_true(pm_re_match("^TO_bob@example\\.com", h, true, NULL));
	assert_false(pm_re_match("^TO_ob@example\\.com", h, true, NULL));
	assert_true(pm_re_match("^TOob", "Cc: x.ob\n", true, NULL));
	assert_true(pm_re_match("\\<bob\\>", h, true, NULL));
	assert_false(pm_re_match("\\<ob\\>", h, true, NULL));
	assert_true(pm_re_match("^^From", h, true, NULL));
	assert_false(pm_re_match("^^To", h, true, NULL));
	assert_true(pm_re_match("\\{x\\}$^^", h, true, NULL));
	assert_true(pm_re_match("^FROM_DAEMON", "From: MAILER-DAEMON@x.org\n", true, NULL));
	assert_false(pm_re_match("^FROM_DAEMON", h, true, NULL));
	assert_true(pm_re_match("^From:.*\\/alice.*", h, true, &m));
	assert_string_equal(m, "Alice <alice@example.org>");
	x_free(&m);
	assert_true(pm_re_match("^To: \\/[^@]+", h, true, &m));
	assert_string_equal(m, "bob");
	x_free(&m);
	assert_true(pm_re_match("^Subject:\\/", h, true, &m));
	assert_string_equal(m, "");
	x_free(&m);
	struct pm_regex re;
	struct buf err = BUF_INIT;
	assert_int_equal(pm_regex_compile(&re, "^.*$", true, &err), 0);
	assert_int_equal(pm_regex_count(&re, "a\nb\n\n", 5, 100), 4);
	pm_regex_free(&re);
	assert_int_equal(pm_regex_compile(&re, "a(b", true, &err), -1);
	buf_free(&err);
}

static void *regex_in_thread(void *arg)
{
	struct buf err = BUF_INIT;
	const struct pm_regex *re = pm_regex_get("^Subject:.*hello", true, &err);
	*(const struct pm_regex **)arg = re;
	return re != NULL && pm_regex_search(re, "Subject: Hello\n", 15, NULL) ? arg : NULL;
}

/* pm_regex_get: the same pattern gives the compiled expression kept before; icase is
 * part of the key; a bad one is NULL with the reason (and not kept); past the bound the
 * oldest is replaced; another thread compiles its own. */
static void test_regex_cache(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	const struct pm_regex *a = pm_regex_get("^Subject:.*hello", true, &err);
	assert_non_null(a);
	assert_ptr_equal(pm_regex_get("^Subject:.*hello", true, &err), a);
	const struct pm_regex *b = pm_regex_get("^Subject:.*hello", false, &err);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_true(pm_regex_search(a, "Subject: HELLO\n", 15, NULL));
	assert_false(pm_regex_search(b, "Subject: HELLO\n", 15, NULL));
	assert_null(pm_regex_get("a(b", true, &err));
	assert_true(strstr(buf_cstr(&err), "bad regular expression") != NULL);
	buf_reset(&err);
	assert_null(pm_regex_get("a(b", true, &err));
	assert_true(err.len > 0);
	for (int i = 0; i < 200; i++) { /* pushes the first ones out */
		char pat[32];
		snprintf(pat, sizeof(pat), "^X-N%d:", i);
		const struct pm_regex *r = pm_regex_get(pat, true, &err);
		assert_non_null(r);
		assert_true(pm_regex_search(r, pat + 1, strlen(pat) - 1, NULL));
	}
	const struct pm_regex *again = pm_regex_get("^Subject:.*hello", true, &err);
	assert_non_null(again);
	assert_true(pm_regex_search(again, "Subject: hello\n", 15, NULL));
	assert_false(pm_regex_search(again, "Subject: bye\n", 13, NULL));
	pthread_t t;
	const struct pm_regex *other = NULL;
	void *ok = NULL;
	assert_int_equal(pthread_create(&t, NULL, regex_in_thread, &other), 0);
	assert_int_equal(pthread_join(t, &ok), 0);
	assert_non_null(ok);
	assert_ptr_not_equal(other, again);
	buf_free(&err);
}

/* pm_regex_cannot_match: true only where the regex does not match; false where a literal
 * is only optional, alternative or inside a group. */
static void test_regex_prefilter(void **state)
{
	(void)state;
	const char *h = "From: Alice <alice@example.org>\nTo: bob@example.com\nSubject: Hi {x}\n";
	static const struct {
		const char *pattern, *text;
		bool icase, cannot;
	} cases[] = {
	    {"^Subject:.*viagra", NULL, true, true},
	    {"^subject: hi", NULL, true, false},
	    {"^subject: hi", NULL, false, true},
	    {"^From:.*ALICE@example\\.org", NULL, true, false},
	    {"^From:.*alice@example\\.com", NULL, true, true},
	    {"colou?r", "color", true, false},
	    {"ab*c", "ac", true, false},
	    {"ab+c", "abbc", true, false},
	    {"(x|y)z", "yz", true, false},
	    {"(x|y)zz", "yz", true, true},
	    {"a|b", "b", true, false},
	    {"\\.com", "example.com", true, false},
	    {"\\.com", "examplecom", true, true},
	    {"\\dx", "dx", true, false},
	    {"[abc]def", "adef", true, false},
	    {"^TO_bob", NULL, true, false},
	    {"^From:.*\\/alice", "From: bob\n", true, true},
	    {"", "", true, false},
	    {"^Subject:\\/", NULL, true, false},
	    {"x{2}", "x{2}", true, false},
	    {"\\<bob\\>", NULL, true, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *text = cases[i].text != NULL ? cases[i].text : h;
		bool split;
		bool cannot = pm_regex_cannot_match(cases[i].pattern, cases[i].icase, text,
						    strlen(text), &split);
		if (cannot != cases[i].cannot)
			fail_msg("%s on \"%s\": %d", cases[i].pattern, text, cannot);
		if (cannot && pm_re_match(cases[i].pattern, text, cases[i].icase, NULL))
			fail_msg("%s matches \"%s\"", cases[i].pattern, text);
		if (cannot)
			assert_int_equal(split, strstr(cases[i].pattern, "\\/") != NULL);
	}
}

static const char msg1[] = "From alice@example.org Mon Jan  1 00:00:00 2024\n"
			   "From: Alice <alice@example.org>\nTo: bob@example.com\n"
			   "Subject: Hello there\n\nline one\nline two\n";

/* A/a/E/e chaining, checked against procmail 3.22 (the LOG text it wrote). */
static void test_chaining(void **state)
{
	(void)state;
	static const char rc[] =
		":0\n{ LOG=\"1 \" }\n:0 E\n{ LOG=\"2 \" }\n:0 E\n{ LOG=\"3 \" }\n"
		":0 A\n{ LOG=\"4 \" }\n:0\n{ LOG=\"5 \" }\n:0 E\n{ LOG=\"6 \" }\n"
		":0\n{ LOG=\"7 \" }\n:0 E\n{ LOG=\"8 \" }\n:0 E\n* nomatch\n{ LOG=\"9 \" }\n"
		":0 E\n{ LOG=\"10 \" }\n:0 A\n{ LOG=\"11 \" }\n:0\n* nomatch\n{ }\n"
		":0 E\n* nomatch\n{ }\n:0 A\n{ LOG=\"12 \" }\n:0 E\n{ LOG=\"13 \" }\n"
		":0\n{ LOG=\"14 \" }\n:0 A\n* nomatch\n{ }\n:0 A\n{ LOG=\"15 \" }\n"
		":0 a\n{ LOG=\"16 \" }\n"
		":0 Wc\n| false\n:0 A\n* nomatch\n{ LOG=\"17 \" }\n:0 e\n{ LOG=\"18 \" }\n"
		":0 Wc\n| false\n:0 E\n{ LOG=\"19 \" }\n:0 e\n{ LOG=\"20 \" }\n"
		":0 Wc\n| false\n:0 a\n{ LOG=\"21 \" }\n:0 wc\n| true\n:0 a\n{ LOG=\"22 \" }\n";
	char *log, *rec = run_text(rc, msg1, NULL, &log);
	if (strstr(log, "1 5 7 13 14 15 16 20 22 ") == NULL)
		fail_msg("log: %s", log);
	x_free(&log);
	x_free(&rec);
}

static void test_semantics(void **state)
{
	(void)state;
	int res;
	char *log;
	/* a failing delivery goes on; DEFAULT at the end; ORGMAIL when DEFAULT fails */
	char *rec = run_text(":0\n/md/fail1\nDEFAULT=/md/fail2\n", msg1, &res, NULL);
	assert_string_equal(rec, "deliver file /md/fail1\nlock /md/fail2.lock\n"
				 "deliver file /md/fail2\nlock /md/orgmail.lock\n"
				 "deliver file /md/orgmail\nunlock /md/orgmail.lock\n");
	assert_int_equal(res, PROCMAIL_DELIVERED);
	x_free(&rec);
	/* a "c" block is a clone: it runs the block and the rest of the file */
	rec = run_text(":0 c\n{ :0\n* nomatch\nx\n}\n:0\nafter\n", msg1, NULL, NULL);
	assert_string_equal(rec, "deliver file /md/after\ndeliver file /md/after\n");
	x_free(&rec);
	/* expansion: quotes, defaults, $#, $1, $$, $\name, unset, splitting of words */
	rec = run_text("A=\"x  y\" B='$A' C=${NONE:-d}${A:+s}$#$1$$ D=$\\C\nE\n"
		       "LOG=\"[$A][$B][$C][$D][${E-unset}]\"\n:0\n! $A \"$A\"\n",
		       msg1, NULL, &log);
	assert_non_null(strstr(log, "[x  y][$A][ds2arg14242][ds2arg14242][unset]"));
	assert_string_equal(rec, "forward /stub/sendmail,-oi,x,y,x  y\n");
	x_free(&log);
	x_free(&rec);
	/* shell metacharacters send the line unexpanded to $SHELL */
	rec = run_text(":0\n| cat > $HOME/x\n", msg1, NULL, NULL);
	assert_string_equal(rec, "pipe /bin/sh,-c,cat > $HOME/x\n");
	x_free(&rec);
	/* LOGABSTRACT lines */
	rec = run_text("LOGFILE=/md/log\n:0\ninbox\n", msg1, NULL, &log);
	assert_non_null(strstr(log, "From alice@example.org Mon Jan  1 00:00:00 2024\n"
				    " Subject: Hello there\n  Folder: inbox"));
	x_free(&log);
	x_free(&rec);
	/* an unreadable INCLUDERC is logged and skipped */
	rec = run_text("INCLUDERC=/nonexistent/rc\n:0\nok\n", msg1, NULL, &log);
	assert_string_equal(rec, "deliver file /md/ok\n");
	assert_non_null(strstr(log, "Couldn't read"));
	x_free(&log);
	x_free(&rec);
}

int main(void)
{
	find_testdata();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_flags),
		cmocka_unit_test(test_parse_conditions),
		cmocka_unit_test(test_parse_blocks_assign),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_regex_prefilter),
		cmocka_unit_test(test_regex_cache),
		cmocka_unit_test(test_chaining),
		cmocka_unit_test(test_semantics),
		cmocka_unit_test(test_testdata),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
