/* sasl-scram-secret: SCRAM keys (RFC 5802 section 3; SHA-1 there, SHA-256 in RFC 7677)
 * and their stored text form, the one PostgreSQL uses, prefixed by the mechanism's name:
 *   SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 * SaltedPassword = Hi(password, salt, i) (PBKDF2-HMAC-H), ClientKey = HMAC(SP,
 * "Client Key"), StoredKey = H(ClientKey), ServerKey = HMAC(SP, "Server Key").
 */
#include "sasl-base64.h"
#include "sasl-private.h"
#include "log.h"
#include "xalloc.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define SCRAM_SALT_LEN 16

static const EVP_MD *scram_md(enum sasl_scram_hash hash)
{
	return hash == SASL_SCRAM_SHA1 ? EVP_sha1() : EVP_sha256();
}

size_t sasl_scram_key_len(enum sasl_scram_hash hash)
{
	return hash == SASL_SCRAM_SHA1 ? 20 : 32;
}

const char *sasl_scram_hash_name(enum sasl_scram_hash hash)
{
	return hash == SASL_SCRAM_SHA1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256";
}

void sasl_hmac(enum sasl_scram_hash hash, const void *key, size_t key_len, const void *data,
	       size_t len, unsigned char out[SASL_SCRAM_KEY_MAX])
{
	unsigned int out_len = 0;
	if (HMAC(scram_md(hash), key, (int)key_len, data, len, out, &out_len) == NULL ||
	    out_len != sasl_scram_key_len(hash))
		fatal("HMAC failed");
}

void sasl_digest(enum sasl_scram_hash hash, const void *data, size_t len,
		 unsigned char out[SASL_SCRAM_KEY_MAX])
{
	unsigned int out_len = 0;
	if (EVP_Digest(data, len, out, &out_len, scram_md(hash), NULL) != 1 ||
	    out_len != sasl_scram_key_len(hash))
		fatal("digest failed");
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
			      enum sasl_scram_hash hash, const unsigned char *salt, size_t salt_len,
			      struct sasl_scram_secret *secret_r)
{
	size_t plen = strlen(password), klen = sasl_scram_key_len(hash);
	if (!scram_iterations_ok(iterations) || salt_len == 0 || salt_len > SASL_SCRAM_SALT_MAX ||
	    !sasl_prep_check((const unsigned char *)password, plen))
		return -1;
	unsigned char salted[SASL_SCRAM_KEY_MAX], client_key[SASL_SCRAM_KEY_MAX];
	if (PKCS5_PBKDF2_HMAC(password, (int)plen, salt, (int)salt_len, (int)iterations,
			      scram_md(hash), (int)klen, salted) != 1)
		fatal("PBKDF2 failed");
	memset(secret_r, 0, sizeof(*secret_r));
	secret_r->hash = hash;
	secret_r->iterations = iterations;
	secret_r->salt_len = salt_len;
	memcpy(secret_r->salt, salt, salt_len);
	sasl_hmac(hash, salted, klen, "Client Key", 10, client_key);
	sasl_digest(hash, client_key, klen, secret_r->stored_key);
	sasl_hmac(hash, salted, klen, "Server Key", 10, secret_r->server_key);
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	return 0;
}

void sasl_scram_secret_format(const struct sasl_scram_secret *secret, struct buf *out_string)
{
	size_t klen = sasl_scram_key_len(secret->hash);
	buf_printf(out_string, "%s$%u:", sasl_scram_hash_name(secret->hash), secret->iterations);
	sasl_base64_encode(secret->salt, secret->salt_len, out_string);
	buf_append_char(out_string, '$');
	sasl_base64_encode(secret->stored_key, klen, out_string);
	buf_append_char(out_string, ':');
	sasl_base64_encode(secret->server_key, klen, out_string);
}

int sasl_scram_secret_make_salt(const char *password, unsigned int iterations,
				enum sasl_scram_hash hash, const unsigned char *salt,
				size_t salt_len, struct buf *out_string)
{
	struct sasl_scram_secret secret;
	if (iterations == 0)
		iterations = SASL_SCRAM_ITERATIONS_DEFAULT;
	if (sasl_scram_secret_compute(password, iterations, hash, salt, salt_len, &secret) < 0)
		return -1;
	sasl_scram_secret_format(&secret, out_string);
	explicit_bzero(&secret, sizeof(secret));
	return 0;
}

