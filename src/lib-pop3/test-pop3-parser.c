/* Unit tests for pop3-parser: whole lines, byte at a time, limits and bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pop3-parser.h"

struct result {
	int lines, errors;
	char last[512];
	char kw[8];
	size_t argc;
	char args[4][300];
	const char *error;
};

/* Feeds text in pieces of step bytes (0: all at once), collecting the last command. */
static void feed(struct pop3_parser *p, const char *text, size_t step, struct result *r)
{
	memset(r, 0, sizeof(*r));
	size_t len = strlen(text), off = 0;
	while (off < len) {
		size_t n = step == 0 || len - off < step ? len - off : step;
		size_t used = 0;
		while (n > 0) {
			enum pop3_parse_result res = pop3_parser_feed(p, text + off, n, &used);
			assert_true(used <= n);
			off += used;
			n -= used;
			if (res == POP3_PARSE_LINE) {
				const struct pop3_command *c = pop3_parser_command(p);
				r->lines++;
				strcpy(r->kw, c->keyword);
				r->argc = c->argc;
				for (size_t i = 0; i < c->argc && i < POP3_ARGS_MAX; i++)
					strcpy(r->args[i], c->args[i]);
				memcpy(r->last, c->rest, c->rest_len);
				r->last[c->rest_len] = '\0';
			} else if (res == POP3_PARSE_ERROR) {
				r->errors++;
				r->error = pop3_parser_error(p);
			} else {
				assert_int_equal(n, 0);
			}
		}
	}
}

static void test_simple(void **state)
{
	struct pop3_parser p;
	struct result r;
	for (size_t step = 0; step < 4; step++) {
		pop3_parser_init(&p, 255, 40);
		feed(&p, "top 1 10\r\n", step, &r);
		assert_int_equal(r.lines, 1);
		assert_int_equal(r.errors, 0);
		assert_string_equal(r.kw, "TOP");
		assert_int_equal(r.argc, 2);
		assert_string_equal(r.args[0], "1");
		assert_string_equal(r.args[1], "10");
		assert_string_equal(r.last, "1 10");
		feed(&p, "Stat\n", step, &r);
		assert_string_equal(r.kw, "STAT");
		assert_int_equal(r.argc, 0);
		feed(&p, "PASS my secret  pw\r\n", step, &r);
		assert_string_equal(r.kw, "PASS");
		assert_string_equal(r.last, "my secret  pw");
		assert_int_equal(r.argc, 3);
		pop3_parser_free(&p);
	}
}

static void test_pipelined(void **state)
{
	struct pop3_parser p;
	struct result r;
	pop3_parser_init(&p, 255, 40);
	feed(&p, "USER a@b\r\nPASS x\r\nSTAT\r\nLIST\r\nQUIT\r\n", 0, &r);
	assert_int_equal(r.lines, 5);
	assert_string_equal(r.kw, "QUIT");
	/* a partial line waits for the rest */
	size_t used;
	assert_int_equal(pop3_parser_feed(&p, "NO", 2, &used), POP3_PARSE_MORE);
	assert_int_equal(used, 2);
	assert_int_equal(pop3_parser_feed(&p, "OP\r\nX", 5, &used), POP3_PARSE_LINE);
	assert_int_equal(used, 4);
	assert_string_equal(pop3_parser_command(&p)->keyword, "NOOP");
	pop3_parser_free(&p);
}

static void test_long_line(void **state)
{
	struct pop3_parser p;
	struct result r;
	char line[600];
	for (size_t step = 0; step < 3; step++) {
		pop3_parser_init(&p, 255, 300);
		/* exactly 255 octets with CRLF: accepted */
		memset(line, 'a', sizeof(line));
		memcpy(line, "USER ", 5);
		strcpy(line + 253, "\r\n");
		feed(&p, line, step, &r);
		assert_int_equal(r.lines, 1);
		assert_int_equal(r.errors, 0);
		assert_int_equal(strlen(r.args[0]), 248);
		/* 256: refused once, the rest discarded, then the next line is fine */
		memset(line, 'a', sizeof(line));
		memcpy(line, "USER ", 5);
		strcpy(line + 254, "\r\nNOOP\r\n");
		feed(&p, line, step, &r);
		assert_int_equal(r.errors, 1);
		assert_string_equal(r.error, "line too long");
		assert_int_equal(r.lines, 1);
		assert_string_equal(r.kw, "NOOP");
		/* a very long line */
		memset(line, 'x', 590);
		strcpy(line + 590, "\nQUIT\n");
		feed(&p, line, step, &r);
		assert_int_equal(r.errors, 1);
		assert_int_equal(r.lines, 1);
		pop3_parser_free(&p);
	}
	/* max_line below 255 is raised to 255 */
	pop3_parser_init(&p, 10, 0);
	assert_int_equal(p.max_line, 255);
	assert_int_equal(p.max_arg, 40);
	pop3_parser_free(&p);
}

