/* Unit tests for imap-parser: every input is fed whole, one byte at a time and in random
 * chunks, and the three event transcripts must be identical. Covers literals of every kind
 * (RFC 3501, RFC 7888 LITERAL+/-, RFC 3516 literal8), refusal before reading, streaming,
 * limits and syntax errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-parser.h"

static void dump_arg(struct buf *out, const struct imap_arg *arg)
{
	switch (arg->type) {
	case IMAP_ARG_ATOM:
		buf_append_str(out, arg->str);
		break;
	case IMAP_ARG_NIL:
		buf_append_str(out, "<NIL>");
		break;
	case IMAP_ARG_QUOTED:
		buf_printf(out, "\"%s\"", arg->str);
		break;
	case IMAP_ARG_LITERAL:
		buf_printf(out, "%s{%zu}", arg->literal8 ? "~" : "", arg->len);
		for (size_t i = 0; i < arg->len; i++) {
			if ((unsigned char)arg->str[i] < 0x20)
				buf_printf(out, "\\x%02x", (unsigned char)arg->str[i]);
			else
				buf_append_char(out, arg->str[i]);
		}
		break;
	case IMAP_ARG_STREAM:
		buf_printf(out, "%s<stream %llu>", arg->literal8 ? "~" : "",
			   (unsigned long long)arg->stream_size);
		break;
	case IMAP_ARG_LIST:
		buf_append_char(out, '(');
		for (size_t i = 0; i < arg->len; i++) {
			if (i > 0)
				buf_append_char(out, ' ');
			dump_arg(out, &arg->list[i]);
		}
		buf_append_char(out, ')');
		break;
	}
}

struct driver {
	bool refuse;
	uint64_t stream_bytes;
	uint32_t stream_hash;
};

static void event(struct imap_parser *p, struct driver *d, enum imap_parse_result r,
		  const char *chunk, size_t chunk_len, struct buf *out)
{
	const struct imap_command *cmd = imap_parser_command(p);
	const struct imap_literal *lit = imap_parser_literal(p);
	enum imap_parse_error code;
	const char *text;
	switch (r) {
	case IMAP_PARSE_MORE:
		break;
	case IMAP_PARSE_DONE:
		buf_printf(out, "DONE %s %s ", cmd->tag, cmd->name);
		dump_arg(out, &cmd->args);
		buf_append_char(out, '\n');
		break;
	case IMAP_PARSE_CONTINUE:
		buf_append_str(out, "+\n");
		break;
	case IMAP_PARSE_LITERAL:
		buf_printf(out, "LIT %s %llu %s\n", cmd->tag, (unsigned long long)lit->size,
			   lit->sync ? "sync" : "nonsync");
		if (d->refuse) {
			imap_parser_literal_refuse(p);
		} else {
			imap_parser_literal_accept(p);
			d->stream_bytes = 0;
			d->stream_hash = 2166136261u;
		}
		break;
	case IMAP_PARSE_LITERAL_DATA:
		for (size_t i = 0; i < chunk_len; i++)
			d->stream_hash = (d->stream_hash ^ (unsigned char)chunk[i]) * 16777619u;
		d->stream_bytes += chunk_len;
		if (lit->remaining == 0)
			buf_printf(out, "DATA %llu %08x\n", (unsigned long long)d->stream_bytes,
				   d->stream_hash);
		break;
	case IMAP_PARSE_ERROR:
		text = imap_parser_error(p, &code);
		buf_printf(out, "ERR %s %d %s\n", imap_parser_tag(p) ? imap_parser_tag(p) : "*",
			   (int)code, text);
		break;
	}
}

/* mode 0: whole; 1: byte by byte; other: random chunks seeded by mode. */
static char *run(const char *in, size_t len, const struct imap_parser_limits *l, bool refuse,
		 unsigned mode)
{
	struct imap_parser *p = imap_parser_new(l);
	struct buf out = BUF_INIT;
	struct driver d = {refuse, 0, 0};
	size_t pos = 0;
	srand(mode);
	while (pos < len) {
		size_t n = len - pos;
		if (mode == 1)
			n = 1;
		else if (mode > 1)
			n = 1 + (size_t)rand() % (n < 7 ? n : 7);
		size_t off = 0;
		while (off < n) {
			size_t used;
			const char *chunk;
			size_t chunk_len;
			enum imap_parse_result r =
				imap_parser_feed(p, in + pos + off, n - off, &used, &chunk, &chunk_len);
			off += used;
			event(p, &d, r, chunk, chunk_len, &out);
			if (r == IMAP_PARSE_MORE)
				assert_int_equal(off, n);
		}
		pos += n;
	}
	imap_parser_free(&p);
	return buf_steal(&out);
}

