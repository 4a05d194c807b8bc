/* password: crypt(3) hashing and checking of user passwords.
 *
 * New hashes use yescrypt ("$y$", the Debian 12 default) and fall back to sha512-crypt
 * ("$6$") where libcrypt lacks it. Salts come from crypt_gensalt_ra with the system's
 * random source. Checks compare in constant time.
 */
#include "userdb.h"
#include "xalloc.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

char *password_hash(const char *password)
{
	static const char *const prefixes[] = {"$y$", "$6$"};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		char *salt = crypt_gensalt_ra(prefixes[i], 0, NULL, 0);
		if (salt == NULL)
			continue;
		struct crypt_data *cd = x_calloc(1, sizeof(*cd));
		const char *h = crypt_r(password, salt, cd);
		char *out = (h != NULL && h[0] == '$') ? x_strdup(h) : NULL;
		free(salt);
		explicit_bzero(cd, sizeof(*cd));
		free(cd);
		if (out != NULL)
			return out;
	}
	return NULL;
}

bool password_check(const char *password, const char *hash)
{
	if (hash == NULL || hash[0] != '$')
		return false; /* locked or empty: never matches */
	return password_check_crypt(password, hash);
}

static const struct password_cache_ops *pw_cache_ops;

void password_set_cache(const struct password_cache_ops *ops)
{
	pw_cache_ops = ops;
}

bool password_check_crypt(const char *password, const char *hash)
{
	if (hash == NULL || hash[0] == '\0' || hash[0] == '!' || hash[0] == '*')
		return false;
	if (pw_cache_ops != NULL && pw_cache_ops->hit(password, hash))
		return true;
	struct crypt_data *cd = x_calloc(1, sizeof(*cd));
	const char *h = crypt_r(password, hash, cd);
	bool ok = false;
	if (h != NULL && h[0] != '*') { /* "*0", "*1": libxcrypt's failure tokens */
		size_t a = strlen(h), b = strlen(hash);
		unsigned char diff = (unsigned char)(a != b);
		for (size_t i = 0; i < a && i < b; i++)
			diff |= (unsigned char)(h[i] ^ hash[i]);
		ok = diff == 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	if (ok && pw_cache_ops != NULL)
		pw_cache_ops->add(password, hash);
	return ok;
}
