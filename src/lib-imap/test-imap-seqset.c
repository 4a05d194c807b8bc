/* Unit tests for imap-seqset: parsing edge cases (RFC 3501 section 9, RFC 5182 "$"),
 * normalisation, membership, iteration and compact formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "imap-seqset.h"

/* Parses with star and returns the formatted set, or "ERR". */
static const char *fmt(const char *in, uint32_t star)
{
	static struct buf out = BUF_INIT;
	struct imap_seqset set = IMAP_SEQSET_INIT;
	const char *error;
	buf_reset(&out);
	if (imap_seqset_parse(&set, in, strlen(in), star, &error) < 0)
		buf_append_str(&out, "ERR");
	else if (set.saved)
		buf_append_str(&out, "$");
	else
		imap_seqset_write(&set, &out);
	imap_seqset_free(&set);
	return buf_cstr(&out);
}

static void test_parse(void **state)
{
	assert_string_equal(fmt("1", 10), "1");
	assert_string_equal(fmt("*", 10), "10");
	assert_string_equal(fmt("4:2", 10), "2:4");
	assert_string_equal(fmt("1,3:5,*", 10), "1,3:5,10");
	assert_string_equal(fmt("2:*", 10), "2:10");
	assert_string_equal(fmt("*:4", 10), "4:10");
	assert_string_equal(fmt("15:*", 10), "10:15"); /* RFC 3501 6.4.8: includes the last */
	assert_string_equal(fmt("5,4,3,1,2", 10), "1:5");
	assert_string_equal(fmt("1:3,2:6,9,8,10:12", 10), "1:6,8:12");
	assert_string_equal(fmt("7,1:3,5", 10), "1:3,5,7");
	assert_string_equal(fmt("4294967295", 10), "4294967295");
	assert_string_equal(fmt("1:4294967295", 10), "1:4294967295");
	assert_string_equal(fmt("$", 10), "$");
	assert_string_equal(fmt("1:*", 0), "1");
	assert_string_equal(fmt("*", 0), "");
	assert_string_equal(fmt("*:*", 0), "");
	/* invalid */
	const char *bad[] = {"", "0", "0:5", "1:0", "4294967296", "99999999999999999999", ",",
			     "1,", ",1", "1::2", "1:2:3", "a", "1 2", "-1", "+1", "$,1", "01",
			     "1:", ":1", "**", "$$"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_string_equal(fmt(bad[i], 10), "ERR");
}

static void test_ops(void **state)
{
	struct imap_seqset set = IMAP_SEQSET_INIT;
	const char *error;
	assert_int_equal(imap_seqset_parse(&set, "1,3:5,9", 7, 100, &error), 0);
	assert_true(imap_seqset_contains(&set, 1));
	assert_false(imap_seqset_contains(&set, 2));
	assert_true(imap_seqset_contains(&set, 4));
	assert_true(imap_seqset_contains(&set, 9));
	assert_false(imap_seqset_contains(&set, 10));
	assert_false(imap_seqset_contains(&set, 0));
	assert_int_equal(imap_seqset_count(&set), 5);
	uint32_t seen[8], n = 0;
	size_t pos = 0, k = 0;
	while (imap_seqset_next(&set, &pos, &n))
		seen[k++] = n;
	assert_int_equal(k, 5);
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], 3);
	assert_int_equal(seen[3], 5);
	assert_int_equal(seen[4], 9);
	imap_seqset_add(&set, 2, 2);
	imap_seqset_add(&set, 8, 6);
	struct buf out = BUF_INIT;
	imap_seqset_write(&set, &out);
	assert_string_equal(buf_cstr(&out), "1:9");
	imap_seqset_add(&set, UINT32_MAX, UINT32_MAX);
	imap_seqset_add(&set, UINT32_MAX - 1, 20);
	buf_reset(&out);
	imap_seqset_write(&set, &out);
	assert_string_equal(buf_cstr(&out), "1:9,20:4294967295");
	/* iteration ends at UINT32_MAX without wrapping */
	struct imap_seqset top = IMAP_SEQSET_INIT;
	imap_seqset_add(&top, UINT32_MAX - 1, UINT32_MAX);
	pos = 0;
	n = 0;
	k = 0;
	while (imap_seqset_next(&top, &pos, &n))
		k++;
	assert_int_equal(k, 2);
	imap_seqset_free(&top);
	buf_free(&out);
	imap_seqset_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_ops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
