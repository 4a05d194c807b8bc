/* Unit tests for smtp-command and smtp-path: verbs, MAIL/RCPT paths and parameters
 * (RFC 5321 4.1, RFC 1870, RFC 3461, RFC 6531), BDAT and HELO arguments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp-command.h"

static void test_verbs(void **state)
{
	struct smtp_command c;
	struct smtp_error e;
	const char *l = "ehlo client.example";
	assert_int_equal(smtp_command_parse(l, strlen(l), &c, &e), 0);
	assert_int_equal(c.verb, SMTP_VERB_EHLO);
	assert_string_equal(c.args, "client.example");
	l = "QuIt  ";
	assert_int_equal(smtp_command_parse(l, strlen(l), &c, &e), 0);
	assert_int_equal(c.verb, SMTP_VERB_QUIT);
	assert_int_equal(c.args_len, 0);
	l = "DATA x";
	assert_int_equal(smtp_command_parse(l, strlen(l), &c, &e), -1);
	assert_int_equal(e.code, 501);
	assert_string_equal(e.enh, "5.5.4");
	l = "MAIL";
	assert_int_equal(smtp_command_parse(l, strlen(l), &c, &e), -1);
	assert_int_equal(e.code, 501);
	l = "FOO bar";
	assert_int_equal(smtp_command_parse(l, strlen(l), &c, &e), -1);
	assert_int_equal(e.code, 500);
	assert_string_equal(e.enh, "5.5.1");
	assert_int_equal(c.verb, SMTP_VERB_UNKNOWN);
	l = "NOOP \x01";
	assert_int_equal(smtp_command_parse(l, strlen(l), &c, &e), -1);
	assert_string_equal(e.enh, "5.5.2");
	assert_int_equal(smtp_command_parse("", 0, &c, &e), -1);
	l = "STARTTLS";
	assert_int_equal(smtp_command_parse(l, strlen(l), &c, &e), 0);
	assert_string_equal(smtp_verb_name(c.verb), "STARTTLS");
	l = "MAILX FROM:<>";
	assert_int_equal(smtp_command_parse(l, strlen(l), &c, &e), -1);
}

static int mail(const char *args, struct smtp_mail_args *m, struct smtp_error *e)
{
	return smtp_mail_args_parse(args, strlen(args), m, e);
}

static int rcpt(const char *args, bool utf8, struct smtp_rcpt_args *r, struct smtp_error *e)
{
	return smtp_rcpt_args_parse(args, strlen(args), utf8, r, e);
}

static void test_mail_params(void **state)
{
	struct smtp_mail_args m;
	struct smtp_error e;
	assert_int_equal(mail("FROM:<a@b.example> SIZE=1000 BODY=8bitmime", &m, &e), 0);
	assert_string_equal(m.path.mailbox, "a@b.example");
	assert_true(m.size_set);
	assert_int_equal(m.size, 1000);
	assert_int_equal(m.body, SMTP_BODY_8BITMIME);
	smtp_mail_args_free(&m);
	assert_int_equal(mail("from: <>", &m, &e), 0);
	assert_string_equal(m.path.mailbox, "");
	smtp_mail_args_free(&m);
	assert_int_equal(mail("FROM:<a@b> SIZE=99999999999999999999", &m, &e), 0);
	assert_int_equal(m.size, UINT64_MAX);
	smtp_mail_args_free(&m);
	assert_int_equal(mail("FROM:<a@b> RET=HDRS ENVID=QQ+2B1 AUTH=<>", &m, &e), 0);
	assert_int_equal(m.ret, SMTP_RET_HDRS);
	assert_string_equal(m.envid, "QQ+2B1");
	assert_string_equal(m.auth, "<>");
	smtp_mail_args_free(&m);
	assert_int_equal(mail("FROM:<a@b> FOO=bar", &m, &e), -1);
	assert_int_equal(e.code, 555);
	assert_int_equal(mail("FROM:<a@b> SIZE=1 SIZE=2", &m, &e), -1);
	assert_int_equal(e.code, 501);
	assert_int_equal(mail("FROM:<a@b> SIZE=x", &m, &e), -1);
	assert_int_equal(mail("FROM:<a@b> BODY=9BIT", &m, &e), -1);
	assert_int_equal(mail("FROM:<a@b> SMTPUTF8=yes", &m, &e), -1);
	assert_int_equal(mail("FROM:<a@b> ENVID=a+zz", &m, &e), -1);
	assert_int_equal(mail("FROM:<a@b> =x", &m, &e), -1);
	assert_int_equal(mail("FROM:<a@b>SIZE=1", &m, &e), -1);
	assert_int_equal(mail("FROM:a@b", &m, &e), -1);
	assert_int_equal(e.code, 501);
	assert_string_equal(e.enh, "5.5.4");
	assert_int_equal(mail("TO:<a@b>", &m, &e), -1);
}

static void test_paths(void **state)
{
	struct smtp_rcpt_args r;
	struct smtp_error e;
	assert_int_equal(rcpt("TO:<\"john doe\"@example.test>", false, &r, &e), 0);
	assert_string_equal(r.path.mailbox, "\"john doe\"@example.test");
	assert_string_equal(r.path.domain, "example.test");
	smtp_rcpt_args_free(&r);
	/* Needless quoting is removed. */
	assert_int_equal(rcpt("TO:<\"alice\"@example.test>", false, &r, &e), 0);
	assert_string_equal(r.path.mailbox, "alice@example.test");
	smtp_rcpt_args_free(&r);
	assert_int_equal(rcpt("TO:<\"a\\\"b\\\\c\"@x.test>", false, &r, &e), 0);
	assert_string_equal(r.path.local, "\"a\\\"b\\\\c\"");
	smtp_rcpt_args_free(&r);
	assert_int_equal(rcpt("TO:<\"user@x\"@example.test>", false, &r, &e), 0);
	assert_string_equal(r.path.local, "\"user@x\"");
	smtp_rcpt_args_free(&r);
	assert_int_equal(rcpt("TO:<u@[192.0.2.1]>", false, &r, &e), 0);
	assert_true(r.path.literal);
	assert_string_equal(r.path.domain, "[192.0.2.1]");
	smtp_rcpt_args_free(&r);
	assert_int_equal(rcpt("TO:<u@[IPv6:2001:db8::1]>", false, &r, &e), 0);
	smtp_rcpt_args_free(&r);
	assert_int_equal(rcpt("TO:<u@[300.1.1.1]>", false, &r, &e), -1);
	assert_int_equal(e.code, 553);
	assert_int_equal(rcpt("TO:<u@[IPv6:zz]>", false, &r, &e), -1);
	/* Source routes are parsed and dropped. */
	assert_int_equal(rcpt("TO:<@a.test,@[10.0.0.1]:bob@example.test>", false, &r, &e), 0);
	assert_string_equal(r.path.mailbox, "bob@example.test");
	smtp_rcpt_args_free(&r);
	assert_int_equal(rcpt("TO:<@a.test:>", false, &r, &e), -1);
	assert_int_equal(rcpt("TO:<Postmaster>", false, &r, &e), 0);
	assert_string_equal(r.path.mailbox, "Postmaster");
	assert_string_equal(r.path.domain, "");
	smtp_rcpt_args_free(&r);
	assert_int_equal(rcpt("TO:<>", false, &r, &e), -1);
	assert_string_equal(e.enh, "5.1.3");
	assert_int_equal(rcpt("TO:<bob>", false, &r, &e), -1);
	assert_int_equal(rcpt("TO:<a..b@x.test>", false, &r, &e), -1);
	assert_int_equal(rcpt("TO:<.a@x.test>", false, &r, &e), -1);
	assert_int_equal(rcpt("TO:<a.@x.test>", false, &r, &e), -1);
	assert_int_equal(rcpt("TO:<a@x..test>", false, &r, &e), -1);
	assert_int_equal(rcpt("TO:<a@-x.test>", false, &r, &e), -1);
	assert_int_equal(rcpt("TO:<a@x.test.>", false, &r, &e), -1);
	assert_int_equal(rcpt("TO:<a@x.test", false, &r, &e), -1);
	assert_int_equal(rcpt("TO:<a b@x.test>", false, &r, &e), -1);
	assert_int_equal(rcpt("TO:<\"a\x01\"@x.test>", false, &r, &e), -1);
	assert_int_equal(rcpt("TO:<a@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40x", false,
			      &r, &e), 0);
	assert_int_equal(r.notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE);
	assert_string_equal(r.orcpt, "rfc822;a+40x");
	smtp_rcpt_args_free(&r);
	assert_int_equal(rcpt("TO:<a@x.test> NOTIFY=NEVER,DELAY", false, &r, &e), -1);
	assert_int_equal(rcpt("TO:<a@x.test> NOTIFY=SUCCESS,", false, &r, &e), -1);
	assert_int_equal(rcpt("TO:<a@x.test> SIZE=1", false, &r, &e), -1);
	assert_int_equal(e.code, 555);
	assert_int_equal(rcpt("TO:<a%b@x.test>", false, &r, &e), 0);
	smtp_rcpt_args_free(&r);
	assert_int_equal(rcpt("TO:<a!b@x.test>", false, &r, &e), 0);
	smtp_rcpt_args_free(&r);
}

