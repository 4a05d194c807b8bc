/* Unit tests for lib-sasl: PLAIN, LOGIN, SCRAM-SHA-256 (the RFC 7677 section 3 vector),
 * SCRAM-SHA-1 (the RFC 5802 section 5 vector),
 * SCRAM secrets, strict base64 and our SASLprep subset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sasl.h"
#include "sasl-base64.h"

#define RFC7677_SECRET                                                                             \
	"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=" \
	":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define RFC7677_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC7677_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC7677_SFIRST                                                                             \
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC7677_FINAL                                                                              \
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"                             \
	"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC7677_SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* RFC 5802 section 5: user/pencil, salt QSXCR+Q6sek8bf92, 4096 iterations. The stored
 * secret is derived from those (PBKDF2-HMAC-SHA-1); the messages are the RFC's. */
#define RFC5802_SECRET                                                                             \
	"SCRAM-SHA-1$4096:QSXCR+Q6sek8bf92$6dlGYMOdZcOPutkcNY8U2g7vK9Y=:D+CSWLOshSulAsxiupA+qs2/"  \
	"fTE="
#define RFC5802_SNONCE "3rfcNHYJY1ZVvWVs7j"
#define RFC5802_FIRST "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
#define RFC5802_SFIRST "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
#define RFC5802_FINAL                                                                              \
	"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
#define RFC5802_SFINAL "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="

/* A directory of two users: user/pencil (with the RFC 7677 secret), and "down" (tempfail). */
static enum sasl_lookup fake_password(void *ctx, const char *user, const char *password)
{
	int *calls = ctx;
	(*calls)++;
	if (strcmp(user, "down") == 0)
		return SASL_LOOKUP_TEMPFAIL;
	if (strcmp(user, "user") != 0)
		return SASL_LOOKUP_UNKNOWN;
	return strcmp(password, "pencil") == 0 ? SASL_LOOKUP_OK : SASL_LOOKUP_BAD;
}

static enum sasl_lookup fake_scram(void *ctx, const char *user, enum sasl_scram_hash hash,
				   struct sasl_scram_secret *r)
{
	if (strcmp(user, "down") == 0)
		return SASL_LOOKUP_TEMPFAIL;
	if (strcmp(user, "user") != 0)
		return SASL_LOOKUP_UNKNOWN;
	return sasl_scram_secret_find(RFC7677_SECRET " " RFC5802_SECRET, hash, r) == 0
		   ? SASL_LOOKUP_OK
		   : SASL_LOOKUP_TEMPFAIL;
}

static int lookup_calls;
static const struct sasl_callbacks fake_cb = {fake_password, fake_scram, &lookup_calls};

static struct sasl_server *new_server(const char *mech, bool proxy, bool success_data)
{
	struct sasl_server_settings set = {&fake_cb, proxy, success_data, RFC7677_SNONCE};
	struct sasl_server *s = sasl_server_new(mech, &set);
	assert_non_null(s);
	return s;
}

/* One PLAIN exchange with an initial response; returns the result and the reason. */
static enum sasl_result plain_run(const char *msg, size_t len, bool proxy,
				  enum sasl_fail_reason *reason_r)
{
	struct sasl_server *s = new_server("plain", proxy, false);
	struct buf out = BUF_INIT;
	enum sasl_result r = sasl_server_step(s, (const unsigned char *)msg, len, &out);
	*reason_r = sasl_server_reason(s);
	if (r == SASL_SUCCESS)
		assert_string_equal(sasl_server_user(s), "user");
	sasl_server_free(&s);
	assert_null(s);
	buf_free(&out);
	return r;
}

