/* Unit tests for lib-lookup: the aliases and map parsers, the compiled tables, and
 * expansion (lists, :include:, pipes and files, loops, depth, subaddresses, catch-alls,
 * duplicates). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lookup.h"
#include "util.h"

struct collect {
	struct buf out;
};

static void collect_cb(void *arg, const char *key, const struct lookup_values *v, unsigned line)
{
	struct collect *c = arg;
	buf_printf(&c->out, "%u %s =", line, key);
	for (size_t i = 0; i < v->n; i++)
		buf_printf(&c->out, " [%s]", v->v[i]);
	buf_append_char(&c->out, '\n');
}

static void test_parse_aliases(void **state)
{
	static const char text[] =
	    "# comment\n"
	    "Postmaster: root\n"
	    "staff: alice, bob,\n"
	    "\tcarol@other.test\n"
	    "  # a comment inside\n"
	    "   , dave\n"
	    "\n"
	    "pipe: \"|/usr/bin/prog -a, -b\", /var/log/mail.txt\n"
	    "\"john smith\": jsmith\n"
	    "\"plain\": x\n"
	    "inc: :include:/etc/list\n"
	    "bad line\n"
	    "empty:\n"
	    "  continued\n"
	    "last:lastvalue";
	struct collect c = {BUF_INIT};
	struct buf errors = BUF_INIT;
	unsigned bad = lookup_parse_text(LOOKUP_SYNTAX_ALIASES, text, strlen(text), collect_cb, &c,
					 &errors);
	assert_int_equal(bad, 1);
	assert_string_equal(buf_cstr(&errors), "12: expected 'name: value'\n");
	assert_string_equal(buf_cstr(&c.out),
			    "2 postmaster = [root]\n"
			    "3 staff = [alice] [bob] [carol@other.test] [dave]\n"
			    "8 pipe = [|/usr/bin/prog -a, -b] [/var/log/mail.txt]\n"
			    "9 \"john smith\" = [jsmith]\n"
			    "10 plain = [x]\n"
			    "11 inc = [:include:/etc/list]\n"
			    "13 empty = [continued]\n"
			    "15 last = [lastvalue]\n");
	buf_free(&c.out);
	buf_free(&errors);
}

static void test_parse_map(void **state)
{
	static const char text[] = "a@x.test  b@y.test, c@y.test d@y.test\n@x.test catch\nnovalue\n";
	struct collect c = {BUF_INIT};
	struct buf errors = BUF_INIT;
	assert_int_equal(lookup_parse_text(LOOKUP_SYNTAX_MAP, text, strlen(text), collect_cb, &c,
					   &errors), 1);
	assert_string_equal(buf_cstr(&c.out), "1 a@x.test = [b@y.test] [c@y.test] [d@y.test]\n"
					      "2 @x.test = [catch]\n");
	assert_string_equal(buf_cstr(&errors), "3: no value\n");
	buf_free(&c.out);
	buf_free(&errors);
}

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_table_compile(void **state)
{
	write_file("aliases", "Root: alice\nlist: a, b\nroot: dup\n");
	char spec[256], dbpath[256];
	snprintf(spec, sizeof(spec), "%s/aliases", tmpdir);
	snprintf(dbpath, sizeof(dbpath), "%s/aliases.db", tmpdir);
	struct buf warn = BUF_INIT, err = BUF_INIT;
	assert_int_equal(lookup_compile(spec, "aliases", &warn, &err), 2);
	assert_non_null(strstr(buf_cstr(&warn), "aliases:3: duplicate name 'root'"));
	struct stat st;
	assert_int_equal(stat(dbpath, &st), 0);

	struct lookup_table *t = lookup_open(spec, "aliases", &err);
	assert_non_null(t);
	struct lookup_values v;
	assert_int_equal(lookup_get(t, "ROOT", &v, &err), 1);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.v[0], "alice");
	lookup_values_free(&v);
	assert_int_equal(lookup_get(t, "nobody", &v, &err), 0);
	/* The source changes: the next lookup sees it (the cache is rebuilt). */
	write_file("aliases", "root: carol\nnew: x, y, z\n");
	assert_int_equal(lookup_get(t, "new", &v, &err), 1);
	assert_int_equal(v.n, 3);
	lookup_values_free(&v);
	assert_int_equal(lookup_get(t, "root", &v, &err), 1);
	assert_string_equal(v.v[0], "carol");
	lookup_values_free(&v);
	assert_int_equal(lookup_get(t, "list", &v, &err), 0);
	lookup_close(&t);

	snprintf(spec, sizeof(spec), "map:%s/missing", tmpdir);
	t = lookup_open(spec, "aliases", &err);
	assert_non_null(t);
	assert_int_equal(lookup_get(t, "x", &v, &err), 0);
	lookup_close(&t);
	assert_null(lookup_open("ldap:/x", "aliases", &err));
	buf_free(&warn);
	buf_free(&err);
}

