/* sasl-scram: the SCRAM-SHA-256 and SCRAM-SHA-1 server mechanisms (RFC 5802 sections 3, 5
 * and 7; RFC 7677). They differ only in the hash (and so the key and proof lengths).
 *
 * client-first  = gs2-header client-first-bare; gs2-header = ("n" / "y") "," [a=authzid] ","
 *                 (no channel binding: "p=" is refused; "y" is accepted since we never
 *                 offer SCRAM-SHA-256-PLUS, section 6); "m=" is refused (section 5.1).
 * server-first  = r=<client+server nonce>,s=<salt>,i=<iterations>
 * client-final  = c=<base64 gs2-header>,r=<nonce>[,ext]*,p=<proof>
 * server-final  = v=<server signature>
 * Unknown users get a fake salt derived from a per-process key, so the exchange looks the
 * same until the proof fails (section 5.1, last paragraphs of "s=").
 */
#include "sasl-base64.h"
#include "sasl-private.h"
#include "xalloc.h"

#include <openssl/crypto.h>
#include <string.h>

#define SCRAM_MSG_MAX 4096 /* client messages; real ones are around 100 bytes */
#define SCRAM_NONCE_BYTES 18

enum scram_stage { SCRAM_FIRST, SCRAM_FINAL, SCRAM_ACK };

struct sasl_scram_state {
	enum sasl_scram_hash hash;
	struct buf client_first_bare;
	struct buf server_first;
	struct buf gs2_header;
	char *authzid;
	char *nonce; /* client nonce + server nonce */
	struct sasl_scram_secret secret;
	bool unknown_user;
	bool prompted; /* sent the empty challenge asking for client-first */
};

/* What client-first carries, pointing into the input (lengths, not NUL-terminated). */
struct scram_client_first {
	size_t gs2_len; /* the gs2-header, up to and including its second ',' */
	const unsigned char *authzid;
	size_t authzid_len; /* 0: none */
	const unsigned char *user;
	size_t user_len; /* still saslname-escaped */
	const unsigned char *nonce;
	size_t nonce_len;
};

/* Decodes a saslname (RFC 5802 section 5.1: "=2C" is ',', "=3D" is '='; any other '='
 * is an error) into a fresh string; NULL if malformed, empty or not SASLprep-clean. */
static char *scram_saslname_decode(const unsigned char *p, size_t n)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == ',' || p[i] == '\0')
			goto bad;
		if (p[i] != '=') {
			buf_append_char(&b, (char)p[i]);
			continue;
		}
		if (n - i < 3)
			goto bad;
		if (p[i + 1] == '2' && p[i + 2] == 'C')
			buf_append_char(&b, ',');
		else if (p[i + 1] == '3' && p[i + 2] == 'D')
			buf_append_char(&b, '=');
		else
			goto bad;
		i += 2;
	}
	if (b.len == 0 || b.len > SASL_FIELD_MAX ||
	    !sasl_prep_check((const unsigned char *)b.data, b.len))
		goto bad;
	return buf_steal(&b);
bad:
	buf_free(&b);
	return NULL;
}

/* The length of the attribute value at p (up to ',' or the end). */
static size_t scram_value_len(const unsigned char *p, size_t n)
{
	const unsigned char *c = memchr(p, ',', n);
	return c == NULL ? n : (size_t)(c - p);
}

/* Is p[0..n) a printable nonce (RFC 5802: %x21-2B / %x2D-7E)? */
static bool scram_nonce_ok(const unsigned char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return false;
	}
	return true;
}