static void test_plain(void **state)
{
	enum sasl_fail_reason why;
	assert_int_equal(plain_run("\0user\0pencil", 12, false, &why), SASL_SUCCESS);
	assert_int_equal(plain_run("user\0user\0pencil", 16, false, &why), SASL_SUCCESS);
	assert_int_equal(plain_run("\0user\0pencel", 12, false, &why), SASL_FAIL);
	assert_int_equal(why, SASL_REASON_BAD_CREDENTIALS);
	assert_int_equal(plain_run("\0bob\0pencil", 11, false, &why), SASL_FAIL);
	assert_int_equal(why, SASL_REASON_UNKNOWN_USER);
	assert_int_equal(plain_run("\0down\0x", 7, false, &why), SASL_FAIL);
	assert_int_equal(why, SASL_REASON_TEMPFAIL);
	/* malformed: missing NULs, extra NUL, empty fields, controls */
	const struct {
		const char *m;
		size_t n;
	} bad[] = {{"userpencil", 10},
		   {"\0userpencil", 11},
		   {"\0user\0pen\0cil", 13},
		   {"\0\0pencil", 8},
		   {"\0user\0", 6},
		   {"\0us\ter\0pencil", 13},
		   {"", 0},
		   {"\0user\0pen\xff", 10}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lookup_calls = 0;
		assert_int_equal(plain_run(bad[i].m, bad[i].n, false, &why), SASL_FAIL);
		assert_int_equal(why, SASL_REASON_MALFORMED);
		assert_int_equal(lookup_calls, 0);
	}
	/* authzid: refused unless proxying is allowed, and then it is the identity */
	assert_int_equal(plain_run("admin\0user\0pencil", 17, false, &why), SASL_FAIL);
	assert_int_equal(why, SASL_REASON_AUTHZ_DENIED);
	struct sasl_server *s = new_server("PLAIN", true, false);
	struct buf out = BUF_INIT;
	assert_int_equal(sasl_server_step(s, NULL, 0, &out), SASL_CONTINUE);
	assert_int_equal(out.len, 0);
	assert_int_equal(
	    sasl_server_step(s, (const unsigned char *)"admin\0user\0pencil", 17, &out),
	    SASL_SUCCESS);
	assert_string_equal(sasl_server_user(s), "user");
	assert_string_equal(sasl_server_authzid(s), "admin");
	sasl_server_free(&s);
	buf_free(&out);
}

static void test_login(void **state)
{
	struct sasl_server *s = new_server("LOGIN", false, false);
	struct buf out = BUF_INIT;
	assert_int_equal(sasl_server_step(s, NULL, 0, &out), SASL_CONTINUE);
	assert_string_equal(buf_cstr(&out), "Username:");
	assert_int_equal(sasl_server_step(s, (const unsigned char *)"user", 4, &out),
			 SASL_CONTINUE);
	assert_string_equal(buf_cstr(&out), "Password:");
	assert_int_equal(sasl_server_step(s, (const unsigned char *)"pencil", 6, &out),
			 SASL_SUCCESS);
	assert_string_equal(sasl_server_authzid(s), "user");
	sasl_server_free(&s);
	/* the initial response is the user name; a wrong password fails */
	s = new_server("login", false, false);
	assert_int_equal(sasl_server_step(s, (const unsigned char *)"user", 4, &out),
			 SASL_CONTINUE);
	assert_string_equal(buf_cstr(&out), "Password:");
	assert_int_equal(sasl_server_step(s, (const unsigned char *)"x", 1, &out), SASL_FAIL);
	assert_int_equal(sasl_server_reason(s), SASL_REASON_BAD_CREDENTIALS);
	assert_string_equal(sasl_server_user(s), "user");
	assert_null(sasl_server_authzid(s));
	sasl_server_free(&s);
	/* an empty user name is malformed; abort is recorded */
	s = new_server("LOGIN", false, false);
	assert_int_equal(sasl_server_step(s, NULL, 0, &out), SASL_CONTINUE);
	assert_int_equal(sasl_server_step(s, (const unsigned char *)"", 0, &out), SASL_FAIL);
	assert_int_equal(sasl_server_reason(s), SASL_REASON_MALFORMED);
	sasl_server_free(&s);
	s = new_server("LOGIN", false, false);
	assert_int_equal(sasl_server_step(s, NULL, 0, &out), SASL_CONTINUE);
	sasl_server_abort(s);
	assert_int_equal(sasl_server_reason(s), SASL_REASON_ABORTED);
	assert_string_equal(sasl_reason_str(sasl_server_reason(s)), "aborted");
	sasl_server_free(&s);
	buf_free(&out);
	assert_null(sasl_server_new("CRAM-MD5", &(struct sasl_server_settings){.cb = &fake_cb}));
	assert_true(sasl_mech_is_plaintext("login"));
	assert_false(sasl_mech_is_plaintext("SCRAM-SHA-256"));
	assert_string_equal(sasl_mech_list(false), "SCRAM-SHA-256 SCRAM-SHA-1");
}

static enum sasl_result step_str(struct sasl_server *s, const char *msg, struct buf *out)
{
	return sasl_server_step(s, (const unsigned char *)msg, strlen(msg), out);
}

