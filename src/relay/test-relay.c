/* test-relay: the relay's pure parts: routes, TLS policies, EHLO keywords, the data
 * filter (CRLF and dot-stuffing, byte by byte and in blocks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "relay.h"

static void test_route(void **state)
{
	struct relay_nexthop h;
	struct buf err = BUF_INIT;
	const char *map = "example.org relay:[10.0.0.5]:2525, other.org lmtp:unix:/run/lmtp, "
			  " .sub.test relay:mx.sub.test , inet.test lmtp:inet:127.0.0.1:24";
	assert_int_equal(relay_route("example.org", map, "", 25, &h, &err), 0);
	assert_string_equal(h.host, "10.0.0.5");
	assert_int_equal(h.port, 2525);
	assert_false(h.mx);
	assert_int_equal(h.proto, RELAY_SMTP);
	assert_int_equal(relay_route("OTHER.org", map, "", 25, &h, &err), 0);
	assert_int_equal(h.proto, RELAY_LMTP);
	assert_true(h.unix_path);
	assert_string_equal(h.host, "/run/lmtp");
	assert_int_equal(relay_route("a.sub.test", map, "", 25, &h, &err), 0);
	assert_true(h.mx);
	assert_string_equal(h.host, "mx.sub.test");
	assert_int_equal(relay_route("sub.test", map, "", 2500, &h, &err), 0);
	assert_string_equal(h.host, "sub.test"); /* ".sub.test" covers subdomains only */
	assert_int_equal(h.port, 2500);
	assert_int_equal(relay_route("inet.test", map, "", 25, &h, &err), 0);
	assert_int_equal(h.proto, RELAY_LMTP);
	assert_int_equal(h.port, 24);
	assert_false(h.mx);
	/* relayhost, then MX */
	assert_int_equal(relay_route("x.test", map, "[smart.test]:587", 25, &h, &err), 0);
	assert_string_equal(h.host, "smart.test");
	assert_true(h.smarthost);
	assert_int_equal(h.port, 587);
	assert_int_equal(relay_route("x.test", "", "", 25, &h, &err), 0);
	assert_true(h.mx);
	assert_false(h.smarthost);
	assert_int_equal(relay_route("[127.0.0.2]", "", "", 25, &h, &err), 0);
	assert_string_equal(h.host, "127.0.0.2");
	assert_false(h.mx);
	/* malformed */
	assert_int_equal(relay_parse_transport("relay:[x", 25, &h, &err), -1);
	assert_int_equal(relay_parse_transport("relay:x:99999", 25, &h, &err), -1);
	assert_int_equal(relay_parse_transport("lmtp:unix:relative", 25, &h, &err), -1);
	assert_int_equal(relay_parse_transport("relay:", 25, &h, &err), -1);
	buf_free(&err);
	char key[300];
	relay_parse_transport("relay:[h.test]:26", 25, &h, &err);
	relay_nexthop_key(&h, key, sizeof(key));
	assert_string_equal(key, "smtp:[h.test]:26");
}

static void test_tls_policy(void **state)
{
	const char *map = "example.org:encrypt, other.org : none,v.test:verify";
	assert_int_equal(relay_tls_policy("example.org", map, RELAY_TLS_MAY), RELAY_TLS_ENCRYPT);
	assert_int_equal(relay_tls_policy("other.org", map, RELAY_TLS_MAY), RELAY_TLS_NONE);
	assert_int_equal(relay_tls_policy("v.test", map, RELAY_TLS_MAY), RELAY_TLS_VERIFY);
	assert_int_equal(relay_tls_policy("x.test", map, RELAY_TLS_MAY), RELAY_TLS_MAY);
	assert_int_equal(relay_tls_policy("x.test", "", RELAY_TLS_NONE), RELAY_TLS_NONE);
}

static void test_caps(void **state)
{
	const char *t = "mx.example greets you\nPIPELINING\nSIZE 10240000\nAUTH=LOGIN\n"
			"AUTH PLAIN LOGIN CRAM-MD5\n8BITMIME\nSMTPUTF8\nCHUNKING\nSTARTTLS\n"
			"dsn\nPIPELININGX";
	struct relay_caps c;
	relay_caps_parse(t, strlen(t), &c);
	assert_true(c.pipelining && c.eightbit && c.smtputf8 && c.chunking && c.starttls);
	assert_true(c.auth_plain && c.auth_login && c.size && c.dsn);
	assert_int_equal(c.size_max, 10240000);
	relay_caps_parse("hello", 5, &c);
	assert_false(c.pipelining || c.size || c.dsn);
	const char *u = "x\nsize\nstarttlsx\nSIZE abc\nDSNX";
	relay_caps_parse(u, strlen(u), &c);
	assert_true(c.size);
	assert_int_equal(c.size_max, 0);
	assert_false(c.starttls || c.dsn);
}

static void encode_all(const char *in, bool dot, size_t step, struct buf *out)
{
	struct relay_dot st = {.dot_stuff = dot};
	size_t n = strlen(in);
	for (size_t i = 0; i < n; i += step)
		relay_dot_encode(&st, in + i, n - i < step ? n - i : step, out);
	relay_dot_finish(&st, dot, out);
}

static void test_dot(void **state)
{
	const char *in = "Subject: x\n\n.hidden\n..two\nend.\n.";
	const char *want = "Subject: x\r\n\r\n..hidden\r\n...two\r\nend.\r\n..\r\n.\r\n";
	for (size_t step = 1; step <= strlen(in); step++) {
		struct buf out = BUF_INIT;
		encode_all(in, true, step, &out);
		assert_string_equal(buf_cstr(&out), want);
		buf_free(&out);
	}
	struct buf out = BUF_INIT;
	encode_all("a\n.b\nc", false, 2, &out);
	assert_string_equal(buf_cstr(&out), "a\r\n.b\r\nc\r\n");
	buf_reset(&out);
	encode_all("", true, 1, &out);
	assert_string_equal(buf_cstr(&out), ".\r\n");
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route),
	    cmocka_unit_test(test_tls_policy),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_dot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
