/* Unit tests for system accounts as mail users: the uid floor, the allow list, names
 * that can never be accounts, and password checks that fail closed. Accounts with a real
 * password are tested in tests/test_sysuser.py, which can create them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "sysuser.h"
#include "userdb.h"

static void configure(const char *extra)
{
	struct buf err = BUF_INIT;
	struct conf *c = conf_parse("/tmp/t.conf", extra, strlen(extra), &err);
	assert_non_null(c);
	buf_free(&err);
	sysuser_configure(c);
	conf_free(&c);
}

static void test_uid_floor(void **state)
{
	struct sysuser u;
	configure("user_source = system\n");
	/* root (uid 0) and daemon accounts are below the default floor of 1000. */
	errno = 12345;
	assert_int_equal(sysuser_lookup("root", &u), -1);
	assert_int_equal(errno, 0);
	assert_int_equal(sysuser_lookup("daemon", &u), -1);
	assert_int_equal(errno, 0);

	configure("system_users_allow = daemon\n");
	assert_int_equal(sysuser_lookup("daemon", &u), 0);
	assert_string_equal(u.name, "daemon");
	assert_true(u.uid < 1000);
	sysuser_free(&u);
	assert_null(u.name);
	assert_int_equal(sysuser_lookup("root", &u), -1);

	configure("system_min_uid = 0\n");
	assert_int_equal(sysuser_lookup("root", &u), 0);
	assert_int_equal(u.uid, 0);
	assert_int_equal(u.gid, 0);
	assert_non_null(u.home);
	assert_non_null(u.shell);
	sysuser_free(&u);
	/* Upper case finds the lower-case account. */
	assert_int_equal(sysuser_lookup("ROOT", &u), 0);
	assert_string_equal(u.name, "root");
	sysuser_free(&u);
}

static void test_bad_names(void **state)
{
	struct sysuser u;
	configure("system_min_uid = 0\n");
	static const char *const bad[] = {"", "-root", ".root", "ro/ot", "root:x", "ro ot",
					  "\\root", "root\n", "no-such-user-tern-test"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sysuser_lookup(bad[i], &u), -1);
		assert_int_equal(errno, 0);
		assert_int_equal(sysuser_verify(bad[i], "secret"), 0);
	}
	/* An empty password never matches, even for an account that exists. */
	assert_int_equal(sysuser_verify("root", ""), 0);
	assert_int_equal(sysuser_verify("root", NULL), 0);
}

static void test_crypt_check(void **state)
{
	char *h = password_hash("pw");
	assert_non_null(h);
	assert_true(password_check_crypt("pw", h));
	assert_false(password_check_crypt("pW", h));
	char *locked = NULL;
	assert_true(asprintf(&locked, "!%s", h) > 0);
	assert_false(password_check_crypt("pw", locked));
	assert_false(password_check_crypt("pw", "*"));
	assert_false(password_check_crypt("", ""));
	/* An old DES hash (crypt("pw", "ab")) is accepted by the shadow check only. */
	assert_true(password_check_crypt("pw", "abzlUXK5ed5rs"));
	assert_false(password_check_crypt("pX", "abzlUXK5ed5rs"));
	assert_false(password_check("pw", "abzlUXK5ed5rs"));
	free(locked);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uid_floor),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_crypt_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