static void test_scram_rfc7677(void **state)
{
	struct buf out = BUF_INIT;
	/* SMTP style: no data with success, so server-final is a challenge */
	struct sasl_server *s = new_server("SCRAM-SHA-256", false, false);
	assert_int_equal(sasl_server_step(s, NULL, 0, &out), SASL_CONTINUE);
	assert_int_equal(out.len, 0);
	assert_int_equal(step_str(s, RFC7677_FIRST, &out), SASL_CONTINUE);
	assert_string_equal(buf_cstr(&out), RFC7677_SFIRST);
	assert_int_equal(step_str(s, RFC7677_FINAL, &out), SASL_CONTINUE);
	assert_string_equal(buf_cstr(&out), RFC7677_SFINAL);
	assert_null(sasl_server_authzid(s));
	assert_int_equal(step_str(s, "", &out), SASL_SUCCESS);
	assert_string_equal(sasl_server_authzid(s), "user");
	sasl_server_free(&s);
	/* IMAP4rev2 style: data with success */
	s = new_server("scram-sha-256", false, true);
	assert_int_equal(step_str(s, RFC7677_FIRST, &out), SASL_CONTINUE);
	assert_int_equal(step_str(s, RFC7677_FINAL, &out), SASL_SUCCESS);
	assert_string_equal(buf_cstr(&out), RFC7677_SFINAL);
	assert_string_equal(sasl_server_user(s), "user");
	sasl_server_free(&s);
	/* "y": the client could bind but thinks we cannot; c= must then be "y,," */
	s = new_server("SCRAM-SHA-256", false, true);
	assert_int_equal(step_str(s, "y,,n=user,r=abc", &out), SASL_CONTINUE);
	assert_int_equal(step_str(s,
				  "c=biws,r=abc" RFC7677_SNONCE
				  ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
				  &out),
			 SASL_FAIL);
	assert_int_equal(sasl_server_reason(s), SASL_REASON_MALFORMED);
	sasl_server_free(&s);
	buf_free(&out);
}

static void test_scram_sha1_rfc5802(void **state)
{
	struct buf out = BUF_INIT;
	struct sasl_server_settings set = {&fake_cb, false, false, RFC5802_SNONCE};
	struct sasl_server *s = sasl_server_new("SCRAM-SHA-1", &set);
	assert_non_null(s);
	assert_int_equal(step_str(s, RFC5802_FIRST, &out), SASL_CONTINUE);
	assert_string_equal(buf_cstr(&out), RFC5802_SFIRST);
	assert_int_equal(step_str(s, RFC5802_FINAL, &out), SASL_CONTINUE);
	assert_string_equal(buf_cstr(&out), RFC5802_SFINAL);
	assert_int_equal(step_str(s, "", &out), SASL_SUCCESS);
	assert_string_equal(sasl_server_authzid(s), "user");
	sasl_server_free(&s);
	/* the SHA-256 proof of the RFC 7677 exchange is the wrong length for SHA-1 */
	set.scram_nonce = RFC7677_SNONCE;
	s = sasl_server_new("scram-sha-1", &set);
	assert_int_equal(step_str(s, RFC7677_FIRST, &out), SASL_CONTINUE);
	assert_int_equal(step_str(s, RFC7677_FINAL, &out), SASL_FAIL);
	assert_int_equal(sasl_server_reason(s), SASL_REASON_MALFORMED);
	sasl_server_free(&s);
	/* a wrong SHA-1 proof of the right length */
	set.scram_nonce = RFC5802_SNONCE;
	s = sasl_server_new("SCRAM-SHA-1", &set);
	assert_int_equal(step_str(s, RFC5802_FIRST, &out), SASL_CONTINUE);
	assert_int_equal(step_str(s,
				  "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
				  "p=w0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
				  &out),
			 SASL_FAIL);
	assert_int_equal(sasl_server_reason(s), SASL_REASON_BAD_CREDENTIALS);
	sasl_server_free(&s);
	/* an unknown user gets a SHA-1 stand-in and fails only at the proof */
	s = sasl_server_new("SCRAM-SHA-1", &set);
	assert_int_equal(step_str(s, "n,,n=nobody,r=abc", &out), SASL_CONTINUE);
	assert_non_null(strstr(buf_cstr(&out), ",i=10000"));
	assert_int_equal(
	    step_str(s, "c=biws,r=abc" RFC5802_SNONCE ",p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", &out),
	    SASL_FAIL);
	assert_int_equal(sasl_server_reason(s), SASL_REASON_UNKNOWN_USER);
	sasl_server_free(&s);
	buf_free(&out);
}

