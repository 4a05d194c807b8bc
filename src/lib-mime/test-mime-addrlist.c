/* Unit tests for mime-addrlist: addr-spec positions in address lists (display names,
 * quoted local parts, groups, comments, obsolete routes and CFWS, folding, malformed
 * input) and the rewrite that keeps every other byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mime-addrlist.h"

/* Dumps each spec as [text-at-span|local|domain|flags|comments]. */
static void check(const char *in, const char *expect, size_t skipped)
{
	struct mime_addrlist l = {NULL, 0, 0};
	struct buf out = BUF_INIT;
	mime_addrlist_parse(in, strlen(in), &l);
	for (size_t i = 0; i < l.count; i++) {
		const struct mime_addrlist_spec *a = &l.v[i];
		buf_printf(&out, "%s[%.*s|%s|%s|%s%s|%s]", i ? " " : "", (int)(a->end - a->start),
			   in + a->start, a->local, a->domain ? a->domain : "NIL",
			   a->angle ? "A" : "-", a->group ? "G" : "-",
			   a->comments ? a->comments : "");
	}
	assert_string_equal(buf_cstr(&out), expect);
	assert_int_equal(l.skipped, skipped);
	buf_free(&out);
	mime_addrlist_free(&l);
}

static void test_forms(void **state)
{
	check("user@example.com", "[user@example.com|user|example.com|--|]", 0);
	check(" John Doe <jdoe@machine.example> ",
	      "[jdoe@machine.example|jdoe|machine.example|A-|]", 0);
	check("\"Joe Q. Public\" <john.q.public@example.com>, x@y",
	      "[john.q.public@example.com|john.q.public|example.com|A-|] [x@y|x|y|--|]", 0);
	check("a@b.c (Alice, the \"boss\") , <b@c>", "[a@b.c|a|b.c|--|] [b@c|b|c|A-|]", 0);
	check("=?utf-8?q?J=C3=B6rg?= <j@x.test>", "[j@x.test|j|x.test|A-|]", 0);
	check("local", "[local|local|NIL|--|]", 0);
	check("<postmaster>", "[postmaster|postmaster|NIL|A-|]", 0);
	check("", "", 0);
	check(" , ,", "", 0);
	check("<>", "", 0);
}

static void test_quoted(void **state)
{
	check("\"john smith\"@example.com",
	      "[\"john smith\"@example.com|\"john smith\"|example.com|--|]", 0);
	/* quotes around a dot-atom are not needed */
	check("\"john.smith\"@example.com",
	      "[\"john.smith\"@example.com|john.smith|example.com|--|]", 0);
	check("\"a\\\"b\\\\c\"@x", "[\"a\\\"b\\\\c\"@x|\"a\\\"b\\\\c\"|x|--|]", 0);
	check("\"<not@this>\" <real@one>", "[real@one|real|one|A-|]", 0);
	check("\"a,b\"@x, c@d", "[\"a,b\"@x|\"a,b\"|x|--|] [c@d|c|d|--|]", 0);
}

static void test_groups(void **state)
{
	check("undisclosed-recipients:;", "", 0);
	check("Team: a@x, \"B\" <b@y>; c@z", "[a@x|a|x|-G|] [b@y|b|y|AG|] [c@z|c|z|--|]", 0);
	check("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	      "[c@a.test|c|a.test|AG|] [joe@where.test|joe|where.test|-G|] "
	      "[jdoe@one.test|jdoe|one.test|AG|]",
	      0);
	/* no group inside a group: the second ':' makes that address malformed */
	check("G1: H: a@b;", "", 1);
}

