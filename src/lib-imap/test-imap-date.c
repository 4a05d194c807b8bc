/* Unit tests for imap-date: search dates, INTERNALDATE parsing and formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "imap-date.h"

static int date(const char *s, int64_t *d)
{
	return imap_date_parse(s, strlen(s), d);
}

static void test_date(void **state)
{
	int64_t d;
	assert_int_equal(date("1-Jan-1970", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(date("01-jan-1970", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(date("1-Feb-1994", &d), 0);
	assert_int_equal(d, 8797);
	assert_int_equal(date("29-Feb-2000", &d), 0);
	assert_int_equal(d, 11016);
	assert_int_equal(date("31-Dec-1969", &d), 0);
	assert_int_equal(d, -1);
	const char *bad[] = {"29-Feb-1900", "30-Feb-2024", "0-Jan-2000", "32-Jan-2000", "1-Foo-2000",
			     "1-Jan-200", "1-Jan-20000", "1 Jan 2000", "001-Jan-2000", "", "1-Jan-",
			     "31-Apr-2020", "a-Jan-2000"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(date(bad[i], &d), -1);
	assert_int_equal(date("29-Feb-2024", &d), 0);
}

static void test_datetime(void **state)
{
	int64_t t;
	int tz;
	const char *s = "17-Jul-1996 02:44:25 -0700";
	assert_int_equal(imap_datetime_parse(s, strlen(s), &t, &tz), 0);
	assert_int_equal(t, 837596665);
	assert_int_equal(tz, -420);
	char out[IMAP_DATETIME_LEN + 1];
	imap_datetime_write(t, tz, out);
	assert_string_equal(out, s);
	imap_datetime_write(t, 0, out);
	assert_string_equal(out, "17-Jul-1996 09:44:25 +0000");
	imap_datetime_write(t, 330, out);
	assert_string_equal(out, "17-Jul-1996 15:14:25 +0530");
	s = " 1-Jan-2000 00:00:00 +0100";
	assert_int_equal(imap_datetime_parse(s, strlen(s), &t, &tz), 0);
	assert_int_equal(t, 946681200);
	imap_datetime_write(t, tz, out);
	assert_string_equal(out, "01-Jan-2000 00:00:00 +0100");
	imap_datetime_write(-1, 0, out);
	assert_string_equal(out, "31-Dec-1969 23:59:59 +0000");
	const char *bad[] = {"17-Jul-1996 02:44:25 0700", "17-Jul-1996 24:00:00 +0000",
			     "17-Jul-1996 02:60:25 +0000", "17-Jul-1996 02:44:25 +0060",
			     "1-Jul-1996 02:44:25 +0000", "17-Jul-1996 02:44:25 +00000",
			     "17-Jul-1996T02:44:25 +0000", "31-Jun-1996 02:44:25 +0000"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(imap_datetime_parse(bad[i], strlen(bad[i]), &t, &tz), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_datetime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
