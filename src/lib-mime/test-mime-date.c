/* Unit tests for mime-date: RFC 5322 3.3 dates and the obsolete forms of 4.3. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mime-date.h"

static void ok(const char *s, long long t, int tz)
{
	time_t got;
	int gtz;
	const char *err = NULL;
	int r = mime_date_parse(s, strlen(s), &got, &gtz, &err);
	if (r != 0)
		fail_msg("%s: %s", s, err);
	assert_int_equal((long long)got, t);
	assert_int_equal(gtz, tz);
}

static void bad(const char *s)
{
	time_t got;
	int gtz;
	const char *err = NULL;
	assert_int_equal(mime_date_parse(s, strlen(s), &got, &gtz, &err), -1);
	assert_non_null(err);
}

static void test_valid(void **state)
{
	/* RFC 5322 A.1.1: 1997-11-21 09:55:06 -0600 = 15:55:06 UTC */
	ok("Fri, 21 Nov 1997 09:55:06 -0600", 880127706, -360);
	ok("21 Nov 1997 09:55:06 -0600", 880127706, -360);
	ok("Thu, 1 Jan 1970 00:00:00 +0000", 0, 0);
	ok("Tue, 1 Jul 2003 10:52:37 +0200 (CEST)", 1057049557, 120);
	ok("  Sat, 29 Feb 2020 23:59:60 +0000", 1583020800, 0);
	/* obsolete: 2- and 3-digit years, named zones, no seconds, comments, folding */
	ok("Fri, 21 Nov 97 09:55:06 CST", 880127706, -360);
	ok("21 Nov 97 09:55 CST", 880127700, -360);
	ok("Thu, 13 Feb 69 23:32:54 -0330", -27723426, -210);
	ok("Fri, 21 Nov 097 15:55:06 GMT", 880127706, 0);
	ok("Fri(day), 21 (x) Nov\r\n 1997 09 : 55 : 06 -0600", 880127706, -360);
	ok("Fri, 21 Nov 1997 15:55:06 Z", 880127706, 0);
	ok("Fri, 21 Nov 1997 15:55:06 A", 880127706, 0);
	ok("Fri, 21 Nov 1997 15:55:06", 880127706, 0);
	ok("friday, 21 november 1997 15:55:06 ut", 880127706, 0);
	ok("Mon, 1 Jan 2001 00:00:00 +1400", 978256800, 840);
}

static void test_invalid(void **state)
{
	bad("");
	bad("garbage");
	bad("Fri, 32 Nov 1997 09:55:06 -0600");
	bad("Fri, 29 Feb 2021 09:55:06 -0600");
	bad("Fri, 21 Foo 1997 09:55:06 -0600");
	bad("Fri, 21 Nov 1997 24:00:00 -0600");
	bad("Fri, 21 Nov 1997 09:60:00 -0600");
	bad("Fri, 21 Nov 1997 09:55:06 -06");
	bad("Fri, 21 Nov 1997 09:55:06 +0060");
	bad("Fri, 21 Nov 1997 09:55:06 -0600 trailing");
	bad("Fri, 21 Nov 1997");
	bad("Fri, 21 Nov 7 09:55:06 -0600");
	bad("Fri, 123 Nov 1997 09:55:06 -0600");
	bad("Xyz, 21 Nov 1997 09:55:06 -0600");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