/* Parses client-first-message. 0, or -1 if malformed or asking for channel binding. */
static int scram_parse_client_first(const unsigned char *in, size_t len,
				    struct scram_client_first *r)
{
	memset(r, 0, sizeof(*r));
	if (len < 3 || len > SCRAM_MSG_MAX || !sasl_no_nul(in, len))
		return -1;
	if ((in[0] != 'n' && in[0] != 'y') || in[1] != ',')
		return -1; /* "p=": channel binding, which we do not offer */
	size_t i = 2;
	if (in[i] == 'a' && i + 1 < len && in[i + 1] == '=') {
		r->authzid = in + i + 2;
		r->authzid_len = scram_value_len(r->authzid, len - i - 2);
		if (r->authzid_len == 0)
			return -1; /* "a=" needs a saslname */
		i += 2 + r->authzid_len;
	}
	if (i >= len || in[i] != ',')
		return -1;
	r->gs2_len = ++i;
	if (len - i < 2 || in[i] != 'n' || in[i + 1] != '=')
		return -1; /* includes "m=": a mandatory extension we do not know */
	r->user = in + i + 2;
	r->user_len = scram_value_len(r->user, len - i - 2);
	i += 2 + r->user_len;
	if (len - i < 3 || memcmp(in + i, ",r=", 3) != 0)
		return -1;
	r->nonce = in + i + 3;
	r->nonce_len = scram_value_len(r->nonce, len - i - 3);
	i += 3 + r->nonce_len;
	if (!scram_nonce_ok(r->nonce, r->nonce_len))
		return -1;
	/* Optional extensions: ",x=..." each; we understand none and ignore them. */
	while (i < len) {
		if (len - i < 3 || in[i] != ',' || in[i + 2] != '=')
			return -1;
		i += 1 + scram_value_len(in + i + 1, len - i - 1);
	}
	return 0;
}

/* A stand-in secret (of secret->hash) for an unknown user: the same salt every time for
 * the same name. */
static void scram_fake_secret(const char *user, struct sasl_scram_secret *secret)
{
	static unsigned char key[32];
	static bool have_key;
	if (!have_key) {
		sasl_random(key, sizeof(key));
		have_key = true;
	}
	unsigned char mac[SASL_SCRAM_KEY_MAX];
	sasl_hmac(SASL_SCRAM_SHA256, key, sizeof(key), user, strlen(user), mac);
	enum sasl_scram_hash hash = secret->hash;
	memset(secret, 0, sizeof(*secret));
	secret->hash = hash;
	secret->iterations = SASL_SCRAM_ITERATIONS_DEFAULT;
	secret->salt_len = 16;
	memcpy(secret->salt, mac, 16);
	sasl_random(secret->stored_key, sizeof(secret->stored_key));
	sasl_random(secret->server_key, sizeof(secret->server_key));
}

/* Looks the user up and builds server-first into out. */
static enum sasl_result scram_server_first(struct sasl_server *s, const unsigned char *cnonce,
					   size_t cnonce_len, struct buf *out)
{
	struct sasl_scram_state *st = s->scram;
	if (s->set.cb->lookup_scram == NULL)
		return sasl_fail(s, SASL_REASON_TEMPFAIL);
	enum sasl_lookup found =
	    s->set.cb->lookup_scram(s->set.cb->ctx, s->user, st->hash, &st->secret);
	if (found == SASL_LOOKUP_TEMPFAIL)
		return sasl_fail(s, SASL_REASON_TEMPFAIL);
	bool usable = st->secret.hash == st->hash && st->secret.salt_len > 0 &&
		      st->secret.salt_len <= SASL_SCRAM_SALT_MAX && st->secret.iterations > 0 &&
		      st->secret.iterations <= SASL_SCRAM_ITERATIONS_MAX;
	if (found != SASL_LOOKUP_OK || !usable) {
		/* unknown, or an unusable stored secret: go on with a stand-in */
		st->unknown_user = true;
		st->secret.hash = st->hash;
		scram_fake_secret(s->user, &st->secret);
	}
	struct buf sn = BUF_INIT;
	buf_append(&sn, cnonce, cnonce_len);
	if (s->set.scram_nonce != NULL) {
		buf_append_str(&sn, s->set.scram_nonce);
	} else {
		unsigned char rnd[SCRAM_NONCE_BYTES];
		sasl_random(rnd, sizeof(rnd));
		sasl_base64_encode(rnd, sizeof(rnd), &sn); /* base64 has no ',' */
	}
	st->nonce = buf_steal(&sn);
	buf_free(&sn);
	buf_printf(&st->server_first, "r=%s,s=", st->nonce);
	sasl_base64_encode(st->secret.salt, st->secret.salt_len, &st->server_first);
	buf_printf(&st->server_first, ",i=%u", st->secret.iterations);
	buf_append(out, st->server_first.data, st->server_first.len);
	return SASL_CONTINUE;
}