/* Runs client-first then final against a fresh server; returns the final result. */
static enum sasl_result scram_final(const char *first, const char *final,
				    enum sasl_fail_reason *why)
{
	struct buf out = BUF_INIT;
	struct sasl_server *s = new_server("SCRAM-SHA-256", false, true);
	enum sasl_result r = step_str(s, first, &out);
	if (r == SASL_CONTINUE)
		r = step_str(s, final, &out);
	*why = sasl_server_reason(s);
	sasl_server_free(&s);
	buf_free(&out);
	return r;
}

static void test_scram_bad(void **state)
{
	enum sasl_fail_reason why;
	/* tampered proof: one character changed */
	assert_int_equal(scram_final(RFC7677_FIRST,
				     "c=biws,r=rOprNGfwEbeRWgbNEkqO" RFC7677_SNONCE
				     ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVR=",
				     &why),
			 SASL_FAIL);
	assert_int_equal(why, SASL_REASON_MALFORMED); /* non-canonical base64 */
	assert_int_equal(scram_final(RFC7677_FIRST,
				     "c=biws,r=rOprNGfwEbeRWgbNEkqO" RFC7677_SNONCE
				     ",p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
				     &why),
			 SASL_FAIL);
	assert_int_equal(why, SASL_REASON_BAD_CREDENTIALS);
	/* wrong nonce, wrong channel binding, proof not last, no proof */
	const char *finals[] = {
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    "c=eSws,r=rOprNGfwEbeRWgbNEkqO" RFC7677_SNONCE
	    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO" RFC7677_SNONCE
	    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1",
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO" RFC7677_SNONCE,
	};
	for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
		assert_int_equal(scram_final(RFC7677_FIRST, finals[i], &why), SASL_FAIL);
		assert_int_equal(why, SASL_REASON_MALFORMED);
	}
	/* bad client-first: channel binding asked, mandatory extension, bad saslname */
	const char *firsts[] = {"p=tls-unique,,n=user,r=abc",
				"n,,m=x,n=user,r=abc",
				"n,,n=us=2Xer,r=abc",
				"n,,n=,r=abc",
				"n,,n=user",
				"n,,n=user,r=",
				"n,n=user,r=abc",
				"x,,n=user,r=abc",
				"n,,n=user,r=a b",
				"n,a=,n=user,r=abc"};
	for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++) {
		assert_int_equal(scram_final(firsts[i], RFC7677_FINAL, &why), SASL_FAIL);
		assert_int_equal(why, SASL_REASON_MALFORMED);
	}
	/* unknown user: the exchange goes on with a stand-in salt, then fails */
	struct buf out = BUF_INIT;
	struct sasl_server *s = new_server("SCRAM-SHA-256", false, true);
	assert_int_equal(step_str(s, "n,,n=nobody,r=abc", &out), SASL_CONTINUE);
	assert_true(strstr(buf_cstr(&out), ",i=10000") != NULL);
	assert_int_equal(step_str(s,
				  "c=biws,r=abc" RFC7677_SNONCE
				  ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
				  &out),
			 SASL_FAIL);
	assert_int_equal(sasl_server_reason(s), SASL_REASON_UNKNOWN_USER);
	sasl_server_free(&s);
	/* authzid other than the user: denied without proxying */
	assert_int_equal(scram_final("n,a=admin,n=user,r=rOprNGfwEbeRWgbNEkqO",
				     "c=bixhPWFkbWluLA==,r=rOprNGfwEbeRWgbNEkqO" RFC7677_SNONCE
				     ",p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
				     &why),
			 SASL_FAIL);
	assert_int_equal(why, SASL_REASON_BAD_CREDENTIALS);
	/* the ack after server-final must be empty */
	s = new_server("SCRAM-SHA-256", false, false);
	assert_int_equal(step_str(s, RFC7677_FIRST, &out), SASL_CONTINUE);
	assert_int_equal(step_str(s, RFC7677_FINAL, &out), SASL_CONTINUE);
	assert_int_equal(step_str(s, "x", &out), SASL_FAIL);
	sasl_server_free(&s);
	s = new_server("SCRAM-SHA-256", false, false);
	assert_int_equal(step_str(s, "n,,n=down,r=abc", &out), SASL_FAIL);
	assert_int_equal(sasl_server_reason(s), SASL_REASON_TEMPFAIL);
	sasl_server_free(&s);
	buf_free(&out);
}

