/* Unit tests for lib-rewrite: masquerading (exceptions, '!' exclusions, order, classes),
 * canonical maps (key order, local-only user keys, @domain, extensions, recursion and
 * loops, sender/recipient maps, classes), header_rewrite_clients, the streaming header
 * rewriter (fed whole and byte by byte; names, comments, groups, folding, CRLF, long
 * fields, the body untouched) and the map checks with file:line errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "rewrite.h"
#include "xalloc.h"

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct conf *make_conf(const char *extra)
{
	struct buf text = BUF_INIT, err = BUF_INIT;
	buf_printf(&text,
		   "hostname = mx.example.test\ndomains = example.test, other.test\n"
		   "data_dir = %s\n%s",
		   tmpdir, extra);
	char path[128];
	snprintf(path, sizeof(path), "%s/tern.conf", tmpdir);
	struct conf *c = conf_parse(path, text.data, text.len, &err);
	if (c == NULL)
		fail_msg("conf: %s", buf_cstr(&err));
	buf_free(&text);
	buf_free(&err);
	return c;
}

/* Rewrites address as cls and compares with expect (NULL: unchanged). */
static void check(struct rewrite *r, enum rewrite_class cls, const char *address,
		  const char *expect)
{
	char *out = NULL;
	struct buf err = BUF_INIT;
	int k = rewrite_address(r, cls, address, &out, &err);
	if (expect == NULL) {
		if (k != 0)
			fail_msg("%s: expected no change, got %d %s", address, k, out ? out : "");
	} else {
		if (k != 1)
			fail_msg("%s: expected %s, got %d", address, expect, k);
		assert_string_equal(out, expect);
	}
	free(out);
	buf_free(&err);
}

static void test_masquerade(void **state)
{
	struct conf *c = make_conf("masquerade_domains = !keep.example.com, foo.example.com, "
				   "example.com\nmasquerade_exceptions = root, postmaster\n");
	struct rewrite *r = rewrite_new(c);
	const enum rewrite_class S = REWRITE_ENVELOPE_SENDER;
	check(r, S, "user@host.dept.example.com", "user@example.com");
	check(r, S, "User@HOST.Example.COM", "User@Example.COM");
	check(r, S, "user@a.b.foo.example.com", "user@foo.example.com");
	check(r, S, "user@foo.example.com", NULL);
	check(r, S, "user@example.com", NULL);
	check(r, S, "user@x.keep.example.com", NULL);
	check(r, S, "user@keep.example.com", NULL);
	check(r, S, "user@notexample.com", NULL);
	check(r, S, "user@host.example.org", NULL);
	check(r, S, "root@host.example.com", NULL);
	check(r, S, "ROOT@host.example.com", NULL);
	check(r, S, "root+tag@host.example.com", NULL);
	check(r, S, "rooter@host.example.com", "rooter@example.com");
	check(r, S, "postmaster@host.example.com", NULL);
	check(r, S, "", NULL);
	check(r, S, "user", NULL);
	check(r, S, "user@[192.0.2.1]", NULL);
	/* default classes: envelope sender, header sender and recipient; not envelope rcpt */
	check(r, REWRITE_HEADER_SENDER, "user@h.example.com", "user@example.com");
	check(r, REWRITE_HEADER_RECIPIENT, "user@h.example.com", "user@example.com");
	check(r, REWRITE_ENVELOPE_RECIPIENT, "user@h.example.com", NULL);
	assert_true(rewrite_enabled(r, REWRITE_ENVELOPE_SENDER));
	assert_false(rewrite_enabled(r, REWRITE_ENVELOPE_RECIPIENT));
	rewrite_free(&r);
	conf_free(&c);

	c = make_conf("masquerade_domains = example.com\n"
		      "masquerade_classes = envelope_recipient\n");
	r = rewrite_new(c);
	check(r, REWRITE_ENVELOPE_RECIPIENT, "user@h.example.com", "user@example.com");
	check(r, REWRITE_ENVELOPE_SENDER, "user@h.example.com", NULL);
	rewrite_free(&r);
	conf_free(&c);
}

