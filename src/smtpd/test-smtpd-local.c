/* Unit tests for local submission's helpers: the socket path, the qualifying domain, who
 * may choose the envelope sender, and the trace field shared with `tern sendmail`. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd.h"
#include "buf.h"
#include "conf.h"
#include "xalloc.h"

static struct conf *parse(const char *text)
{
	struct buf err = BUF_INIT;
	struct conf *c = conf_parse("/inst/tern.conf", text, strlen(text), &err);
	if (c == NULL)
		fail_msg("conf: %s", buf_cstr(&err));
	buf_free(&err);
	return c;
}

static void test_socket_path(void **state)
{
	struct conf *c = parse("domains = a.test\n");
	char *p = smtpd_local_socket_path(c);
	assert_string_equal(p, "/inst/data/run/submit");
	x_free(&p);
	conf_free(&c);
	c = parse("local_submit_socket = /run/tern/submit\n");
	p = smtpd_local_socket_path(c);
	assert_string_equal(p, "/run/tern/submit");
	x_free(&p);
	conf_free(&c);
	c = parse("local_submit_socket = sock/s\n"); /* relative: beside tern.conf */
	p = smtpd_local_socket_path(c);
	assert_string_equal(p, "/inst/sock/s");
	x_free(&p);
	conf_free(&c);
	c = parse("local_submit = no\n");
	assert_null(smtpd_local_socket_path(c));
	conf_free(&c);
}

static void test_qualify(void **state)
{
	struct conf *c = parse("domains = b.test, c.test\nhostname = mx.b.test\n");
	char *q = smtpd_local_qualify(c);
	assert_string_equal(q, "b.test");
	x_free(&q);
	conf_free(&c);
	c = parse("hostname = mx.b.test\n");
	q = smtpd_local_qualify(c);
	assert_string_equal(q, "mx.b.test");
	x_free(&q);
	conf_free(&c);
}

static void test_trusted(void **state)
{
	struct conf *c = parse("run_user = tern\nsendmail_trusted_users = list, Cron\n"
			       "queue_dir = /nonexistent/queue\n");
	assert_true(smtpd_local_trusted(c, 0, "root"));
	assert_true(smtpd_local_trusted(c, 999, "tern"));
	assert_true(smtpd_local_trusted(c, 1002, "list"));
	assert_true(smtpd_local_trusted(c, 1003, "cron"));
	assert_false(smtpd_local_trusted(c, 1001, "alice"));
	assert_false(smtpd_local_trusted(c, 1004, "listx"));
	conf_free(&c);
}

static void test_received(void **state)
{
	struct buf b = BUF_INIT;
	smtpd_local_received(&b, "mx.b.test", 1001, "1J15MQOCLD500000D3I", "bob@b.test");
	const char *s = buf_cstr(&b);
	const char *want = "Received: by mx.b.test (Tern sendmail, from userid 1001)\n"
			   "\tid 1J15MQOCLD500000D3I\n\tfor <bob@b.test>; ";
	assert_memory_equal(s, want, strlen(want));
	/* then the date, and the field ends there: three folded lines in all */
	assert_int_equal(s[b.len - 1], '\n');
	size_t lines = 0;
	for (size_t i = 0; i < b.len; i++)
		lines += s[i] == '\n';
	assert_int_equal(lines, 3);
	buf_reset(&b);
	smtpd_local_received(&b, "mx.b.test", 0, "ID", NULL);
	assert_null(strstr(buf_cstr(&b), "for <"));
	assert_non_null(strstr(buf_cstr(&b), "from userid 0)\n\tid ID; "));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_socket_path),
	    cmocka_unit_test(test_qualify),
	    cmocka_unit_test(test_trusted),
	    cmocka_unit_test(test_received),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