/* Runs in all modes, checks they agree, and compares with expect. */
static void check_l(const char *in, size_t len, const struct imap_parser_limits *l, bool refuse,
		    const char *expect)
{
	char *whole = run(in, len, l, refuse, 0);
	assert_string_equal(whole, expect);
	for (unsigned mode = 1; mode < 12; mode++) {
		char *other = run(in, len, l, refuse, mode);
		assert_string_equal(other, whole);
		free(other);
	}
	free(whole);
}

#define CHECK_BIN(in, l, refuse, expect) check_l(in, sizeof(in) - 1, l, refuse, expect)

static struct imap_parser_limits small_limits(void)
{
	struct imap_parser_limits l;
	imap_parser_limits_default(&l);
	l.max_literal = 1000;
	l.inline_literal = 16;
	l.max_line = 200;
	l.max_depth = 4;
	l.max_args = 20;
	return l;
}

static void check(const char *in, const char *expect)
{
	struct imap_parser_limits l = small_limits();
	check_l(in, strlen(in), &l, false, expect);
}

static void test_simple(void **state)
{
	check("a1 NOOP\r\n", "DONE a1 NOOP ()\n");
	check("a1 noop\n\r\n\r\na2 CAPABILITY\r\n",
	      "DONE a1 NOOP ()\nDONE a2 CAPABILITY ()\n");
	check("a3 LOGIN fred \"pass \\\"w\\\\\"\r\n", "DONE a3 LOGIN (fred \"pass \"w\\\")\n");
	check("a4 SELECT NIL\r\n", "DONE a4 SELECT (<NIL>)\n");
	check("x STATUS \"\" (MESSAGES UIDNEXT)\r\n", "DONE x STATUS (\"\" (MESSAGES UIDNEXT))\n");
	check("x LIST \"\" %\r\nx LIST \"\" *\r\n",
	      "DONE x LIST (\"\" %)\nDONE x LIST (\"\" *)\n");
	check("a5 STORE 1:* +FLAGS (\\Seen $Junk)\r\n",
	      "DONE a5 STORE (1:* +FLAGS (\\Seen $Junk))\n");
	check("a6 X (()) ((a) b)\r\n", "DONE a6 X ((()) ((a) b))\n");
	check("t ENABLE   UTF8=ACCEPT \r\n", "DONE t ENABLE (UTF8=ACCEPT)\n");
}

static void test_fetch_atoms(void **state)
{
	check("f FETCH 1 (BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100> FLAGS)\r\n",
	      "DONE f FETCH (1 (BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100> FLAGS))\n");
	check("f FETCH 1 binary[1.2] BODY[]\r\n", "DONE f FETCH (1 binary[1.2] BODY[])\n");
	check("f FETCH 1 BODY[HEADER.FIELDS (A\r\n", "ERR f 1 Missing ']'\n");
	/* other atoms with '[' do not open a section */
	check("f LIST \"\" a[b\r\n", "DONE f LIST (\"\" a[b)\n");
}