static void test_obsolete(void **state)
{
	/* CFWS between the words of an addr-spec (RFC 5322 4.4): the comments are reported */
	check("john (middle) . smith @ example (c) . com",
	      "[john (middle) . smith @ example (c) . com|john.smith|example.com|--|(middle) (c)]",
	      0);
	check("<@route1,@route2:user@host>", "[user@host|user|host|A-|]", 0);
	check("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	      "[pete(his account)@silly.test|pete|silly.test|A-|(his account)]", 0);
	check("a@[192.0.2.1]", "[a@[192.0.2.1]|a|[192.0.2.1]|--|]", 0);
}

static void test_folding(void **state)
{
	check(" Mary\r\n Smith\r\n <mary@x.test>,\n\tjoe@y.test",
	      "[mary@x.test|mary|x.test|A-|] [joe@y.test|joe|y.test|--|]", 0);
	check("\"a\r\n b\"@x", "[\"a\r\n b\"@x|\"a b\"|x|--|]", 0);
}

static void test_malformed(void **state)
{
	check("John Smith john@x", "", 1);
	check("<a@b", "", 1);
	check("\"unclosed@x", "", 1);
	check("a@b (unclosed", "", 1);
	check("a@@b, c@d", "[c@d|c|d|--|]", 1);
	check("a..b@x, a.@x, .a@x", "", 3);
	check("a@b..c", "", 1);
	check("x <a@b> y", "", 1);
	check("a@b <c@d>", "", 1);
	check("<a@b> >", "", 1);
	check("<a@b><c@d>", "", 1);
	check("a@[1.2[3]", "", 1);
	check("a@b.", "", 1);
	check("ünï@dömäin.test", "[ünï@dömäin.test|ünï|dömäin.test|--|]", 0);
	/* nesting deeper than the limit */
	char deep[200];
	memset(deep, '(', 100);
	strcpy(deep + 100, "x@y");
	check(deep, "", 1);
}

struct swap {
	const char *from, *to;
};

static bool swap_cb(void *arg, const struct mime_addrlist_spec *spec, struct buf *rep)
{
	const struct swap *sw = arg;
	struct buf a = BUF_INIT;
	buf_printf(&a, "%s@%s", spec->local, spec->domain ? spec->domain : "");
	bool hit = strcmp(buf_cstr(&a), sw->from) == 0;
	buf_free(&a);
	if (hit)
		buf_append_str(rep, sw->to);
	return hit;
}

static void check_rewrite(const char *in, const char *from, const char *to, const char *expect,
			  size_t n)
{
	struct swap sw = {from, to};
	struct buf out = BUF_INIT;
	assert_int_equal(mime_addrlist_rewrite(in, strlen(in), swap_cb, &sw, &out), n);
	assert_int_equal(out.len, strlen(expect));
	assert_memory_equal(out.data, expect, out.len);
	buf_free(&out);
}

static void test_rewrite(void **state)
{
	check_rewrite(" \"Smith, J.\" <j@h.d.x> (work),\r\n\tj@h.d.x", "j@h.d.x", "j@x",
		      " \"Smith, J.\" <j@x> (work),\r\n\tj@x", 2);
	check_rewrite(" root@h.d.x", "j@h.d.x", "j@x", " root@h.d.x", 0);
	check_rewrite(" G: a (c1) @ h (c2) . x ;", "a@h.x", "b@x", " G: b@x (c1) (c2) ;", 1);
	check_rewrite(" \"a b\"@h.x", "\"a b\"@h.x", "\"a b\"@x", " \"a b\"@x", 1);
	check_rewrite(" bad <a@h.x", "a@h.x", "b@x", " bad <a@h.x", 0);
}

/* Every prefix of a folded field parses without reading past its end (run under ASan). */
static void test_prefixes(void **state)
{
	static const char v[] = " \"A (B)\" <a.b(c)@[1.2.3.4]>, G: x@y, \"q\\\"\"@z;(end";
	for (size_t n = 0; n <= sizeof(v) - 1; n++) {
		char *copy = malloc(n ? n : 1);
		memcpy(copy, v, n);
		struct mime_addrlist l = {NULL, 0, 0};
		mime_addrlist_parse(copy, n, &l);
		for (size_t i = 0; i < l.count; i++)
			assert_true(l.v[i].end <= n && l.v[i].start < l.v[i].end);
		mime_addrlist_free(&l);
		free(copy);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),   cmocka_unit_test(test_quoted),
	    cmocka_unit_test(test_groups),  cmocka_unit_test(test_obsolete),
	    cmocka_unit_test(test_folding), cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_rewrite), cmocka_unit_test(test_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