static void test_scram_secret(void **state)
{
	struct sasl_scram_secret sec, sec2;
	struct buf b = BUF_INIT;
	static const unsigned char salt[] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
					     0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};
	assert_int_equal(
	    sasl_scram_secret_make_salt("pencil", 4096, SASL_SCRAM_SHA256, salt, sizeof(salt), &b),
	    0);
	assert_string_equal(buf_cstr(&b), RFC7677_SECRET);
	assert_int_equal(sasl_scram_secret_parse(buf_cstr(&b), &sec), 0);
	assert_int_equal(sec.iterations, 4096);
	assert_int_equal(sec.salt_len, 16);
	assert_memory_equal(sec.salt, salt, 16);
	buf_reset(&b);
	sasl_scram_secret_format(&sec, &b);
	assert_string_equal(buf_cstr(&b), RFC7677_SECRET);
	/* random salt, default iterations: round trip */
	buf_reset(&b);
	assert_int_equal(sasl_scram_secret_make("s3cret", 0, SASL_SCRAM_SHA256, &b), 0);
	assert_true(strncmp(buf_cstr(&b), "SCRAM-SHA-256$10000:", 20) == 0);
	assert_int_equal(sasl_scram_secret_parse(buf_cstr(&b), &sec), 0);
	assert_int_equal(sasl_scram_secret_compute("s3cret", sec.iterations, SASL_SCRAM_SHA256,
						   sec.salt, sec.salt_len, &sec2),
			 0);
	assert_memory_equal(sec.stored_key, sec2.stored_key, 32);
	assert_memory_equal(sec.server_key, sec2.server_key, 32);
	buf_reset(&b);
	assert_int_equal(sasl_scram_secret_make("s3cret", 4095, SASL_SCRAM_SHA256, &b), -1);
	assert_int_equal(sasl_scram_secret_make("bad\npass", 4096, SASL_SCRAM_SHA256, &b), -1);
	/* SHA-1: the RFC 5802 parameters give the secret derived in the header */
	static const unsigned char salt1[] = {0x41, 0x25, 0xc2, 0x47, 0xe4, 0x3a,
					      0xb1, 0xe9, 0x3c, 0x6d, 0xff, 0x76};
	assert_int_equal(
	    sasl_scram_secret_make_salt("pencil", 4096, SASL_SCRAM_SHA1, salt1, sizeof(salt1), &b),
	    0);
	assert_string_equal(buf_cstr(&b), RFC5802_SECRET);
	assert_int_equal(sasl_scram_secret_parse(buf_cstr(&b), &sec), 0);
	assert_int_equal(sec.hash, SASL_SCRAM_SHA1);
	/* a user's list: one of each, found by hash; a list without SHA-1 finds none */
	buf_reset(&b);
	assert_int_equal(sasl_scram_secrets_make("s3cret", 4096, &b), 0);
	assert_true(strncmp(buf_cstr(&b), "SCRAM-SHA-256$4096:", 19) == 0);
	assert_non_null(strstr(buf_cstr(&b), " SCRAM-SHA-1$4096:"));
	assert_int_equal(sasl_scram_secret_find(buf_cstr(&b), SASL_SCRAM_SHA1, &sec), 0);
	assert_int_equal(sasl_scram_secret_compute("s3cret", 4096, SASL_SCRAM_SHA1, sec.salt,
						   sec.salt_len, &sec2),
			 0);
	assert_memory_equal(sec.stored_key, sec2.stored_key, 20);
	assert_int_equal(sasl_scram_secret_find(buf_cstr(&b), SASL_SCRAM_SHA256, &sec), 0);
	assert_int_equal(sec.hash, SASL_SCRAM_SHA256);
	assert_int_equal(sasl_scram_secret_find(RFC7677_SECRET, SASL_SCRAM_SHA1, &sec), -1);
	assert_int_equal(sasl_scram_secret_find("", SASL_SCRAM_SHA256, &sec), -1);
	assert_int_equal(
	    sasl_scram_secret_find("SCRAM-SHA-1$ " RFC7677_SECRET, SASL_SCRAM_SHA1, &sec), -1);
	buf_reset(&b);
	const char *bad[] = {
	    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
	    "SCRAM-SHA-256$4095:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "SCRAM-SHA-256$04096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "SCRAM-SHA-256$4096:$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4q==:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU= ",
	    /* SHA-1 with SHA-256-long keys */
	    "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	    ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "SCRAM-SHA-512$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	    ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sasl_scram_secret_parse(bad[i], &sec), -1);
	sasl_buf_wipe(&b);
}

