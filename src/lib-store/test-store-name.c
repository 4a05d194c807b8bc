/* Unit tests for Maildir file names: flags, keywords, ,S=, unique names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "maildir/maildir-private.h"

static void test_parse(void **state)
{
	struct maildir_name n;
	assert_true(maildir_name_parse("123.M1P2.host,S=4711:2,FRSab", &n));
	assert_int_equal(n.baselen, strlen("123.M1P2.host,S=4711"));
	assert_true(n.has_size);
	assert_int_equal(n.size, 4711);
	assert_int_equal(n.flags, STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED | STORE_FLAG_SEEN);
	assert_int_equal(n.keywords, 3);
	assert_true(maildir_name_parse("plain", &n));
	assert_int_equal(n.baselen, 5);
	assert_false(n.has_size);
	assert_int_equal(n.flags, 0);
	assert_true(maildir_name_parse("x,S=12,W=13:2,T", &n));
	assert_int_equal(n.size, 12);
	assert_int_equal(n.flags, STORE_FLAG_DELETED);
	assert_true(maildir_name_parse("x,S=1a:1,S", &n));
	assert_false(n.has_size);
	assert_int_equal(n.flags, 0); /* info "1," is experimental: no flags */
	assert_false(maildir_name_parse(".hidden", &n));
	assert_false(maildir_name_parse(":2,S", &n));
	assert_false(maildir_name_parse("", &n));
}

static void test_format(void **state)
{
	struct buf b = BUF_INIT;
	maildir_name_format(&b, "base", 4,
			    STORE_FLAG_SEEN | STORE_FLAG_DRAFT | STORE_FLAG_DELETED |
				    STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED,
			    1u << 2);
	assert_string_equal(buf_cstr(&b), "base:2,DFRSTc");
	buf_free(&b);
}

static void test_unique(void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	maildir_name_unique(&a);
	maildir_name_unique(&b);
	assert_string_not_equal(a.data, b.data);
	assert_null(strchr(a.data, '/'));
	assert_null(strchr(a.data, ':'));
	assert_true(maildir_name_valid_unique(a.data));
	assert_false(maildir_name_valid_unique("a/b"));
	assert_false(maildir_name_valid_unique(".x"));
	buf_free(&a);
	buf_free(&b);
}

static void test_map(void **state)
{
	struct maildir_map m = {0};
	char name[64];
	for (uint32_t i = 1; i <= 5000; i++) {
		snprintf(name, sizeof(name), "msg%u:2,S", i);
		maildir_map_put(&m, name, strchr(name, ':') - name, i, 1);
	}
	for (uint32_t i = 1; i <= 5000; i += 2) {
		snprintf(name, sizeof(name), "msg%u", i);
		maildir_map_remove(&m, maildir_map_find(&m, name, strlen(name)));
	}
	assert_int_equal(m.used, 2500);
	struct maildir_entry *e = maildir_map_find(&m, "msg42", 5);
	assert_non_null(e);
	assert_int_equal(e->uid, 42);
	assert_null(maildir_map_find(&m, "msg41", 5));
	maildir_map_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_unique),
		cmocka_unit_test(test_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