static void test_bad(void **state)
{
	struct pop3_parser p;
	struct result r;
	for (size_t step = 0; step < 3; step++) {
		pop3_parser_init(&p, 255, 40);
		feed(&p, "\r\n", step, &r);
		assert_int_equal(r.errors, 1);
		assert_string_equal(r.error, "empty command");
		feed(&p, "RETRIEVE 1\r\n", step, &r);
		assert_string_equal(r.error, "unknown command");
		feed(&p, "USER aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", step, &r);
		assert_string_equal(r.error, "argument too long");
		feed(&p, "TOP 1 2 3 4 5 6\r\n", step, &r);
		assert_int_equal(r.errors, 0);
		assert_int_equal(r.argc, 6);
		assert_string_equal(r.args[3], "4");
		feed(&p, " STAT\r\n", step, &r);
		assert_string_equal(r.error, "empty command");
		pop3_parser_free(&p);
	}
	pop3_parser_init(&p, 255, 40);
	size_t used;
	assert_int_equal(pop3_parser_feed(&p, "US\0R\r\n", 6, &used), POP3_PARSE_ERROR);
	assert_string_equal(pop3_parser_error(&p), "NUL byte in command");
	pop3_parser_free(&p);
}

static void test_raw(void **state)
{
	struct pop3_parser p;
	struct result r;
	pop3_parser_init(&p, 255, 40);
	pop3_parser_set_raw(&p, true);
	feed(&p, "dGVzdAB0ZXN0AHRlc3Q= more\r\n", 1, &r);
	assert_int_equal(r.lines, 1);
	assert_string_equal(r.kw, "");
	assert_string_equal(r.last, "dGVzdAB0ZXN0AHRlc3Q= more");
	feed(&p, "\r\n", 1, &r);
	assert_int_equal(r.lines, 1);
	assert_string_equal(r.last, "");
	pop3_parser_free(&p);
}

/* Raw lines may pass max_line up to POP3_RAW_LINE_MAX; commands may not. */
static void test_raw_long(void **state)
{
	struct pop3_parser p;
	pop3_parser_init(&p, 255, 40);
	static char line[POP3_RAW_LINE_MAX + 16];
	memset(line, 'A', 1000);
	memcpy(line + 1000, "\r\n", 3);
	size_t used;
	assert_int_equal(pop3_parser_feed(&p, line, 1002, &used), POP3_PARSE_ERROR);
	pop3_parser_set_raw(&p, true);
	assert_int_equal(pop3_parser_feed(&p, line, 1002, &used), POP3_PARSE_LINE);
	assert_int_equal(used, 1002);
	assert_int_equal(pop3_parser_command(&p)->rest_len, 1000);
	memset(line, 'A', POP3_RAW_LINE_MAX);
	memcpy(line + POP3_RAW_LINE_MAX, "\r\n", 3);
	assert_int_equal(pop3_parser_feed(&p, line, POP3_RAW_LINE_MAX + 2, &used),
			 POP3_PARSE_ERROR);
	assert_string_equal(pop3_parser_error(&p), "line too long");
	pop3_parser_free(&p);
}

/* STLS: a partial line held by the parser is dropped and counted; a finished one is not. */
static void test_discard_and_wipe(void **state)
{
	struct pop3_parser p;
	pop3_parser_init(&p, 255, 40);
	size_t used;
	assert_int_equal(pop3_parser_feed(&p, "STLS\r\nCA", 8, &used), POP3_PARSE_LINE);
	assert_int_equal(used, 6);
	assert_int_equal(pop3_parser_discard(&p), 0);
	assert_int_equal(pop3_parser_feed(&p, "CA", 2, &used), POP3_PARSE_MORE);
	assert_int_equal(pop3_parser_discard(&p), 2);
	assert_int_equal(pop3_parser_feed(&p, "PA\r\n", 4, &used), POP3_PARSE_LINE);
	assert_string_equal(pop3_parser_command(&p)->keyword, "PA"); /* not CAPA */
	assert_int_equal(pop3_parser_feed(&p, "PASS secret\r\n", 13, &used), POP3_PARSE_LINE);
	const char *rest = pop3_parser_command(&p)->rest;
	assert_string_equal(rest, "secret");
	pop3_parser_wipe(&p);
	assert_null(memmem(p.line.data, p.line.cap, "secret", 6));
	assert_null(memmem(p.split.data, p.split.cap, "secret", 6));
	assert_int_equal(pop3_parser_feed(&p, "CAPA\r\n", 6, &used), POP3_PARSE_LINE);
	assert_string_equal(pop3_parser_command(&p)->keyword, "CAPA");
	pop3_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_long_line),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_raw),
	    cmocka_unit_test(test_raw_long),
	    cmocka_unit_test(test_discard_and_wipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
