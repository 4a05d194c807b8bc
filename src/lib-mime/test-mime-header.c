/* Unit tests for mime-header: fields, folding, line ends, limits, chunking. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mime-header.h"

/* Parses input in chunks of `chunk` bytes (0: all at once); writes "name=value|..." to out
 * with "!" after truncated fields and "?" for invalid ones; returns the header size. */
static uint64_t parse(const char *in, size_t len, size_t chunk, size_t max, struct buf *out)
{
	struct mime_header_parser hp;
	struct mime_header_field f;
	mime_header_parser_init(&hp, max);
	size_t pos = 0;
	int r = MIME_HEADER_MORE;
	while (r != MIME_HEADER_END) {
		size_t n = chunk == 0 ? len - pos : (len - pos < chunk ? len - pos : chunk);
		size_t used;
		if (pos == len) {
			r = mime_header_parser_finish(&hp, &f);
			used = 0;
		} else {
			r = mime_header_parser_feed(&hp, in + pos, n, &used, &f);
		}
		pos += used;
		if (r == MIME_HEADER_FIELD) {
			buf_append(out, f.name, f.name_len);
			buf_append_char(out, '=');
			buf_append(out, f.value, f.value_len);
			buf_printf(out, "@%llu+%llu", (unsigned long long)f.offset,
				   (unsigned long long)f.size);
			if (f.truncated)
				buf_append_char(out, '!');
			if (f.invalid)
				buf_append_char(out, '?');
			buf_append_char(out, '|');
		}
	}
	uint64_t size = mime_header_parser_offset(&hp);
	mime_header_parser_deinit(&hp);
	return size;
}

static void check(const char *in, size_t max, const char *expect, uint64_t expect_size)
{
	size_t len = strlen(in);
	for (size_t chunk = 0; chunk <= 7; chunk++) {
		struct buf out = BUF_INIT;
		uint64_t size = parse(in, len, chunk, max, &out);
		assert_string_equal(buf_cstr(&out), expect);
		assert_int_equal(size, expect_size);
		buf_free(&out);
	}
}

static void test_simple(void **state)
{
	check("Subject: hi\r\nFrom: a@b\r\n\r\nbody", 0, "Subject=hi@0+13|From=a@b@13+11|", 26);
	check("Subject: hi\nFrom: a@b\n\nbody", 0, "Subject=hi@0+12|From=a@b@12+10|", 23);
}

static void test_folding(void **state)
{
	check("Subject: a\r\n b\r\n\tc  \r\nX: y\r\n\r\n", 0, "Subject=a b\tc@0+22|X=y@22+6|", 30);
	/* obs: WSP before the colon, empty value */
	check("Subject \t: x\nEmpty:\n\n", 0, "Subject=x@0+13|Empty=@13+7|", 21);
}

/* Unfolding drops each LF and a CR just before it; other CRs stay (then the value is
 * trimmed of WSP and CR at its ends). */
static void test_unfold_line_ends(void **state)
{
	check("S: a\r\r\n b\n\n", 0, "S=a\r b@0+10|", 11);
	check("S: a\r b\n\n", 0, "S=a\r b@0+8|", 9);
	check("S: a\n\tb\n \n\n", 0, "S=a\tb@0+10|", 11);
	check("S:\r\n x\r\n\r\n", 0, "S=x@0+8|", 10);
	check("S: a\n\n", 0, "S=a@0+5|", 6);
	check("S: one\r\n two\n three\r\n\tfour\r\n\r\n", 0,
	      "S=one two three\tfour@0+28|", 30);
}

static void test_missing_empty_line(void **state)
{
	check("A: 1\nB: 2\n", 0, "A=1@0+5|B=2@5+5|", 10);
	check("A: 1\nB: 2", 0, "A=1@0+5|B=2@5+4|", 9);
	check("", 0, "", 0);
	check("\n", 0, "", 1);
}

static void test_garbage(void **state)
{
	check("From someone Sat\nA: 1\n\n", 0, "=From someone Sat@0+17?|A=1@17+5|", 23);
	check(" leading: x\nA: 1\n\n", 0, "=leading: x@0+12?|A=1@12+5|", 18);
	check("\r\rA: 1\n\n", 0, "=\r\rA: 1@0+7?|", 8);
	check("X\xff: 1\nY: \xc3\xa9\n\n", 0, "=X\xff: 1@0+6?|Y=\xc3\xa9@6+6|", 13);
}

static void test_truncated(void **state)
{
	char in[300];
	memset(in, 'x', sizeof(in));
	memcpy(in, "Long: ", 6);
	memcpy(in + 280, "\n more\nA: 1\n\n", 14);
	check(in, 20, "Long=xxxxxxxxxxxxxx@0+287!|A=1@287+5|", 293);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),
	    cmocka_unit_test(test_folding),
	    cmocka_unit_test(test_unfold_line_ends),
	    cmocka_unit_test(test_missing_empty_line),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
