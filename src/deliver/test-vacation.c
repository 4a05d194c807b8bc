/* Unit tests for the vacation database (vacation-db.c): the text format, exclusions,
 * intervals, pruning on save, the -r argument, and a file that is not ours. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "vacation.h"
#include "xalloc.h"

static char dir[] = "/tmp/tern-test-vacation-XXXXXX";

static char *db_path(void)
{
	return x_asprintf("%s/db", dir);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_roundtrip(void **state)
{
	(void)state;
	char *p = db_path();
	unlink(p);
	struct vacation_db db;
	struct buf err = BUF_INIT;
	int e = 0;
	assert_int_equal(vacation_db_open(p, 1 << 20, 5, false, &db, &e, &err), 0);
	assert_int_equal(db.count, 0);
	vacation_db_set(&db, "bob@example.org", 1000, false);
	vacation_db_set(&db, "old@example.org", 10, false);
	vacation_db_set(&db, "@spam.example", 0, true);
	vacation_db_set(&db, "bad address", 5, false); /* not stored: it has a space */
	db.interval = 600;
	assert_int_equal(vacation_db_save(p, &db, 600, 1200, &err), 0);
	vacation_db_close(&db);
	size_t len;
	char *text = read_file_small(p, 4096, &len);
	assert_string_equal(text, VACATION_DB_MAGIC "\ninterval 600\nreply 1000 bob@example.org\n"
						    "exclude @spam.example\n");
	free(text);
	assert_true(vacation_db_is_ours(p));
	assert_int_equal(vacation_db_open(p, 1 << 20, 5, false, &db, &e, &err), 0);
	assert_int_equal(db.interval, 600);
	assert_true(vacation_db_recent(&db, "BOB@example.org", 600, 1200));
	assert_false(vacation_db_recent(&db, "bob@example.org", 600, 1601));
	/* whole seconds: 600 s after 1000 may be 599.1 s later, so still recent */
	assert_true(vacation_db_recent(&db, "bob@example.org", 600, 1600));
	assert_false(vacation_db_recent(&db, "bob@example.org", 0, 1000));
	assert_true(vacation_db_recent(&db, "bob@example.org", VACATION_FOREVER, 1 << 30));
	assert_true(vacation_db_recent(&db, "anyone@spam.example", 600, 1200));
	assert_false(vacation_db_recent(&db, "carol@example.org", 600, 1200));
	vacation_db_close(&db);
	assert_int_equal(vacation_db_open(p, 1 << 20, 5, true, &db, &e, &err), 0);
	assert_int_equal(db.count, 0);
	vacation_db_close(&db);
	buf_free(&err);
	free(p);
}

static void test_bad_files(void **state)
{
	(void)state;
	char *p = db_path();
	struct vacation_db db;
	struct buf err = BUF_INIT;
	int e = 0;
	put(p, "\x61\x15\x06\x00\x02\x00\x00\x00");
	assert_false(vacation_db_is_ours(p));
	assert_int_equal(vacation_db_open(p, 1 << 20, 5, false, &db, &e, &err), -1);
	assert_int_equal(e, EINVAL);
	assert_non_null(strstr(buf_cstr(&err), "not a Tern vacation database"));
	buf_reset(&err);
	put(p, VACATION_DB_MAGIC "\n# a comment\n\nreply 12 a@b\nrepyl 13 c@d\n");
	assert_int_equal(vacation_db_open(p, 1 << 20, 5, false, &db, &e, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), ":5: not a record"));
	buf_reset(&err);
	put(p, VACATION_DB_MAGIC "\ninterval infinite\nreply 12 a@b\n");
	assert_int_equal(vacation_db_open(p, 10, 5, false, &db, &e, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "vacation_db_max_size"));
	buf_reset(&err);
	assert_int_equal(vacation_db_open(p, 1 << 20, 5, false, &db, &e, &err), 0);
	assert_int_equal(db.interval, VACATION_FOREVER);
	/* a second holder of the lock (another open file description) waits, then fails */
	struct vacation_db db2;
	assert_int_equal(vacation_db_open(p, 1 << 20, 0, false, &db2, &e, &err), -1);
	assert_int_equal(e, ENOLCK);
	vacation_db_close(&db);
	buf_free(&err);
	free(p);
}

static void test_interval_parse(void **state)
{
	(void)state;
	assert_int_equal(vacation_interval_parse("0"), 0);
	assert_int_equal(vacation_interval_parse("3"), 3 * 86400);
	assert_int_equal(vacation_interval_parse("30s"), 30);
	assert_int_equal(vacation_interval_parse("2h"), 7200);
	assert_true(vacation_interval_parse("infinite") == VACATION_FOREVER);
	assert_true(vacation_interval_parse("3x") < 0);
	assert_true(vacation_interval_parse("99999999999999999999") < 0);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = x_asprintf("rm -rf %s", dir);
	int r = system(cmd);
	free(cmd);
	return r == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_interval_parse),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