/* ---- expansion over fake users ---- */

static bool fake_local(void *arg, const char *domain)
{
	return strcmp(domain, "ex.test") == 0;
}

static int fake_user(void *arg, const char *address, struct buf *err)
{
	static const char *const users[] = {"alice@ex.test", "bob@ex.test", "carol@ex.test"};
	char *a = str_lower(strdup(address));
	char *plus = strchr(a, '+');
	char *at = strrchr(a, '@');
	if (plus != NULL && at != NULL && plus < at)
		memmove(plus, at, strlen(at) + 1);
	int r = 0;
	for (size_t i = 0; i < 3; i++)
		r |= strcmp(a, users[i]) == 0;
	free(a);
	return r;
}

static struct lookup_ctx *fake_ctx(void)
{
	char path[256];
	static struct lookup_table *aliases[1], *virtuals[1];
	static struct lookup_ctx ctx;
	struct buf err = BUF_INIT;
	snprintf(path, sizeof(path), "%s/exp-aliases", tmpdir);
	aliases[0] = lookup_open(path, "aliases", &err);
	snprintf(path, sizeof(path), "%s/exp-virtual", tmpdir);
	virtuals[0] = lookup_open(path, "map", &err);
	buf_free(&err);
	ctx = (struct lookup_ctx){aliases, 1, virtuals, 1, fake_local, fake_user, NULL, "+",
				  LOOKUP_MAX_DEPTH, 65536};
	return &ctx;
}

static void fake_ctx_free(struct lookup_ctx *ctx)
{
	lookup_close(&ctx->aliases[0]);
	lookup_close(&ctx->virtuals[0]);
}

/* Expansion as text: "kind:value" per item, sorted as produced. */
static int expand(struct lookup_ctx *ctx, const char *addr, struct buf *out)
{
	struct lookup_result res = {0};
	struct buf err = BUF_INIT;
	int r = lookup_expand(ctx, addr, 0, &res, &err);
	static const char kinds[] = "afpe";
	buf_reset(out);
	for (size_t i = 0; i < res.n; i++)
		buf_printf(out, "%s%c:%s%s%s", i ? " " : "", kinds[res.v[i].kind], res.v[i].value,
			   res.v[i].kind == LOOKUP_ERROR ? "=" : "", res.v[i].status);
	if (r < 0)
		buf_printf(out, "ERR %s", buf_cstr(&err));
	lookup_result_free(&res);
	buf_free(&err);
	return r;
}