static enum sasl_result scram_client_first(struct sasl_server *s, const unsigned char *in,
					   size_t len, struct buf *out)
{
	struct sasl_scram_state *st = s->scram;
	struct scram_client_first cf;
	if (scram_parse_client_first(in, len, &cf) < 0)
		return sasl_fail(s, SASL_REASON_MALFORMED);
	char *user = scram_saslname_decode(cf.user, cf.user_len);
	if (user == NULL)
		return sasl_fail(s, SASL_REASON_MALFORMED);
	s->user = user;
	if (cf.authzid_len > 0) {
		st->authzid = scram_saslname_decode(cf.authzid, cf.authzid_len);
		if (st->authzid == NULL)
			return sasl_fail(s, SASL_REASON_MALFORMED);
	}
	buf_append(&st->gs2_header, in, cf.gs2_len);
	buf_append(&st->client_first_bare, in + cf.gs2_len, len - cf.gs2_len);
	return scram_server_first(s, cf.nonce, cf.nonce_len, out);
}

/* What client-final carries, pointing into the input. */
struct scram_client_final {
	const unsigned char *cbind;
	size_t cbind_len;
	const unsigned char *nonce;
	size_t nonce_len;
	size_t without_proof_len; /* client-final-message-without-proof */
	const unsigned char *proof;
	size_t proof_len;
};

/* Parses client-final-message. 0, or -1 if malformed. */
static int scram_parse_client_final(const unsigned char *in, size_t len,
				    struct scram_client_final *r)
{
	memset(r, 0, sizeof(*r));
	if (len < 2 || len > SCRAM_MSG_MAX || !sasl_no_nul(in, len) || memcmp(in, "c=", 2) != 0)
		return -1;
	r->cbind = in + 2;
	r->cbind_len = scram_value_len(r->cbind, len - 2);
	size_t i = 2 + r->cbind_len;
	if (len - i < 3 || memcmp(in + i, ",r=", 3) != 0)
		return -1;
	r->nonce = in + i + 3;
	r->nonce_len = scram_value_len(r->nonce, len - i - 3);
	i += 3 + r->nonce_len;
	while (i < len) {
		if (len - i < 3 || in[i] != ',' || in[i + 2] != '=')
			return -1;
		size_t vlen = scram_value_len(in + i + 3, len - i - 3);
		if (in[i + 1] == 'p') {
			if (i + 3 + vlen != len)
				return -1; /* proof must be the last attribute */
			r->without_proof_len = i;
			r->proof = in + i + 3;
			r->proof_len = vlen;
			return 0;
		}
		i += 3 + vlen;
	}
	return -1; /* no proof */
}

/* Verifies the proof (RFC 5802 section 3); writes the server signature. true if valid. */
static bool scram_verify(struct sasl_scram_state *st, const unsigned char *in,
			 const struct scram_client_final *cf, const unsigned char *proof,
			 unsigned char server_sig[SASL_SCRAM_KEY_MAX])
{
	size_t klen = sasl_scram_key_len(st->hash);
	struct buf auth = BUF_INIT;
	buf_append(&auth, st->client_first_bare.data, st->client_first_bare.len);
	buf_append_char(&auth, ',');
	buf_append(&auth, st->server_first.data, st->server_first.len);
	buf_append_char(&auth, ',');
	buf_append(&auth, in, cf->without_proof_len);
	unsigned char client_sig[SASL_SCRAM_KEY_MAX], client_key[SASL_SCRAM_KEY_MAX];
	unsigned char stored[SASL_SCRAM_KEY_MAX];
	sasl_hmac(st->hash, st->secret.stored_key, klen, auth.data, auth.len, client_sig);
	for (size_t i = 0; i < klen; i++)
		client_key[i] = proof[i] ^ client_sig[i];
	sasl_digest(st->hash, client_key, klen, stored);
	bool ok = CRYPTO_memcmp(stored, st->secret.stored_key, klen) == 0;
	sasl_hmac(st->hash, st->secret.server_key, klen, auth.data, auth.len, server_sig);
	explicit_bzero(client_key, sizeof(client_key));
	explicit_bzero(client_sig, sizeof(client_sig));
	buf_free(&auth);
	return ok;
}

