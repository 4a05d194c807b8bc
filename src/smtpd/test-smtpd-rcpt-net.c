/* Unit tests for relay control's trusted networks and the Received: counter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "smtpd-private.h"

static void test_nets(void **state)
{
	struct smtpd_net nets[4];
	assert_int_equal(smtpd_net_parse("127.0.0.0/8", &nets[0]), 0);
	assert_int_equal(smtpd_net_parse("::1/128", &nets[1]), 0);
	assert_int_equal(smtpd_net_parse("10.231.0.0/20", &nets[2]), 0);
	assert_int_equal(smtpd_net_parse("2001:db8::/33", &nets[3]), 0);
	assert_true(smtpd_net_match(nets, 4, "127.1.2.3"));
	assert_true(smtpd_net_match(nets, 4, "::1"));
	assert_true(smtpd_net_match(nets, 4, "::ffff:127.0.0.1"));
	assert_true(smtpd_net_match(nets, 4, "10.231.15.255"));
	assert_false(smtpd_net_match(nets, 4, "10.231.16.1"));
	assert_true(smtpd_net_match(nets, 4, "2001:db8:7fff::1"));
	assert_false(smtpd_net_match(nets, 4, "2001:db8:8000::1"));
	assert_false(smtpd_net_match(nets, 4, "::2"));
	assert_false(smtpd_net_match(nets, 4, "128.0.0.1"));
	assert_false(smtpd_net_match(nets, 4, ""));
	assert_false(smtpd_net_match(nets, 4, "garbage"));
	struct smtpd_net n;
	assert_int_equal(smtpd_net_parse("192.0.2.1", &n), 0);
	assert_int_equal(n.prefix, 32);
	assert_true(smtpd_net_match(&n, 1, "192.0.2.1"));
	assert_false(smtpd_net_match(&n, 1, "192.0.2.2"));
	assert_int_equal(smtpd_net_parse("0.0.0.0/0", &n), 0);
	assert_true(smtpd_net_match(&n, 1, "203.0.113.9"));
	assert_int_equal(smtpd_net_parse("1.2.3.4/33", &n), -1);
	assert_int_equal(smtpd_net_parse("1.2.3.4/", &n), -1);
	assert_int_equal(smtpd_net_parse("1.2.3.4/-1", &n), -1);
	assert_int_equal(smtpd_net_parse("example.org", &n), -1);
	assert_int_equal(smtpd_net_parse("", &n), -1);
}

static void test_hops(void **state)
{
	static const char msg[] = "Received: a\r\n\tfolded Received: no\nX-Received: no\n"
				  "RECEIVED : no\nreceived:b\nSubject: x\n\nReceived: body\n";
	struct smtpd_hops h = {0, 0, true, false};
	smtpd_hops_feed(&h, msg, strlen(msg));
	assert_int_equal(h.count, 2);
	struct smtpd_hops h2 = {0, 0, true, false};
	for (size_t i = 0; i < strlen(msg); i++)
		smtpd_hops_feed(&h2, msg + i, 1);
	assert_int_equal(h2.count, 2);
	assert_true(h2.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nets),
	    cmocka_unit_test(test_hops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
