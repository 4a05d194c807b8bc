/* Unit tests for pop3-reply and pop3-body (dot-stuffing, CRLF, TOP, random chunks). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "pop3-body.h"
#include "pop3-reply.h"

static void test_status(void **state)
{
	struct buf b = BUF_INIT;
	pop3_reply_ok(&b, "%d messages (%d octets)", 2, 320);
	assert_string_equal(buf_cstr(&b), "+OK 2 messages (320 octets)\r\n");
	buf_reset(&b);
	pop3_reply_err(&b, POP3_CODE_IN_USE, "maildrop already locked");
	assert_string_equal(buf_cstr(&b), "-ERR [IN-USE] maildrop already locked\r\n");
	buf_reset(&b);
	pop3_reply_err(&b, POP3_CODE_SYS_TEMP, "a\r\nb%s", "\n+OK");
	assert_string_equal(buf_cstr(&b), "-ERR [SYS/TEMP] a  b +OK\r\n");
	buf_reset(&b);
	pop3_reply_ok(&b, "%s", "");
	assert_string_equal(buf_cstr(&b), "+OK\r\n");
	buf_reset(&b);
	char big[2000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pop3_reply_err(&b, POP3_CODE_LOGIN_DELAY, "%s", big);
	assert_int_equal(b.len, POP3_REPLY_LINE_MAX);
	assert_memory_equal(b.data + b.len - 2, "\r\n", 2);
	assert_string_equal(pop3_resp_code_name(POP3_CODE_SYS_PERM), "SYS/PERM");
	assert_string_equal(pop3_resp_code_name(POP3_CODE_AUTH), "AUTH");
	assert_null(pop3_resp_code_name(POP3_CODE_NONE));
	buf_reset(&b);
	pop3_reply_line(&b, "%d %s", 1, "abc");
	pop3_reply_line(&b, "%s", ".hidden");
	pop3_reply_end(&b);
	assert_string_equal(buf_cstr(&b), "1 abc\r\n..hidden\r\n.\r\n");
	buf_free(&b);
}

/* The reference: the whole message converted at once, line by line. */
static void reference(const char *in, size_t len, long top, struct buf *out)
{
	bool header = true;
	long left = top;
	size_t i = 0;
	while (i < len) {
		if (!header && top >= 0 && left == 0)
			break;
		const char *lf = memchr(in + i, '\n', len - i);
		size_t n = lf ? (size_t)(lf - (in + i)) : len - i;
		size_t content = n > 0 && in[i + n - 1] == '\r' ? n - 1 : n;
		if (content > 0 && in[i] == '.')
			buf_append_char(out, '.');
		buf_append(out, in + i, content);
		buf_append_str(out, "\r\n");
		if (header && content == 0)
			header = false;
		else if (!header && left > 0)
			left--;
		i += n + (lf ? 1 : 0);
	}
	buf_append_str(out, ".\r\n");
}

static void convert(const char *in, size_t len, long top, unsigned seed, struct buf *out)
{
	struct pop3_body body;
	pop3_body_init(&body, top);
	srand(seed);
	size_t off = 0;
	while (off < len) {
		size_t n = seed == 0 ? 1 : (size_t)(rand() % 40) + 1;
		if (n > len - off)
			n = len - off;
		size_t before = out->len;
		bool more = pop3_body_write(&body, in + off, n, out);
		assert_true(out->len - before <= 2 * n);
		off += n;
		if (!more)
			break;
	}
	pop3_body_finish(&body, out);
}

static void check(const char *msg, long top)
{
	for (unsigned seed = 0; seed < 50; seed++) {
		struct buf want = BUF_INIT, got = BUF_INIT;
		reference(msg, strlen(msg), top, &want);
		convert(msg, strlen(msg), top, seed, &got);
		assert_string_equal(buf_cstr(&got), buf_cstr(&want));
		buf_free(&want);
		buf_free(&got);
	}
}

static void test_body(void **state)
{
	const char *msgs[] = {
	    "Subject: x\r\n\r\nline 1\r\n.\r\n..two\r\n.\r\nend\r\n",
	    "Subject: x\n\nline 1\n.\n..two\n.\nend\n",
	    "Subject: x\nFrom: y\r\n\n.a\r\n.b\nc\nd",
	    "No-Body: here\n",
	    "",
	    "\n\n\n.\n",
	    ".starts with dot\nand: more\r\n\r\nbody\r\n",
	    "A: b\r\n\r\n\r\n\r\nafter blanks\r\nx\r\ny\r\nz",
	};
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		check(msgs[i], -1);
		check(msgs[i], 0);
		check(msgs[i], 1);
		check(msgs[i], 2);
		check(msgs[i], 100);
	}
	struct buf b = BUF_INIT;
	convert("a\r\n\r\nb\rc\r\n", 10, -1, 0, &b);
	assert_string_equal(buf_cstr(&b), "a\r\n\r\nb\rc\r\n.\r\n");
	buf_reset(&b);
	convert("a\r\n\r\nb\r", 7, -1, 3, &b);
	assert_string_equal(buf_cstr(&b), "a\r\n\r\nb\r\n.\r\n");
	buf_free(&b);
}

