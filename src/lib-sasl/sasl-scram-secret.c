/* sasl-scram-secret: SCRAM-SHA-256 keys (RFC 5802 section 3, RFC 7677) and their stored
 * text form, the one PostgreSQL uses:
 *   SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 * SaltedPassword = Hi(password, salt, i) (PBKDF2-HMAC-SHA-256), ClientKey = HMAC(SP,
 * "Client Key"), StoredKey = H(ClientKey), ServerKey = HMAC(SP, "Server Key").
 */
#include "sasl-base64.h"
#include "sasl-private.h"
#include "log.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define SCRAM_PREFIX "SCRAM-SHA-256$"
#define SCRAM_SALT_LEN 16

void sasl_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		      unsigned char out[SASL_SCRAM_KEY_LEN])
{
	unsigned int out_len = 0;
	if (HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len) == NULL ||
	    out_len != SASL_SCRAM_KEY_LEN)
		fatal("HMAC-SHA-256 failed");
}

void sasl_sha256(const void *data, size_t len, unsigned char out[SASL_SCRAM_KEY_LEN])
{
	SHA256(data, len, out);
}

void sasl_random(void *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		fatal("the random number generator failed");
}

static bool scram_iterations_ok(unsigned int iterations)
{
	return iterations >= SASL_SCRAM_ITERATIONS_MIN && iterations <= SASL_SCRAM_ITERATIONS_MAX;
}

int sasl_scram_secret_compute(const char *password, unsigned int iterations,
			      const unsigned char *salt, size_t salt_len,
			      struct sasl_scram_secret *secret_r)
{
	size_t plen = strlen(password);
	if (!scram_iterations_ok(iterations) || salt_len == 0 || salt_len > SASL_SCRAM_SALT_MAX ||
	    !sasl_prep_check((const unsigned char *)password, plen))
		return -1;
	unsigned char salted[SASL_SCRAM_KEY_LEN], client_key[SASL_SCRAM_KEY_LEN];
	if (PKCS5_PBKDF2_HMAC(password, (int)plen, salt, (int)salt_len, (int)iterations,
			      EVP_sha256(), SASL_SCRAM_KEY_LEN, salted) != 1)
		fatal("PBKDF2-HMAC-SHA-256 failed");
	memset(secret_r, 0, sizeof(*secret_r));
	secret_r->iterations = iterations;
	secret_r->salt_len = salt_len;
	memcpy(secret_r->salt, salt, salt_len);
	sasl_hmac_sha256(salted, sizeof(salted), "Client Key", 10, client_key);
	sasl_sha256(client_key, sizeof(client_key), secret_r->stored_key);
	sasl_hmac_sha256(salted, sizeof(salted), "Server Key", 10, secret_r->server_key);
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	return 0;
}

void sasl_scram_secret_format(const struct sasl_scram_secret *secret, struct buf *out_string)
{
	buf_printf(out_string, SCRAM_PREFIX "%u:", secret->iterations);
	sasl_base64_encode(secret->salt, secret->salt_len, out_string);
	buf_append_char(out_string, '$');
	sasl_base64_encode(secret->stored_key, SASL_SCRAM_KEY_LEN, out_string);
	buf_append_char(out_string, ':');
	sasl_base64_encode(secret->server_key, SASL_SCRAM_KEY_LEN, out_string);
}

int sasl_scram_secret_make_salt(const char *password, unsigned int iterations,
				const unsigned char *salt, size_t salt_len, struct buf *out_string)
{
	struct sasl_scram_secret secret;
	if (iterations == 0)
		iterations = SASL_SCRAM_ITERATIONS_DEFAULT;
	if (sasl_scram_secret_compute(password, iterations, salt, salt_len, &secret) < 0)
		return -1;
	sasl_scram_secret_format(&secret, out_string);
	explicit_bzero(&secret, sizeof(secret));
	return 0;
}

int sasl_scram_secret_make(const char *password, unsigned int iterations, struct buf *out_string)
{
	unsigned char salt[SCRAM_SALT_LEN];
	sasl_random(salt, sizeof(salt));
	return sasl_scram_secret_make_salt(password, iterations, salt, sizeof(salt), out_string);
}

/* Decodes base64 text[0..n) into exactly want bytes (or 1..max when want is 0). */
static int scram_b64_field(const char *text, size_t n, unsigned char *dst, size_t want, size_t max,
			   size_t *len_r)
{
	struct buf b;
	buf_init(&b, max);
	int ret = -1;
	if (sasl_base64_decode(text, n, &b) == 0 && b.len > 0 && (want == 0 || b.len == want)) {
		memcpy(dst, b.data, b.len);
		*len_r = b.len;
		ret = 0;
	}
	buf_free(&b);
	return ret;
}

int sasl_scram_secret_parse(const char *text, struct sasl_scram_secret *secret_r)
{
	memset(secret_r, 0, sizeof(*secret_r));
	if (strncmp(text, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) != 0)
		return -1;
	const char *p = text + strlen(SCRAM_PREFIX);
	unsigned long iter = 0;
	const char *q = p;
	while (*q >= '0' && *q <= '9' && q - p < 9)
		iter = iter * 10 + (unsigned long)(*q++ - '0');
	const char *salt_end = strchr(q, '$');
	const char *stored_end = salt_end == NULL ? NULL : strchr(salt_end + 1, ':');
	if (q == p || *p == '0' || *q != ':' || salt_end == NULL || stored_end == NULL ||
	    !scram_iterations_ok((unsigned int)iter))
		return -1;
	secret_r->iterations = (unsigned int)iter;
	size_t len;
	const char *server = stored_end + 1;
	if (scram_b64_field(q + 1, (size_t)(salt_end - q - 1), secret_r->salt, 0,
			    SASL_SCRAM_SALT_MAX, &secret_r->salt_len) < 0 ||
	    scram_b64_field(salt_end + 1, (size_t)(stored_end - salt_end - 1), secret_r->stored_key,
			    SASL_SCRAM_KEY_LEN, SASL_SCRAM_KEY_LEN, &len) < 0 ||
	    scram_b64_field(server, strlen(server), secret_r->server_key, SASL_SCRAM_KEY_LEN,
			    SASL_SCRAM_KEY_LEN, &len) < 0) {
		memset(secret_r, 0, sizeof(*secret_r));
		return -1;
	}
	return 0;
}
