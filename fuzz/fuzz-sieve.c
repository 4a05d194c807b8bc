/* fuzz-sieve: libFuzzer target for src/lib-sieve: compiles the input as a Sieve script;
 * a script that compiles is serialised, read back (which must succeed and re-serialise to
 * the same bytes) and run against a small fixed message. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sieve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char msg[] = "From: a@example.org\r\nTo: b@example.com\r\n"
				  "Subject: fuzz\r\n\r\nbody text\r\n";
	struct sieve_error err;
	struct sieve_script *s = sieve_compile((const char *)data, size, &err);
	if (s == NULL)
		return 0;
	struct buf a = BUF_INIT, b = BUF_INIT;
	sieve_script_serialize(s, &a);
	struct sieve_script *s2 = sieve_script_deserialize(a.data, a.len, &err);
	assert(s2 != NULL);
	sieve_script_serialize(s2, &b);
	assert(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	struct sieve_message m;
	sieve_message_from_memory(&m, msg, sizeof(msg) - 1);
	struct sieve_envelope env = {.from = "a@example.org", .to = "b@example.com",
				     .orig_to = "b@example.com", .user = "b@example.com"};
	struct sieve_ops ops = {.now = 1700000000};
	struct sieve_result r;
	sieve_execute(s, &m, &env, &ops, &r);
	sieve_result_free(&r);
	sieve_script_free(&s);
	sieve_script_free(&s2);
	buf_free(&a);
	buf_free(&b);
	return 0;
}
