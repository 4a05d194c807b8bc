/* Unit tests for managesieve-parser and managesieve-reply: every case is fed whole, a
 * byte at a time and in pieces of 2, 3 and 7 bytes, and must give the same commands. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "managesieve-parser.h"
#include "managesieve-reply.h"

/* Feeds len bytes in pieces of step (0: all at once); the commands and errors seen are
 * written to log as "NAME[arg][arg]" lines ("s" quoted/atom string, "l" literal, "n"
 * number, "a" atom) and "ERR reason" / "BIG reason" lines. */
static void feed_log(struct ms_parser *p, const char *text, size_t len, size_t step,
		     struct buf *log)
{
	size_t off = 0;
	while (off < len) {
		size_t n = step == 0 || len - off < step ? len - off : step;
		while (n > 0) {
			size_t used = 0;
			enum ms_parse_result r = ms_parser_feed(p, text + off, n, &used);
			assert_true(used <= n);
			off += used;
			n -= used;
			if (r == MS_PARSE_DONE) {
				const struct ms_command *c = ms_parser_command(p);
				buf_append_str(log, c->name);
				for (size_t i = 0; i < c->argc; i++) {
					const struct ms_arg *a = &c->args[i];
					char t = a->type == MS_ARG_NUMBER ? 'n'
						 : a->type == MS_ARG_ATOM ? 'a'
						 : a->literal		  ? 'l'
									  : 's';
					buf_printf(log, "[%c:", t);
					buf_append(log, a->data, a->len);
					if (a->type == MS_ARG_NUMBER)
						buf_printf(log, "=%u", a->num);
					buf_append_char(log, ']');
				}
				buf_append_char(log, '\n');
			} else if (r == MS_PARSE_ERROR) {
				bool big = false;
				const char *why = ms_parser_error(p, &big);
				buf_printf(log, "%s %s\n", big ? "BIG" : "ERR", why);
			} else {
				assert_int_equal(n, 0);
			}
		}
	}
}

/* Runs text through fresh parsers at every step size and checks the log each time. */
static void check_len(const char *text, size_t len, const char *want, size_t max_line,
		      size_t max_literal, bool response)
{
	static const size_t steps[] = {0, 1, 2, 3, 7};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct ms_parser p;
		ms_parser_init(&p, max_line, max_literal);
		ms_parser_set_response(&p, response);
		struct buf log = BUF_INIT;
		feed_log(&p, text, len, steps[i], &log);
		if (strcmp(buf_cstr(&log), want) != 0)
			fail_msg("step %zu: got\n%s\nwant\n%s", steps[i], buf_cstr(&log), want);
		buf_free(&log);
		ms_parser_free(&p);
	}
}

static void check(const char *text, const char *want)
{
	check_len(text, strlen(text), want, 8192, 1000, false);
}

static void test_commands(void **state)
{
	check("CAPABILITY\r\n", "CAPABILITY\n");
	check("logout\r\nNoOp\n", "LOGOUT\nNOOP\n");
	check("AUTHENTICATE \"PLAIN\" \"AGFsaWNlAHB3\"\r\n",
	      "AUTHENTICATE[s:PLAIN][s:AGFsaWNlAHB3]\n");
	check("HAVESPACE \"x\" 12345\r\n", "HAVESPACE[s:x][n:12345=12345]\n");
	check("HAVESPACE \"x\" 4294967295\r\n", "HAVESPACE[s:x][n:4294967295=4294967295]\n");
	check("GETSCRIPT \"a \\\"b\\\" \\\\c\"\r\n", "GETSCRIPT[s:a \"b\" \\c]\n");
	check("SETACTIVE \"\"\r\n", "SETACTIVE[s:]\n");
	check("NOOP atom-arg\r\n", "NOOP[a:atom-arg]\n");
	/* empty lines are ignored */
	check("\r\n\nNOOP\r\n", "NOOP\n");
	/* UTF-8 in a quoted string */
	check("GETSCRIPT \"r\xc3\xa8gles\"\r\n", "GETSCRIPT[s:r\xc3\xa8gles]\n");
}

static void test_literals(void **state)
{
	check("PUTSCRIPT \"s\" {5+}\r\nkeep;\r\n", "PUTSCRIPT[s:s][l:keep;]\n");
	/* the synchronizing form is read the same way */
	check("PUTSCRIPT \"s\" {5}\r\nkeep;\r\n", "PUTSCRIPT[s:s][l:keep;]\n");
	/* a literal holding CRLF, quotes and braces */
	check("PUTSCRIPT {1+}\r\nn {11+}\r\nif \"{3+}\"\r\n\r\nNOOP\r\n",
	      "PUTSCRIPT[l:n][l:if \"{3+}\"\r\n]\nNOOP\n");
	check("CHECKSCRIPT {0+}\r\n\r\n", "CHECKSCRIPT[l:]\n");
	/* NUL octets in a literal are kept */
	check_len("CHECKSCRIPT {3+}\r\na\0b\r\n", 23, "CHECKSCRIPT[l:a\0b]\n", 8192, 100, false);
}

