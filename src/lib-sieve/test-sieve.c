/* Unit tests for lib-sieve: parser errors, the serialised form, the callbacks (vacation
 * and duplicate state, include, mailboxexists) and rules the golden cases do not reach. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve.h"

static const char msg_text[] = "From: Alice <alice@example.org>\n"
			       "To: bob@example.com\n"
			       "Subject: hello there\n"
			       "Message-ID: <m1@example.org>\n"
			       "\n"
			       "Body text with a keyword.\n";

struct fake {
	int vac_seen_calls, vac_records, dup_records;
	bool vac_seen;
	bool dup_seen;
	char last_handle[128];
	struct sieve_script *inc[4];
	const char *inc_names[4];
};

static bool fake_vac_seen(void *ctx, const char *handle, const char *sender, uint64_t secs)
{
	struct fake *f = ctx;
	f->vac_seen_calls++;
	snprintf(f->last_handle, sizeof(f->last_handle), "%s", handle);
	return f->vac_seen;
}

static void fake_vac_record(void *ctx, const char *handle, const char *sender, uint64_t secs)
{
	((struct fake *)ctx)->vac_records++;
}

static bool fake_dup_seen(void *ctx, const char *handle, const char *id, uint64_t secs)
{
	return ((struct fake *)ctx)->dup_seen;
}

static void fake_dup_record(void *ctx, const char *handle, const char *id, uint64_t secs)
{
	((struct fake *)ctx)->dup_records++;
}

static bool fake_mbox(void *ctx, const char *name)
{
	return strcmp(name, "Existing") == 0;
}

static const struct sieve_script *fake_include(void *ctx, bool global, const char *name,
					       struct sieve_error *err_r)
{
	struct fake *f = ctx;
	for (int i = 0; i < 4; i++)
		if (f->inc_names[i] != NULL && strcmp(f->inc_names[i], name) == 0)
			return f->inc[i];
	return NULL;
}

/* Compiles and runs src on msg_text; returns the formatted result (static buffer). */
static const char *run(const char *src, struct fake *f, const char *to)
{
	static char out[4096];
	struct sieve_error err;
	struct sieve_script *s = sieve_compile(src, strlen(src), &err);
	if (s == NULL) {
		snprintf(out, sizeof(out), "compile %d:%d %s", err.line, err.col, err.msg);
		return out;
	}
	struct sieve_message msg;
	sieve_message_from_memory(&msg, msg_text, strlen(msg_text));
	struct sieve_envelope env = {.from = "alice@example.org",
				     .to = to != NULL ? to : "bob@example.com"};
	struct sieve_ops ops = {.ctx = f,
				.vacation_seen = fake_vac_seen,
				.vacation_record = fake_vac_record,
				.duplicate_seen = fake_dup_seen,
				.duplicate_record = fake_dup_record,
				.mailbox_exists = fake_mbox,
				.include = fake_include,
				.now = 1716206400};
	struct sieve_result res;
	struct buf b = BUF_INIT;
	sieve_execute(s, &msg, &env, &ops, &res);
	sieve_result_format(&res, &b);
	sieve_result_commit(&res, &ops);
	snprintf(out, sizeof(out), "%s", b.data != NULL ? b.data : "");
	buf_free(&b);
	sieve_result_free(&res);
	sieve_script_free(&s);
	return out;
}

static void expect_error(const char *src, int line, int col)
{
	struct sieve_error err;
	struct sieve_script *s = sieve_compile(src, strlen(src), &err);
	if (s != NULL || err.line != line || err.col != col)
		printf("script: %s\nerror %d:%d %s\n", src, err.line, err.col, err.msg);
	if (getenv("SIEVE_TEST_ALL") != NULL)
		return;
	assert_null(s);
	assert_int_equal(err.line, line);
	assert_int_equal(err.col, col);
	assert_true(err.msg[0] != '\0');
}

