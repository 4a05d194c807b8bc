/* Unit tests for imap-write: quoted vs literal choice, astring atoms, NIL, mailbox names
 * (modified UTF-7 or UTF-8), status and continuation responses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "imap-write.h"

static struct buf out;

static const char *str(const char *s, unsigned flags)
{
	buf_reset(&out);
	imap_write_string(&out, s, strlen(s), flags);
	return buf_cstr(&out);
}

static const char *astr(const char *s, unsigned flags)
{
	buf_reset(&out);
	imap_write_astring(&out, s, strlen(s), flags);
	return buf_cstr(&out);
}

static void test_strings(void **state)
{
	assert_string_equal(str("hello world", 0), "\"hello world\"");
	assert_string_equal(str("", 0), "\"\"");
	assert_string_equal(str("a\"b", 0), "{3}\r\na\"b");
	assert_string_equal(str("a\\b", 0), "{3}\r\na\\b");
	assert_string_equal(str("a\r\nb", 0), "{4}\r\na\r\nb");
	assert_string_equal(str("caf\xc3\xa9", 0), "{5}\r\ncaf\xc3\xa9");
	assert_string_equal(str("caf\xc3\xa9", IMAP_WRITE_UTF8), "\"caf\xc3\xa9\"");
	assert_string_equal(str("caf\xc3", IMAP_WRITE_UTF8), "{4}\r\ncaf\xc3");
	char big[IMAP_WRITE_QUOTED_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(str(big, 0)[0] == '{');
	big[IMAP_WRITE_QUOTED_MAX] = '\0';
	assert_true(str(big, 0)[0] == '"');
	buf_reset(&out);
	imap_write_string(&out, "a\0b", 3, 0);
	assert_memory_equal(buf_cstr(&out), "{3}\r\na\0b", 8);
	buf_reset(&out);
	imap_write_nstring(&out, NULL, 0, 0);
	assert_string_equal(buf_cstr(&out), "NIL");
	buf_reset(&out);
	imap_write_literal_header(&out, 104857600, true);
	assert_string_equal(buf_cstr(&out), "~{104857600}\r\n");
}

static void test_astring(void **state)
{
	assert_string_equal(astr("INBOX", 0), "INBOX");
	assert_string_equal(astr("a]b", 0), "a]b");
	assert_string_equal(astr("NIL", 0), "\"NIL\"");
	assert_string_equal(astr("nil", 0), "\"nil\"");
	assert_string_equal(astr("", 0), "\"\"");
	assert_string_equal(astr("a b", 0), "\"a b\"");
	assert_string_equal(astr("a*", 0), "\"a*\"");
	assert_string_equal(astr("a%", 0), "\"a%\"");
	assert_string_equal(astr("(a)", 0), "\"(a)\"");
	assert_string_equal(astr("a{1}", 0), "\"a{1}\"");
}

static void test_mailbox(void **state)
{
	const char *name = "Entw\xc3\xbc" "rfe & Co";
	buf_reset(&out);
	assert_int_equal(imap_write_mailbox(&out, name, strlen(name), 0), 0);
	assert_string_equal(buf_cstr(&out), "\"Entw&APw-rfe &- Co\"");
	buf_reset(&out);
	assert_int_equal(imap_write_mailbox(&out, name, strlen(name), IMAP_WRITE_UTF8), 0);
	assert_string_equal(buf_cstr(&out), "\"Entw\xc3\xbcrfe & Co\"");
	buf_reset(&out);
	assert_int_equal(imap_write_mailbox(&out, "Sent", 4, 0), 0);
	assert_string_equal(buf_cstr(&out), "Sent");
	assert_int_equal(imap_write_mailbox(&out, "\xff", 1, 0), -1);
}

static void test_status(void **state)
{
	buf_reset(&out);
	imap_write_status(&out, "a1", "OK", NULL, "LOGIN completed");
	assert_string_equal(buf_cstr(&out), "a1 OK LOGIN completed\r\n");
	buf_reset(&out);
	imap_write_status(&out, NULL, "NO", "BADCHARSET (UTF-8 US-ASCII)", "Bad\r\ncharset");
	assert_string_equal(buf_cstr(&out), "* NO [BADCHARSET (UTF-8 US-ASCII)] Bad  charset\r\n");
	buf_reset(&out);
	imap_write_status(&out, "a2", "BAD", "TOOBIG", "");
	assert_string_equal(buf_cstr(&out), "a2 BAD [TOOBIG] BAD\r\n");
	buf_reset(&out);
	imap_write_continuation(&out, NULL);
	assert_string_equal(buf_cstr(&out), "+ Ready\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_astring),
		cmocka_unit_test(test_mailbox),
		cmocka_unit_test(test_status),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	buf_free(&out);
	return r;
}