/* Checks the channel binding and nonce of client-final, then the proof. */
static enum sasl_result scram_client_final(struct sasl_server *s, const unsigned char *in,
					   size_t len, struct buf *out)
{
	struct sasl_scram_state *st = s->scram;
	struct scram_client_final cf;
	if (scram_parse_client_final(in, len, &cf) < 0)
		return sasl_fail(s, SASL_REASON_MALFORMED);
	struct buf b = BUF_INIT;
	buf_init(&b, SCRAM_MSG_MAX);
	/* c= must be exactly our gs2-header: no channel-binding data follows "n" or "y" */
	bool cbind_ok = sasl_base64_decode((const char *)cf.cbind, cf.cbind_len, &b) == 0 &&
			b.len == st->gs2_header.len &&
			memcmp(b.data, st->gs2_header.data, b.len) == 0;
	buf_reset(&b);
	bool nonce_ok =
	    cf.nonce_len == strlen(st->nonce) && memcmp(cf.nonce, st->nonce, cf.nonce_len) == 0;
	size_t klen = sasl_scram_key_len(st->hash);
	bool proof_ok =
	    sasl_base64_decode((const char *)cf.proof, cf.proof_len, &b) == 0 && b.len == klen;
	if (!cbind_ok || !nonce_ok || !proof_ok) {
		buf_free(&b);
		return sasl_fail(s, SASL_REASON_MALFORMED);
	}
	unsigned char server_sig[SASL_SCRAM_KEY_MAX];
	bool ok = scram_verify(st, in, &cf, (const unsigned char *)b.data, server_sig);
	buf_free(&b);
	if (st->unknown_user)
		return sasl_fail(s, SASL_REASON_UNKNOWN_USER);
	if (!ok)
		return sasl_fail(s, SASL_REASON_BAD_CREDENTIALS);
	const char *authzid = st->authzid;
	if (authzid != NULL && strcmp(authzid, s->user) != 0 && !s->set.allow_proxy)
		return sasl_fail(s, SASL_REASON_AUTHZ_DENIED);
	buf_append_str(out, "v=");
	sasl_base64_encode(server_sig, klen, out);
	if (s->set.success_data)
		return sasl_succeed(s, authzid);
	return SASL_CONTINUE; /* server-final as a challenge; the client answers empty */
}

static enum sasl_result scram_step(struct sasl_server *s, const unsigned char *in, size_t len,
				   struct buf *out)
{
	if (s->scram == NULL) {
		s->scram = X_NEW(struct sasl_scram_state);
		buf_init(&s->scram->client_first_bare, 0);
		buf_init(&s->scram->server_first, 0);
		buf_init(&s->scram->gs2_header, 0);
		s->scram->hash =
		    s->mech == &sasl_mech_scram_sha1 ? SASL_SCRAM_SHA1 : SASL_SCRAM_SHA256;
	}
	if (in == NULL) {
		if (s->stage != SCRAM_FIRST || s->scram->prompted)
			return sasl_fail(s, SASL_REASON_MALFORMED);
		s->scram->prompted = true;
		return SASL_CONTINUE; /* no initial response: an empty challenge asks for it */
	}
	switch (s->stage++) {
	case SCRAM_FIRST:
		return scram_client_first(s, in, len, out);
	case SCRAM_FINAL:
		return scram_client_final(s, in, len, out);
	case SCRAM_ACK:
		if (len != 0)
			return sasl_fail(s, SASL_REASON_MALFORMED);
		return sasl_succeed(s, s->scram->authzid);
	default:
		return sasl_fail(s, SASL_REASON_MALFORMED);
	}
}

static void scram_free(struct sasl_server *s)
{
	struct sasl_scram_state *st = s->scram;
	if (st == NULL)
		return;
	buf_free(&st->client_first_bare);
	buf_free(&st->server_first);
	buf_free(&st->gs2_header);
	x_free(&st->authzid);
	x_free(&st->nonce);
	explicit_bzero(st, sizeof(*st));
	x_free(&s->scram);
}

const struct sasl_mech sasl_mech_scram_sha256 = {
    .name = "SCRAM-SHA-256",
    .plaintext = false,
    .step = scram_step,
    .free = scram_free,
};

const struct sasl_mech sasl_mech_scram_sha1 = {
    .name = "SCRAM-SHA-1",
    .plaintext = false,
    .step = scram_step,
    .free = scram_free,
};