/* Decodes s strictly; returns 0/-1 and compares with want when given. */
static int b64(const char *s, const char *want, size_t want_len)
{
	struct buf b = BUF_INIT;
	int r = sasl_base64_decode(s, strlen(s), &b);
	if (r == 0 && want != NULL) {
		assert_int_equal(b.len, want_len);
		assert_memory_equal(b.data, want, want_len);
	}
	buf_free(&b);
	return r;
}

static void test_base64(void **state)
{
	struct buf b = BUF_INIT;
	sasl_base64_encode("", 0, &b);
	sasl_base64_encode("f", 1, &b);
	buf_append_char(&b, ' ');
	sasl_base64_encode("fo", 2, &b);
	buf_append_char(&b, ' ');
	sasl_base64_encode("foobar", 6, &b);
	buf_append_char(&b, ' ');
	sasl_base64_encode("\0user\0pencil", 12, &b);
	assert_string_equal(buf_cstr(&b), "Zg== Zm8= Zm9vYmFy AHVzZXIAcGVuY2ls");
	assert_int_equal(b64("", "", 0), 0);
	assert_int_equal(b64("Zg==", "f", 1), 0);
	assert_int_equal(b64("Zm8=", "fo", 2), 0);
	assert_int_equal(b64("AHVzZXIAcGVuY2ls", "\0user\0pencil", 12), 0);
	const char *bad[] = {"Zg=",  "Zg",   "Z===",  "=AAA", "AAA=BBBB", "AB=C", "Zh==",
			     "Zm9=", "Zm8 ", "Zm8\n", "Zm-_", "Zg==Zg==", "****"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(b64(bad[i], NULL, 0), -1);
	/* client lines */
	assert_int_equal(sasl_decode_client("=", 1, true, &b), SASL_DECODE_OK);
	assert_int_equal(b.len, 0);
	assert_int_equal(sasl_decode_client("", 0, true, &b), SASL_DECODE_BAD);
	assert_int_equal(sasl_decode_client("*", 1, true, &b), SASL_DECODE_BAD);
	assert_int_equal(sasl_decode_client("*", 1, false, &b), SASL_DECODE_ABORT);
	assert_int_equal(sasl_decode_client("", 0, false, &b), SASL_DECODE_OK);
	assert_int_equal(b.len, 0);
	assert_int_equal(sasl_decode_client("=", 1, false, &b), SASL_DECODE_BAD);
	assert_int_equal(sasl_decode_client("dXNlcg==", 8, false, &b), SASL_DECODE_OK);
	assert_string_equal(buf_cstr(&b), "user");
	/* a limit bounds what decoding may produce */
	struct buf small;
	buf_init(&small, 3);
	assert_int_equal(sasl_base64_decode("Zm9vYmFy", 8, &small), -1);
	buf_free(&small);
	buf_free(&b);
}

static void test_prep(void **state)
{
	assert_true(sasl_prep_check((const unsigned char *)"user name!~", 11));
	assert_true(sasl_prep_check((const unsigned char *)"J\xc3\xb6rg", 5));
	assert_true(sasl_prep_check((const unsigned char *)"\xf0\x9f\x98\x80", 4));
	assert_false(sasl_prep_check((const unsigned char *)"a\tb", 3));
	assert_false(sasl_prep_check((const unsigned char *)"a\x7f", 2));
	assert_false(sasl_prep_check((const unsigned char *)"a\xc2\x85", 3));	 /* U+0085 */
	assert_false(sasl_prep_check((const unsigned char *)"\xc0\xaf", 2));	 /* overlong */
	assert_false(sasl_prep_check((const unsigned char *)"\xed\xa0\x80", 3)); /* surrogate */
	assert_false(sasl_prep_check((const unsigned char *)"\xc3", 1));	 /* truncated */
	assert_false(sasl_prep_check((const unsigned char *)"\xff", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain),	  cmocka_unit_test(test_login),
	    cmocka_unit_test(test_scram_rfc7677), cmocka_unit_test(test_scram_sha1_rfc5802),
	    cmocka_unit_test(test_scram_bad),	  cmocka_unit_test(test_scram_secret),
	    cmocka_unit_test(test_base64),	  cmocka_unit_test(test_prep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
