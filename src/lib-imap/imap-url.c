/* imap-url: parsing the IMAP URLs of messages and parts (RFC 5092), see imap-url.h. */
#include "imap-url.h"
#include "imap-arg.h"
#include "buf.h"
#include "xalloc.h"

#include <string.h>
#include <strings.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* %-decodes s[0..len) into a new string; NULL on a bad escape or a NUL. */
static char *pct_decode(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%') {
			int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				buf_free(&b);
				return NULL;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '\0') {
			buf_free(&b);
			return NULL;
		}
		buf_append_char(&b, c);
	}
	return buf_steal(&b);
}

/* A number of s[0..len) no larger than max (and not 0 when nonzero is set). */
static bool number(const char *s, size_t len, uint64_t max, bool nonzero, uint64_t *n_r)
{
	return imap_parse_number(s, len, max, n_r) && (!nonzero || *n_r != 0);
}

/* Takes the ";NAME=value" parameter at the start of *p (up to '/' or end). */
static bool param(const char **p, const char *end, const char *name, const char **v_r,
		  size_t *vlen_r)
{
	size_t n = strlen(name);
	if ((size_t)(end - *p) < n + 2 || (*p)[0] != ';' || strncasecmp(*p + 1, name, n) != 0 ||
	    (*p)[n + 1] != '=')
		return false;
	const char *v = *p + n + 2, *e = v;
	while (e < end && *e != '/' && *e != ';')
		e++;
	*v_r = v;
	*vlen_r = (size_t)(e - v);
	*p = e;
	return true;
}

/* Skips "imap://authority" of an absolute URL; false when it is neither form. */
static bool skip_server(const char **p, const char *end)
{
	if ((size_t)(end - *p) >= 7 && strncasecmp(*p, "imap://", 7) == 0) {
		const char *s = memchr(*p + 7, '/', (size_t)(end - *p - 7));
		if (s == NULL)
			return false;
		*p = s;
	}
	return *p < end && **p == '/';
}

static int fail(struct imap_url *u, const char **error_r, const char *why)
{
	imap_url_free(u);
	*error_r = why;
	return -1;
}

/* ";PARTIAL=offset[.length]" */
static bool partial_parse(const char *v, size_t len, struct imap_url *u)
{
	const char *dot = memchr(v, '.', len);
	size_t olen = dot != NULL ? (size_t)(dot - v) : len;
	if (!number(v, olen, UINT32_MAX, false, &u->offset))
		return false;
	if (dot != NULL && !number(dot + 1, len - olen - 1, UINT32_MAX, true, &u->length))
		return false;
	u->partial = true;
	return true;
}

int imap_url_parse(const char *url, size_t len, struct imap_url *u, const char **error_r)
{
	const char *p = url, *end = url + len, *v;
	size_t vlen;
	uint64_t n;
	memset(u, 0, sizeof(*u));
	if (!skip_server(&p, end))
		return fail(u, error_r, "not an IMAP URL");
	const char *mb = ++p;
	while (p < end && *p != ';' && !(*p == '/' && p + 1 < end && p[1] == ';'))
		p++;
	if (p == mb || (u->mailbox = pct_decode(mb, (size_t)(p - mb))) == NULL)
		return fail(u, error_r, "invalid mailbox in URL");
	if (param(&p, end, "UIDVALIDITY", &v, &vlen)) {
		if (!number(v, vlen, UINT32_MAX, true, &n))
			return fail(u, error_r, "invalid UIDVALIDITY in URL");
		u->uidvalidity = (uint32_t)n;
	}
	if (p >= end || *p++ != '/' || !param(&p, end, "UID", &v, &vlen) ||
	    !number(v, vlen, UINT32_MAX, true, &n))
		return fail(u, error_r, "URL without a UID");
	u->uid = (uint32_t)n;
	if (p + 1 < end && *p == '/' && (++p, param(&p, end, "SECTION", &v, &vlen))) {
		if (vlen == 0 || (u->section = pct_decode(v, vlen)) == NULL)
			return fail(u, error_r, "invalid SECTION in URL");
	}
	if (p + 1 < end && *p == '/')
		p++;
	if (p < end && param(&p, end, "PARTIAL", &v, &vlen) && !partial_parse(v, vlen, u))
		return fail(u, error_r, "invalid PARTIAL in URL");
	if (p != end)
		return fail(u, error_r, "unsupported URL");
	return 0;
}

void imap_url_free(struct imap_url *u)
{
	x_free(&u->mailbox);
	x_free(&u->section);
	memset(u, 0, sizeof(*u));
}
