/* sasl-private: the mechanism vtable and exchange state shared by the sasl-*.c files.
 * Not for use outside src/lib-sasl.
 */
#ifndef TERN_SASL_PRIVATE_H
#define TERN_SASL_PRIVATE_H

#include "sasl.h"

struct sasl_scram_state;

struct sasl_mech {
	const char *name;
	bool plaintext; /* sends the password itself */
	/* in == NULL: no data (first step without an initial response). */
	enum sasl_result (*step)(struct sasl_server *s, const unsigned char *in, size_t len,
				 struct buf *out);
	void (*free)(struct sasl_server *s); /* NULL: nothing mechanism-specific */
};

struct sasl_server {
	const struct sasl_mech *mech;
	struct sasl_server_settings set;
	int stage;     /* the mechanism's own step counter */
	bool finished; /* SUCCESS or FAIL returned */
	enum sasl_fail_reason reason;
	char *user;	  /* authcid, once known */
	char *authzid;	  /* after SUCCESS */
	char *login_user; /* LOGIN: the user name between the two steps */
	struct sasl_scram_state *scram;
};

extern const struct sasl_mech sasl_mech_plain;
extern const struct sasl_mech sasl_mech_login;
extern const struct sasl_mech sasl_mech_scram_sha256;
extern const struct sasl_mech sasl_mech_scram_sha1;

/* Ends the exchange with a failure reason (returns SASL_FAIL). */
enum sasl_result sasl_fail(struct sasl_server *s, enum sasl_fail_reason reason);
/* Checks a password with the callback, then the authzid rule; sets user and authzid.
 * authzid may be NULL or "" (none). */
enum sasl_result sasl_check_password(struct sasl_server *s, const char *user, const char *password,
				     const char *authzid);
/* Applies the authzid rule (empty, or equal to user, or proxying allowed) and records a
 * success. */
enum sasl_result sasl_succeed(struct sasl_server *s, const char *authzid);
/* Is p[0..n) free of NUL bytes? */
bool sasl_no_nul(const unsigned char *p, size_t n);
/* Frees a C string after wiping it. */
void sasl_str_wipe(char **p);

/* Crypto helpers (OpenSSL, in sasl-scram-secret.c): HMAC and digest with a SCRAM hash;
 * out receives sasl_scram_key_len(hash) bytes. */
void sasl_hmac(enum sasl_scram_hash hash, const void *key, size_t key_len, const void *data,
	       size_t len, unsigned char out[SASL_SCRAM_KEY_MAX]);
void sasl_digest(enum sasl_scram_hash hash, const void *data, size_t len,
		 unsigned char out[SASL_SCRAM_KEY_MAX]);
/* Fills p with n random bytes; a failure of the random source is fatal. */
void sasl_random(void *p, size_t n);

#endif