int sasl_scram_secret_make(const char *password, unsigned int iterations, enum sasl_scram_hash hash,
			   struct buf *out_string)
{
	unsigned char salt[SCRAM_SALT_LEN];
	sasl_random(salt, sizeof(salt));
	return sasl_scram_secret_make_salt(password, iterations, hash, salt, sizeof(salt),
					   out_string);
}

int sasl_scram_secrets_make(const char *password, unsigned int iterations, struct buf *out_string)
{
	size_t start = out_string->len;
	if (sasl_scram_secret_make(password, iterations, SASL_SCRAM_SHA256, out_string) < 0)
		return -1;
	buf_append_char(out_string, ' ');
	if (sasl_scram_secret_make(password, iterations, SASL_SCRAM_SHA1, out_string) < 0) {
		out_string->len = start;
		return -1;
	}
	return 0;
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

/* Which hash a secret's text names, and where its fields start; -1 if none. */
static int scram_prefix(const char *text, enum sasl_scram_hash *hash_r, const char **rest_r)
{
	static const enum sasl_scram_hash hashes[] = {SASL_SCRAM_SHA256, SASL_SCRAM_SHA1};
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		const char *name = sasl_scram_hash_name(hashes[i]);
		size_t n = strlen(name);
		if (strncmp(text, name, n) == 0 && text[n] == '$') {
			*hash_r = hashes[i];
			*rest_r = text + n + 1;
			return 0;
		}
	}
	return -1;
}

int sasl_scram_secret_parse(const char *text, struct sasl_scram_secret *secret_r)
{
	memset(secret_r, 0, sizeof(*secret_r));
	enum sasl_scram_hash hash;
	const char *p;
	if (scram_prefix(text, &hash, &p) < 0)
		return -1;
	size_t klen = sasl_scram_key_len(hash);
	unsigned long iter = 0;
	const char *q = p;
	while (*q >= '0' && *q <= '9' && q - p < 9)
		iter = iter * 10 + (unsigned long)(*q++ - '0');
	const char *salt_end = strchr(q, '$');
	const char *stored_end = salt_end == NULL ? NULL : strchr(salt_end + 1, ':');
	if (q == p || *p == '0' || *q != ':' || salt_end == NULL || stored_end == NULL ||
	    !scram_iterations_ok((unsigned int)iter))
		return -1;
	secret_r->hash = hash;
	secret_r->iterations = (unsigned int)iter;
	size_t len;
	const char *server = stored_end + 1;
	if (scram_b64_field(q + 1, (size_t)(salt_end - q - 1), secret_r->salt, 0,
			    SASL_SCRAM_SALT_MAX, &secret_r->salt_len) < 0 ||
	    scram_b64_field(salt_end + 1, (size_t)(stored_end - salt_end - 1), secret_r->stored_key,
			    klen, klen, &len) < 0 ||
	    scram_b64_field(server, strlen(server), secret_r->server_key, klen, klen, &len) < 0) {
		memset(secret_r, 0, sizeof(*secret_r));
		return -1;
	}
	return 0;
}

int sasl_scram_secret_find(const char *list, enum sasl_scram_hash hash,
			   struct sasl_scram_secret *secret_r)
{
	memset(secret_r, 0, sizeof(*secret_r));
	for (const char *p = list; *p != '\0';) {
		const char *end = strchr(p, ' ');
		size_t n = end == NULL ? strlen(p) : (size_t)(end - p);
		enum sasl_scram_hash h;
		const char *rest;
		if (n > 0 && scram_prefix(p, &h, &rest) == 0 && h == hash &&
		    (size_t)(rest - p) < n) {
			char *one = x_strndup(p, n);
			int ret = sasl_scram_secret_parse(one, secret_r);
			explicit_bzero(one, n);
			free(one);
			return ret;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return -1;
}