static void test_parse_errors(void **state)
{
	expect_error("keep", 1, 5);
	expect_error("keep;\n  discard\n", 2, 10);
	expect_error("if true { keep; ", 1, 17);
	expect_error("if true keep;", 1, 1);
	expect_error("require [\"fileinto\" \"copy\"];", 1, 21);
	expect_error("require \"fileinto\";\nfileinto;", 2, 1);
	expect_error("require \"fileinto\";\nfileinto 5;", 2, 10);
	expect_error("redirect [\"a@b\", \"c@d\"];", 1, 10);
	expect_error("if header :is :contains \"a\" \"b\" { keep; }", 1, 15);
	expect_error("if header :count \"gt\" \"a\" \"b\" { keep; }", 1, 11);
	expect_error("require \"relational\";\nif header :count \"xx\" \"a\" \"b\" { keep; }", 2,
		     18);
	expect_error("if anyof true { keep; }", 1, 4);
	expect_error("if header :comparator \"i;foo\" \"a\" \"b\" { keep; }", 1, 23);
	expect_error("keep 99999999999999999999;", 1, 6);
	expect_error("keep :;", 1, 7);
	expect_error("keep; @", 1, 7);
	expect_error("require \"regex\";\nif header :regex \"a\" \"(\" { keep; }", 2, 22);
	expect_error("require \"encoded-character\";\nkeep :flags \"${unicode:d800}\";", 2, 13);
	expect_error("reject text: x\nfoo\n.\n;", 1, 14);
	expect_error("reject text:\nfoo\n", 1, 8);
	expect_error("require \"variables\";\nset :lower :upper \"a\" \"b\";", 2, 12);
	expect_error("if true { keep; } elsif true { keep; } else { keep; } else { keep; }", 1, 55);
	expect_error("if not (true, false) { keep; }", 1, 4);
	expect_error("keep {", 1, 7);
	expect_error("stop 1;", 1, 6);
	expect_error("if header \"a\" \"b\" :is { keep; }", 1, 19);
	expect_error("require \"include\";\ninclude \"../etc/passwd\";", 2, 9);
	expect_error("require [\"variables\", \"fileinto\"];\nfileinto \"${10}\";", 2, 10);
}

static void test_deep_nesting(void **state)
{
	char src[4096] = "";
	for (int i = 0; i < 40; i++)
		strcat(src, "if true {");
	struct sieve_error err;
	assert_null(sieve_compile(src, strlen(src), &err));
	assert_non_null(strstr(err.msg, "nest"));
	char tests[4096] = "if ";
	for (int i = 0; i < 40; i++)
		strcat(tests, "not ");
	strcat(tests, "true { keep; }");
	assert_null(sieve_compile(tests, strlen(tests), &err));
}

static void test_serialise(void **state)
{
	const char *src = "require [\"fileinto\", \"variables\", \"encoded-character\"];\n"
			  "set \"x\" \"${hex:24}{hex:41}\";\n"
			  "if header :contains \"subject\" [\"hello\"] { fileinto \"${x}\"; }\n"
			  "if size :over 1K { discard; }\n";
	struct sieve_error err;
	struct sieve_script *s = sieve_compile(src, strlen(src), &err);
	assert_non_null(s);
	struct buf b = BUF_INIT;
	sieve_script_serialize(s, &b);
	struct sieve_script *s2 = sieve_script_deserialize(b.data, b.len, &err);
	assert_non_null(s2);
	struct buf b2 = BUF_INIT;
	sieve_script_serialize(s2, &b2);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	for (size_t n = 0; n < b.len; n++) /* every truncation is refused */
		assert_null(sieve_script_deserialize(b.data, n, &err));
	buf_append_char(&b, 0);
	assert_null(sieve_script_deserialize(b.data, b.len, &err));
	assert_non_null(strstr(err.msg, "trailing"));
	b.data[6] = 99; /* version */
	assert_null(sieve_script_deserialize(b.data, b.len - 1, &err));
	sieve_script_free(&s);
	sieve_script_free(&s2);
	buf_free(&b);
	buf_free(&b2);
	/* the encoded-character result is not decoded twice */
	struct fake f = {0};
	assert_string_equal(run(src, &f, NULL), "fileinto \"${hex:41}\"\n");
}

static void test_vacation_state(void **state)
{
	struct fake f = {0};
	const char *src = "require \"vacation\";\nvacation :handle \"h1\" \"away\";";
	const char *r = run(src, &f, NULL);
	assert_non_null(strstr(r, "vacation to=\"alice@example.org\" \"away\""));
	assert_non_null(strstr(r, "subject=\"Auto: hello there\""));
	assert_int_equal(f.vac_seen_calls, 1);
	assert_string_equal(f.last_handle, "h1");
	assert_int_equal(f.vac_records, 1);
	/* already answered within the interval: no reply, nothing recorded */
	f.vac_seen = true;
	assert_string_equal(run(src, &f, NULL), "keep implicit\n");
	assert_int_equal(f.vac_records, 1);
	/* not addressed to the user: the state is not even asked */
	f.vac_seen = false;
	f.vac_seen_calls = 0;
	assert_string_equal(run(src, &f, "other@example.com"), "keep implicit\n");
	assert_int_equal(f.vac_seen_calls, 0);
	/* default handle: the same arguments give the same handle */
	run("require \"vacation\";\nvacation \"x\";", &f, NULL);
	char h[128];
	snprintf(h, sizeof(h), "%s", f.last_handle);
	run("require \"vacation\";\nvacation :days 2 \"x\";", &f, NULL);
	assert_string_equal(h, f.last_handle);
	run("require \"vacation\";\nvacation \"y\";", &f, NULL);
	assert_string_not_equal(h, f.last_handle);
	/* :days below the minimum is raised to one day; :seconds needs its extension */
	r = run("require \"vacation-seconds\";\nvacation :seconds 10 \"x\";", &f, NULL);
	assert_non_null(strstr(r, "seconds=86400"));
	r = run("require \"vacation\";\nvacation :seconds 10 \"x\";", &f, NULL);
	assert_non_null(strstr(r, "compile 2:10"));
	/* vacation and reject conflict */
	r = run("require [\"vacation\", \"reject\"];\nvacation \"x\";\nreject \"no\";", &f, NULL);
	assert_non_null(strstr(r, "error 3:"));
}

