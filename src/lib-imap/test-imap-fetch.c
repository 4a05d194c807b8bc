/* Unit tests for imap-fetch and imap-flags: macros, items, sections, partials, BINARY,
 * CHANGEDSINCE/VANISHED, STORE forms and flag validation. Arguments come from imap-parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "imap-fetch.h"
#include "imap-parser.h"

static struct imap_parser *parser;

/* Parses "t CMD line" and returns its argument list. */
static const struct imap_arg *parse_line(const char *line, size_t *count_r)
{
	struct buf in = BUF_INIT;
	size_t used;
	const char *chunk;
	size_t chunk_len;
	buf_printf(&in, "t CMD %s\r\n", line);
	imap_parser_reset(parser);
	assert_int_equal(imap_parser_feed(parser, in.data, in.len, &used, &chunk, &chunk_len),
			 IMAP_PARSE_DONE);
	buf_free(&in);
	const struct imap_command *cmd = imap_parser_command(parser);
	*count_r = cmd->args.len;
	return cmd->args.list;
}

static int fetch(const char *line, bool uid, struct imap_fetch *f)
{
	size_t count;
	const struct imap_arg *args = parse_line(line, &count);
	const char *error;
	return imap_fetch_parse(args, count, uid, f, &error);
}

static void test_fetch_items(void **state)
{
	struct imap_fetch f;
	assert_int_equal(fetch("ALL", false, &f), 0);
	assert_int_equal(f.items, IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE |
					  IMAP_FETCH_RFC822_SIZE | IMAP_FETCH_ENVELOPE);
	imap_fetch_free(&f);
	assert_int_equal(fetch("full", true, &f), 0);
	assert_true(f.items & IMAP_FETCH_BODY);
	assert_true(f.items & IMAP_FETCH_UID);
	imap_fetch_free(&f);
	assert_int_equal(fetch("(FLAGS uid BODYSTRUCTURE MODSEQ RFC822.SIZE)", false, &f), 0);
	assert_int_equal(f.items, IMAP_FETCH_FLAGS | IMAP_FETCH_UID | IMAP_FETCH_BODYSTRUCTURE |
					  IMAP_FETCH_MODSEQ | IMAP_FETCH_RFC822_SIZE);
	imap_fetch_free(&f);
	assert_int_equal(fetch("(RFC822 RFC822.HEADER RFC822.TEXT)", false, &f), 0);
	assert_int_equal(f.body_count, 3);
	assert_string_equal(f.bodies[0].name, "RFC822");
	assert_false(f.bodies[0].peek);
	assert_true(f.bodies[1].peek);
	assert_int_equal(f.bodies[1].spec, IMAP_SECTION_HEADER);
	assert_int_equal(f.bodies[2].spec, IMAP_SECTION_TEXT);
	imap_fetch_free(&f);
	const char *bad[] = {"(ALL)", "()", "FOO", "(FLAGS FOO)", "\"FLAGS\"", "(FLAGS (UID))",
			     "FLAGS (VANISHED)", "FLAGS (CHANGEDSINCE)", "FLAGS (CHANGEDSINCE x)",
			     "FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)", "FLAGS ()", "FLAGS X"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fetch(bad[i], false, &f), -1);
}

