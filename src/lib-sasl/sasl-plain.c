/* sasl-plain: the PLAIN (RFC 4616) and LOGIN mechanisms: the client sends the password.
 *
 * PLAIN: message = [authzid] NUL authcid NUL passwd (RFC 4616 section 2), each field at
 * most 255 octets, authcid and passwd non-empty, no further NUL. LOGIN (no RFC; see
 * draft-murchison-sasl-login): challenges "Username:" and "Password:"; an initial
 * response, when given, is the user name. Only offer these under TLS (or on loopback).
 */
#include "sasl-private.h"
#include "xalloc.h"

#include <string.h>

/* Is the field usable as a name or password? (non-empty when required, bounded, prepped) */
static bool plain_field_ok(const unsigned char *p, size_t n, bool may_be_empty)
{
	if (n == 0)
		return may_be_empty;
	return n <= SASL_FIELD_MAX && sasl_prep_check(p, n);
}

/* Splits and checks one PLAIN message, then checks the password. */
static enum sasl_result plain_message(struct sasl_server *s, const unsigned char *in, size_t len)
{
	const unsigned char *nul1 = memchr(in, '\0', len);
	if (nul1 == NULL)
		return sasl_fail(s, SASL_REASON_MALFORMED);
	const unsigned char *authcid = nul1 + 1;
	size_t rest = len - (size_t)(authcid - in);
	const unsigned char *nul2 = memchr(authcid, '\0', rest);
	if (nul2 == NULL)
		return sasl_fail(s, SASL_REASON_MALFORMED);
	const unsigned char *pass = nul2 + 1;
	size_t zlen = (size_t)(nul1 - in), clen = (size_t)(nul2 - authcid);
	size_t plen = len - (size_t)(pass - in);
	if (!sasl_no_nul(pass, plen) || !plain_field_ok(in, zlen, true) ||
	    !plain_field_ok(authcid, clen, false) || !plain_field_ok(pass, plen, false))
		return sasl_fail(s, SASL_REASON_MALFORMED);
	/* in is const and the fields are not NUL-terminated at their ends: copy them. */
	char *authzid = x_strndup((const char *)in, zlen);
	char *user = x_strndup((const char *)authcid, clen);
	char *password = x_strndup((const char *)pass, plen);
	enum sasl_result r = sasl_check_password(s, user, password, authzid);
	sasl_str_wipe(&password);
	x_free(&user);
	x_free(&authzid);
	return r;
}

static enum sasl_result plain_step(struct sasl_server *s, const unsigned char *in, size_t len,
				   struct buf *out)
{
	if (in == NULL) {
		if (s->stage != 0)
			return sasl_fail(s, SASL_REASON_MALFORMED);
		s->stage = 1; /* no initial response: an empty challenge asks for it */
		return SASL_CONTINUE;
	}
	return plain_message(s, in, len);
}

const struct sasl_mech sasl_mech_plain = {
    .name = "PLAIN",
    .plaintext = true,
    .step = plain_step,
    .free = NULL,
};

static enum sasl_result login_step(struct sasl_server *s, const unsigned char *in, size_t len,
				   struct buf *out)
{
	if (in == NULL && s->stage == 0) {
		s->stage = 1;
		buf_append_str(out, "Username:");
		return SASL_CONTINUE;
	}
	if (in == NULL || !sasl_no_nul(in, len) || !plain_field_ok(in, len, false))
		return sasl_fail(s, SASL_REASON_MALFORMED);
	if (s->stage <= 1) {
		s->login_user = x_strndup((const char *)in, len);
		x_free(&s->user);
		s->user = x_strdup(s->login_user);
		s->stage = 2;
		buf_append_str(out, "Password:");
		return SASL_CONTINUE;
	}
	char *password = x_strndup((const char *)in, len);
	char *user = x_strdup(s->login_user);
	enum sasl_result r = sasl_check_password(s, user, password, NULL);
	sasl_str_wipe(&password);
	x_free(&user);
	return r;
}

const struct sasl_mech sasl_mech_login = {
    .name = "LOGIN",
    .plaintext = true,
    .step = login_step,
    .free = NULL,
};
