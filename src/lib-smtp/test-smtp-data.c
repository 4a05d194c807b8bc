/* Unit tests for smtp-data: dot-unstuffing, CRLF to LF, the end of DATA (and the SMTP
 * smuggling cases that must not end it), BDAT chunk joins, the counters; every case fed
 * whole, one byte at a time and in random chunks, with the same result. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "smtp-data.h"

struct result {
	char out[8192];
	size_t out_len;
	size_t consumed;
	struct smtp_data d;
};

/* Feeds in with chunk sizes from `chunk` (0: random 1..17, -1: all at once). */
static void run(const char *in, size_t n, bool bdat, int chunk, struct result *r)
{
	smtp_data_init(&r->d, bdat);
	r->out_len = 0;
	r->consumed = 0;
	char tmp[8192];
	while (r->consumed < n && !r->d.done) {
		size_t c = chunk < 0 ? n : chunk == 0 ? (size_t)(rand() % 17 + 1) : (size_t)chunk;
		if (c > n - r->consumed)
			c = n - r->consumed;
		size_t o;
		size_t used = smtp_data_feed(&r->d, in + r->consumed, c, tmp, &o);
		assert_true(used <= c);
		assert_true(o <= c + 1);
		memcpy(r->out + r->out_len, tmp, o);
		r->out_len += o;
		r->consumed += used;
		if (used < c)
			assert_true(r->d.done);
	}
	if (bdat)
		r->out_len += smtp_data_finish(&r->d, r->out + r->out_len);
}

/* Runs in all three ways, checks they agree, and returns the whole-input result. */
static void decode(const char *in, size_t n, bool bdat, struct result *r)
{
	static struct result a, b;
	run(in, n, bdat, -1, r);
	run(in, n, bdat, 1, &a);
	for (int i = 0; i < 20; i++) {
		run(in, n, bdat, 0, &b);
		assert_int_equal(b.out_len, r->out_len);
		assert_memory_equal(b.out, r->out, r->out_len);
		assert_int_equal(b.consumed, r->consumed);
	}
	assert_int_equal(a.out_len, r->out_len);
	assert_memory_equal(a.out, r->out, r->out_len);
	assert_int_equal(a.consumed, r->consumed);
	assert_int_equal(a.d.done, r->d.done);
	assert_int_equal(a.d.bare_lf, r->d.bare_lf);
	assert_int_equal(a.d.bare_cr, r->d.bare_cr);
	assert_int_equal(a.d.nul, r->d.nul);
	assert_int_equal(a.d.longest_line, r->d.longest_line);
	assert_int_equal(a.d.header_size, r->d.header_size);
	assert_int_equal(a.d.bytes_out, r->d.bytes_out);
	assert_int_equal(r->d.bytes_out, r->out_len);
}

#define DECODE(s, bdat, r) decode(s, sizeof(s) - 1, bdat, r)
#define OUT_IS(r, s) do { \
	assert_int_equal((r)->out_len, sizeof(s) - 1); \
	assert_memory_equal((r)->out, s, sizeof(s) - 1); \
} while (0)

static void test_basic(void **state)
{
	static struct result r;
	DECODE("Subject: hi\r\n\r\nbody\r\n..dot\r\n.\r\nQUIT\r\n", false, &r);
	OUT_IS(&r, "Subject: hi\n\nbody\n.dot\n");
	assert_true(r.d.done);
	assert_int_equal(r.consumed, sizeof("Subject: hi\r\n\r\nbody\r\n..dot\r\n.\r\n") - 1);
	assert_false(r.d.bare_lf);
	assert_false(r.d.bare_cr);
	assert_int_equal(r.d.header_size, 12);
	assert_int_equal(r.d.longest_line, 11);
	DECODE(".\r\n", false, &r);
	OUT_IS(&r, "");
	assert_true(r.d.done);
	DECODE("a\r\n", false, &r);
	OUT_IS(&r, "a\n");
	assert_false(r.d.done);
	/* RFC 5321 4.5.2: a leading dot with more on the line is removed. */
	DECODE(".x\r\n.\r\n", false, &r);
	OUT_IS(&r, "x\n");
}

static void test_smuggling(void **state)
{
	static struct result r;
	/* None of these end DATA: only CRLF . CRLF does. */
	DECODE("a\n.\nMAIL FROM:<x@y>\r\n", false, &r);
	assert_false(r.d.done);
	assert_true(r.d.bare_lf);
	OUT_IS(&r, "a\n.\nMAIL FROM:<x@y>\n");
	DECODE("a\n.\r\nb\r\n", false, &r);
	assert_false(r.d.done);
	OUT_IS(&r, "a\n.\nb\n");
	DECODE("a\r\n.\nb\r\n", false, &r);
	assert_false(r.d.done);
	assert_true(r.d.bare_lf);
	DECODE("a\r.\r\nb\r\n", false, &r);
	assert_false(r.d.done);
	assert_true(r.d.bare_cr);
	OUT_IS(&r, "a\r.\nb\n");
	DECODE("a\r\n.\rb\r\n", false, &r);
	assert_false(r.d.done);
	assert_true(r.d.bare_cr);
	OUT_IS(&r, "a\n\rb\n");
	DECODE("a\r\n.\r\rb\r\n.\r\n", false, &r);
	assert_true(r.d.done);
	OUT_IS(&r, "a\n\r\rb\n");
	/* The real end after the attempts. */
	DECODE("a\n.\n\r\n.\r\nRSET\r\n", false, &r);
	assert_true(r.d.done);
	OUT_IS(&r, "a\n.\n\n");
	assert_int_equal(r.consumed, 9);
}

