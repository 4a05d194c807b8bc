/* password-cache: remembers recent successful crypt(3) checks, so that a client that logs
 * in again and again with the same password (a phone polling POP3 every few minutes, a
 * mail reader opening several IMAP connections) does not cost a yescrypt run each time.
 *
 * An entry is HMAC-SHA-256(key, hash NUL password) with its expiry time, where key is
 * random per process: neither the password nor anything a stolen table could be checked
 * against offline without the key is kept. The stored hash is part of the entry, so a
 * changed password (a new hash) never matches an old entry. Only successes are cached;
 * failures always run crypt(3) (and stay subject to the failure delay and lockout). Off
 * unless auth_cache_ttl is set; auth_cache_size entries at most, the oldest replaced.
 */
#include "userdb.h"
#include "xalloc.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pw_cache_entry {
	unsigned char mac[32];
	time_t expires; /* 0: free */
};

static pthread_mutex_t pw_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pw_cache_entry *pw_cache;
static size_t pw_cache_size;
static time_t pw_cache_ttl;
static unsigned char pw_cache_key[32];
static bool pw_cache_keyed;

void password_cache_configure(unsigned ttl_seconds, unsigned entries)
{
	pthread_mutex_lock(&pw_cache_lock);
	if (!pw_cache_keyed && RAND_bytes(pw_cache_key, sizeof(pw_cache_key)) == 1)
		pw_cache_keyed = true;
	if (ttl_seconds == 0 || entries == 0 || !pw_cache_keyed) {
		ttl_seconds = 0;
		entries = 0;
	}
	if (entries != pw_cache_size) {
		if (pw_cache != NULL)
			OPENSSL_cleanse(pw_cache, pw_cache_size * sizeof(*pw_cache));
		x_free(&pw_cache);
		pw_cache = entries > 0 ? x_calloc(entries, sizeof(*pw_cache)) : NULL;
		pw_cache_size = entries;
	}
	pw_cache_ttl = (time_t)ttl_seconds;
	pthread_mutex_unlock(&pw_cache_lock);
	static const struct password_cache_ops ops = {.hit = password_cache_hit,
						      .add = password_cache_add};
	password_set_cache(entries > 0 ? &ops : NULL);
}

static bool pw_cache_mac(const char *password, const char *hash, unsigned char out[32])
{
	size_t hl = strlen(hash) + 1, pl = strlen(password);
	unsigned char *msg = x_malloc(hl + pl + 1);
	memcpy(msg, hash, hl);
	memcpy(msg + hl, password, pl);
	unsigned int len = 0;
	bool ok = HMAC(EVP_sha256(), pw_cache_key, sizeof(pw_cache_key), msg, hl + pl, out,
		       &len) != NULL &&
		  len == 32;
	OPENSSL_cleanse(msg, hl + pl);
	free(msg);
	return ok;
}

/* The slot of mac: its first bytes, spread over the table (a keyed MAC is uniform). */
static size_t pw_cache_slot(const unsigned char mac[32])
{
	uint64_t v;
	memcpy(&v, mac, sizeof(v));
	return (size_t)(v % pw_cache_size);
}

bool password_cache_hit(const char *password, const char *hash)
{
	unsigned char mac[32];
	bool hit = false;
	pthread_mutex_lock(&pw_cache_lock);
	if (pw_cache_size > 0 && pw_cache_mac(password, hash, mac)) {
		struct pw_cache_entry *e = &pw_cache[pw_cache_slot(mac)];
		hit = e->expires > time(NULL) && CRYPTO_memcmp(e->mac, mac, sizeof(mac)) == 0;
	}
	pthread_mutex_unlock(&pw_cache_lock);
	OPENSSL_cleanse(mac, sizeof(mac));
	return hit;
}

void password_cache_add(const char *password, const char *hash)
{
	unsigned char mac[32];
	pthread_mutex_lock(&pw_cache_lock);
	if (pw_cache_size > 0 && pw_cache_mac(password, hash, mac)) {
		/* one entry per slot: a collision replaces the older login */
		struct pw_cache_entry *e = &pw_cache[pw_cache_slot(mac)];
		memcpy(e->mac, mac, sizeof(mac));
		e->expires = time(NULL) + pw_cache_ttl;
	}
	pthread_mutex_unlock(&pw_cache_lock);
	OPENSSL_cleanse(mac, sizeof(mac));
}