static void test_errors(void **state)
{
	check("NOOP \"open\r\nNOOP\r\n", "ERR unterminated quoted string\nNOOP\n");
	check("NOOP \"a\\x\"\r\nNOOP\r\n", "ERR bad escape in a quoted string\nNOOP\n");
	check("\"quoted\" name\r\nNOOP\r\n", "ERR a command starts with its name\nNOOP\n");
	check("NOOP \"a\"\"b\"\r\n", "ERR a space must follow an argument\n");
	check("NOOP (x)\r\n", "ERR bad argument\n");
	check("NOOP \r\n", "ERR bad argument\n");
	check("HAVESPACE \"x\" 4294967296\r\nNOOP\r\n", "ERR number too big\nNOOP\n");
	check("A 1 2 3 4 5\r\nNOOP\r\n", "ERR too many arguments\nNOOP\n");
	check("NOOP {x}\r\nNOOP\r\n", "ERR bad literal length\nNOOP\n");
	check("NOOP {3+} x\r\nNOOP\r\n", "ERR a literal's length ends its line\nNOOP\n");
	check("NOOP {99999999999}\r\nNOOP\r\n", "ERR literal length too big\nNOOP\n");
	check("NOOP\rX\r\nNOOP\r\n", "ERR CR without LF\nNOOP\n");
	/* the literal of a bad command is skipped, not read as commands */
	check("PUTSCRIPT a\x01 x {8+}\r\nNOOP\r\nXX\r\nNOOP\r\n",
	      "ERR bad character in an atom\nNOOP\n");
	check("BAD\x01 {6+}\r\nLOGOUT\r\nNOOP\r\n", "ERR bad character in an atom\nNOOP\n");
}

static void test_limits(void **state)
{
	/* a literal over max_literal (1000) is skipped and reported as too big */
	char big[1200];
	int n = snprintf(big, sizeof(big), "PUTSCRIPT \"s\" {1001+}\r\n");
	memset(big + n, 'x', 1001);
	memcpy(big + n + 1001, "\r\nNOOP\r\n", 8);
	check_len(big, (size_t)n + 1009, "BIG literal too big\nNOOP\n", 8192, 1000, false);
	/* exactly max_literal is fine */
	n = snprintf(big, sizeof(big), "CHECKSCRIPT {1000+}\r\n");
	memset(big + n, 'y', 1000);
	memcpy(big + n + 1000, "\r\n", 2);
	struct ms_parser p;
	ms_parser_init(&p, 8192, 1000);
	size_t used = 0, off = 0;
	enum ms_parse_result r = MS_PARSE_MORE;
	while (r == MS_PARSE_MORE && off < (size_t)n + 1002) {
		r = ms_parser_feed(&p, big + off, 1, &used);
		off += used;
	}
	assert_int_equal(r, MS_PARSE_DONE);
	assert_int_equal(ms_parser_command(&p)->args[0].len, 1000);
	ms_parser_free(&p);
	/* a line over max_line (raised to MS_LINE_MIN) */
	char line[3000];
	memcpy(line, "NOOP \"", 6);
	memset(line + 6, 'z', 2000);
	memcpy(line + 2006, "\"\r\nNOOP\r\n", 10);
	check_len(line, 2015, "ERR line too long\nNOOP\n", 100, 1000, false);
	char want[2100];
	memcpy(want, "NOOP[s:", 7);
	memset(want + 7, 'z', 2000);
	memcpy(want + 2007, "]\nNOOP\n", 8);
	check_len(line, 2015, want, 8192, 1000, false);
}

static void test_response_mode(void **state)
{
	check_len("\"AGE=\"\r\n", 8, "[s:AGE=]\n", 8192, 1000, true);
	check_len("{4+}\r\nAGE=\r\n", 12, "[l:AGE=]\n", 8192, 1000, true);
	check_len("AGE=\r\n", 6, "[s:AGE=]\n", 8192, 1000, true);
	check_len("\"*\"\r\n", 5, "[s:*]\n", 8192, 1000, true);
	check_len("\"\"\r\n", 4, "[s:]\n", 8192, 1000, true);
	check_len("\r\n", 2, "\n", 8192, 1000, true);
}

static void test_discard(void **state)
{
	struct ms_parser p;
	ms_parser_init(&p, 8192, 1000);
	size_t used;
	const char *in = "STARTTLS\r\nNOOP";
	assert_int_equal(ms_parser_feed(&p, in, strlen(in), &used), MS_PARSE_DONE);
	assert_int_equal(used, 10);
	assert_int_equal(ms_parser_discard(&p), 0);
	assert_int_equal(ms_parser_feed(&p, in + used, 4, &used), MS_PARSE_MORE);
	assert_int_equal(ms_parser_discard(&p), 4);
	assert_int_equal(ms_parser_feed(&p, "OP\r\n", 4, &used), MS_PARSE_DONE);
	assert_string_equal(ms_parser_command(&p)->name, "OP");
	ms_parser_free(&p);
}

static void test_reply(void **state)
{
	struct buf b = BUF_INIT;
	ms_reply(&b, "OK", NULL, NULL);
	ms_reply(&b, "NO", "NONEXISTENT", "no script %s", "a\"b");
	ms_reply(&b, "NO", NULL, "line 2: error\r\nline 3: more");
	ms_reply_capability(&b, "STARTTLS", NULL);
	ms_reply_capability(&b, "SIEVE", "fileinto reject");
	assert_string_equal(buf_cstr(&b), "OK\r\n"
					  "NO (NONEXISTENT) \"no script a\\\"b\"\r\n"
					  "NO {27}\r\nline 2: error\r\nline 3: more\r\n"
					  "\"STARTTLS\"\r\n"
					  "\"SIEVE\" \"fileinto reject\"\r\n");
	buf_reset(&b);
	char big[MS_QUOTED_MAX + 1];
	memset(big, 'q', sizeof(big));
	ms_reply_string(&b, big, sizeof(big));
	assert_true(strncmp(buf_cstr(&b), "{1025}\r\nqqq", 11) == 0);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_commands),  cmocka_unit_test(test_literals),
	    cmocka_unit_test(test_errors),    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_response_mode), cmocka_unit_test(test_discard),
	    cmocka_unit_test(test_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
