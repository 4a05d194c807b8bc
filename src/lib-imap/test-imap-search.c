/* Unit tests for imap-search: every key family, normalisation, nesting, RETURN options,
 * CHARSET (BADCHARSET), "$", MODSEQ and errors. Arguments come from imap-parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "imap-parser.h"
#include "imap-search.h"

static struct imap_parser *parser;

static void dump(struct buf *out, const struct imap_search_key *k)
{
	static const char *const names[] = {
		"ALL",	    "AND",	  "OR",		"NOT",	  "FLAG",  "KEYWORD", "SEQ",
		"UID",	    "BEFORE",	  "ON",		"SINCE",  "SENTBEFORE", "SENTON",
		"SENTSINCE", "LARGER",	  "SMALLER",	"HEADER", "BODY",  "TEXT",    "MODSEQ",
		"OLDER",    "YOUNGER"};
	buf_printf(out, "%s", names[k->op]);
	switch (k->op) {
	case IMAP_SEARCH_AND:
	case IMAP_SEARCH_OR:
	case IMAP_SEARCH_NOT:
		buf_append_char(out, '(');
		for (size_t i = 0; i < k->sub_count; i++) {
			if (i > 0)
				buf_append_char(out, ' ');
			dump(out, &k->sub[i]);
		}
		buf_append_char(out, ')');
		break;
	case IMAP_SEARCH_FLAG:
		buf_printf(out, ":%u", k->flag);
		break;
	case IMAP_SEARCH_KEYWORD:
		buf_printf(out, ":%s", k->name);
		break;
	case IMAP_SEARCH_SEQSET:
	case IMAP_SEARCH_UID:
		buf_append_char(out, ':');
		if (k->set.saved)
			buf_append_char(out, '$');
		imap_seqset_write(&k->set, out);
		break;
	case IMAP_SEARCH_HEADER:
		buf_printf(out, ":%s=%s", k->name, k->value);
		break;
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		buf_printf(out, ":%s", k->value);
		break;
	case IMAP_SEARCH_MODSEQ:
		buf_printf(out, ":%s%s%llu", k->name ? k->name : "",
			   k->modseq_type ? k->modseq_type : "", (unsigned long long)k->number);
		break;
	case IMAP_SEARCH_ALL:
		break;
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
	case IMAP_SEARCH_OLDER:
	case IMAP_SEARCH_YOUNGER:
		buf_printf(out, ":%llu", (unsigned long long)k->number);
		break;
	default:
		buf_printf(out, ":%lld", (long long)k->date);
		break;
	}
}

static int search(const char *line, struct buf *out, struct imap_search_program *prog)
{
	struct buf in = BUF_INIT;
	size_t used, chunk_len;
	const char *chunk, *error;
	buf_printf(&in, "t SEARCH %s\r\n", line);
	imap_parser_reset(parser);
	assert_int_equal(imap_parser_feed(parser, in.data, in.len, &used, &chunk, &chunk_len),
			 IMAP_PARSE_DONE);
	buf_free(&in);
	const struct imap_command *cmd = imap_parser_command(parser);
	struct imap_search_context ctx = {10, 500};
	int r = imap_search_parse(cmd->args.list, cmd->args.len, &ctx, prog, &error);
	buf_reset(out);
	if (r == 0)
		dump(out, &prog->root);
	else
		assert_non_null(error);
	return r;
}

static const char *s(const char *line)
{
	static struct buf out;
	struct imap_search_program prog;
	if (search(line, &out, &prog) != 0)
		return "ERR";
	imap_search_program_free(&prog);
	return buf_cstr(&out);
}

static void test_keys(void **state)
{
	assert_string_equal(s("ALL"), "AND(ALL)");
	assert_string_equal(s("seen unseen"), "AND(FLAG:1 NOT(FLAG:1))");
	assert_string_equal(s("NEW"), "AND(AND(FLAG:32 NOT(FLAG:1)))");
	assert_string_equal(s("OLD DELETED UNDRAFT"), "AND(NOT(FLAG:32) FLAG:8 NOT(FLAG:16))");
	assert_string_equal(s("FROM fred SUBJECT \"hi there\""),
			    "AND(HEADER:From=fred HEADER:Subject=hi there)");
	assert_string_equal(s("HEADER X-Spam yes BODY b TEXT \"\""),
			    "AND(HEADER:X-Spam=yes BODY:b TEXT:)");
	assert_string_equal(s("KEYWORD $Junk UNKEYWORD foo"),
			    "AND(KEYWORD:$Junk NOT(KEYWORD:foo))");
	assert_string_equal(s("1:3,* UID 400:* $"), "AND(SEQ:1:3,10 UID:400:500 SEQ:$)");
	assert_string_equal(s("UID $"), "AND(UID:$)");
	assert_string_equal(s("SINCE 1-Feb-1994 BEFORE \"2-Feb-1994\" ON 1-feb-1994"),
			    "AND(SINCE:8797 BEFORE:8798 ON:8797)");
	assert_string_equal(s("SENTSINCE 1-Jan-1970 SENTON 1-Jan-1970 SENTBEFORE 1-Jan-1970"),
			    "AND(SENTSINCE:0 SENTON:0 SENTBEFORE:0)");
	assert_string_equal(s("LARGER 100 SMALLER 5000000000 OLDER 60 YOUNGER 1"),
			    "AND(LARGER:100 SMALLER:5000000000 OLDER:60 YOUNGER:1)");
	assert_string_equal(s("OR SEEN (FLAGGED DRAFT) NOT NOT ANSWERED"),
			    "AND(OR(FLAG:1 AND(FLAG:4 FLAG:16)) NOT(NOT(FLAG:2)))");
	assert_string_equal(s("MODSEQ 620162338"), "AND(MODSEQ:620162338)");
	assert_string_equal(s("MODSEQ \"/flags/\\\\draft\" all 620162338"),
			    "AND(MODSEQ:/flags/\\draftall620162338)");
}

static void test_program(void **state)
{
	struct buf out = BUF_INIT;
	struct imap_search_program prog;
	assert_int_equal(search("RETURN (MIN COUNT) CHARSET utf-8 ALL", &out, &prog), 0);
	assert_true(prog.esearch);
	assert_int_equal(prog.return_opts, IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_COUNT);
	imap_search_program_free(&prog);
	assert_int_equal(search("RETURN () ALL", &out, &prog), 0);
	assert_int_equal(prog.return_opts, IMAP_SEARCH_RETURN_ALL);
	imap_search_program_free(&prog);
	assert_int_equal(search("RETURN (SAVE) UID $ MODSEQ 5", &out, &prog), 0);
	assert_true(prog.uses_saved);
	assert_true(prog.uses_modseq);
	assert_int_equal(prog.return_opts, IMAP_SEARCH_RETURN_SAVE);
	imap_search_program_free(&prog);
	assert_int_equal(search("CHARSET US-ASCII SEEN", &out, &prog), 0);
	assert_false(prog.esearch);
	imap_search_program_free(&prog);
	assert_int_equal(search("CHARSET ISO-8859-1 SEEN", &out, &prog),
			 IMAP_SEARCH_ERR_BADCHARSET);
	assert_int_equal(search("RETURN (FOO) ALL", &out, &prog), IMAP_SEARCH_ERR_BAD);
	/* RFC 5267: CONTEXT, UPDATE, PARTIAL lo:hi (either order, no "*") */
	assert_int_equal(search("RETURN (UPDATE CONTEXT PARTIAL 7:3) ALL", &out, &prog), 0);
	assert_int_equal(prog.return_opts, IMAP_SEARCH_RETURN_UPDATE |
						   IMAP_SEARCH_RETURN_CONTEXT |
						   IMAP_SEARCH_RETURN_PARTIAL);
	assert_int_equal(prog.partial_lo, 3);
	assert_int_equal(prog.partial_hi, 7);
	imap_search_program_free(&prog);
	const char *badpartial[] = {"RETURN (PARTIAL 1) ALL", "RETURN (PARTIAL 1:*) ALL",
				    "RETURN (PARTIAL *:1) ALL", "RETURN (PARTIAL 0:3) ALL",
				    "RETURN (PARTIAL) ALL"};
	for (size_t i = 0; i < sizeof(badpartial) / sizeof(badpartial[0]); i++)
		assert_int_equal(search(badpartial[i], &out, &prog), IMAP_SEARCH_ERR_BAD);
	buf_free(&out);
}

