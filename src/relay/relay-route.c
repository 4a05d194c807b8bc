/* relay-route: where a non-local recipient's mail goes, from the configuration text.
 *
 * Pure functions over option strings (transport_map, relayhost, tls_policy_map), so the
 * queue manager's threads can call them and unit tests can feed them anything. A bracketed
 * host ([mx.example.org] or [10.0.0.5]) means "no MX lookup" as in Postfix and RFC 5321
 * 4.1.3 address literals.
 */
#include "relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Parses HOST, [HOST], HOST:PORT, [HOST]:PORT (IPv6 only inside brackets). */
static int relay_parse_hostport(const char *s, unsigned def_port, struct relay_nexthop *hop,
				struct buf *err)
{
	const char *host = s, *end, *port = NULL;
	hop->mx = true;
	if (*s == '[') {
		host = s + 1;
		end = strchr(host, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':')) {
			buf_printf(err, "bad host in \"%s\": a [ without its ]", s);
			return -1;
		}
		hop->mx = false;
		if (end[1] == ':')
			port = end + 2;
	} else {
		end = strchr(host, ':');
		if (end != NULL)
			port = end + 1;
		else
			end = host + strlen(host);
	}
	size_t n = (size_t)(end - host);
	if (n == 0 || n >= sizeof(hop->host)) {
		buf_printf(err, "bad host in \"%s\"", s);
		return -1;
	}
	memcpy(hop->host, host, n);
	hop->host[n] = '\0';
	hop->port = def_port;
	if (port != NULL) {
		char *e;
		unsigned long p = strtoul(port, &e, 10);
		if (*port == '\0' || *e != '\0' || p == 0 || p > 65535) {
			buf_printf(err, "bad port in \"%s\"", s);
			return -1;
		}
		hop->port = (unsigned)p;
	}
	return 0;
}

int relay_parse_transport(const char *spec, unsigned default_port, struct relay_nexthop *hop,
			  struct buf *err)
{
	memset(hop, 0, sizeof(*hop));
	if (strncmp(spec, "lmtp:unix:", 10) == 0) {
		const char *path = spec + 10;
		if (path[0] != '/' || strlen(path) >= sizeof(hop->host)) {
			buf_printf(err, "bad LMTP socket path in \"%s\"", spec);
			return -1;
		}
		hop->proto = RELAY_LMTP;
		hop->unix_path = true;
		snprintf(hop->host, sizeof(hop->host), "%s", path);
		return 0;
	}
	if (strncmp(spec, "lmtp:inet:", 10) == 0 || strncmp(spec, "lmtp:", 5) == 0) {
		const char *hp =
		    spec + (spec[5] == 'i' && strncmp(spec, "lmtp:inet:", 10) == 0 ? 10 : 5);
		hop->proto = RELAY_LMTP;
		if (relay_parse_hostport(hp, 24, hop, err) < 0)
			return -1;
		hop->mx = false; /* LMTP goes to a host, never to MX records */
		return 0;
	}
	if (strncmp(spec, "relay:", 6) == 0 || strncmp(spec, "smtp:", 5) == 0)
		spec = strchr(spec, ':') + 1;
	hop->proto = RELAY_SMTP;
	return relay_parse_hostport(spec, default_port, hop, err);
}

/* Does domain match the map key (exact, or ".parent" for any subdomain)? */
static bool relay_domain_match(const char *key, const char *domain)
{
	if (key[0] == '.') {
		size_t kl = strlen(key), dl = strlen(domain);
		return dl > kl && str_ieq(domain + dl - kl, key);
	}
	return str_ieq(key, domain);
}

/* Finds domain's entry in a comma-separated list of "KEY SEP VALUE" (SEP ' ' or ':');
 * copies VALUE into out. 1 found, 0 not. */
static int relay_map_find(const char *map, char sep, const char *domain, char *out, size_t n)
{
	const char *p = map;
	while (p != NULL && *p != '\0') {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[600];
		while (len > 0 && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0 && len < sizeof(item)) {
			memcpy(item, p, len);
			item[len] = '\0';
			char *s = strchr(item, sep);
			if (s != NULL) {
				*s++ = '\0';
				while (*s == ' ' || *s == '\t')
					s++;
				char *ke = item + strlen(item);
				while (ke > item && (ke[-1] == ' ' || ke[-1] == '\t'))
					*--ke = '\0';
				if (relay_domain_match(item, domain)) {
					snprintf(out, n, "%s", s);
					return 1;
				}
			}
		}
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

int relay_route(const char *domain, const char *transport_map, const char *relayhost, unsigned port,
		struct relay_nexthop *hop, struct buf *err)
{
	char spec[600];
	if (transport_map != NULL && relay_map_find(transport_map, ' ', domain, spec, sizeof(spec)))
		return relay_parse_transport(spec, 25, hop, err);
	if (relayhost != NULL && relayhost[0] != '\0') {
		int r = relay_parse_transport(relayhost, 25, hop, err);
		hop->smarthost = true;
		return r;
	}
	memset(hop, 0, sizeof(*hop));
	hop->proto = RELAY_SMTP;
	hop->mx = true;
	hop->port = port;
	if (strlen(domain) >= sizeof(hop->host)) {
		buf_printf(err, "domain too long");
		return -1;
	}
	snprintf(hop->host, sizeof(hop->host), "%s", domain);
	/* An address literal (user@[10.0.0.5]) is its own next hop. */
	if (domain[0] == '[') {
		size_t n = strlen(domain);
		if (n < 3 || domain[n - 1] != ']') {
			buf_printf(err, "bad address literal %s", domain);
			return -1;
		}
		const char *a = domain + 1;
		if (str_iprefix(a, "IPv6:"))
			a += 5;
		snprintf(hop->host, sizeof(hop->host), "%.*s", (int)(domain + n - 1 - a), a);
		hop->mx = false;
	}
	return 0;
}

enum relay_tls relay_tls_policy(const char *name, const char *policy_map, enum relay_tls def)
{
	static const char *const names[] = {"none", "may", "encrypt", "verify"};
	char v[64];
	if (policy_map == NULL || !relay_map_find(policy_map, ':', name, v, sizeof(v)))
		return def;
	for (size_t i = 0; i < 4; i++)
		if (str_ieq(v, names[i]))
			return (enum relay_tls)i;
	return def;
}

void relay_nexthop_key(const struct relay_nexthop *hop, char *out, size_t outlen)
{
	if (hop->unix_path)
		snprintf(out, outlen, "lmtp:unix:%s", hop->host);
	else
		snprintf(out, outlen, "%s:%s%s%s:%u", hop->proto == RELAY_LMTP ? "lmtp" : "smtp",
			 hop->mx ? "" : "[", hop->host, hop->mx ? "" : "]", hop->port);
}
