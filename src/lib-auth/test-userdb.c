/* Unit tests for the user directory and password hashing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "auth.h"
#include "userdb.h"

static struct conf *test_conf(const char *dir)
{
	char *text;
	if (asprintf(&text, "hostname = h.example\ndomains = Example.ORG, other.test\n"
			    "data_dir = %s\n", dir) < 0)
		abort();
	struct buf err = BUF_INIT;
	struct conf *c = conf_parse("/tmp/t.conf", text, strlen(text), &err);
	free(text);
	assert_non_null(c);
	buf_free(&err);
	return c;
}

static void test_put_lookup_delete(void **state)
{
	char dir[] = "/tmp/tern-userdb-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct conf *c = test_conf(dir);
	struct userdb *db = userdb_open(c);
	struct buf err = BUF_INIT;
	struct user_info info;

	assert_int_equal(userdb_lookup(db, "alice@example.org", &info, &err), 0);
	assert_int_equal(userdb_put(db, "Alice@Example.org", "$6$x$y", "SCRAM-SHA-256$4096:c2FsdA==$a:b", 100, 0, &err), 0);
	assert_int_equal(userdb_put(db, "bob@example.org", "$6$x$z", NULL, 0, 0, &err), 0);
	assert_int_equal(userdb_lookup(db, "ALICE+lists@EXAMPLE.ORG", &info, &err), 1);
	assert_string_equal(info.address, "alice@example.org");
	assert_int_equal(info.quota_bytes, 100);
	assert_string_equal(info.scram, "SCRAM-SHA-256$4096:c2FsdA==$a:b");
	char want[256];
	snprintf(want, sizeof(want), "%s/mail/example.org/alice", dir);
	assert_string_equal(info.maildir, want);
	user_info_free(&info);
	assert_true(userdb_is_local_domain(db, "EXAMPLE.org"));
	assert_false(userdb_is_local_domain(db, "example.com"));

	/* A second handle sees the change made through the first. */
	struct userdb *db2 = userdb_open(c);
	assert_int_equal(userdb_delete(db, "alice@example.org", &err), 0);
	assert_int_equal(userdb_lookup(db2, "alice@example.org", &info, &err), 0);
	assert_int_equal(userdb_lookup(db2, "bob@example.org", &info, &err), 1);
	assert_null(info.scram);
	user_info_free(&info);
	assert_int_equal(userdb_delete(db, "nobody@example.org", &err), -1);
	assert_int_equal(userdb_put(db, "bad:addr@example.org", "$6$", NULL, 0, 0, &err), -1);
	assert_int_equal(userdb_put(db, "noat", "$6$", NULL, 0, 0, &err), -1);

	userdb_close(&db);
	userdb_close(&db2);
	conf_free(&c);
	buf_free(&err);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_password(void **state)
{
	char *h = password_hash("correct horse");
	assert_non_null(h);
	assert_true(h[0] == '$');
	assert_true(password_check("correct horse", h));
	assert_false(password_check("correct horsf", h));
	assert_false(password_check("", h));
	assert_false(password_check("x", "*"));
	assert_false(password_check("x", ""));
	free(h);
}

/* The cache of successful checks: only successes, only for the same hash, only while on. */
static void test_password_cache(void **state)
{
	(void)state;
	char *h = password_hash("correct horse");
	char *h2 = password_hash("correct horse"); /* the same password, another salt */
	assert_non_null(h);
	assert_non_null(h2);
	password_cache_configure(3600, 16);
	assert_false(password_cache_hit("correct horse", h));
	assert_false(password_check("correct horsf", h));
	assert_false(password_cache_hit("correct horsf", h)); /* failures are not kept */
	assert_true(password_check("correct horse", h));
	assert_true(password_cache_hit("correct horse", h));
	assert_false(password_cache_hit("correct horsf", h));
	assert_false(password_cache_hit("correct horse", h2)); /* a changed password: no */
	assert_false(password_check("correct horsf", h));     /* still checked by crypt */
	password_cache_configure(0, 16); /* off: forgotten */
	assert_false(password_cache_hit("correct horse", h));
	assert_true(password_check("correct horse", h));
	assert_false(password_cache_hit("correct horse", h));
	password_cache_configure(1, 16); /* expiry */
	assert_true(password_check("correct horse", h));
	assert_true(password_cache_hit("correct horse", h));
	struct timespec ts = {.tv_sec = 2};
	nanosleep(&ts, NULL);
	assert_false(password_cache_hit("correct horse", h));
	password_cache_configure(0, 0);
	free(h);
	free(h2);
}

static void test_auth_policy(void **state)
{
	char dir[] = "/tmp/tern-auth-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct conf *c = test_conf(dir);
	struct auth *a = auth_new(c);
	struct buf err = BUF_INIT, scram = BUF_INIT, out = BUF_INIT;
	char *hash = password_hash("s3cret");
	assert_int_equal(sasl_scram_secrets_make("s3cret", 4096, &scram), 0);
	assert_int_equal(userdb_put(auth_userdb(a), "carol@example.org", hash, buf_cstr(&scram),
				    0, 0, &err), 0);
	/* Clear text: TLS, or loopback when auth_plaintext_loopback (default yes). */
	assert_true(auth_plaintext_ok(a, true, false));
	assert_true(auth_plaintext_ok(a, false, true));
	assert_false(auth_plaintext_ok(a, false, false));
	assert_string_equal(auth_mech_list(a, false, false), "SCRAM-SHA-256 SCRAM-SHA-1");
	/* PLAIN through the directory. */
	static const char good[] = "\0carol@example.org\0s3cret";
	static const char bad[] = "\0carol@example.org\0guess";
	struct sasl_server *s = auth_sasl_start(a, "PLAIN", false);
	assert_int_equal(sasl_server_step(s, (const unsigned char *)good, sizeof(good) - 1, &out),
			 SASL_SUCCESS);
	assert_string_equal(sasl_server_user(s), "carol@example.org");
	sasl_server_free(&s);
	s = auth_sasl_start(a, "plain", false);
	assert_int_equal(sasl_server_step(s, (const unsigned char *)bad, sizeof(bad) - 1, &out),
			 SASL_FAIL);
	sasl_server_free(&s);
	assert_null(auth_sasl_start(a, "CRAM-MD5", false));
	/* USER/PASS-style checks. */
	char *addr = NULL;
	assert_int_equal(auth_password(a, "Carol@Example.org", "s3cret", &addr), SASL_LOOKUP_OK);
	assert_string_equal(addr, "carol@example.org");
	free(addr);
	assert_int_equal(auth_password(a, "carol@example.org", "x", NULL), SASL_LOOKUP_BAD);
	assert_int_equal(auth_password(a, "nobody@example.org", "x", NULL), SASL_LOOKUP_UNKNOWN);
	/* Ten failures from one address lock it out. */
	bool locked = false;
	assert_int_equal(auth_locked_ms(a, "192.0.2.1", NULL), 0);
	for (int i = 0; i < 10; i++)
		assert_true(auth_record(a, "test", "PLAIN", "192.0.2.1", "x@example.org", false,
					"bad-credentials", &locked) > 0);
	assert_true(locked);
	assert_true(auth_locked_ms(a, "192.0.2.1", NULL) > 0);
	assert_int_equal(auth_locked_ms(a, "192.0.2.2", NULL), 0);
	free(hash);
	buf_free(&err);
	buf_free(&scram);
	buf_free(&out);
	auth_free(&a);
	conf_free(&c);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_lookup_delete),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_password_cache),
		cmocka_unit_test(test_auth_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