static void test_errors(void **state)
{
	const char *bad[] = {"", "FOO", "SEEN FOO", "OR SEEN", "NOT", "()", "FROM", "HEADER X",
			     "SINCE 30-Feb-2000", "SINCE yesterday", "LARGER -1", "LARGER x",
			     "OLDER 0", "UID", "UID 0", "0", "1:x", "KEYWORD \\Foo", "KEYWORD a]",
			     "MODSEQ", "MODSEQ x", "MODSEQ \"/flags/x\" bogus 1",
			     "MODSEQ \"/other\" all 1", "(SEEN) (FOO)", "\"SEEN\"", "CHARSET",
			     "RETURN ALL", "$,1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (strcmp(s(bad[i]), "ERR") != 0)
			fail_msg("accepted %s", bad[i]);
	}
	/* depth bound */
	struct buf deep = BUF_INIT;
	for (int i = 0; i < 100; i++)
		buf_append_str(&deep, "NOT ");
	buf_append_str(&deep, "SEEN");
	assert_string_equal(s(buf_cstr(&deep)), "ERR");
	buf_free(&deep);
}

static int setup(void **state)
{
	struct imap_parser_limits l;
	imap_parser_limits_default(&l);
	parser = imap_parser_new(&l);
	return 0;
}

static int teardown(void **state)
{
	imap_parser_free(&parser);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_program),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
