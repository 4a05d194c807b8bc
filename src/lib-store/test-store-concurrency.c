/* Unit test: two processes with their own store handles append to one folder at once
 * (2 x 200 messages) and sync; the folder must end with 400 messages and 400 distinct
 * UIDs, with no UID given to two files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-store-util.h"
#include "xalloc.h"

#define PER_PROCESS 200

static void appender(const char *root, int id)
{
	struct buf err = BUF_INIT;
	struct store *s;
	struct store_folder *f;
	if (store_open(root, STORE_FORMAT_MAILDIR, &s, &err) < 0 ||
	    store_folder_open(s, "INBOX", &f, &err) < 0) {
		fprintf(stderr, "child %d: %s\n", id, buf_cstr(&err));
		_exit(1);
	}
	char text[128];
	uint32_t last = 0;
	for (int i = 0; i < PER_PROCESS; i++) {
		snprintf(text, sizeof(text), "Subject: %d-%d\n\nbody\n", id, i);
		uint32_t uid = test_append(f, text, i % 3 == 0 ? STORE_FLAG_SEEN : 0);
		if (uid <= last)
			_exit(2);
		last = uid;
		if (i % 10 == 0 && store_folder_sync(f, NULL, &err) < 0) {
			fprintf(stderr, "child %d: sync: %s\n", id, buf_cstr(&err));
			_exit(3);
		}
	}
	store_folder_close(&f);
	store_close(&s);
	buf_free(&err);
	_exit(0);
}

static void test_two_appenders(void **state)
{
	char *dir = test_tmpdir();
	char *root = x_asprintf("%s/Maildir", dir);
	struct buf err = BUF_INIT;
	struct store *s;
	assert_int_equal(store_open(root, STORE_FORMAT_MAILDIR, &s, &err), 0);
	pid_t pids[2];
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			appender(root, i);
	}
	for (int i = 0; i < 2; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	struct store_folder *f;
	assert_int_equal(store_folder_open(s, "INBOX", &f, &err), 0);
	assert_int_equal(store_folder_count(f), 2 * PER_PROCESS);
	for (size_t i = 1; i < store_folder_count(f); i++)
		assert_true(store_folder_msg(f, i - 1)->uid < store_folder_msg(f, i)->uid);
	assert_int_equal(store_folder_uidnext(f), 2 * PER_PROCESS + 1);
	store_folder_close(&f);

	/* the same UIDs after losing the index */
	char *ix = x_asprintf("%s/tern-index.sqlite", root);
	assert_int_equal(unlink(ix), 0);
	assert_int_equal(store_folder_open(s, "INBOX", &f, &err), 0);
	assert_int_equal(store_folder_count(f), 2 * PER_PROCESS);
	assert_int_equal(store_folder_msg(f, 2 * PER_PROCESS - 1)->uid, 2 * PER_PROCESS);
	store_folder_close(&f);
	store_close(&s);
	x_free(&ix);
	x_free(&root);
	buf_free(&err);
	test_tmpdir_remove(&dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_appenders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