static void test_bare_and_nul(void **state)
{
	static struct result r;
	DECODE("a\rb\r\r\nc\0d\r\n.\r\n", false, &r);
	assert_true(r.d.bare_cr);
	assert_true(r.d.nul);
	assert_false(r.d.bare_lf);
	OUT_IS(&r, "a\rb\r\nc\0d\n");
	DECODE("caf\xc3\xa9\r\n.\r\n", false, &r);
	assert_true(r.d.eight_bit);
}

static void test_header_size(void **state)
{
	static struct result r;
	DECODE("A: 1\r\n folded\r\nB: 2\r\n\r\nbody: x\r\n.\r\n", false, &r);
	assert_int_equal(r.d.header_size, 5 + 8 + 5);
	assert_false(r.d.in_header);
	/* No header at all: the first line is not a field, so the header section is empty. */
	DECODE("just text\r\nmore: x\r\n.\r\n", false, &r);
	assert_int_equal(r.d.header_size, 0);
	DECODE("\r\nbody\r\n.\r\n", false, &r);
	assert_int_equal(r.d.header_size, 0);
}

static void test_bdat(void **state)
{
	static struct result r;
	DECODE("a\r\n.\r\n..b\r\nc\rd\ne\r", true, &r);
	OUT_IS(&r, "a\n.\n..b\nc\rd\ne\r");
	assert_true(r.d.bare_cr);
	assert_true(r.d.bare_lf);
	assert_int_equal(r.consumed, 17);
	/* A CRLF split across two chunks is one line end. */
	struct smtp_data d;
	char out[16];
	size_t o1, o2;
	smtp_data_init(&d, true);
	smtp_data_feed(&d, "x\r", 2, out, &o1);
	smtp_data_feed(&d, "\ny", 2, out + o1, &o2);
	o2 += smtp_data_finish(&d, out + o1 + o2);
	assert_int_equal(o1 + o2, 3);
	assert_memory_equal(out, "x\ny", 3);
	assert_false(d.bare_cr);
	assert_int_equal(d.longest_line, 1);
}

static void test_long_line_constant_memory(void **state)
{
	/* A 1 MB line: the decoder holds nothing; only the counter grows. */
	struct smtp_data d;
	static char in[65536], out[65537];
	memset(in, 'x', sizeof(in));
	smtp_data_init(&d, false);
	for (int i = 0; i < 16; i++) {
		size_t o;
		assert_int_equal(smtp_data_feed(&d, in, sizeof(in), out, &o), sizeof(in));
		assert_int_equal(o, sizeof(in));
	}
	size_t o;
	smtp_data_feed(&d, "\r\n.\r\n", 5, out, &o);
	assert_true(d.done);
	assert_int_equal(d.longest_line, 16 * 65536);
	assert_int_equal(d.bytes_out, 16 * 65536 + 1);
}

static void test_random_vs_reference(void **state)
{
	/* Random messages over a small alphabet, checked against a slow reference. */
	static const char alphabet[] = "\r\n.a:";
	static char in[600], ref[700];
	static struct result r;
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(rand() % 500);
		for (size_t i = 0; i < n; i++)
			in[i] = alphabet[rand() % 5];
		/* Reference: find the first CRLF.CRLF (or a leading .CRLF), unstuff lines. */
		size_t end = n, rl = 0;
		bool bol = true, found = false;
		for (size_t i = 0; i < n; i++) {
			if (bol && n - i >= 3 && memcmp(in + i, ".\r\n", 3) == 0) {
				end = i + 3;
				found = true;
				break;
			}
			if (bol && in[i] == '.') {
				bol = false;
				continue;
			}
			if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n') {
				ref[rl++] = '\n';
				i++;
				bol = true;
				continue;
			}
			ref[rl++] = in[i];
			bol = false;
		}
		decode(in, n, false, &r);
		assert_int_equal(r.d.done, found);
		assert_int_equal(r.consumed, end);
		if (!r.d.done && n > 0 && in[n - 1] == '\r')
			rl--; /* the decoder holds a trailing CR back */
		assert_int_equal(r.out_len, rl);
		assert_memory_equal(r.out, ref, rl);
	}
}

int main(void)
{
	srand(5321);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_smuggling),
		cmocka_unit_test(test_bare_and_nul),
		cmocka_unit_test(test_header_size),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_long_line_constant_memory),
		cmocka_unit_test(test_random_vs_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
