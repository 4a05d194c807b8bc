/* Unit tests for the configuration parser: values, listeners, and file:line errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

static struct conf *parse(const char *text, struct buf *err)
{
	buf_reset(err);
	return conf_parse("/etc/tern/tern.conf", text, strlen(text), err);
}

static void test_values(void **state)
{
	struct buf err = BUF_INIT;
	struct conf *c = parse("# comment\nhostname = mx.example.org\n"
			       "smtp_max_message_size = 10M   # trailing comment\n"
			       "smtp_timeout = 2m\nsmtp_vrfy = yes\nlog = syslog\n"
			       "domains = a.example, b.example c.example\n"
			       "smtp_banner = \"ESMTP \\\"quoted\\\" # not a comment\"\n"
			       "data_dir = rel/data\n",
			       &err);
	assert_non_null(c);
	assert_string_equal(conf_str(c, "hostname"), "mx.example.org");
	assert_int_equal(conf_num(c, "smtp_max_message_size"), 10 * 1024 * 1024);
	assert_int_equal(conf_num(c, "smtp_timeout"), 120);
	assert_true(conf_bool(c, "smtp_vrfy"));
	assert_int_equal(conf_num(c, "log"), 1);
	assert_true(conf_list_has(c, "domains", "B.EXAMPLE"));
	assert_true(conf_list_has(c, "domains", "c.example"));
	assert_false(conf_list_has(c, "domains", "d.example"));
	assert_string_equal(conf_str(c, "smtp_banner"), "ESMTP \"quoted\" # not a comment");
	assert_string_equal(conf_str(c, "data_dir"), "/etc/tern/rel/data");
	/* defaults */
	assert_int_equal(conf_num(c, "smtp_max_recipients"), 1000);
	conf_free(&c);
	buf_free(&err);
}

static void test_listeners(void **state)
{
	struct buf err = BUF_INIT;
	struct conf *c = parse("hostname = h\nlisten smtp {\n  address = 127.0.0.1:2525\n}\n"
			       "listen imaps {\n address = 127.0.0.1:2993\n protocol = imap\n"
			       " tls = implicit\n}\n",
			       &err);
	assert_non_null(c);
	assert_int_equal(c->listener_count, 2);
	assert_string_equal(c->listeners[1].name, "imaps");
	assert_string_equal(conf_listener_str(&c->listeners[1], "protocol"), "imap");
	assert_int_equal(conf_listener_num(&c->listeners[1], "tls"), 2);
	assert_string_equal(conf_listener_str(&c->listeners[0], "protocol"), "smtp");
	conf_free(&c);
	buf_free(&err);
}

static void expect_error(const char *text, const char *want)
{
	struct buf err = BUF_INIT;
	struct conf *c = parse(text, &err);
	assert_null(c);
	if (strstr(buf_cstr(&err), want) == NULL)
		fail_msg("error '%s' does not contain '%s'", buf_cstr(&err), want);
	buf_free(&err);
}

static void test_errors(void **state)
{
	expect_error("hostname = h\nbogus = 1\n", "tern.conf:2: unknown option 'bogus'");
	expect_error("hostname = h\n\nsmtp_max_message_size = lots\n",
		     "tern.conf:3: smtp_max_message_size: expected a size");
	expect_error("hostname = h\nlog = file\n", "tern.conf:2: log: 'file' is not one of");
	expect_error("hostname = h\nhostname = x\n", "tern.conf:2: hostname: already set at line 1");
	expect_error("hostname = h\nlisten smtp {\n address = 1.2.3.4:25\n",
		     "tern.conf:2: listen smtp: block not closed");
	expect_error("hostname = h\nlisten smtp {\n port = 25\n}\n",
		     "tern.conf:3: unknown option 'port' in listener 'smtp'");
	expect_error("hostname = h\nlisten a {\n address = 1.2.3.4\n}\n", "needs a port");
	expect_error("hostname = h\nlisten a {\n address = :25\n}\nlisten b {\n address = :25\n}\n",
		     "tern.conf:5: listen b: address :25 is also used by 'a'");
	expect_error("hostname = h\nsmtp_vrfy maybe\n", "tern.conf:2: smtp_vrfy: expected '='");
	expect_error("hostname = \"h\n", "tern.conf:1: unterminated quoted value");
	expect_error("}\n", "tern.conf:1: '}' without an open block");
}

static void test_template_roundtrip(void **state)
{
	/* The generated file must itself parse, with the values it sets. */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	const char *vars[] = {"hostname", "mx.test", "domains", "test", NULL};
	conf_write_template(f, vars, "listen smtp {\n    address = 127.0.0.1:2525\n}\n");
	fclose(f);
	struct buf err = BUF_INIT;
	struct conf *c = conf_parse("/x/tern.conf", text, len, &err);
	if (c == NULL)
		fail_msg("%s", buf_cstr(&err));
	assert_string_equal(conf_str(c, "hostname"), "mx.test");
	assert_int_equal(c->listener_count, 1);
	conf_free(&c);
	free(text);
	buf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_listeners),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_template_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