static void test_duplicate_state(void **state)
{
	struct fake f = {0};
	const char *src = "require [\"duplicate\", \"fileinto\"];\n"
			  "if duplicate :handle \"x\" { fileinto \"Dup\"; }\n"
			  "if duplicate :handle \"x\" { fileinto \"Dup2\"; }\n";
	/* the second test in one run sees the first */
	assert_string_equal(run(src, &f, NULL), "fileinto \"Dup2\"\n");
	assert_int_equal(f.dup_records, 1);
	f.dup_seen = true;
	f.dup_records = 0;
	assert_string_equal(run(src, &f, NULL), "fileinto \"Dup\"\nfileinto \"Dup2\"\n");
	assert_int_equal(f.dup_records, 0);
	/* :last refreshes the record even for a duplicate */
	run("require \"duplicate\";\nif duplicate :last { keep; }", &f, NULL);
	assert_int_equal(f.dup_records, 1);
	/* :uniqueid */
	f.dup_seen = false;
	assert_string_equal(run("require [\"duplicate\", \"variables\"];\n"
				"if duplicate :uniqueid \"${1}\" :seconds 60 { discard; }",
				&f, NULL),
			    "keep implicit\n");
}

static void test_include(void **state)
{
	struct fake f = {0};
	struct sieve_error err;
	const char *inc = "require [\"include\", \"variables\", \"fileinto\"];\n"
			  "global \"dest\";\nfileinto \"${dest}\";\nreturn;\ndiscard;";
	const char *self = "require \"include\";\ninclude \"self\";";
	f.inc[0] = sieve_compile(inc, strlen(inc), &err);
	f.inc_names[0] = "sub";
	f.inc[1] = sieve_compile(self, strlen(self), &err);
	f.inc_names[1] = "self";
	assert_non_null(f.inc[0]);
	assert_non_null(f.inc[1]);
	const char *src = "require [\"include\", \"variables\"];\nglobal \"dest\";\n"
			  "set \"dest\" \"Shared\";\ninclude :personal \"sub\";\n"
			  "include :once \"sub\";\ninclude :optional \"missing\";\n";
	assert_string_equal(run(src, &f, NULL), "fileinto \"Shared\"\n");
	assert_non_null(
	    strstr(run("require \"include\";\ninclude \"missing\";", &f, NULL), "error 2:"));
	assert_non_null(strstr(run(self, &f, NULL), "nested too deeply"));
	sieve_script_free(&f.inc[0]);
	sieve_script_free(&f.inc[1]);
}

static void test_misc_actions(void **state)
{
	struct fake f = {0};
	assert_string_equal(run("require \"ereject\";\nereject \"no\";", &f, NULL),
			    "ereject \"no\"\n");
	assert_string_equal(run("require [\"reject\"];\nreject \"a\";\nreject \"b\";", &f, NULL),
			    "error 3: reject conflicts with the earlier reject\nkeep implicit\n");
	assert_string_equal(run("require [\"fileinto\", \"mailbox\"];\n"
				"if mailboxexists \"Existing\" { fileinto \"Existing\"; }\n"
				"if mailboxexists \"Nope\" { fileinto \"Nope\"; }",
				&f, NULL),
			    "fileinto \"Existing\"\n");
	assert_string_equal(run("require \"ihave\";\nif ihave \"x-none\" { keep; }\n"
				"error \"stopped here\";",
				&f, NULL),
			    "error 3: stopped here\nkeep implicit\n");
	/* imap4flags: variable form, and flags of the implicit keep */
	assert_string_equal(run("require [\"imap4flags\", \"variables\"];\n"
				"setflag \"f\" \"\\\\seen a\";\naddflag \"f\" \"b a\";\n"
				"removeflag \"f\" \"a\";\nkeep :flags \"${f}\";",
				&f, NULL),
			    "keep flags=\"\\Seen b\"\n");
	/* redirect of a bad address is a runtime error */
	assert_non_null(strstr(run("redirect \"not an address\";", &f, NULL), "error 1:"));
	/* fileinto "INBOX" and keep are one action; the implicit keep merges with it */
	assert_string_equal(run("require [\"fileinto\", \"copy\"];\n"
				"fileinto :copy \"INBOX\";",
				&f, NULL),
			    "fileinto \"INBOX\" copy\n");
}