static void test_canonical(void **state)
{
	write_file("sender", "alice@example.test  Alice.Smith@example.test\n");
	write_file("recipient", "frank@example.test frank@internal.test\n");
	write_file("canon", "# common\n"
			    "bob  Robert@example.test\n"
			    "@old.test @new.test\n"
			    "dave@example.test dave.d\n"
			    "erin@example.test erin@elsewhere.test\n"
			    "gina+list@example.test lists@example.test\n"
			    "loop1@example.test loop2@example.test\n"
			    "loop2@example.test loop1@example.test\n"
			    "hop1@example.test hop2@example.test\n"
			    "hop2@example.test hop3@h.corp.test\n"
			    "two@example.test a@x.test b@x.test\n"
			    "@catch.test someone@example.test\n");
	struct conf *c = make_conf("canonical_maps = canon\nsender_canonical_maps = map:sender\n"
				   "recipient_canonical_maps = recipient\n"
				   "masquerade_domains = corp.test\n");
	struct rewrite *r = rewrite_new(c);
	const enum rewrite_class S = REWRITE_ENVELOPE_SENDER, R = REWRITE_ENVELOPE_RECIPIENT;
	check(r, S, "alice@example.test", "Alice.Smith@example.test");
	check(r, REWRITE_HEADER_SENDER, "ALICE@Example.Test", "Alice.Smith@example.test");
	check(r, R, "alice@example.test", NULL); /* a sender map only */
	check(r, R, "frank@example.test", "frank@internal.test");
	check(r, S, "frank@example.test", NULL);
	/* user keys: only in local domains and the hostname */
	check(r, S, "bob@example.test", "Robert@example.test");
	check(r, R, "bob@mx.example.test", "Robert@example.test");
	check(r, S, "bob@other.test", "Robert@example.test");
	check(r, S, "bob@remote.test", NULL);
	check(r, S, "x@old.test", "x@new.test");
	check(r, S, "x+y@old.test", "x+y@new.test");
	check(r, S, "dave@example.test", "dave.d@example.test");
	/* extensions: tried without, kept in the result */
	check(r, S, "bob+tag@example.test", "Robert+tag@example.test");
	check(r, S, "erin+t@example.test", "erin+t@elsewhere.test");
	check(r, S, "gina+list@example.test", "lists@example.test");
	check(r, S, "gina+other@example.test", NULL);
	check(r, S, "u+t@catch.test", "someone+t@example.test");
	/* the result is looked up again; masquerading comes after */
	check(r, S, "hop1@example.test", "hop3@corp.test");
	/* a loop ends after REWRITE_MAX_DEPTH lookups (an even number: back to the start) */
	check(r, S, "loop1@example.test", NULL);
	/* two values: the entry is not used */
	check(r, S, "two@example.test", NULL);
	rewrite_free(&r);
	conf_free(&c);

	c = make_conf("canonical_maps = canon\ncanonical_classes = header_sender\n");
	r = rewrite_new(c);
	check(r, REWRITE_HEADER_SENDER, "bob@example.test", "Robert@example.test");
	check(r, S, "bob@example.test", NULL);
	check(r, REWRITE_HEADER_RECIPIENT, "bob@example.test", NULL);
	rewrite_free(&r);
	conf_free(&c);
}

static void test_clients(void **state)
{
	struct conf *c = make_conf("masquerade_domains = example.com\n");
	struct rewrite *r = rewrite_new(c);
	struct rewrite_client local = {true, false, false}, auth = {false, true, false},
			      net = {false, false, true}, none = {false, false, false};
	assert_true(rewrite_headers_for(r, &local));
	assert_true(rewrite_headers_for(r, &auth));
	assert_false(rewrite_headers_for(r, &net));
	assert_false(rewrite_headers_for(r, &none));
	rewrite_free(&r);
	conf_free(&c);
	c = make_conf("masquerade_domains = example.com\nheader_rewrite_clients = mynetworks\n");
	r = rewrite_new(c);
	assert_false(rewrite_headers_for(r, &local));
	assert_true(rewrite_headers_for(r, &net));
	rewrite_free(&r);
	conf_free(&c);
	c = make_conf("header_rewrite_clients = all\n");
	r = rewrite_new(c);
	assert_false(rewrite_headers_for(r, &none)); /* nothing to rewrite */
	rewrite_free(&r);
	conf_free(&c);
	/* the parser refuses unknown class and client words with file:line */
	struct buf err = BUF_INIT;
	assert_null(
	    conf_parse("/x/tern.conf", "masquerade_classes = envelope_sender bogus\n", 43, &err));
	assert_non_null(strstr(buf_cstr(&err), "tern.conf:1: masquerade_classes"));
	buf_free(&err);
}

static const char header_in[] = "Received: from x by y; for <u@h.dept.example.com>\n"
				"From: \"Doe, John\" <john@host.dept.example.com> (the boss)\n"
				"Sender: root@host.dept.example.com\n"
				"To: Team: a@h1.example.com,\n"
				"\t\"b c\"@h2.example.com (B); carol@example.org, undisclosed:;\n"
				"Cc: <bob@x.example.com>, broken <unclosed@h.example.com\n"
				"Subject: mail from john@host.dept.example.com\n"
				"Reply-To:john(c1)@host(c2).example.com\r\n"
				"Resent-To: alice+tag@h.example.com\n"
				"X-Long: %s\n"
				"not a field line\n"
				"\n"
				"From: john@host.dept.example.com in the body\n"
				"To: a@h1.example.com\n";

static const char header_out[] = "Received: from x by y; for <u@h.dept.example.com>\n"
				 "From: \"Doe, John\" <john@example.com> (the boss)\n"
				 "Sender: root@host.dept.example.com\n"
				 "To: Team: a@example.com,\n"
				 "\t\"b c\"@example.com (B); carol@example.org, undisclosed:;\n"
				 "Cc: <bob@example.com>, broken <unclosed@h.example.com\n"
				 "Subject: mail from john@host.dept.example.com\n"
				 "Reply-To:john@example.com (c1) (c2)\r\n"
				 "Resent-To: alice+tag@example.com\n"
				 "X-Long: %s\n"
				 "not a field line\n"
				 "\n"
				 "From: john@host.dept.example.com in the body\n"
				 "To: a@h1.example.com\n";

