/* Unit tests for RFC 2047 encoded-words, charsets, Content-Type and RFC 2231 parameters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mime-params.h"
#include "mime-rfc2047.h"
#include "xalloc.h"

static void check2047(const char *in, const char *expect)
{
	char *s = mime_rfc2047_decode_str(in);
	assert_string_equal(s, expect);
	x_free(&s);
}

static void test_rfc2047(void **state)
{
	check2047("plain text", "plain text");
	check2047("=?UTF-8?B?w6l0w6k=?=", "\xc3\xa9t\xc3\xa9");
	check2047("=?iso-8859-1?q?caf=E9_cr=e8me?=", "caf\xc3\xa9 cr\xc3\xa8me");
	/* RFC 2047 8 examples: whitespace between adjacent words goes */
	check2047("(=?ISO-8859-1?Q?a?= b)", "(a b)");
	check2047("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab");
	check2047("=?ISO-8859-1?Q?a?=\r\n  \t=?ISO-8859-1?Q?b?=", "ab");
	check2047("=?ISO-8859-1?Q?a_b?=", "a b");
	check2047("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b");
	/* a UTF-8 character split over two words */
	check2047("=?utf-8?B?w6?= =?utf-8?B?qQ?=", "\xc3\xa9");
	check2047("=?utf-8?Q?=C3?= =?utf-8?Q?=A9?=", "\xc3\xa9");
	/* language suffix (RFC 2231 5) */
	check2047("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore");
	/* malformed or unknown: left as they are */
	check2047("=?utf-8?X?abc?=", "=?utf-8?X?abc?=");
	check2047("=?no-such-charset?Q?abc?= x", "=?no-such-charset?Q?abc?= x");
	check2047("=?utf-8?Q?a b?=", "=?utf-8?Q?a b?=");
	check2047("=?utf-8?Q?unterminated", "=?utf-8?Q?unterminated");
	check2047("a =?utf-8?Q?b?= c", "a b c");
	check2047("=?utf-8?Q?=ZZ?=", "=ZZ");
	/* invalid UTF-8 becomes U+FFFD */
	check2047("=?utf-8?Q?=FF?=", "\xef\xbf\xbd");
	check2047("=?us-ascii?Q?=E9?=", "\xef\xbf\xbd");
}

static void test_content_type(void **state)
{
	struct mime_params ps = {NULL, 0};
	char *type, *subtype;
	const char *err;
	const char *ct = "Text/Plain ; charset=\"us-ascii\" (Plain text); format=flowed;"
			 " boundary=----=_Part_1; name=my file.txt";
	assert_int_equal(mime_content_type_parse(ct, strlen(ct), &type, &subtype, &ps, &err), 0);
	assert_string_equal(type, "text");
	assert_string_equal(subtype, "plain");
	assert_int_equal(ps.count, 4);
	assert_string_equal(mime_params_get(&ps, "CHARSET"), "us-ascii");
	assert_string_equal(mime_params_get(&ps, "format"), "flowed");
	assert_string_equal(mime_params_get(&ps, "boundary"), "----=_Part_1");
	assert_string_equal(mime_params_get(&ps, "name"), "my file.txt");
	x_free(&type);
	x_free(&subtype);
	mime_params_free(&ps);

	ct = "text; charset=utf-8";
	assert_int_equal(mime_content_type_parse(ct, strlen(ct), &type, &subtype, &ps, &err), -1);
	assert_string_equal(mime_params_get(&ps, "charset"), "utf-8");
	mime_params_free(&ps);
	ct = "(comment) multipart / mixed;;;garbage;boundary=\"a\\\"b\"";
	assert_int_equal(mime_content_type_parse(ct, strlen(ct), &type, &subtype, &ps, &err), 0);
	assert_string_equal(subtype, "mixed");
	assert_int_equal(ps.count, 1);
	assert_string_equal(mime_params_get(&ps, "boundary"), "a\"b");
	x_free(&type);
	x_free(&subtype);
	mime_params_free(&ps);
}

static void check_decoded(const char *field, const char *name, const char *expect)
{
	struct mime_params raw = {NULL, 0}, dec = {NULL, 0};
	char *disp = NULL;
	const char *err;
	assert_int_equal(mime_disposition_parse(field, strlen(field), &disp, &raw, &err), 0);
	mime_params_decode(&raw, &dec);
	const char *v = mime_params_get(&dec, name);
	assert_non_null(v);
	assert_string_equal(v, expect);
	x_free(&disp);
	mime_params_free(&raw);
	mime_params_free(&dec);
}

static void test_rfc2231(void **state)
{
	/* RFC 2231 3 and 4 examples */
	check_decoded("attachment; URL*0=\"ftp://\"; URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/"
		      "bulk-mailer.tar\"",
		      "url", "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar");
	check_decoded("attachment; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
		      "title", "This is ***fun***");
	check_decoded("inline; title*0*=us-ascii'en'This%20is%20even%20more%20;"
		      " title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"",
		      "title", "This is even more ***fun*** isn't it!");
	/* out of order sections, ISO-8859-1, UTF-8 split across sections */
	check_decoded("attachment; filename*1*=%E9.txt; filename*0*=iso-8859-1''caf", "filename",
		      "caf\xc3\xa9.txt");
	check_decoded("attachment; filename*0*=UTF-8''%C3; filename*1*=%A9", "filename",
		      "\xc3\xa9");
	/* extended wins over plain; plain with encoded-words decoded */
	check_decoded("attachment; filename=\"old.txt\"; filename*=utf-8''new.txt", "filename",
		      "new.txt");
	check_decoded("attachment; filename=\"=?UTF-8?B?w6l0w6kucGRm?=\"", "filename",
		      "\xc3\xa9t\xc3\xa9.pdf");
	/* unknown charset: bytes kept as UTF-8 where valid */
	check_decoded("attachment; filename*=x-unknown''a%41", "filename", "aA");
	/* a gap stops the sections */
	check_decoded("attachment; n*0=a; n*2=c", "n", "a");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc2047),
	    cmocka_unit_test(test_content_type),
	    cmocka_unit_test(test_rfc2231),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
