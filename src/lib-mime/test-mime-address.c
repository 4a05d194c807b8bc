/* Unit tests for mime-address: RFC 5322 3.4 address lists as IMAP ENVELOPE needs them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mime-address.h"

/* Dumps entries as (name route mailbox host) with NIL for NULL. */
static void check_flags(const char *in, unsigned int flags, const char *expect)
{
	struct mime_address_list l = {NULL, 0};
	struct buf out = BUF_INIT;
	mime_address_list_parse(in, strlen(in), flags, &l);
	for (size_t i = 0; i < l.count; i++) {
		const struct mime_address *a = &l.v[i];
		buf_printf(&out, "%s(%s %s %s %s)", i ? " " : "", a->name ? a->name : "NIL",
			   a->route ? a->route : "NIL", a->mailbox ? a->mailbox : "NIL",
			   a->host ? a->host : "NIL");
	}
	assert_string_equal(buf_cstr(&out), expect);
	buf_free(&out);
	mime_address_list_free(&l);
}

static void check(const char *in, const char *expect)
{
	check_flags(in, 0, expect);
}

static void test_basic(void **state)
{
	check("user@example.com", "(NIL NIL user example.com)");
	check("John Doe <jdoe@machine.example>", "(John Doe NIL jdoe machine.example)");
	check("\"Joe Q. Public\" <john.q.public@example.com>",
	      "(Joe Q. Public NIL john.q.public example.com)");
	check("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
	      "(Mary Smith NIL mary x.test) (NIL NIL jdoe example.org) (Who? NIL one y.test)");
	check("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
	      "(NIL NIL boss nil.test) (Giant; \"Big\" Box NIL sysservices example.net)");
	check("", "");
	check(" , ,", "");
}

static void test_groups(void **state)
{
	check("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	      "(NIL NIL A Group NIL) (Ed Jones NIL c a.test) (NIL NIL joe where.test) "
	      "(John NIL jdoe one.test) (NIL NIL NIL NIL)");
	check("Undisclosed recipients:;", "(NIL NIL Undisclosed recipients NIL) (NIL NIL NIL NIL)");
	check("g: a@b.c, x@y.z",
	      "(NIL NIL g NIL) (NIL NIL a b.c) (NIL NIL x y.z) (NIL NIL NIL NIL)");
	check("g1: a@b;, g2: ;", "(NIL NIL g1 NIL) (NIL NIL a b) (NIL NIL NIL NIL) "
				 "(NIL NIL g2 NIL) (NIL NIL NIL NIL)");
}

static void test_comments_and_obsolete(void **state)
{
	/* RFC 5322 A.5 */
	check("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	      "(Pete NIL pete silly.test)");
	check("jdoe@example.org (John Doe)", "(John Doe NIL jdoe example.org)");
	/* obs-route, obs-local-part with CFWS, domain literal */
	check("<@route1.test,@route2.test:user@example.com>",
	      "(NIL @route1.test,@route2.test user example.com)");
	check("john . smith @ example . com", "(NIL NIL john.smith example.com)");
	check("\"a b\"@example.com", "(NIL NIL \"a b\" example.com)");
	check("x@[127.0.0.1]", "(NIL NIL x [127.0.0.1])");
	check("Joe Q. Public <jqp@x>", "(Joe Q. Public NIL jqp x)");
}

static void test_broken(void **state)
{
	check("localonly", "(NIL NIL localonly )");
	check("Name <user@host", "(Name NIL user host)");
	check("<>", "(NIL NIL  )");
	check("\"unterminated <a@b>", "(NIL NIL \"unterminated <a@b>\" )");
	check("a@b garbage here, c@d", "(NIL NIL a b) (NIL NIL c d)");
	check("@@@, <<>>, x@y", "(NIL NIL  ) (NIL NIL x y)");
	check(":;", "(NIL NIL  NIL) (NIL NIL NIL NIL)");
	check("a@b (unterminated comment", "(unterminated comment NIL a b)");
	check("Ren\xc3\xa9 <r@\xc3\xa9.test>", "(Ren\xc3\xa9 NIL r \xc3\xa9.test)");
}

static void test_encoded_names(void **state)
{
	const char *in = "=?utf-8?Q?Ren=C3=A9?= =?utf-8?Q?_Dupont?= <r@x.test>, "
			 "\"=?iso-8859-1?q?J=F6rg?=\" <j@y.test>";
	check(in, "(=?utf-8?Q?Ren=C3=A9?= =?utf-8?Q?_Dupont?= NIL r x.test) "
		  "(=?iso-8859-1?q?J=F6rg?= NIL j y.test)");
	check_flags(in, MIME_ADDRESS_DECODE_2047,
		    "(Ren\xc3\xa9 Dupont NIL r x.test) (J\xc3\xb6rg NIL j y.test)");
}

static void test_format(void **state)
{
	struct mime_address_list l = {NULL, 0};
	struct buf out = BUF_INIT;
	const char *in = "A <a@x>, g: b@y;";
	mime_address_list_parse(in, strlen(in), 0, &l);
	mime_address_list_format(&l, &out);
	assert_string_equal(buf_cstr(&out), "\"A\" <a@x>, g: <b@y>;");
	buf_free(&out);
	mime_address_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_groups),
	    cmocka_unit_test(test_comments_and_obsolete),
	    cmocka_unit_test(test_broken),
	    cmocka_unit_test(test_encoded_names),
	    cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