/* Runs the filter over in, in pieces of `step` bytes, as a caller would. */
static void run_filter(struct rewrite *r, const char *in, size_t len, size_t step, size_t max,
		       struct buf *out, unsigned *count_r)
{
	struct rewrite_header *h = rewrite_header_new(r, REWRITE_HEADER_CLASSES, max);
	for (size_t i = 0; i < len; i += step) {
		size_t n = len - i < step ? len - i : step;
		size_t used = rewrite_header_feed(h, in + i, n, out);
		assert_true(used <= n);
		if (used < n)
			assert_true(rewrite_header_done(h));
		buf_append(out, in + i + used, n - used);
	}
	rewrite_header_finish(h, out);
	*count_r = rewrite_header_count(h);
	rewrite_header_free(&h);
}

static void test_header(void **state)
{
	struct conf *c = make_conf("masquerade_domains = example.com\n"
				   "masquerade_exceptions = root\n");
	struct rewrite *r = rewrite_new(c);
	char longv[300];
	memset(longv, 'x', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	char *in = x_asprintf(header_in, longv), *expect = x_asprintf(header_out, longv);
	size_t steps[] = {1, 2, 7, 64, 100000};
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		struct buf out = BUF_INIT;
		unsigned count;
		run_filter(r, in, strlen(in), steps[k], 256, &out, &count);
		assert_string_equal(buf_cstr(&out), expect);
		assert_int_equal(count, 6);
		buf_free(&out);
	}
	/* a field longer than max_field passes as it is */
	static const char big[] = "To: a@h.example.com, b@h.example.com\n\nbody";
	struct buf out = BUF_INIT;
	unsigned count;
	run_filter(r, big, strlen(big), 5, 20, &out, &count);
	assert_string_equal(buf_cstr(&out), big);
	assert_int_equal(count, 0);
	buf_reset(&out);
	/* CRLF end of header; a message that ends inside its header; a lone CR line */
	static const char crlf[] = "To: a@h.example.com\r\n\r\nTo: a@h.example.com\r\n";
	run_filter(r, crlf, strlen(crlf), 1, 256, &out, &count);
	assert_string_equal(buf_cstr(&out), "To: a@example.com\r\n\r\nTo: a@h.example.com\r\n");
	buf_reset(&out);
	static const char open_end[] = "Subject: x\nTo: a@h.example.com";
	run_filter(r, open_end, strlen(open_end), 3, 256, &out, &count);
	assert_string_equal(buf_cstr(&out), "Subject: x\nTo: a@example.com");
	buf_reset(&out);
	static const char cr[] = "\rTo: a@h.example.com\nTo: a@h.example.com\n\r";
	run_filter(r, cr, strlen(cr), 1, 256, &out, &count);
	assert_string_equal(buf_cstr(&out), "\rTo: a@h.example.com\nTo: a@example.com\n\r");
	buf_free(&out);
	free(in);
	free(expect);
	rewrite_free(&r);
	conf_free(&c);
}

static void test_check(void **state)
{
	write_file("bad", "  continuation without entry\n"
			  "good@example.test Good@example.test\n"
			  "# comment\n"
			  "two@example.test a@x b@x\n"
			  "@ x@y\n"
			  "nothing\n"
			  "ok @new.test\n"
			  "v@example.test a@b@c\n");
	write_file("fine", "a@b c@d\n@x.test @y.test\nuser User.Name\n");
	struct conf *c = make_conf("canonical_maps = bad, fine\n"
				   "recipient_canonical_maps = missing\n"
				   "sender_canonical_maps = hash:fine, aliases:fine\n");
	struct buf errors = BUF_INIT;
	unsigned n = rewrite_check(c, &errors);
	const char *e = buf_cstr(&errors);
	char want[256];
	snprintf(want, sizeof(want), "%s/bad:4: expected exactly one address", tmpdir);
	assert_non_null(strstr(e, want));
	snprintf(want, sizeof(want), "%s/bad:5: the key is not", tmpdir);
	assert_non_null(strstr(e, want));
	snprintf(want, sizeof(want), "%s/bad:6: no value", tmpdir);
	assert_non_null(strstr(e, want));
	snprintf(want, sizeof(want), "%s/bad:1: continuation line", tmpdir);
	assert_non_null(strstr(e, want));
	snprintf(want, sizeof(want), "%s/bad:8: the value is not", tmpdir);
	assert_non_null(strstr(e, want));
	snprintf(want, sizeof(want), "%s/missing: No such file", tmpdir);
	assert_non_null(strstr(e, want));
	assert_null(strstr(e, "/fine"));
	assert_non_null(strstr(e, "sender_canonical_maps: hash:"));
	assert_non_null(strstr(e, "sender_canonical_maps: aliases:fine: an aliases table"));
	assert_int_equal(n, 8);
	buf_free(&errors);
	conf_free(&c);
}

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-rewrite-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_masquerade), cmocka_unit_test(test_canonical),
	    cmocka_unit_test(test_clients),    cmocka_unit_test(test_header),
	    cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
