/* Unit tests for lib-login: the request and reply wire forms (every truncation and
 * trailing byte refused) and descriptor passing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "login.h"

static void test_request_round_trip(void **state)
{
	struct login_request req = {LOGIN_PROTO_POP3, "USER", "192.0.2.7", "alice", "s3cret pw"};
	struct buf msg = BUF_INIT, store = BUF_INIT;
	assert_int_equal(login_request_marshal(&req, &msg), 0);
	struct login_request got;
	assert_int_equal(login_request_unmarshal(msg.data, msg.len, &got, &store), 0);
	assert_int_equal(got.proto, LOGIN_PROTO_POP3);
	assert_string_equal(got.mech, "USER");
	assert_string_equal(got.ip, "192.0.2.7");
	assert_string_equal(got.user, "alice");
	assert_string_equal(got.password, "s3cret pw");
	/* every shorter prefix, and one byte more, are refused */
	for (size_t n = 0; n < msg.len; n++)
		assert_int_equal(login_request_unmarshal(msg.data, n, &got, &store), -1);
	buf_append(&msg, "x", 1);
	assert_int_equal(login_request_unmarshal(msg.data, msg.len, &got, &store), -1);
	/* a NUL inside a field, a wrong version, an unknown protocol */
	buf_reset(&msg);
	assert_int_equal(login_request_marshal(&req, &msg), 0);
	msg.data[msg.len - 2] = '\0';
	assert_int_equal(login_request_unmarshal(msg.data, msg.len, &got, &store), -1);
	msg.data[msg.len - 2] = 'p';
	msg.data[0] = 2;
	assert_int_equal(login_request_unmarshal(msg.data, msg.len, &got, &store), -1);
	msg.data[0] = 1;
	msg.data[2] = 9;
	assert_int_equal(login_request_unmarshal(msg.data, msg.len, &got, &store), -1);
	/* SMTP AUTH's check-only request */
	msg.data[2] = LOGIN_PROTO_SMTP;
	assert_int_equal(login_request_unmarshal(msg.data, msg.len, &got, &store), 0);
	assert_int_equal(got.proto, LOGIN_PROTO_SMTP);
	assert_string_equal(login_proto_name(got.proto), "smtp");
	/* ManageSieve's; 0 and the next number are not protocols */
	msg.data[2] = LOGIN_PROTO_MANAGESIEVE;
	assert_int_equal(login_request_unmarshal(msg.data, msg.len, &got, &store), 0);
	assert_string_equal(login_proto_name(got.proto), "managesieve");
	msg.data[2] = LOGIN_PROTO_MANAGESIEVE + 1;
	assert_int_equal(login_request_unmarshal(msg.data, msg.len, &got, &store), -1);
	msg.data[2] = 0;
	assert_int_equal(login_request_unmarshal(msg.data, msg.len, &got, &store), -1);
	buf_free(&msg);
	buf_free(&store);
}

static void test_request_field_too_long(void **state)
{
	char *big = malloc(LOGIN_FIELD_MAX + 2);
	memset(big, 'a', LOGIN_FIELD_MAX + 1);
	big[LOGIN_FIELD_MAX + 1] = '\0';
	struct login_request req = {LOGIN_PROTO_IMAP, "LOGIN", "::1", "bob", big};
	struct buf msg = BUF_INIT;
	assert_int_equal(login_request_marshal(&req, &msg), -1);
	big[LOGIN_FIELD_MAX] = '\0';
	buf_reset(&msg);
	assert_int_equal(login_request_marshal(&req, &msg), 0);
	assert_true(msg.len <= LOGIN_MSG_MAX);
	buf_free(&msg);
	free(big);
}

static void test_reply(void **state)
{
	struct login_reply rep = {LOGIN_FAILED, 2500}, got;
	unsigned char m[8];
	login_reply_marshal(&rep, m);
	assert_int_equal(login_reply_unmarshal(m, 8, &got), 0);
	assert_int_equal(got.status, LOGIN_FAILED);
	assert_int_equal(got.delay_ms, 2500);
	assert_int_equal(login_reply_unmarshal(m, 7, &got), -1);
	m[2] = 0;
	assert_int_equal(login_reply_unmarshal(m, 8, &got), -1);
	m[2] = LOGIN_TEMPFAIL + 1;
	assert_int_equal(login_reply_unmarshal(m, 8, &got), -1);
}

static void test_fd_passing(void **state)
{
	int sp[2], pipefd[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(login_send_fd(sp[0], "hello", 5, pipefd[1]), 0);
	close(pipefd[1]);
	char buf[16];
	int fd;
	assert_int_equal(login_recv_fd(sp[1], buf, sizeof(buf), &fd), 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(read(pipefd[0], buf, 2), 1);
	assert_int_equal(buf[0], 'x');
	/* no descriptor; then a message cut short */
	assert_int_equal(login_send_fd(sp[0], "abcdefgh", 8, -1), 0);
	assert_int_equal(login_recv_fd(sp[1], buf, 4, &fd), -1);
	assert_int_equal(fd, -1);
	close(sp[0]);
	assert_int_equal(login_recv_fd(sp[1], buf, sizeof(buf), &fd), 0);
	close(sp[1]);
	close(pipefd[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_round_trip),
	    cmocka_unit_test(test_request_field_too_long),
	    cmocka_unit_test(test_reply),
	    cmocka_unit_test(test_fd_passing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
