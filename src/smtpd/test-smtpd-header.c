/* Unit tests for smtpd-header: the header scan that adds Message-ID and Date to submitted
 * messages (RFC 6409 8.2, 8.3), fed whole and byte by byte; fields present in any case are
 * kept; an over-long header section and a message without an empty line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "smtpd-private.h"

/* Runs the scan over msg in pieces of step bytes (0: all at once); returns what a caller
 * would write (the scan's output, then the bytes fed after it). */
static void scan(const char *msg, size_t step, uint64_t max, struct buf *res)
{
	struct smtpd_header_scan *hs = smtpd_header_scan_new(max);
	size_t len = strlen(msg), i = 0;
	bool holding = true;
	while (i < len) {
		size_t n = step == 0 || step > len - i ? len - i : step;
		struct buf *out;
		if (!holding) {
			buf_append(res, msg + i, n);
		} else if (smtpd_header_scan_feed(hs, msg + i, n, "mx.test", "QID1", &out) == 0) {
			buf_append(res, out->data ? out->data : "", out->len);
			holding = false;
		}
		i += n;
	}
	if (holding) {
		struct buf *out;
		smtpd_header_scan_finish(hs, "mx.test", "QID1", &out);
		buf_append(res, out->data ? out->data : "", out->len);
	}
	smtpd_header_scan_free(&hs);
}

/* Checks that res is the added fields (as told) followed by msg itself. */
static void check_added(const struct buf *res, const char *msg, bool msgid, bool date)
{
	const char *p = buf_cstr(res);
	if (msgid) {
		assert_true(strncmp(p, "Message-ID: <", 13) == 0);
		const char *end = strstr(p, ".QID1@mx.test>\n");
		assert_non_null(end);
		p = end + strlen(".QID1@mx.test>\n");
	}
	if (date) {
		assert_true(strncmp(p, "Date: ", 6) == 0);
		p = strchr(p, '\n') + 1;
	}
	assert_string_equal(p, msg);
}

static void test_added(void **state)
{
	const char *msg = "Subject: hi\nFrom: a@b\n\nbody line\n.\nDate: not a header\n";
	size_t steps[] = {0, 1, 2, 7};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct buf res = BUF_INIT;
		scan(msg, steps[i], 1 << 20, &res);
		check_added(&res, msg, true, true);
		buf_free(&res);
	}
}

static void test_kept(void **state)
{
	const char *msg = "message-id: <x@y>\nDATE: Mon, 1 Jan 2024 00:00:00 +0000\n\nb\n";
	struct buf res = BUF_INIT;
	scan(msg, 1, 1 << 20, &res);
	assert_string_equal(buf_cstr(&res), msg);
	buf_reset(&res);
	const char *folded = "Subject: x\nDate:\n Mon, 1 Jan 2024 00:00:00 +0000\n\nb\n";
	scan(folded, 3, 1 << 20, &res);
	check_added(&res, folded, true, false);
	buf_free(&res);
}

static void test_no_body(void **state)
{
	const char *msg = "Subject: only a header\nMessage-ID: <a@b>\n";
	struct buf res = BUF_INIT;
	scan(msg, 5, 1 << 20, &res);
	check_added(&res, msg, false, true);
	buf_reset(&res);
	scan("", 0, 1 << 20, &res); /* nothing at all: still a date and an id */
	check_added(&res, "", true, true);
	buf_free(&res);
}

static void test_too_big(void **state)
{
	/* Over the limit the scan stops holding and adds nothing (the message is refused). */
	char msg[600];
	memset(msg, 'x', sizeof(msg) - 1);
	memcpy(msg, "X-Long: ", 8);
	msg[sizeof(msg) - 1] = '\0';
	struct buf res = BUF_INIT;
	scan(msg, 10, 100, &res);
	assert_string_equal(buf_cstr(&res), msg);
	buf_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_added),
	    cmocka_unit_test(test_kept),
	    cmocka_unit_test(test_no_body),
	    cmocka_unit_test(test_too_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