static void test_literals(void **state)
{
	check("a LOGIN {4}\r\nfred {3}\r\nx y\r\n", "+\n+\nDONE a LOGIN ({4}fred {3}x y)\n");
	check("a LOGIN {4+}\r\nfred {0+}\r\n\r\n", "DONE a LOGIN ({4}fred {0})\n");
	check("a LOGIN {0}\r\n \"\"\r\n", "+\nDONE a LOGIN ({0} \"\")\n");
	struct imap_parser_limits l = small_limits();
	CHECK_BIN("a APPEND x ~{3}\r\na\0b\r\n", &l, false, "+\nDONE a APPEND (x ~{3}a\\x00b)\n");
	check("a APPEND x ~foo\r\n", "DONE a APPEND (x ~foo)\n");
	check("a APPEND x (a {1+}\r\n))\r\n", "DONE a APPEND (x (a {1})))\n");
	/* NUL is not a CHAR8: refused, the rest of the literal and line skipped */
	const char nul[] = "a X {3+}\r\na\0b c\r\nb NOOP\r\n";
	check_l(nul, sizeof(nul) - 1, &l, false, "ERR a 1 NUL in literal\nDONE b NOOP ()\n");
	check("a X {3}x\r\nb NOOP\r\n", "ERR a 1 Literal must end the line\nDONE b NOOP ()\n");
	check("a X {}\r\nb NOOP\r\n", "ERR a 1 Invalid literal size\nDONE b NOOP ()\n");
	check("a X {1+\r\nb NOOP\r\n", "ERR a 1 Invalid literal size\nDONE b NOOP ()\n");
}

static void test_literal_too_big(void **state)
{
	/* synchronising: refused at the header, the client sends nothing more */
	check("a APPEND x {1001}\r\nb NOOP\r\n", "ERR a 5 Literal too large\nDONE b NOOP ()\n");
	check("a APPEND x {99999999999999999999999}\r\nb NOOP\r\n",
	      "ERR a 5 Literal too large\nDONE b NOOP ()\n");
	/* non-synchronising: its bytes are skipped, never parsed as commands */
	struct buf in = BUF_INIT;
	buf_append_str(&in, "a APPEND x {1200+}\r\n");
	for (int i = 0; i < 100; i++)
		buf_append_str(&in, "c DELETE x\r\n"); /* 12 bytes */
	buf_append_str(&in, " {3+}\r\nabc more\r\nb NOOP\r\n");
	check(buf_cstr(&in), "ERR a 5 Literal too large\nDONE b NOOP ()\n");
	buf_free(&in);
	/* LITERAL-: {n+} over 4096 is TOOBIG, a synchronising one is fine */
	struct imap_parser_limits l = small_limits();
	l.literal_minus = true;
	l.max_literal = 10000;
	struct buf in2 = BUF_INIT;
	buf_append_str(&in2, "a APPEND x {4097+}\r\n");
	for (int i = 0; i < 4097; i++)
		buf_append_char(&in2, '\n');
	buf_append_str(&in2, "\r\nb APPEND x {4097}\r\n");
	check_l(in2.data, in2.len, &l, true,
		"ERR a 5 Non-synchronizing literal over 4096 bytes\nLIT b 4097 sync\n");
	buf_free(&in2);
	/* no LITERAL+ at all */
	l.literal_plus = false;
	CHECK_BIN("a X {2+}\r\nab\r\nb NOOP\r\n", &l, false,
		"ERR a 1 Non-synchronizing literals not allowed\nDONE b NOOP ()\n");
}