static void test_match_variables(void **state)
{
	struct fake f = {0};
	/* a failing match leaves the match variables of the last successful one */
	assert_string_equal(run("require [\"variables\", \"fileinto\"];\n"
				"if header :matches \"subject\" \"* *\" {}\n"
				"if header :matches \"subject\" \"x*\" {}\n"
				"fileinto \"${0}|${1}|${2}|${3}\";",
				&f, NULL),
			    "fileinto \"hello there|hello|there|\"\n");
	/* "?" captures one character; "*" takes as little as it can */
	assert_string_equal(run("require [\"variables\", \"fileinto\"];\n"
				"if header :matches \"from\" \"?lice*<*@*.org>\" "
				"{ fileinto \"${1}-${2}-${3}-${4}\"; }",
				&f, NULL),
			    "fileinto \"A- -alice-example\"\n");
	/* numeric comparator: non-digits are infinity; leading zeros ignored */
	assert_string_equal(run("require [\"relational\", \"comparator-i;ascii-numeric\", "
				"\"variables\", \"fileinto\"];\n"
				"if string :value \"gt\" :comparator \"i;ascii-numeric\" "
				"\"abc\" \"999\" { if string :is :comparator \"i;ascii-numeric\" "
				"\"007\" \"7\" { fileinto \"ok\"; } }",
				&f, NULL),
			    "fileinto \"ok\"\n");
	/* string :count ignores empty strings */
	assert_string_equal(run("require [\"relational\", \"variables\", \"fileinto\"];\n"
				"if string :count \"eq\" [\"a\", \"\", \"b\"] \"2\" "
				"{ fileinto \"two\"; }",
				&f, NULL),
			    "fileinto \"two\"\n");
	/* a value longer than the limit is cut */
	char src[9000];
	int n = snprintf(src, sizeof(src), "require [\"variables\", \"fileinto\"];\nset \"a\" \"");
	memset(src + n, 'x', 5000);
	snprintf(src + n + 5000, sizeof(src) - (size_t)n - 5000,
		 "\";\nset :length \"b\" \"${a}\";\nfileinto \"${b}\";");
	assert_string_equal(run(src, &f, NULL), "fileinto \"4096\"\n");
}

/* Mutated scripts and damaged compiled forms never crash (a small, deterministic fuzz). */
static void test_mutations(void **state)
{
	static const char *const seeds[] = {
		"require [\"fileinto\", \"variables\", \"imap4flags\", \"relational\"];\n"
		"if header :matches \"subject\" \"* *\" { set \"a\" \"${1}\"; "
		"addflag \"f\" \"x\"; fileinto :flags \"${a}\" \"B\"; }\n"
		"elsif address :count \"gt\" \"to\" \"1\" { redirect \"a@b.c\"; } "
		"else { discard; }\n",
		"require [\"body\", \"vacation\", \"date\", \"regex\"];\n"
		"if body :text :regex \"k(e)y\" { vacation :days 1 text:\nhi\n.\n; }\n"
		"if date :zone \"+0100\" :is \"date\" \"year\" \"2024\" { keep; }\n",
	};
	uint32_t seed = 12345;
	struct fake f = {0};
	for (size_t k = 0; k < 2; k++) {
		size_t len = strlen(seeds[k]);
		for (int i = 0; i < 3000; i++) {
			char buf[1024];
			memcpy(buf, seeds[k], len);
			size_t n = len;
			for (int m = 0; m < 1 + i % 4; m++) {
				seed = seed * 1103515245 + 12345;
				size_t pos = (seed >> 8) % n;
				static const char alphabet[] = "\"{}[]();,:\\$*?#/ \nabz09";
				buf[pos] = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
			}
			buf[n] = '\0';
			run(buf, &f, NULL);
		}
	}
	struct sieve_error err;
	struct sieve_script *s = sieve_compile(seeds[0], strlen(seeds[0]), &err);
	assert_non_null(s);
	struct buf b = BUF_INIT;
	sieve_script_serialize(s, &b);
	for (int i = 0; i < 5000; i++) {
		char *copy = malloc(b.len);
		memcpy(copy, b.data, b.len);
		seed = seed * 1103515245 + 12345;
		copy[(seed >> 8) % b.len] = (char)(seed >> 24);
		struct sieve_script *s2 = sieve_script_deserialize(copy, b.len, &err);
		sieve_script_free(&s2);
		free(copy);
	}
	buf_free(&b);
	sieve_script_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_errors),    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_serialise),	    cmocka_unit_test(test_vacation_state),
	    cmocka_unit_test(test_duplicate_state), cmocka_unit_test(test_include),
	    cmocka_unit_test(test_misc_actions), cmocka_unit_test(test_mutations),    cmocka_unit_test(test_match_variables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
