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

static unsigned encode_max(const char *in, bool dot, size_t step, size_t max, struct buf *out)
{
	struct relay_dot st = {.dot_stuff = dot, .max_line = max};
	size_t n = strlen(in);
	for (size_t i = 0; i < n; i += step)
		relay_dot_encode(&st, in + i, n - i < step ? n - i : step, out);
	relay_dot_finish(&st, dot, out);
	return st.broken;
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

/* The longest line of out, CRLF not counted. */
static size_t longest(const struct buf *out)
{
	size_t max = 0, col = 0;
	for (size_t i = 0; i < out->len; i++) {
		if (out->data[i] == '\n') {
			col = 0;
			continue;
		}
		if (out->data[i] != '\r' || i + 1 >= out->len || out->data[i + 1] != '\n')
			col++;
		if (col > max)
			max = col;
	}
	return max;
}

static void test_long_lines(void **state)
{
	/* RFC 5321 4.5.3.1.6: 998 octets before the CRLF pass as they are */
	char in[5000];
	memset(in, 'a', 998);
	strcpy(in + 998, "\n");
	for (size_t step = 1; step <= 1000; step += 333) {
		struct buf out = BUF_INIT;
		assert_int_equal(encode_max(in, true, step, 998, &out), 0);
		assert_int_equal(out.len, 998 + 2 + 3);
		buf_free(&out);
	}
	/* 999: broken once, the rest after CRLF SP */
	memset(in, 'a', 999);
	strcpy(in + 999, "\r\nnext\n");
	struct buf out = BUF_INIT;
	assert_int_equal(encode_max(in, false, 7, 998, &out), 1);
	assert_int_equal(out.len, 998 + 3 + 1 + 2 + 6);
	assert_memory_equal(out.data + 998, "\r\n a\r\nnext\r\n", 12);
	buf_free(&out);
	/* a header line of 3000 octets with dots at each break: folded, stuffed dots kept at
	 * line starts only, every line at most the limit, the same bytes once the breaks
	 * (CRLF SP) are taken out, whatever the block size */
	memcpy(in, "Subject: ", 9);
	for (size_t i = 9; i < 3000; i++)
		in[i] = i % 100 == 0 ? '.' : 'b';
	strcpy(in + 3000, "\n\nbody\r\n");
	struct buf first = BUF_INIT;
	for (size_t step = 1; step <= 3010; step = step * 3 + 1) {
		struct buf o = BUF_INIT;
		assert_int_equal(encode_max(in, true, step, 100, &o), 1); /* one line, 30 breaks */
		assert_true(longest(&o) <= 100);
		if (first.len == 0)
			buf_append(&first, o.data, o.len);
		else
			assert_true(o.len == first.len && memcmp(o.data, first.data, o.len) == 0);
		buf_free(&o);
	}
	struct buf joined = BUF_INIT;
	for (size_t i = 0; i < first.len; i++) {
		if (i + 2 < first.len && memcmp(first.data + i, "\r\n ", 3) == 0) {
			i += 2;
			continue;
		}
		buf_append_char(&joined, first.data[i]);
	}
	assert_int_equal(joined.len, 3000 + 2 + 2 + 6 + 3);
	assert_memory_equal(joined.data, in, 3000);
	buf_free(&joined);
	buf_free(&first);
	/* a CR that ends a block and the line, and one that does not */
	out = (struct buf)BUF_INIT;
	encode_max("ab\r\ncd\rx\n", true, 3, 998, &out);
	assert_string_equal(buf_cstr(&out), "ab\r\ncd\rx\r\n.\r\n");
	buf_reset(&out);
	encode_all("ab\r\ncd\r", true, 3, &out);
	assert_string_equal(buf_cstr(&out), "ab\r\ncd\r\r\n.\r\n");
	buf_free(&out);
	/* 0: no limit */
	memset(in, 'z', 4000);
	strcpy(in + 4000, "\n");
	out = (struct buf)BUF_INIT;
	assert_int_equal(encode_max(in, false, 512, 0, &out), 0);
	assert_int_equal(out.len, 4002);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route),
	    cmocka_unit_test(test_tls_policy),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_dot),
	    cmocka_unit_test(test_long_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
