/* Unit tests for the messages of system-user delivery (deliver-wire.c): round trips, and
 * refusal of every malformed form (missing, extra, overlong fields, bad numbers, a wrong
 * magic or kind, a result whose status and exit code disagree). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "deliver-int.h"

static const struct deliver_wire_req sample = {.queue_id = "1J15C84GKPK00000VFL",
					       .rcpt_index = 3,
					       .sender = "a@example.org",
					       .recipient = "bob+x@example.test",
					       .login = "bob",
					       .queue_time = 1795687487,
					       .recheck = true,
					       .message_sized = true,
					       .message_size = 0};

static void test_request_round_trip(void **state)
{
	struct buf b = BUF_INIT;
	deliver_wire_request(&sample, &b);
	struct deliver_wire_req r;
	assert_int_equal(deliver_wire_request_parse(b.data, b.len, &r), 0);
	assert_string_equal(r.queue_id, sample.queue_id);
	assert_int_equal(r.rcpt_index, 3);
	assert_string_equal(r.sender, "a@example.org");
	assert_string_equal(r.recipient, "bob+x@example.test");
	assert_string_equal(r.login, "bob");
	assert_int_equal(r.queue_time, 1795687487);
	assert_true(r.recheck);
	assert_true(r.message_sized); /* an empty message: sized, 0 bytes */
	assert_int_equal(r.message_size, 0);
	/* every shorter prefix is refused, and so is a byte more */
	for (size_t n = 0; n < b.len; n++)
		assert_int_equal(deliver_wire_request_parse(b.data, n, &r), -1);
	buf_append(&b, "x", 2);
	assert_int_equal(deliver_wire_request_parse(b.data, b.len, &r), -1);
	buf_free(&b);
}

/* Parses the request built from fields (NUL-separated in one string with '|'). */
static int parse_fields(const char *fields)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, fields);
	buf_append_char(&b, '\0');
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '|')
			b.data[i] = '\0';
	struct deliver_wire_req r;
	int ret = deliver_wire_request_parse(b.data, b.len, &r);
	buf_free(&b);
	return ret;
}

static void test_request_malformed(void **state)
{
	assert_int_equal(parse_fields("tern-deliver/1|deliver|ID|0|s|r@x|u|0|0|0"), 0);
	assert_int_equal(parse_fields("tern-deliver/2|deliver|ID|0|s|r@x|u|0|0"), -1);
	assert_int_equal(parse_fields("tern-deliver/1|result|ID|0|s|r@x|u|0|0|0"), -1);
	assert_int_equal(parse_fields("tern-deliver/1|deliver|ID|0|s|r@x|u|0|0"), -1);
	assert_int_equal(parse_fields("tern-deliver/1|deliver|ID|0|s|r@x|u|0|0|0|extra"), -1);
	assert_int_equal(parse_fields("tern-deliver/1|deliver|ID|01|s|r@x|u|0|0|0"), -1);
	assert_int_equal(parse_fields("tern-deliver/1|deliver|ID|1x|s|r@x|u|0|0|0"), -1);
	assert_int_equal(parse_fields("tern-deliver/1|deliver|ID|-1|s|r@x|u|0|0|0"), -1);
	assert_int_equal(parse_fields("tern-deliver/1|deliver|ID|0|s|r@x|u|0|2|0"), -1);
	assert_int_equal(parse_fields("tern-deliver/1|deliver|ID|0|s|r@x||0|0|0"), -1);
	assert_int_equal(parse_fields("tern-deliver/1|deliver||0|s|r@x|u|0|0|0"), -1);
	assert_int_equal(parse_fields("tern-deliver/1|deliver|ID|0|s\n|r@x|u|0|0|0"), -1);
	assert_int_equal(parse_fields("tern-deliver/1|deliver|ID|99999999999999999999999|s|r|u|0|0|0"),
			 -1);
	struct deliver_wire_req r;
	char big[DELIVER_WIRE_MAX + 10];
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(deliver_wire_request_parse(big, sizeof(big), &r), -1);
}

static void test_result(void **state)
{
	struct delivery_result res = {DELIVERY_DEFER, "4.2.1", "cannot lock"}, out;
	struct buf b = BUF_INIT;
	int code;
	deliver_wire_result(&res, 75, &b);
	assert_int_equal(deliver_wire_result_parse(b.data, b.len, &out, &code), 0);
	assert_int_equal(out.status, DELIVERY_DEFER);
	assert_string_equal(out.enhanced, "4.2.1");
	assert_string_equal(out.text, "cannot lock");
	assert_int_equal(code, 75);
	/* the writer makes the code agree with the status; a reader refuses "sent" with a
	 * failure code, or a deferral with 0 */
	res.status = DELIVERY_DEFER;
	deliver_wire_result(&res, 77, &b);
	assert_int_equal(deliver_wire_result_parse(b.data, b.len, &out, &code), 0);
	assert_int_equal(code, 75);
	static const char ok_75[] = "tern-deliver/1\0result\0000\0002.0.0\0x\00075";
	assert_int_equal(deliver_wire_result_parse(ok_75, sizeof(ok_75), &out, &code), -1);
	static const char defer_0[] = "tern-deliver/1\0result\0001\0004.0.0\0x\0000";
	assert_int_equal(deliver_wire_result_parse(defer_0, sizeof(defer_0), &out, &code), -1);
	static const char defer_75[] = "tern-deliver/1\0result\0001\0004.0.0\0x\00075";
	assert_int_equal(deliver_wire_result_parse(defer_75, sizeof(defer_75), &out, &code), 0);
	res.status = DELIVERY_BOUNCE;
	deliver_wire_result(&res, 67, &b);
	assert_int_equal(deliver_wire_result_parse(b.data, b.len, &out, &code), 0);
	assert_int_equal(code, 67);
	/* a request is not a result */
	deliver_wire_request(&sample, &b);
	assert_int_equal(deliver_wire_result_parse(b.data, b.len, &out, &code), -1);
	buf_free(&b);
}

static void test_forward_and_fd(void **state)
{
	char *rcpts[] = {"x@example.org", "y@example.net"};
	struct buf b = BUF_INIT;
	deliver_wire_forward("s@example.org", rcpts, 2, 100, 5, 200, &b);
	struct deliver_wire_fwd fw;
	assert_int_equal(deliver_wire_forward_parse(b.data, b.len, &fw), 0);
	assert_string_equal(fw.sender, "s@example.org");
	assert_string_equal(fw.rcpt_list, "x@example.org\ty@example.net");
	assert_int_equal(fw.mem_len, 100);
	assert_int_equal(fw.fd_off, 5);
	assert_int_equal(fw.fd_len, 200);
	/* over a socketpair, with a descriptor */
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(deliver_wire_send(sv[0], &b, sv[0]), 0);
	char msg[DELIVER_WIRE_MAX];
	int fd = -1;
	ssize_t n = deliver_wire_recv(sv[1], msg, sizeof(msg), &fd);
	assert_int_equal(n, (ssize_t)b.len);
	assert_true(fd >= 0);
	close(fd);
	/* a message larger than the reader's buffer is an error, not a truncated read */
	assert_int_equal(deliver_wire_send(sv[0], &b, -1), 0);
	assert_int_equal(deliver_wire_recv(sv[1], msg, 10, &fd), -1);
	assert_int_equal(fd, -1);
	close(sv[0]);
	assert_int_equal(deliver_wire_recv(sv[1], msg, sizeof(msg), &fd), 0);
	close(sv[1]);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_request_malformed),
		cmocka_unit_test(test_result),
		cmocka_unit_test(test_forward_and_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
