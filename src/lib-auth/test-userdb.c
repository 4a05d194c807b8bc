/* Unit tests for the user directory and password hashing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "userdb.h"

static struct conf *test_conf(const char *dir)
{
	char *text;
	if (asprintf(&text, "hostname = h.example\ndomains = Example.ORG, other.test\n"
			    "data_dir = %s\n", dir) < 0)
		abort();
	struct buf err = BUF_INIT;
	struct conf *c = conf_parse("/tmp/t.conf", text, strlen(text), &err);
	free(text);
	assert_non_null(c);
	buf_free(&err);
	return c;
}

static void test_put_lookup_delete(void **state)
{
	char dir[] = "/tmp/tern-userdb-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct conf *c = test_conf(dir);
	struct userdb *db = userdb_open(c);
	struct buf err = BUF_INIT;
	struct user_info info;

	assert_int_equal(userdb_lookup(db, "alice@example.org", &info, &err), 0);
	assert_int_equal(userdb_put(db, "Alice@Example.org", "$6$x$y", 100, 0, &err), 0);
	assert_int_equal(userdb_put(db, "bob@example.org", "$6$x$z", 0, 0, &err), 0);
	assert_int_equal(userdb_lookup(db, "ALICE+lists@EXAMPLE.ORG", &info, &err), 1);
	assert_string_equal(info.address, "alice@example.org");
	assert_int_equal(info.quota_bytes, 100);
	char want[256];
	snprintf(want, sizeof(want), "%s/mail/example.org/alice", dir);
	assert_string_equal(info.maildir, want);
	user_info_free(&info);
	assert_true(userdb_is_local_domain(db, "EXAMPLE.org"));
	assert_false(userdb_is_local_domain(db, "example.com"));

	/* A second handle sees the change made through the first. */
	struct userdb *db2 = userdb_open(c);
	assert_int_equal(userdb_delete(db, "alice@example.org", &err), 0);
	assert_int_equal(userdb_lookup(db2, "alice@example.org", &info, &err), 0);
	assert_int_equal(userdb_lookup(db2, "bob@example.org", &info, &err), 1);
	user_info_free(&info);
	assert_int_equal(userdb_delete(db, "nobody@example.org", &err), -1);
	assert_int_equal(userdb_put(db, "bad:addr@example.org", "$6$", 0, 0, &err), -1);
	assert_int_equal(userdb_put(db, "noat", "$6$", 0, 0, &err), -1);

	userdb_close(&db);
	userdb_close(&db2);
	conf_free(&c);
	buf_free(&err);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_password(void **state)
{
	char *h = password_hash("correct horse");
	assert_non_null(h);
	assert_true(h[0] == '$');
	assert_true(password_check("correct horse", h));
	assert_false(password_check("correct horsf", h));
	assert_false(password_check("", h));
	assert_false(password_check("x", "*"));
	assert_false(password_check("x", ""));
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_lookup_delete),
		cmocka_unit_test(test_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
