/* Unit tests for lib-autoreply: who and what gets no answer (RFC 3834 2), matching the
 * user's addresses, and the header of an answer (RFC 3834 3.1). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "autoreply.h"

static void test_sender(void **state)
{
	(void)state;
	assert_string_equal(autoreply_sender_refused(""), "null sender");
	assert_string_equal(autoreply_sender_refused("<>"), "null sender");
	assert_non_null(autoreply_sender_refused("MAILER-DAEMON@example.org"));
	assert_non_null(autoreply_sender_refused("postmaster"));
	assert_non_null(autoreply_sender_refused("owner-dev@lists.example.org"));
	assert_non_null(autoreply_sender_refused("dev-request@lists.example.org"));
	assert_non_null(autoreply_sender_refused("Dev-Owner@lists.example.org"));
	assert_null(autoreply_sender_refused("bob@example.org"));
	assert_null(autoreply_sender_refused("mailerx@example.org"));
	assert_null(autoreply_sender_refused("request@example.org"));
	assert_null(autoreply_sender_refused("owner@example.org"));
}

static void test_fields(void **state)
{
	(void)state;
	assert_null(autoreply_field_refused("Auto-Submitted", "no"));
	assert_null(autoreply_field_refused("auto-submitted", " No ; comment"));
	assert_non_null(autoreply_field_refused("Auto-Submitted", "auto-replied"));
	assert_non_null(autoreply_field_refused("Auto-Submitted", "auto-generated"));
	assert_non_null(autoreply_field_refused("Auto-Submitted", "nonsense"));
	assert_non_null(autoreply_field_refused("Precedence", "bulk"));
	assert_non_null(autoreply_field_refused("PRECEDENCE", "List"));
	assert_non_null(autoreply_field_refused("Precedence", "junk"));
	assert_null(autoreply_field_refused("Precedence", "first-class"));
	assert_null(autoreply_field_refused("Precedence", "bulky"));
	assert_non_null(autoreply_field_refused("List-Id", "<dev.example.org>"));
	assert_non_null(autoreply_field_refused("list-unsubscribe", "<mailto:x@y>"));
	assert_null(autoreply_field_refused("List-", "x"));
	assert_non_null(autoreply_field_refused("X-Spam-Flag", "YES"));
	assert_null(autoreply_field_refused("X-Spam-Flag", "NO"));
	assert_null(autoreply_field_refused("Subject", "Auto-Submitted: yes"));
	assert_true(autoreply_is_recipient_field("resent-bcc"));
	assert_false(autoreply_is_recipient_field("From"));
}

static bool is_alice(void *ctx, const char *addr)
{
	return autoreply_address_is(addr, ctx, "+");
}

static void test_addresses(void **state)
{
	(void)state;
	assert_true(autoreply_address_is("Alice@Example.org", "alice@example.org", "+"));
	assert_true(autoreply_address_is("alice+tag@example.org", "alice@example.org", "+"));
	assert_false(autoreply_address_is("alice+tag@example.org", "alice@example.org", ""));
	assert_false(autoreply_address_is("alice@example.net", "alice@example.org", "+"));
	assert_false(autoreply_address_is("malice@example.org", "alice@example.org", "+"));
	assert_false(autoreply_address_is("alicex@example.org", "alice", "+"));
	assert_true(autoreply_address_is("alice@anywhere.example", "alice", "+"));
	assert_true(autoreply_address_is("alice", "alice", "+"));
	assert_false(autoreply_address_is("alice", "alice@example.org", "+"));
	assert_false(autoreply_address_is("alice@example.org", "", "+"));
	char *me = "alice@example.org";
	assert_true(autoreply_value_has("Bob <bob@example.org>, \"A. L.\" <ALICE@example.org>",
					is_alice, me));
	assert_true(autoreply_value_has("friends: carol@example.org, alice@example.org;", is_alice,
					me));
	assert_false(autoreply_value_has("\"alice@example.org\" <bob@example.org>", is_alice, me));
	assert_false(autoreply_value_has("undisclosed-recipients:;", is_alice, me));
}

static void test_head(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	char *refs = autoreply_references("<m2@example.org>", "<m0@example.org> <m1@example.org>",
					  "<m1@example.org>");
	struct autoreply_head h = {.from = "alice@example.org",
				   .to = "bob@example.org",
				   .subject = "Auto: hi\r\nBcc: evil@example.org",
				   .in_reply_to = "<m2@example.org>",
				   .references = refs,
				   .auto_submitted = true};
	autoreply_head_write(&h, &b);
	assert_string_equal(buf_cstr(&b), "From: alice@example.org\nTo: bob@example.org\n"
					  "Subject: Auto: hi  Bcc: evil@example.org\n"
					  "In-Reply-To: <m2@example.org>\n"
					  "References: <m0@example.org> <m1@example.org> <m2@example.org>\n"
					  "Auto-Submitted: auto-replied\n");
	free(refs);
	buf_reset(&b);
	refs = autoreply_references("<m2@example.org>", NULL, "<m1@example.org>");
	assert_string_equal(refs, "<m1@example.org> <m2@example.org>");
	free(refs);
	refs = autoreply_references("<m2@example.org>", "", "<m1@x> <m0@x>");
	assert_string_equal(refs, "<m2@example.org>");
	free(refs);
	assert_null(autoreply_references(NULL, "<m1@x>", NULL));
	struct autoreply_head h2 = {.to = "bob@example.org", .id_host = "mx.example.org",
				    .date = 1764140400};
	autoreply_head_write(&h2, &b);
	assert_non_null(strstr(buf_cstr(&b), "Date: "));
	assert_non_null(strstr(buf_cstr(&b), ".autoreply@mx.example.org>\n"));
	assert_null(strstr(buf_cstr(&b), "Auto-Submitted"));
	assert_null(strstr(buf_cstr(&b), "In-Reply-To"));
	buf_free(&b);
	char *s = autoreply_subject("=?utf-8?q?caf=C3=A9?=");
	assert_string_equal(s, "Auto: caf\xc3\xa9");
	free(s);
	s = autoreply_subject(NULL);
	assert_string_equal(s, "Automated reply");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sender),
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_head),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
