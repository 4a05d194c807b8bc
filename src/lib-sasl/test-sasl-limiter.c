/* Unit tests for sasl-limiter: doubling delays, lockout and its end, the window, per-user
 * counting across addresses, and the bounded table, all with a fake clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "sasl-limiter.h"

#define MIN_MS (60 * 1000)

static struct sasl_limiter *new_limiter(size_t capacity)
{
	struct sasl_limiter_settings set;
	sasl_limiter_settings_default(&set);
	set.delay_min_ms = 1000;
	set.max_failures = 5;
	set.user_max_failures = 8;
	set.capacity = capacity;
	return sasl_limiter_new(&set);
}

static void test_delay_and_lockout(void **state)
{
	struct sasl_limiter *l = new_limiter(64);
	uint64_t now = 1000000;
	bool locked;
	const uint64_t want[] = {1000, 2000, 4000, 8000};
	assert_int_equal(sasl_limiter_check(l, "192.0.2.1", "bob", now), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(sasl_limiter_fail(l, "192.0.2.1", "bob", now, &locked), want[i]);
		assert_false(locked);
		assert_int_equal(sasl_limiter_check(l, "192.0.2.1", "bob", now), 0);
		now += 1000;
	}
	/* the fifth failure locks the address, for 15 minutes; the delay is at its cap */
	assert_int_equal(sasl_limiter_fail(l, "192.0.2.1", "bob", now, &locked), 15000);
	assert_true(locked);
	assert_int_equal(sasl_limiter_check(l, "192.0.2.1", NULL, now), 15 * MIN_MS);
	assert_int_equal(sasl_limiter_check(l, "192.0.2.1", "alice", now + 60000), 14 * MIN_MS);
	assert_int_equal(sasl_limiter_check(l, "192.0.2.2", "alice", now), 0);
	/* the user is not locked yet (5 < 8) */
	assert_int_equal(sasl_limiter_check(l, "192.0.2.2", "bob", now), 0);
	now += 15 * MIN_MS;
	assert_int_equal(sasl_limiter_check(l, "192.0.2.1", "bob", now), 0);
	sasl_limiter_free(&l);
	assert_null(l);
}

static void test_window_and_success(void **state)
{
	struct sasl_limiter *l = new_limiter(64);
	uint64_t now = 5;
	bool locked;
	for (int i = 0; i < 4; i++)
		sasl_limiter_fail(l, "198.51.100.7", NULL, now, &locked);
	/* after the window the count starts again */
	now += 16 * MIN_MS;
	assert_int_equal(sasl_limiter_fail(l, "198.51.100.7", NULL, now, &locked), 1000);
	assert_false(locked);
	/* a success clears the user's count, not the address's */
	sasl_limiter_fail(l, "198.51.100.8", "carol", now, NULL);
	sasl_limiter_fail(l, "198.51.100.8", "carol", now, NULL);
	sasl_limiter_success(l, "198.51.100.8", "carol");
	assert_int_equal(sasl_limiter_fail(l, "198.51.100.9", "carol", now, NULL), 1000);
	assert_int_equal(sasl_limiter_fail(l, "198.51.100.8", NULL, now, NULL), 4000);
	sasl_limiter_free(&l);
}

static void test_user_across_addresses(void **state)
{
	struct sasl_limiter *l = new_limiter(64);
	bool locked = false;
	char addr[32];
	for (int i = 0; i < 8; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", i);
		sasl_limiter_fail(l, addr, "dave", 100, &locked);
	}
	assert_true(locked);
	assert_true(sasl_limiter_check(l, "203.0.113.200", "dave", 200) > 0);
	assert_int_equal(sasl_limiter_check(l, "203.0.113.200", "erin", 200), 0);
	sasl_limiter_free(&l);
}

static void test_bounded(void **state)
{
	struct sasl_limiter *l = new_limiter(16);
	char addr[32];
	bool locked;
	for (int i = 0; i < 5; i++)
		sasl_limiter_fail(l, "10.0.0.1", NULL, 0, &locked);
	assert_true(locked);
	for (int i = 0; i < 1000; i++) {
		snprintf(addr, sizeof(addr), "10.1.%d.%d", i / 256, i % 256);
		sasl_limiter_fail(l, addr, NULL, 1, NULL);
		if (i < 10) /* keep 10.0.0.1 recently used for a while */
			sasl_limiter_check(l, "10.0.0.1", NULL, 1);
		assert_true(sasl_limiter_count(l) <= 16);
	}
	assert_int_equal(sasl_limiter_count(l), 16);
	/* the oldest entries were recycled: the lock is forgotten (bounded memory wins) */
	assert_int_equal(sasl_limiter_check(l, "10.0.0.1", NULL, 2), 0);
	/* the most recent are still there */
	assert_int_equal(sasl_limiter_fail(l, "10.1.3.231", NULL, 2, NULL), 2000);
	sasl_limiter_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_delay_and_lockout),
	    cmocka_unit_test(test_window_and_success),
	    cmocka_unit_test(test_user_across_addresses),
	    cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
