/* Unit tests for smtp-reply: multi-line formatting with enhanced codes (RFC 5321 4.2,
 * RFC 2034) and the incremental reply parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "smtp-reply.h"

static void test_format(void **state)
{
	struct buf b = BUF_INIT;
	smtp_reply_append(&b, 250, NULL, "mx.example\nPIPELINING\nSIZE 1000");
	assert_string_equal(buf_cstr(&b), "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
	buf_reset(&b);
	smtp_reply_printf(&b, 550, "5.1.1", "<%s>: User unknown", "x@y");
	assert_string_equal(buf_cstr(&b), "550 5.1.1 <x@y>: User unknown\r\n");
	buf_reset(&b);
	smtp_reply_append(&b, 221, "2.0.0", "a\rb\x01");
	assert_string_equal(buf_cstr(&b), "221 2.0.0 a?b?\r\n");
	buf_reset(&b);
	char big[2000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	smtp_reply_append(&b, 250, "2.0.0", big);
	assert_int_equal(b.len, SMTP_REPLY_LINE_MAX);
	assert_memory_equal(b.data + b.len - 2, "\r\n", 2);
	buf_reset(&b);
	struct smtp_error e = {501, "5.5.4", "Syntax"};
	smtp_reply_error(&b, &e);
	assert_string_equal(buf_cstr(&b), "501 5.5.4 Syntax\r\n");
	buf_free(&b);
}

static void test_parse(void **state)
{
	struct smtp_reply r;
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_feed_line(&r, "250-mx.example", 14), 0);
	assert_int_equal(smtp_reply_feed_line(&r, "250-PIPELINING", 14), 0);
	assert_int_equal(smtp_reply_feed_line(&r, "250 SIZE 10", 11), 1);
	assert_int_equal(r.code, 250);
	assert_string_equal(buf_cstr(&r.text), "mx.example\nPIPELINING\nSIZE 10");
	assert_int_equal(smtp_reply_feed_line(&r, "550 5.1.1 No such user", 22), 1);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.enh, "5.1.1");
	assert_string_equal(buf_cstr(&r.text), "No such user");
	assert_int_equal(smtp_reply_feed_line(&r, "354", 3), 1);
	assert_string_equal(buf_cstr(&r.text), "");
	assert_int_equal(smtp_reply_feed_line(&r, "250-a", 5), 0);
	assert_int_equal(smtp_reply_feed_line(&r, "251 b", 5), -1);
	smtp_reply_free(&r);
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_feed_line(&r, "25", 2), -1);
	assert_int_equal(smtp_reply_feed_line(&r, "abc x", 5), -1);
	assert_int_equal(smtp_reply_feed_line(&r, "250x", 4), -1);
	assert_int_equal(smtp_reply_feed_line(&r, "650 x", 5), -1);
	/* An enhanced code whose class differs from the reply's is plain text. */
	assert_int_equal(smtp_reply_feed_line(&r, "250 5.1.1 x", 11), 1);
	assert_string_equal(r.enh, "");
	smtp_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
