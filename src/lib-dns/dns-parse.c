/* dns-parse: pure interpretation of resolver answers for mail routing (see dns.h).
 *
 * RFC 5321 5.1 (MX order, implicit MX), RFC 7505 (null MX), RFC 3463 codes. Everything in
 * the answers is untrusted: names are length-checked label by label, record counts and
 * lengths are bounded by the caller's arrays.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int dns_wire_name(const unsigned char *p, size_t len, size_t off, char *out, size_t outlen)
{
	size_t o = 0, start = off;
	if (outlen == 0)
		return -1;
	for (;;) {
		if (off >= len)
			return -1;
		unsigned lab = p[off++];
		if (lab == 0)
			break;
		if (lab > 63 || off + lab > len) /* compression pointers are not expected here */
			return -1;
		if (o > 0)
			out[o++] = '.';
		if (o + lab + 1 >= outlen)
			return -1;
		for (unsigned i = 0; i < lab; i++) {
			unsigned char c = p[off + i];
			if (c <= ' ' || c == 0x7f || c == '.')
				return -1; /* not a host name: refuse rather than pass on */
			out[o++] = (char)c;
		}
		off += lab;
	}
	out[o] = '\0';
	return (int)(off - start);
}

static void dns_set(enum dns_status *st, char *enh, char *text, enum dns_status s, const char *code,
		    const char *fmt, const char *name)
{
	*st = s;
	snprintf(enh, 16, "%s", code);
	snprintf(text, 256, fmt, name);
}

/* Sorts by preference (insertion sort: at most DNS_MX_MAX), then shuffles each run of
 * equal preferences (Fisher-Yates). */
static void dns_mx_order(struct dns_mx *h, size_t n, unsigned (*rnd)(void *), void *arg)
{
	for (size_t i = 1; i < n; i++) {
		struct dns_mx t = h[i];
		size_t j = i;
		for (; j > 0 && h[j - 1].pref > t.pref; j--)
			h[j] = h[j - 1];
		h[j] = t;
	}
	for (size_t s = 0; s < n;) {
		size_t e = s + 1;
		while (e < n && h[e].pref == h[s].pref)
			e++;
		for (size_t i = e - 1; i > s && rnd != NULL; i--) {
			size_t j = s + rnd(arg) % (i - s + 1);
			struct dns_mx t = h[i];
			h[i] = h[j];
			h[j] = t;
		}
		s = e;
	}
}

/* Answer-level failures shared by MX and address lookups; true when it was one. */
static bool dns_failure(const char *name, const struct dns_answer *ans, enum dns_status *st,
			char *enh, char *text, bool nx_is_perm)
{
	if (ans->failed || ans->bogus || (ans->rcode != 0 && ans->rcode != 3)) {
		dns_set(st, enh, text, DNS_TEMP, "4.4.3",
			ans->bogus ? "DNSSEC validation failed for %s"
				   : "temporary DNS failure looking up %s",
			name);
		return true;
	}
	if (ans->nxdomain || ans->rcode == 3) {
		if (nx_is_perm)
			dns_set(st, enh, text, DNS_PERM, "5.1.2", "domain %s does not exist", name);
		else
			dns_set(st, enh, text, DNS_TEMP, "4.4.3", "host %s does not exist", name);
		return true;
	}
	return false;
}

void dns_mx_interpret(const char *domain, const struct dns_answer *ans, unsigned (*rnd)(void *),
		      void *arg, struct dns_mx_result *res)
{
	memset(res, 0, sizeof(*res));
	if (dns_failure(domain, ans, &res->status, res->enhanced, res->text, true))
		return;
	bool null_mx = false;
	for (size_t i = 0; i < ans->count && res->count < DNS_MX_MAX; i++) {
		const unsigned char *p = (const unsigned char *)ans->data[i];
		size_t len = ans->len[i] > 0 ? (size_t)ans->len[i] : 0;
		struct dns_mx *h = &res->hosts[res->count];
		if (len < 3 || dns_wire_name(p, len, 2, h->name, sizeof(h->name)) < 0)
			continue; /* a malformed record is skipped, not trusted */
		h->pref = (unsigned)p[0] << 8 | p[1];
		if (h->name[0] == '\0') {
			null_mx = true; /* RFC 7505: "." as the exchange */
			continue;
		}
		res->count++;
	}
	if (null_mx && res->count == 0) {
		dns_set(&res->status, res->enhanced, res->text, DNS_PERM, "5.1.10",
			"domain %s accepts no mail (null MX, RFC 7505)", domain);
		return;
	}
	if (res->count == 0) { /* RFC 5321 5.1: the domain is its own implicit MX */
		res->implicit = true;
		snprintf(res->hosts[0].name, sizeof(res->hosts[0].name), "%s", domain);
		res->count = 1;
	} else {
		dns_mx_order(res->hosts, res->count, rnd, arg);
	}
	res->status = DNS_OK;
}

static void dns_addr_add(struct dns_addr_result *res, const struct dns_answer *ans, int family)
{
	for (size_t i = 0; ans != NULL && i < ans->count && res->count < DNS_ADDR_MAX; i++) {
		struct sockaddr_storage *ss = &res->addrs[res->count];
		memset(ss, 0, sizeof(*ss));
		if (family == AF_INET && ans->len[i] == 4) {
			struct sockaddr_in *sin = (struct sockaddr_in *)ss;
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, ans->data[i], 4);
			res->addr_lens[res->count++] = sizeof(*sin);
		} else if (family == AF_INET6 && ans->len[i] == 16) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, ans->data[i], 16);
			res->addr_lens[res->count++] = sizeof(*sin6);
		}
	}
}

void dns_addr_interpret(const char *host, const struct dns_answer *a, const struct dns_answer *aaaa,
			bool implicit, struct dns_addr_result *res)
{
	memset(res, 0, sizeof(*res));
	dns_addr_add(res, a, AF_INET);
	dns_addr_add(res, aaaa, AF_INET6);
	if (res->count > 0) {
		res->status = DNS_OK;
		return;
	}
	/* No address: the first failure explains it (A's, then AAAA's). */
	if (a != NULL && dns_failure(host, a, &res->status, res->enhanced, res->text, implicit))
		return;
	if (aaaa != NULL &&
	    dns_failure(host, aaaa, &res->status, res->enhanced, res->text, implicit))
		return;
	if (implicit)
		dns_set(&res->status, res->enhanced, res->text, DNS_PERM, "5.4.4",
			"domain %s has no MX and no address records", host);
	else
		dns_set(&res->status, res->enhanced, res->text, DNS_TEMP, "4.4.3",
			"MX host %s has no address records", host);
}
