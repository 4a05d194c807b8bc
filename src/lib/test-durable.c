/* Unit tests for durable: both methods make files durable without error, and the group
 * commit lets many threads share syncfs calls and folder fsyncs (fewer calls than
 * requests, none lost). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"

#define THREADS 8
#define ROUNDS 25

static char test_dir[64];

static void *writer(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < ROUNDS; i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/f%ld.%d", test_dir, id, i);
		int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, "x", 1) != 1 || durable_file(fd) < 0 ||
		    durable_parent(path) < 0)
			return (void *)1;
		close(fd);
	}
	return NULL;
}

static void run_threads(void)
{
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)i), 0);
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		assert_null(r);
	}
}

static void test_methods(void **state)
{
	snprintf(test_dir, sizeof(test_dir), "/tmp/tern-durable-XXXXXX");
	assert_non_null(mkdtemp(test_dir));
	durable_set_method(DURABLE_FSYNC);
	assert_int_equal(durable_get_method(), DURABLE_FSYNC);
	uint64_t req0, done0, req1, done1;
	durable_dir_stats(&req0, &done0);
	run_threads();
	durable_dir_stats(&req1, &done1);
	/* Every writer asked for its folder's fsync and each was answered by one that
	 * started after the ask; eight threads at once shared some. */
	assert_int_equal(req1 - req0, THREADS * ROUNDS);
	assert_true(done1 - done0 >= 1);
	assert_true(done1 - done0 < req1 - req0);
	for (long id = 0; id < THREADS; id++)
		for (int i = 0; i < ROUNDS; i++) {
			char path[128];
			snprintf(path, sizeof(path), "%s/f%ld.%d", test_dir, id, i);
			assert_int_equal(access(path, F_OK), 0);
		}
	durable_set_method(DURABLE_SYNCFS);
	run_threads();
	assert_int_equal(durable_dir(test_dir), 0);
	assert_int_equal(durable_dir("/nonexistent/folder"), -1);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", test_dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_methods),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
