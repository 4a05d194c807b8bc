/* relay-ehlo: the service extensions a server lists in its EHLO (or LHLO) reply.
 *
 * RFC 5321 4.1.1.1: after the greeting line, one keyword per line with parameters.
 * Pure and bounded: unknown keywords are ignored, a bad SIZE value counts as no limit.
 */
#include "relay.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static bool relay_kw(const char *line, size_t n, const char *kw, const char **params)
{
	size_t k = strlen(kw);
	if (n < k || strncasecmp(line, kw, k) != 0 || (n > k && line[k] != ' ' && line[k] != '='))
		return false;
	*params = line + k;
	return true;
}

/* AUTH PLAIN LOGIN, or the old AUTH=PLAIN LOGIN form. */
static void relay_auth_mechs(const char *p, size_t n, struct relay_caps *caps)
{
	const char *end = p + n;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '='))
			p++;
		const char *w = p;
		while (p < end && *p != ' ')
			p++;
		size_t wl = (size_t)(p - w);
		if (wl == 5 && strncasecmp(w, "PLAIN", 5) == 0)
			caps->auth_plain = true;
		else if (wl == 5 && strncasecmp(w, "LOGIN", 5) == 0)
			caps->auth_login = true;
	}
}

static void relay_caps_line(const char *line, size_t n, struct relay_caps *caps)
{
	const char *p;
	if (relay_kw(line, n, "PIPELINING", &p))
		caps->pipelining = true;
	else if (relay_kw(line, n, "8BITMIME", &p))
		caps->eightbit = true;
	else if (relay_kw(line, n, "SMTPUTF8", &p))
		caps->smtputf8 = true;
	else if (relay_kw(line, n, "CHUNKING", &p))
		caps->chunking = true;
	else if (relay_kw(line, n, "DSN", &p))
		caps->dsn = true;
	else if (relay_kw(line, n, "STARTTLS", &p))
		caps->starttls = true;
	else if (relay_kw(line, n, "AUTH", &p))
		relay_auth_mechs(p, n - (size_t)(p - line), caps);
	else if (relay_kw(line, n, "SIZE", &p)) {
		caps->size = true;
		char num[24];
		size_t l = n - (size_t)(p - line);
		while (l > 0 && *p == ' ')
			p++, l--;
		if (l > 0 && l < sizeof(num)) {
			memcpy(num, p, l);
			num[l] = '\0';
			char *e;
			unsigned long long v = strtoull(num, &e, 10);
			caps->size_max = *e == '\0' && num[0] >= '0' && num[0] <= '9' ? v : 0;
		}
	}
}

void relay_caps_parse(const char *text, size_t len, struct relay_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	const char *p = text, *end = text + len;
	const char *nl = memchr(p, '\n', len);
	if (nl == NULL)
		return; /* the greeting alone: no extensions */
	p = nl + 1;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		relay_caps_line(p, n, caps);
		p += n + 1;
	}
}