static void test_lengths(void **state)
{
	struct smtp_rcpt_args r;
	struct smtp_error e;
	char line[600];
	char local[70];
	memset(local, 'a', 65);
	local[65] = '\0';
	snprintf(line, sizeof(line), "TO:<%s@x.test>", local);
	assert_int_equal(rcpt(line, false, &r, &e), -1);
	assert_int_equal(e.code, 553);
	local[64] = '\0';
	snprintf(line, sizeof(line), "TO:<%s@x.test>", local);
	assert_int_equal(rcpt(line, false, &r, &e), 0);
	smtp_rcpt_args_free(&r);
	char label[64];
	memset(label, 'b', 63);
	label[63] = '\0';
	snprintf(line, sizeof(line), "TO:<a@%s.%s.%s.%s>", label, label, label, label);
	assert_int_equal(rcpt(line, false, &r, &e), -1); /* domain 255 ok, path 263 > 256 */
	assert_int_equal(e.code, 553);
	snprintf(line, sizeof(line), "TO:<a@%sb.x>", label);
	assert_int_equal(rcpt(line, false, &r, &e), -1); /* 64-byte label */
}

static void test_utf8(void **state)
{
	struct smtp_mail_args m;
	struct smtp_rcpt_args r;
	struct smtp_error e;
	assert_int_equal(mail("FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.test>", &m, &e), -1);
	assert_int_equal(e.code, 553);
	assert_string_equal(e.enh, "5.6.7");
	assert_int_equal(mail("FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.test> SMTPUTF8", &m, &e), 0);
	assert_true(m.path.utf8);
	assert_true(m.smtputf8);
	smtp_mail_args_free(&m);
	assert_int_equal(rcpt("TO:<\xe7\x94\xa8\xe6\x88\xb7@example.test>", true, &r, &e), 0);
	assert_true(r.path.utf8);
	smtp_rcpt_args_free(&r);
	assert_int_equal(rcpt("TO:<\xe7\x94\xa8\xe6\x88\xb7@example.test>", false, &r, &e), -1);
	assert_string_equal(e.enh, "5.6.7");
	assert_int_equal(rcpt("TO:<\"\xc3\xa9 x\"@example.test>", true, &r, &e), 0);
	smtp_rcpt_args_free(&r);
	/* Malformed UTF-8 is a syntax error whatever the parameters. */
	assert_int_equal(rcpt("TO:<\xc3@example.test>", true, &r, &e), -1);
	assert_int_equal(e.code, 501);
	assert_int_equal(rcpt("TO:<\xc0\xaf@example.test>", true, &r, &e), -1); /* overlong */
	assert_int_equal(rcpt("TO:<\xed\xa0\x80@example.test>", true, &r, &e), -1); /* surrogate */
	assert_int_equal(rcpt("TO:<a@\xff.test>", true, &r, &e), -1);
}