static void test_fetch_sections(void **state)
{
	struct imap_fetch f;
	assert_int_equal(fetch("(BODY[] BODY.PEEK[1.2.HEADER.FIELDS (From \"X-ab\")]<0.100>"
			       " body[3.MIME] BODY[HEADER.FIELDS.NOT (Received)] BODY[1]<5.7>"
			       " BODY[TEXT] BODY[2.1.header])",
			       false, &f),
			 0);
	assert_int_equal(f.body_count, 7);
	assert_string_equal(f.bodies[0].name, "BODY[]");
	assert_false(f.bodies[0].peek);
	struct imap_fetch_body *b = &f.bodies[1];
	assert_true(b->peek);
	assert_int_equal(b->part_count, 2);
	assert_int_equal(b->parts[1], 2);
	assert_int_equal(b->spec, IMAP_SECTION_HEADER_FIELDS);
	assert_int_equal(b->field_count, 2);
	assert_string_equal(b->fields[1], "X-ab");
	assert_true(b->partial);
	assert_int_equal(b->offset, 0);
	assert_int_equal(b->length, 100);
	assert_string_equal(b->name, "BODY[1.2.HEADER.FIELDS (From X-ab)]");
	assert_string_equal(f.bodies[2].name, "BODY[3.MIME]");
	assert_string_equal(f.bodies[3].name, "BODY[HEADER.FIELDS.NOT (Received)]");
	assert_int_equal(f.bodies[4].offset, 5);
	assert_string_equal(f.bodies[5].name, "BODY[TEXT]");
	assert_string_equal(f.bodies[6].name, "BODY[2.1.HEADER]");
	imap_fetch_free(&f);
	assert_int_equal(fetch("(BINARY[1.2] BINARY.PEEK[]<0.10> BINARY.SIZE[3])", false, &f), 0);
	assert_int_equal(f.bodies[0].kind, IMAP_FETCH_BINARY);
	assert_false(f.bodies[0].peek);
	assert_string_equal(f.bodies[0].name, "BINARY[1.2]");
	assert_true(f.bodies[1].peek);
	assert_true(f.bodies[1].partial);
	assert_int_equal(f.bodies[2].kind, IMAP_FETCH_BINARY_SIZE);
	assert_string_equal(f.bodies[2].name, "BINARY.SIZE[3]");
	imap_fetch_free(&f);
	const char *bad[] = {"BODY[MIME]", "BODY[0]", "BODY[1.]", "BODY[.1]", "BODY[1..2]",
			     "BODY[HEADER.FIELDS]", "BODY[HEADER.FIELDS ()]", "BODY[FOO]",
			     "BODY[HEADER.FIELDS (A:B)]", "BODY[]<0.0>", "BODY[]<1>", "BODY[]<a.1>",
			     "BODY[]<0.1", "BINARY[TEXT]", "BINARY.SIZE[1]<0.1>", "BODY.PEAK[]",
			     "BODY[HEADER.FIELDS (A  B)]", "BODY[HEADER.FIELDS (A )]", "BODY[4294967296]",
			     "BODY[1.HEADER.FIELDSX (A)]", "BODY[]x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (fetch(bad[i], false, &f) != -1)
			fail_msg("accepted %s", bad[i]);
	}
}

static void test_fetch_modifiers(void **state)
{
	struct imap_fetch f;
	assert_int_equal(fetch("(FLAGS) (CHANGEDSINCE 12345)", false, &f), 0);
	assert_true(f.changedsince_set);
	assert_int_equal(f.changedsince, 12345);
	assert_true(f.items & IMAP_FETCH_MODSEQ);
	imap_fetch_free(&f);
	assert_int_equal(fetch("(FLAGS) (CHANGEDSINCE 1 VANISHED)", true, &f), 0);
	assert_true(f.vanished);
	imap_fetch_free(&f);
	assert_int_equal(fetch("(FLAGS) (CHANGEDSINCE 1 VANISHED)", false, &f), -1);
	assert_int_equal(fetch("(FLAGS) (VANISHED)", true, &f), -1);
}

static int store(const char *line, struct imap_store *st)
{
	size_t count;
	const struct imap_arg *args = parse_line(line, &count);
	const char *error;
	return imap_store_parse(args, count, st, &error);
}

static void test_store(void **state)
{
	struct imap_store st;
	assert_int_equal(store("+FLAGS (\\Seen \\deleted $Junk $junk)", &st), 0);
	assert_int_equal(st.op, IMAP_STORE_ADD);
	assert_false(st.silent);
	assert_int_equal(st.flags.system, IMAP_FLAG_SEEN | IMAP_FLAG_DELETED);
	assert_int_equal(st.flags.keyword_count, 1);
	struct buf out = BUF_INIT;
	imap_flags_write(&out, &st.flags);
	assert_string_equal(buf_cstr(&out), "(\\Seen \\Deleted $Junk)");
	buf_free(&out);
	imap_store_free(&st);
	assert_int_equal(store("-flags.silent \\Flagged foo", &st), 0);
	assert_int_equal(st.op, IMAP_STORE_REMOVE);
	assert_true(st.silent);
	assert_int_equal(st.flags.keyword_count, 1);
	imap_store_free(&st);
	assert_int_equal(store("(UNCHANGEDSINCE 0) FLAGS ()", &st), 0);
	assert_int_equal(st.op, IMAP_STORE_SET);
	assert_true(st.unchangedsince_set);
	assert_int_equal(st.unchangedsince, 0);
	imap_store_free(&st);
	const char *bad[] = {"FLAGS", "+FLAGS (\\Recent)", "+FLAGS (\\Foo)", "+FLAGS (\\*)",
			     "*FLAGS (a)", "FLAGS.LOUD (a)", "(UNCHANGEDSINCE) FLAGS (a)",
			     "(FOO 1) FLAGS (a)", "FLAGS (\"a\")", "FLAGS (a]b)", "FLAGS ((a))",
			     "FLAGS (a%)", "+FLAGS.SILENT (a) (b)"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (store(bad[i], &st) != -1)
			fail_msg("accepted %s", bad[i]);
	}
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
		cmocka_unit_test(test_fetch_items),
		cmocka_unit_test(test_fetch_sections),
		cmocka_unit_test(test_fetch_modifiers),
		cmocka_unit_test(test_store),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
