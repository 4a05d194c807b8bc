/* sasl: server-side SASL mechanisms shared by SMTP AUTH, IMAP AUTHENTICATE and POP3 AUTH.
 *
 * A struct sasl_server is one exchange of one mechanism: PLAIN (RFC 4616), LOGIN (the
 * de-facto "Username:"/"Password:" mechanism), SCRAM-SHA-256 (RFC 5802, RFC 7677) and
 * SCRAM-SHA-1 (RFC 5802; ManageSieve requires it, RFC 5804 section 2.1).
 * It works on DECODED bytes; the protocols do base64 (sasl-base64.h) and handle the "*"
 * cancel line themselves. It never touches sockets or files: secrets come from the
 * caller's callbacks. Nothing secret is logged, and secrets are wiped after use.
 */
#ifndef TERN_SASL_H
#define TERN_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum sasl_result {
	SASL_CONTINUE, /* send the challenge in out (may be empty), then call step again */
	SASL_SUCCESS,  /* authenticated: see sasl_server_user(); out may hold final data */
	SASL_FAIL,     /* see sasl_server_reason() */
};

enum sasl_fail_reason {
	SASL_REASON_NONE,
	SASL_REASON_MALFORMED,	     /* the client's data breaks the mechanism's grammar */
	SASL_REASON_BAD_CREDENTIALS, /* wrong password or proof */
	SASL_REASON_UNKNOWN_USER,    /* no such user (tell the client the same as a bad password) */
	SASL_REASON_AUTHZ_DENIED,    /* authzid differs from the user and proxying is not allowed */
	SASL_REASON_ABORTED,	     /* the client sent "*" (see sasl_server_abort) */
	SASL_REASON_TEMPFAIL,	     /* the user directory failed: a temporary error */
};

/* What a password or SCRAM lookup found. */
enum sasl_lookup {
	SASL_LOOKUP_OK,	      /* password matches / SCRAM secret filled in */
	SASL_LOOKUP_BAD,      /* user exists, password wrong (lookup_password only) */
	SASL_LOOKUP_UNKNOWN,  /* no such user, or no SCRAM secret stored for it */
	SASL_LOOKUP_TEMPFAIL, /* the directory could not be read */
};

/* The hash a SCRAM mechanism is built on. */
enum sasl_scram_hash {
	SASL_SCRAM_SHA256,
	SASL_SCRAM_SHA1,
};
#define SASL_SCRAM_KEY_MAX 32 /* the longest output: SHA-256's */
#define SASL_SCRAM_SALT_MAX 64
#define SASL_SCRAM_ITERATIONS_DEFAULT 10000
#define SASL_SCRAM_ITERATIONS_MIN 4096	   /* RFC 7677 section 4 */
#define SASL_SCRAM_ITERATIONS_MAX 10000000 /* bounds the work a stored secret can cause */
#define SASL_FIELD_MAX 255		   /* RFC 4616: authzid, authcid and passwd */

/* A stored SCRAM secret (RFC 5802 section 3): never the password itself. The keys are
 * sasl_scram_key_len(hash) bytes long. */
struct sasl_scram_secret {
	enum sasl_scram_hash hash;
	unsigned int iterations;
	size_t salt_len;
	unsigned char salt[SASL_SCRAM_SALT_MAX];
	unsigned char stored_key[SASL_SCRAM_KEY_MAX];
	unsigned char server_key[SASL_SCRAM_KEY_MAX];
};

/* The key length of a hash (20 or 32) and its mechanism name ("SCRAM-SHA-1", ...). */
size_t sasl_scram_key_len(enum sasl_scram_hash hash);
const char *sasl_scram_hash_name(enum sasl_scram_hash hash);

/* How a mechanism gets secrets from its caller; ctx is passed back unchanged. user is
 * the authentication identity, NUL-terminated, already checked by sasl_prep_check(). */
struct sasl_callbacks {
	/* PLAIN and LOGIN: does password belong to user? (the caller checks its crypt(3)
	 * hash in constant time). OK, BAD, UNKNOWN or TEMPFAIL. */
	enum sasl_lookup (*lookup_password)(void *ctx, const char *user, const char *password);
	/* SCRAM: fill secret_r with user's secret for hash. OK, UNKNOWN (also when the
	 * user has no secret for that hash) or TEMPFAIL. */
	enum sasl_lookup (*lookup_scram)(void *ctx, const char *user, enum sasl_scram_hash hash,
					 struct sasl_scram_secret *secret_r);
	void *ctx;
};

struct sasl_server_settings {
	const struct sasl_callbacks *cb;
	/* Allow an authorization identity different from the authentication identity
	 * (a proxy or master user). When false such an exchange fails with AUTHZ_DENIED. */
	bool allow_proxy;
	/* The protocol can carry data with a success reply (IMAP4rev2, SASL-IR style). When
	 * false (SMTP, RFC 4954 section 4; POP3), SCRAM's server-final message is sent as a
	 * last challenge and the client answers it with an empty response. */
	bool success_data;
	/* Tests only: a fixed SCRAM server nonce part (printable ASCII, no ','). NULL: random. */
	const char *scram_nonce;
};