static void test_stream(void **state)
{
	struct imap_parser_limits l = small_limits();
	l.max_literal = 200000;
	struct buf in = BUF_INIT;
	buf_append_str(&in, "a APPEND INBOX (\\Seen) {100000}\r\n");
	for (int i = 0; i < 100000; i++)
		buf_append_char(&in, (char)('a' + i % 26));
	buf_append_str(&in, "\r\nb APPEND INBOX ~{20+}\r\n");
	buf_append(&in, "0123456789\r\n\0\0\0\0\0\0\0\0", 20);
	buf_append_str(&in, " {3}\r\nabc\r\n");
	char *whole = run(in.data, in.len, &l, false, 0);
	char *expect_prefix = "LIT a 100000 sync\nDATA 100000 ";
	assert_memory_equal(whole, expect_prefix, strlen(expect_prefix));
	const char *rest = strchr(whole + strlen(expect_prefix), '\n') + 1;
	assert_string_equal(rest, "DONE a APPEND (INBOX (\\Seen) <stream 100000>)\n"
				  "LIT b 20 nonsync\n"
				  "DATA 20 c070cbc5\n"
				  "+\n"
				  "DONE b APPEND (INBOX ~<stream 20> {3}abc)\n");
	for (unsigned mode = 1; mode < 5; mode++) {
		char *other = run(in.data, in.len, &l, false, mode);
		assert_string_equal(other, whole);
		free(other);
	}
	free(whole);
	/* refused streams: the sync one ends the command, the nonsync one is skipped */
	CHECK_BIN("a APPEND x {17}\r\nb APPEND x {17+}\r\n0123456789abcdef\n)\r\nc NOOP\r\n",
		&l, true, "LIT a 17 sync\nLIT b 17 nonsync\nDONE c NOOP ()\n");
	buf_free(&in);
}

static void test_limits(void **state)
{
	check("a X ((((a))))\r\nb NOOP\r\n", "DONE a X (((((a)))))\nDONE b NOOP ()\n");
	check("a X (((((a)))))\r\nb NOOP\r\n", "ERR a 4 Lists nested too deep\nDONE b NOOP ()\n");
	check("a X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20\r\n",
	      "DONE a X (1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20)\n");
	check("a X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\r\nb NOOP\r\n",
	      "ERR a 3 Too many arguments\nDONE b NOOP ()\n");
	struct buf in = BUF_INIT;
	buf_append_str(&in, "a X ");
	for (int i = 0; i < 300; i++)
		buf_append_char(&in, 'x');
	buf_append_str(&in, " {5+}\r\n12345\r\nb NOOP\r\n");
	check(buf_cstr(&in), "ERR a 2 Command line too long\nDONE b NOOP ()\n");
	buf_free(&in);
	/* inline budget: literals beyond it are offered as streams */
	struct imap_parser_limits l = small_limits();
	l.max_inline_total = 20;
	CHECK_BIN("a X {10}\r\n0123456789 {11}\r\n0123456789a\r\n", &l, false,
		"+\nLIT a 11 sync\nDATA 11 58620469\nDONE a X ({10}0123456789 <stream 11>)\n");
}

static void test_errors(void **state)
{
	check("\"a\" NOOP\r\nb NOOP\r\n", "ERR * 1 Invalid tag\nDONE b NOOP ()\n");
	check("a+ NOOP\r\n", "ERR * 1 Invalid tag\n");
	check("a\r\n", "ERR a 1 Missing command\n");
	check("a  NOOP\r\n", "ERR a 1 Missing command\n");
	check("a NO[OP\r\n", "ERR a 1 Invalid command name\n");
	check("a X \"ab\r\nb NOOP\r\n",
	      "ERR a 1 Invalid character in quoted string\nDONE b NOOP ()\n");
	check("a X \"a\\b\"\r\n", "ERR a 1 Invalid escape in quoted string\n");
	check("a X (a\r\nb NOOP\r\n", "ERR a 1 Missing ')'\nDONE b NOOP ()\n");
	check("a X a)\r\n", "ERR a 1 Unexpected ')'\n");
	check("a X (a)b\r\n", "ERR a 1 Missing space between arguments\n");
	check("a X \"a\"\"b\"\r\n", "ERR a 1 Missing space between arguments\n");
	check("a X \x01\r\nb NOOP\rx\n", "ERR a 1 Invalid character in command\n"
					   "ERR b 1 CR not followed by LF\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_fetch_atoms),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_literal_too_big),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
