/* Unit tests for imap-url: relative and absolute IMAP URLs, UIDVALIDITY, SECTION, PARTIAL,
 * %-escapes, and the malformed cases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "imap-url.h"

static int parse(const char *s, struct imap_url *u)
{
	const char *error;
	return imap_url_parse(s, strlen(s), u, &error);
}

static void test_valid(void **state)
{
	struct imap_url u;
	assert_int_equal(parse("/INBOX/;uid=20", &u), 0);
	assert_string_equal(u.mailbox, "INBOX");
	assert_int_equal(u.uid, 20);
	assert_int_equal(u.uidvalidity, 0);
	assert_null(u.section);
	imap_url_free(&u);
	assert_int_equal(parse("/a%20b;UIDVALIDITY=385759045/;UID=20/;section=1.2.MIME", &u), 0);
	assert_string_equal(u.mailbox, "a b");
	assert_int_equal(u.uidvalidity, 385759045);
	assert_string_equal(u.section, "1.2.MIME");
	assert_false(u.partial);
	imap_url_free(&u);
	assert_int_equal(parse("imap://joe@example.com:143/Lists/x/;uid=3/;partial=100000.1", &u),
			 0);
	assert_string_equal(u.mailbox, "Lists/x");
	assert_true(u.partial);
	assert_int_equal(u.offset, 100000);
	assert_int_equal(u.length, 1);
	imap_url_free(&u);
	assert_int_equal(parse("/m/;uid=3/;section=TEXT/;partial=5", &u), 0);
	assert_string_equal(u.section, "TEXT");
	assert_int_equal(u.offset, 5);
	assert_int_equal(u.length, 0);
	imap_url_free(&u);
}

static void test_invalid(void **state)
{
	const char *bad[] = {"", "INBOX/;uid=1", "/;uid=1", "/INBOX", "/INBOX/;uid=0",
			     "/INBOX/;uid=x", "/INBOX;uidvalidity=/;uid=1", "/a%2/;uid=1",
			     "/a%00/;uid=1", "/INBOX/;uid=1/;section=", "/INBOX/;uid=1/;partial=x",
			     "/INBOX/;uid=1/;partial=1.0", "/INBOX/;uid=1/;foo=1", "http://x/y",
			     "imap://host"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct imap_url u;
		const char *error = NULL;
		assert_int_equal(imap_url_parse(bad[i], strlen(bad[i]), &u, &error), -1);
		assert_non_null(error);
		assert_null(u.mailbox);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