struct sasl_server;

/* The mechanisms, in order of preference, separated by spaces, for EHLO AUTH= / IMAP
 * CAPABILITY / POP3 CAPA SASL. plaintext_ok: include PLAIN and LOGIN (only under TLS, or
 * on loopback when auth_plaintext_loopback is yes: DESIGN.md principle 5). */
const char *sasl_mech_list(bool plaintext_ok);
/* Is the mechanism one that sends the password itself (PLAIN, LOGIN)? false if unknown. */
bool sasl_mech_is_plaintext(const char *mech_name);

/* Starts an exchange of mech_name (ASCII case-insensitive). NULL if the mechanism is
 * unknown (SMTP 504 5.5.4, IMAP NO/BAD). set is copied; set->cb must outlive the server. */
struct sasl_server *sasl_server_new(const char *mech_name, const struct sasl_server_settings *set);
/* One step. in == NULL means "no data": the first call when the client gave no initial
 * response. in != NULL with len == 0 is an empty response (SMTP "=" initial response, or
 * an empty line). out is reset and receives the next challenge, decoded (base64-encode it
 * for the wire); on SUCCESS it may hold additional data (only with success_data).
 * Calling step again after SUCCESS or FAIL is a bug. The caller should wipe its copy of in
 * (sasl_buf_wipe): it may hold a password. */
enum sasl_result sasl_server_step(struct sasl_server *s, const unsigned char *in, size_t len,
				  struct buf *out);
/* The client sent "*": records SASL_REASON_ABORTED (SMTP 501 5.0.0, IMAP BAD, POP3 -ERR).
 * The protocol then frees the server; "*" is never passed to step. */
void sasl_server_abort(struct sasl_server *s);
/* After SUCCESS: the authenticated user (authcid) and the identity to act as (the authzid,
 * equal to the user unless proxying was allowed and asked for). Before: NULL. After a FAIL
 * the user, if one was given, is still returned for the log (it is not secret). */
const char *sasl_server_user(const struct sasl_server *s);
const char *sasl_server_authzid(const struct sasl_server *s);
enum sasl_fail_reason sasl_server_reason(const struct sasl_server *s);
const char *sasl_server_mech(const struct sasl_server *s);
void sasl_server_free(struct sasl_server **s);

/* A short word for the log: "malformed", "bad-credentials", "unknown-user", ... */
const char *sasl_reason_str(enum sasl_fail_reason reason);

/* Our SASLprep (RFC 4013) subset for user names and passwords: the bytes must be valid
 * UTF-8 without C0 controls, DEL or C1 controls (U+0080..U+009F); printable ASCII is
 * kept as it is (SASLprep maps it to itself). Non-ASCII text is NOT normalised (NFKC) nor
 * space-mapped, so clients must send it already prepared. true if acceptable. */
bool sasl_prep_check(const unsigned char *p, size_t len);

/* Wipes the bytes of b (all its capacity) and frees it. */
void sasl_buf_wipe(struct buf *b);

/* SCRAM secrets in the text form PostgreSQL uses for SCRAM-SHA-256, with the mechanism's
 * name as its prefix:
 *   SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 *   SCRAM-SHA-1$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 * A user's stored secrets are a list of these separated by single spaces (base64 has
 * none), one per hash.
 * make: a random 16-byte salt; iterations 0 means SASL_SCRAM_ITERATIONS_DEFAULT, and
 * fewer than SASL_SCRAM_ITERATIONS_MIN (or more than the MAX) is refused. Appends to
 * out_string. 0 on success, -1 on a bad iteration count or a password refused by
 * sasl_prep_check. */
int sasl_scram_secret_make(const char *password, unsigned int iterations, enum sasl_scram_hash hash,
			   struct buf *out_string);
/* The list of every hash's secret (each its own salt): what a user's password is stored
 * as. Same return values. */
int sasl_scram_secrets_make(const char *password, unsigned int iterations, struct buf *out_string);
/* The same with a given salt (tests, and migrations that keep a salt). */
int sasl_scram_secret_make_salt(const char *password, unsigned int iterations,
				enum sasl_scram_hash hash, const unsigned char *salt,
				size_t salt_len, struct buf *out_string);
/* Computes the secret itself. */
int sasl_scram_secret_compute(const char *password, unsigned int iterations,
			      enum sasl_scram_hash hash, const unsigned char *salt, size_t salt_len,
			      struct sasl_scram_secret *secret_r);
/* Parses the text form of one secret (exact: no spaces, strict base64, key lengths of its
 * hash, iterations in [MIN, MAX]); the prefix says the hash. 0 on success, -1 if
 * malformed. */
int sasl_scram_secret_parse(const char *text, struct sasl_scram_secret *secret_r);
/* Finds hash's secret in a list (see above) and parses it. 0, or -1 if the list has none
 * for that hash or it is malformed. */
int sasl_scram_secret_find(const char *list, enum sasl_scram_hash hash,
			   struct sasl_scram_secret *secret_r);
/* Writes the text form of a secret (appends). */
void sasl_scram_secret_format(const struct sasl_scram_secret *secret, struct buf *out_string);

#endif
