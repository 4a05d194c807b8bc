/* Unit tests for mutf7: RFC 3501 section 5.1.3 examples, round trips, and every kind of
 * non-canonical or ill-formed encoding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mutf7.h"

static void roundtrip(const char *utf8, const char *mutf7)
{
	struct buf b = BUF_INIT;
	const char *error;
	assert_int_equal(mutf7_encode(utf8, strlen(utf8), &b), 0);
	assert_string_equal(buf_cstr(&b), mutf7);
	buf_reset(&b);
	assert_int_equal(mutf7_decode(mutf7, strlen(mutf7), &b, &error), 0);
	assert_string_equal(buf_cstr(&b), utf8);
	buf_free(&b);
}

static void test_roundtrip(void **state)
{
	roundtrip("INBOX", "INBOX");
	roundtrip("", "");
	roundtrip("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		  "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	roundtrip("\xe2\x98\xba!", "&Jjo-!");
	roundtrip("a&b", "a&-b");
	roundtrip("&&", "&-&-");
	roundtrip("caf\xc3\xa9", "caf&AOk-");
	roundtrip("\xc3\xa9&", "&AOk-&-");
	roundtrip("\xf0\x9f\x98\x80", "&2D3eAA-");          /* U+1F600: surrogate pair */
	roundtrip("\xc3\xa9\xc3\xa9\xc3\xa9", "&AOkA6QDp-"); /* one run, no padding */
	roundtrip("tab\there", "tab&AAk-here");            /* control chars are encoded */
	roundtrip("\x7f", "&AH8-");
}

static void bad_decode(const char *s)
{
	struct buf b = BUF_INIT;
	const char *error = NULL;
	assert_int_equal(mutf7_decode(s, strlen(s), &b, &error), -1);
	assert_non_null(error);
	assert_false(mutf7_is_valid(s, strlen(s)));
	buf_free(&b);
}

static void test_invalid(void **state)
{
	bad_decode("&Jjo!");               /* RFC 3501: unterminated */
	bad_decode("&U,BTFw-&ZeVnLIqe-");  /* RFC 3501: superfluous shift */
	bad_decode("&AGE-");               /* "a" must represent itself */
	bad_decode("&AGE-&AGE-");
	bad_decode("&ACY-");               /* "&" must be "&-" */
	bad_decode("&AOk");                /* no "-" */
	bad_decode("&AOkA-");              /* 6 stray bits */
	bad_decode("&AOl-");               /* non-zero padding bits */
	bad_decode("&2D0-");               /* lone high surrogate */
	bad_decode("&3gA-");               /* lone low surrogate */
	bad_decode("&2D3YPQ-");            /* high surrogate followed by high */
	bad_decode("&AAA-");               /* NUL */
	bad_decode("&A/k-");               /* "/" is not modified base64 */
	bad_decode("caf\xc3\xa9");         /* raw 8-bit */
	bad_decode("a\tb");                /* raw control */
	bad_decode("&");
	struct buf b = BUF_INIT;
	assert_int_equal(mutf7_encode("\xc3", 1, &b), -1);
	assert_int_equal(mutf7_encode("\xc0\x80", 2, &b), -1);         /* overlong */
	assert_int_equal(mutf7_encode("\xed\xa0\x80", 3, &b), -1);     /* surrogate */
	assert_int_equal(mutf7_encode("\xf4\x90\x80\x80", 4, &b), -1); /* > U+10FFFF */
	assert_int_equal(mutf7_encode("a\0b", 3, &b), -1);
	buf_free(&b);
	assert_true(mutf7_is_valid("&-", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