static void test_bdat_helo(void **state)
{
	uint64_t size;
	bool last;
	struct smtp_error e;
	char *name;
	assert_int_equal(smtp_bdat_args_parse("100", 3, &size, &last, &e), 0);
	assert_int_equal(size, 100);
	assert_false(last);
	assert_int_equal(smtp_bdat_args_parse("0 last", 6, &size, &last, &e), 0);
	assert_int_equal(size, 0);
	assert_true(last);
	assert_int_equal(smtp_bdat_args_parse("x", 1, &size, &last, &e), -1);
	assert_int_equal(smtp_bdat_args_parse("1 LASTX", 7, &size, &last, &e), -1);
	assert_int_equal(smtp_bdat_args_parse("99999999999999999999999", 23, &size, &last, &e),
			 -1);
	assert_int_equal(smtp_helo_arg_parse("[192.0.2.1]", 11, &name, &e), 0);
	assert_string_equal(name, "[192.0.2.1]");
	free(name);
	assert_int_equal(smtp_helo_arg_parse("a b", 3, &name, &e), -1);
	assert_int_equal(smtp_helo_arg_parse("a\x7f", 2, &name, &e), -1);
}

static void test_domain_helpers(void **state)
{
	assert_true(smtp_domain_valid("example.test", 12));
	assert_false(smtp_domain_valid("example..test", 13));
	assert_false(smtp_domain_valid("", 0));
	assert_true(smtp_address_literal_valid("[IPv6:::1]", 10));
	assert_false(smtp_address_literal_valid("[x:y]", 5));
	assert_true(smtp_xtext_valid("abc+2B", 6));
	assert_false(smtp_xtext_valid("abc+2", 5));
	assert_false(smtp_xtext_valid("a=b", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_bdat_helo),
		cmocka_unit_test(test_domain_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