/* pop3_body_convert into raw memory, the message cut in chunks at cuts[0..ncuts): it
 * writes at most POP3_BODY_OUT_MAX of each chunk (guard bytes after that stay intact). */
static void convert_raw(const char *in, size_t len, long top, const size_t *cuts, size_t ncuts,
			struct buf *out)
{
	struct pop3_body body;
	pop3_body_init(&body, top);
	size_t off = 0;
	for (size_t c = 0; c <= ncuts; c++) {
		size_t end = c < ncuts ? cuts[c] : len;
		size_t n = end - off;
		char *dst = malloc(POP3_BODY_OUT_MAX(n) + 16);
		memset(dst, 0x5a, POP3_BODY_OUT_MAX(n) + 16);
		size_t w = pop3_body_convert(&body, in + off, n, dst);
		assert_true(w <= POP3_BODY_OUT_MAX(n));
		for (size_t g = POP3_BODY_OUT_MAX(n); g < POP3_BODY_OUT_MAX(n) + 16; g++)
			assert_int_equal(dst[g], 0x5a);
		buf_append(out, dst, w);
		free(dst);
		off = end;
	}
	pop3_body_finish(&body, out);
}

/* Every cut into two and three chunks (chunk boundaries inside "\r\n." and "\n.\r\n")
 * gives the reference's bytes. */
static void check_cuts(const char *msg, long top)
{
	size_t len = strlen(msg);
	struct buf want = BUF_INIT;
	reference(msg, len, top, &want);
	for (size_t a = 0; a <= len; a++)
		for (size_t b = a; b <= len; b++) {
			struct buf got = BUF_INIT;
			size_t cuts[2] = {a, b};
			convert_raw(msg, len, top, cuts, 2, &got);
			assert_int_equal(got.len, want.len);
			assert_memory_equal(got.data, want.data, want.len);
			buf_free(&got);
		}
	buf_free(&want);
}

static void test_convert(void **state)
{
	const char *msgs[] = {
	    "A: b\r\n\r\n.\r\n..\r\n.x\r\n\r\n.",
	    "A: b\n\n.\n..\n.x\n\n.",
	    "lone\rCR\r\n\rstart\n.\r.\n\r",
	    "no final LF\n\nlast line",
	    "\r\n.\r\n.\n",
	    ".",
	    "\r",
	};
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		for (long top = -1; top < 3; top++)
			check_cuts(msgs[i], top);
	/* byte for byte, whatever the cuts */
	const struct {
		const char *in, *out;
	} fixed[] = {
	    {"a\nb\n", "a\r\nb\r\n.\r\n"},
	    {"a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
	    {"x\ry\n", "x\ry\r\n.\r\n"},
	    {"..\n.", "...\r\n..\r\n.\r\n"},
	    {"end\r", "end\r\n.\r\n"},
	    {"", ".\r\n"},
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		for (size_t a = 0; a <= strlen(fixed[i].in); a++) {
			struct buf got = BUF_INIT;
			convert_raw(fixed[i].in, strlen(fixed[i].in), -1, &a, 1, &got);
			assert_string_equal(buf_cstr(&got), fixed[i].out);
			buf_free(&got);
		}
	/* the worst case doubles: every byte a LF, or every line a lone "." */
	const char *worst[] = {"\n\n\n\n", ".\n.\n.\n"};
	for (size_t i = 0; i < 2; i++) {
		struct pop3_body body;
		pop3_body_init(&body, -1);
		char dst[64];
		size_t n = strlen(worst[i]);
		assert_int_equal(pop3_body_convert(&body, worst[i], n, dst), POP3_BODY_OUT_MAX(n));
	}
}

static void test_big_random(void **state)
{
	size_t len = 200000;
	char *msg = malloc(len + 1);
	srand(7);
	const char alphabet[] = "ab.\r\n\n.\n";
	for (size_t i = 0; i < len; i++)
		msg[i] = alphabet[rand() % (sizeof(alphabet) - 1)];
	msg[len] = '\0';
	/* the reference treats "\r" before "\n" as part of the line end, like the writer */
	for (long top = -1; top < 3; top++) {
		struct buf want = BUF_INIT, got = BUF_INIT;
		reference(msg, len, top, &want);
		convert(msg, len, top, 11, &got);
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.data, want.data, want.len);
		buf_free(&want);
		buf_free(&got);
	}
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_body),
	    cmocka_unit_test(test_convert),
	    cmocka_unit_test(test_big_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
