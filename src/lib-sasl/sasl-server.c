/* sasl-server: the mechanism table, the exchange object and what all mechanisms share:
 * the authzid rule (RFC 4616 section 2, RFC 5802 section 5.1 "a="), our SASLprep subset
 * (RFC 4013, see sasl.h) and wiping of secrets.
 */
#include "sasl-private.h"
#include "util.h"
#include "xalloc.h"

#include <assert.h>
#include <string.h>

static const struct sasl_mech *const sasl_mechs[] = {
    &sasl_mech_scram_sha256,
    &sasl_mech_scram_sha1,
    &sasl_mech_plain,
    &sasl_mech_login,
};
#define SASL_MECH_COUNT (sizeof(sasl_mechs) / sizeof(sasl_mechs[0]))

static const struct sasl_mech *sasl_mech_find(const char *name)
{
	for (size_t i = 0; i < SASL_MECH_COUNT; i++) {
		if (str_ieq(sasl_mechs[i]->name, name))
			return sasl_mechs[i];
	}
	return NULL;
}

const char *sasl_mech_list(bool plaintext_ok)
{
	return plaintext_ok ? "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN" : "SCRAM-SHA-256 SCRAM-SHA-1";
}

bool sasl_mech_is_plaintext(const char *mech_name)
{
	const struct sasl_mech *m = sasl_mech_find(mech_name);
	return m != NULL && m->plaintext;
}

struct sasl_server *sasl_server_new(const char *mech_name, const struct sasl_server_settings *set)
{
	const struct sasl_mech *m = sasl_mech_find(mech_name);
	if (m == NULL)
		return NULL;
	assert(set != NULL && set->cb != NULL);
	struct sasl_server *s = X_NEW(struct sasl_server);
	s->mech = m;
	s->set = *set;
	return s;
}

enum sasl_result sasl_server_step(struct sasl_server *s, const unsigned char *in, size_t len,
				  struct buf *out)
{
	assert(!s->finished);
	buf_reset(out);
	enum sasl_result r = s->mech->step(s, in, len, out);
	if (r != SASL_CONTINUE)
		s->finished = true;
	return r;
}

void sasl_server_abort(struct sasl_server *s)
{
	s->finished = true;
	s->reason = SASL_REASON_ABORTED;
	x_free(&s->authzid);
}

const char *sasl_server_user(const struct sasl_server *s)
{
	return s->user;
}

const char *sasl_server_authzid(const struct sasl_server *s)
{
	return s->authzid;
}

enum sasl_fail_reason sasl_server_reason(const struct sasl_server *s)
{
	return s->reason;
}

const char *sasl_server_mech(const struct sasl_server *s)
{
	return s->mech->name;
}

void sasl_server_free(struct sasl_server **sp)
{
	struct sasl_server *s = *sp;
	if (s == NULL)
		return;
	if (s->mech->free != NULL)
		s->mech->free(s);
	x_free(&s->user);
	x_free(&s->authzid);
	sasl_str_wipe(&s->login_user);
	explicit_bzero(s, sizeof(*s));
	x_free(sp);
}

const char *sasl_reason_str(enum sasl_fail_reason reason)
{
	switch (reason) {
	case SASL_REASON_NONE:
		return "none";
	case SASL_REASON_MALFORMED:
		return "malformed";
	case SASL_REASON_BAD_CREDENTIALS:
		return "bad-credentials";
	case SASL_REASON_UNKNOWN_USER:
		return "unknown-user";
	case SASL_REASON_AUTHZ_DENIED:
		return "authzid-denied";
	case SASL_REASON_ABORTED:
		return "aborted";
	case SASL_REASON_TEMPFAIL:
		return "tempfail";
	}
	return "?";
}

enum sasl_result sasl_fail(struct sasl_server *s, enum sasl_fail_reason reason)
{
	s->reason = reason;
	x_free(&s->authzid);
	return SASL_FAIL;
}

enum sasl_result sasl_succeed(struct sasl_server *s, const char *authzid)
{
	assert(s->user != NULL);
	if (authzid != NULL && authzid[0] != '\0' && strcmp(authzid, s->user) != 0) {
		if (!s->set.allow_proxy)
			return sasl_fail(s, SASL_REASON_AUTHZ_DENIED);
		s->authzid = x_strdup(authzid);
	} else {
		s->authzid = x_strdup(s->user);
	}
	s->reason = SASL_REASON_NONE;
	return SASL_SUCCESS;
}

enum sasl_result sasl_check_password(struct sasl_server *s, const char *user, const char *password,
				     const char *authzid)
{
	x_free(&s->user);
	s->user = x_strdup(user);
	/* The authzid rule is checked first but reported only after the password, so a
	 * wrong password never reveals whether proxying would be allowed. */
	bool authz_ok = authzid == NULL || authzid[0] == '\0' || strcmp(authzid, user) == 0 ||
			s->set.allow_proxy;
	if (s->set.cb->lookup_password == NULL)
		return sasl_fail(s, SASL_REASON_TEMPFAIL);
	switch (s->set.cb->lookup_password(s->set.cb->ctx, user, password)) {
	case SASL_LOOKUP_OK:
		break;
	case SASL_LOOKUP_BAD:
		return sasl_fail(s, SASL_REASON_BAD_CREDENTIALS);
	case SASL_LOOKUP_UNKNOWN:
		return sasl_fail(s, SASL_REASON_UNKNOWN_USER);
	case SASL_LOOKUP_TEMPFAIL:
	default:
		return sasl_fail(s, SASL_REASON_TEMPFAIL);
	}
	if (!authz_ok)
		return sasl_fail(s, SASL_REASON_AUTHZ_DENIED);
	return sasl_succeed(s, authzid);
}

/* Length of the UTF-8 sequence at p (at most n bytes), 0 if invalid; *cp_r the code point. */
static size_t utf8_decode(const unsigned char *p, size_t n, unsigned long *cp_r)
{
	static const unsigned long min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t len;
	unsigned long cp;
	if (p[0] < 0x80)
		len = 1, cp = p[0];
	else if ((p[0] & 0xe0) == 0xc0)
		len = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0; /* overlong, out of range, or a surrogate */
	*cp_r = cp;
	return len;
}

bool sasl_prep_check(const unsigned char *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned long cp;
		size_t n = utf8_decode(p + i, len - i, &cp);
		if (n == 0)
			return false;
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
			return false; /* RFC 4013 section 2.3: C.2.1 and C.2.2 controls */
		i += n;
	}
	return true;
}

bool sasl_no_nul(const unsigned char *p, size_t n)
{
	return memchr(p, '\0', n) == NULL;
}

void sasl_str_wipe(char **p)
{
	if (*p != NULL)
		explicit_bzero(*p, strlen(*p));
	x_free(p);
}

void sasl_buf_wipe(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	buf_free(b);
}
