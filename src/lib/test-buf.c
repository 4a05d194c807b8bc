/* Unit tests for buf and the util parsers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "buf.h"
#include "util.h"

static void test_append_and_limit(void **state)
{
	struct buf b;
	buf_init(&b, 10);
	assert_true(buf_append_str(&b, "hello"));
	assert_true(buf_printf(&b, "%d", 1234));
	assert_int_equal(b.len, 9);
	assert_string_equal(buf_cstr(&b), "hello1234");
	assert_false(buf_append_str(&b, "xy"));
	assert_true(b.overflow);
	assert_int_equal(b.len, 9);
	buf_consume(&b, 5);
	assert_string_equal(buf_cstr(&b), "1234");
	buf_free(&b);
}

static void test_binary(void **state)
{
	struct buf b = BUF_INIT;
	assert_true(buf_append(&b, "a\0b", 3));
	assert_int_equal(b.len, 3);
	assert_int_equal(b.data[3], 0);
	assert_memory_equal(b.data, "a\0b", 3);
	for (int i = 0; i < 10000; i++)
		buf_append_char(&b, 'x');
	assert_int_equal(b.len, 10003);
	buf_free(&b);
}

static void test_parse_size(void **state)
{
	uint64_t v;
	assert_int_equal(parse_size("10M", &v), 0);
	assert_int_equal(v, 10 * 1024 * 1024);
	assert_int_equal(parse_size("512k", &v), 0);
	assert_int_equal(v, 512 * 1024);
	assert_int_equal(parse_size("77", &v), 0);
	assert_int_equal(v, 77);
	assert_int_equal(parse_size("10X", &v), -1);
	assert_int_equal(parse_size("", &v), -1);
	assert_int_equal(parse_size("-1", &v), -1);
	assert_int_equal(parse_size("99999999999999999999G", &v), -1);
	assert_int_equal(parse_duration("5m", &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(parse_duration("5d", &v), 0);
	assert_int_equal(v, 5 * 86400);
}

static void test_strings(void **state)
{
	assert_true(str_ieq("Mail", "mAIL"));
	assert_false(str_ieq("Mail", "Mai"));
	assert_true(str_iprefix("MAIL FROM:", "mail from:"));
	assert_false(str_iprefix("MAI", "mail"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_limit),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
