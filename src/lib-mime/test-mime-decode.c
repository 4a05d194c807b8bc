/* Unit tests for mime-decode: base64 and quoted-printable, at every chunk size. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mime-decode.h"

/* Decodes in with every chunk size from 1 to len (and all at once): same output each time. */
static void check(enum mime_cte cte, const char *in, const char *expect, size_t expect_len,
		  bool expect_error)
{
	size_t len = strlen(in);
	for (size_t chunk = 1; chunk <= len + 1; chunk++) {
		struct mime_decoder d;
		struct buf out = BUF_INIT;
		mime_decoder_init(&d, cte);
		for (size_t pos = 0; pos < len; pos += chunk)
			mime_decoder_feed(&d, in + pos, len - pos < chunk ? len - pos : chunk,
					  &out);
		mime_decoder_finish(&d, &out);
		assert_int_equal(out.len, expect_len);
		assert_memory_equal(buf_cstr(&out), expect, expect_len);
		assert_int_equal(d.error, expect_error);
		buf_free(&out);
	}
}

#define CHECK(cte, in, expect, err) check(cte, in, expect, sizeof(expect) - 1, err)

static void test_base64(void **state)
{
	CHECK(MIME_CTE_BASE64, "", "", false);
	CHECK(MIME_CTE_BASE64, "aGVsbG8gd29ybGQ=", "hello world", false);
	CHECK(MIME_CTE_BASE64, "aGVs\r\nbG8g\r\nd29y\nbGQ=\r\n", "hello world", false);
	CHECK(MIME_CTE_BASE64, "YQ==", "a", false);
	CHECK(MIME_CTE_BASE64, "YWI=", "ab", false);
	CHECK(MIME_CTE_BASE64, "YWJj", "abc", false);
	CHECK(MIME_CTE_BASE64, "AP8A/w==", "\x00\xff\x00\xff", false);
	/* no padding, padding in the middle, junk */
	CHECK(MIME_CTE_BASE64, "YWI", "ab", false);
	CHECK(MIME_CTE_BASE64, "YQ==YQ==", "aa", false);
	CHECK(MIME_CTE_BASE64, "Y!W*J#j", "abc", true);
	CHECK(MIME_CTE_BASE64, "YWJjZ", "abc", true);
}

static void test_qp(void **state)
{
	CHECK(MIME_CTE_QP, "", "", false);
	CHECK(MIME_CTE_QP, "caf=E9 cr=e8me\r\n", "caf\xe9 cr\xe8me\r\n", false);
	/* soft line breaks, with and without CR, with transport padding */
	CHECK(MIME_CTE_QP, "long=\r\nline=\nhere= \t\r\nend", "longlinehereend", false);
	/* trailing whitespace removed (RFC 2045 6.7 rule 3), kept before a soft break */
	CHECK(MIME_CTE_QP, "a  \r\nb\t\nc \n", "a\r\nb\nc\n", false);
	CHECK(MIME_CTE_QP, "a =\r\nb", "a b", false);
	CHECK(MIME_CTE_QP, "a b  ", "a b", false);
	CHECK(MIME_CTE_QP, "x=3D=3d", "x==", false);
	/* invalid sequences pass through */
	CHECK(MIME_CTE_QP, "a=ZZb", "a=ZZb", true);
	CHECK(MIME_CTE_QP, "a=4", "a=4", true);
	CHECK(MIME_CTE_QP, "a=", "a=", true);
	CHECK(MIME_CTE_QP, "a=\rb", "a=\rb", true);
	CHECK(MIME_CTE_QP, "a= x", "a= x", true);
	CHECK(MIME_CTE_QP, "bare\rcr", "bare\rcr", false);
	CHECK(MIME_CTE_QP, "8bit \xc3\xa9", "8bit \xc3\xa9", false);
}

static void test_long_whitespace(void **state)
{
	char in[1000], expect[1000];
	memset(in, ' ', 600);
	strcpy(in + 600, "x\r\n");
	memcpy(expect, in, 604);
	check(MIME_CTE_QP, in, expect, 603, false);
	/* trailing whitespace beyond what is held back (bounded memory) is kept */
	memset(in, ' ', 600);
	strcpy(in + 600, "\r\n");
	memset(expect, ' ', 512);
	memcpy(expect + 512, "\r\n", 2);
	check(MIME_CTE_QP, in, expect, 514, false);
}

static void test_passthrough(void **state)
{
	CHECK(MIME_CTE_7BIT, "a=b\r\n", "a=b\r\n", false);
	CHECK(MIME_CTE_UNKNOWN, "a=b", "a=b", false);
	assert_int_equal(mime_cte_parse(NULL), MIME_CTE_7BIT);
	assert_int_equal(mime_cte_parse("BASE64"), MIME_CTE_BASE64);
	assert_int_equal(mime_cte_parse("Quoted-Printable"), MIME_CTE_QP);
	assert_int_equal(mime_cte_parse("x-uuencode"), MIME_CTE_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_qp),
	    cmocka_unit_test(test_long_whitespace),
	    cmocka_unit_test(test_passthrough),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