static void test_expand(void **state)
{
	char inc[512];
	snprintf(inc, sizeof(inc),
		 "postmaster: root\nroot: alice\n"
		 "staff: alice, bob, staff2\nstaff2: Alice@ex.test, carol, remote@far.test\n"
		 "alice: \\alice, |/bin/vacation alice\n"
		 "loop1: loop2\nloop2: loop1\n"
		 "self: bob, self\n"
		 "deep0: deep1\ndeep1: deep2\ndeep2: deep3\ndeep3: deep4\ndeep4: bob\n"
		 "files: /var/mail/archive\n"
		 "inc: :include:%s/list.inc\n"
		 "badinc: :include:%s/nonexistent\n"
		 "ghost: nosuchuser\n"
		 "dave: bob\n",
		 tmpdir, tmpdir);
	write_file("exp-aliases", inc);
	write_file("list.inc", "# members\ncarol\nremote2@far.test, bob\n");
	write_file("exp-virtual", "info@ex.test sales@ex.test\nsales@ex.test bob, carol\n"
				  "@ex.test postmaster\n");
	struct lookup_ctx *ctx = fake_ctx();
	struct buf out = BUF_INIT;

	assert_int_equal(expand(ctx, "bob@ex.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "a:bob@ex.test");
	assert_int_equal(expand(ctx, "bob+tag@ex.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "a:bob+tag@ex.test");
	assert_int_equal(expand(ctx, "far@remote.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "a:far@remote.test");
	/* Unknown local addresses would go to the catch-all: test without it below. */
	assert_int_equal(expand(ctx, "Postmaster@EX.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "a:alice@ex.test p:/bin/vacation alice");
	assert_int_equal(expand(ctx, "staff@ex.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "a:alice@ex.test p:/bin/vacation alice a:bob@ex.test "
					    "a:carol@ex.test a:remote@far.test");
	assert_int_equal(expand(ctx, "loop1@ex.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "e:loop1@ex.test=5.4.6");
	assert_int_equal(expand(ctx, "self@ex.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "a:bob@ex.test e:self@ex.test=5.4.6");
	assert_int_equal(expand(ctx, "deep0@ex.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "a:bob@ex.test");
	ctx->max_depth = 3;
	assert_int_equal(expand(ctx, "deep0@ex.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "e:deep3@ex.test=5.4.6");
	ctx->max_depth = LOOKUP_MAX_DEPTH;
	assert_int_equal(expand(ctx, "files@ex.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "f:/var/mail/archive");
	assert_int_equal(expand(ctx, "inc@ex.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "a:carol@ex.test a:remote2@far.test a:bob@ex.test");
	assert_int_equal(expand(ctx, "badinc@ex.test", &out), -1);
	/* Subaddress: dave+tag has no entry, dave has. */
	assert_int_equal(expand(ctx, "dave+lists@ex.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "a:bob@ex.test");
	/* Virtual maps first, then the catch-all for what is neither user nor alias. */
	assert_int_equal(expand(ctx, "info@ex.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "a:bob@ex.test a:carol@ex.test");
	assert_int_equal(expand(ctx, "whoever@ex.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "a:alice@ex.test p:/bin/vacation alice");
	write_file("exp-virtual", "info@ex.test sales@ex.test\n");
	assert_int_equal(expand(ctx, "whoever@ex.test", &out), 0);
	assert_string_equal(buf_cstr(&out), "");
	assert_int_equal(expand(ctx, "ghost@ex.test", &out), 1);
	assert_string_equal(buf_cstr(&out), "e:nosuchuser@ex.test=5.1.1");

	/* One result for several recipients: duplicates are dropped. */
	struct lookup_result res = {0};
	struct buf err = BUF_INIT;
	assert_int_equal(lookup_expand(ctx, "staff@ex.test", 0, &res, &err), 1);
	assert_int_equal(lookup_expand(ctx, "bob@ex.test", 1, &res, &err), 1);
	assert_int_equal(res.n, 5);
	assert_int_equal(lookup_result_deliverable(&res, 1), 0);
	assert_int_equal(lookup_result_deliverable(&res, 0), 5);
	lookup_result_free(&res);
	buf_free(&err);
	buf_free(&out);
	fake_ctx_free(ctx);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tern-lookup-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_aliases),
	    cmocka_unit_test(test_parse_map),
	    cmocka_unit_test(test_table_compile),
	    cmocka_unit_test(test_expand),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return r;
}
