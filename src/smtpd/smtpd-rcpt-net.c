/* smtpd-rcpt-net: the trusted networks of relay control (option mynetworks), and the
 * count of Received: fields that stops mail loops (RFC 5321 6.3). Pure functions.
 *
 * Networks are CIDR blocks, IPv4 "a.b.c.d/len" or IPv6 "x::y/len"; an address without
 * "/len" is one host. An IPv4-mapped IPv6 client (::ffff:a.b.c.d) matches IPv4 blocks.
 */
#include "smtpd-private.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int smtpd_net_parse(const char *text, struct smtpd_net *net)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hl = slash ? (size_t)(slash - text) : strlen(text);
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, text, hl);
	host[hl] = '\0';
	memset(net, 0, sizeof(*net));
	unsigned max;
	if (inet_pton(AF_INET, host, net->addr) == 1) {
		net->family = AF_INET, max = 32;
	} else if (inet_pton(AF_INET6, host, net->addr) == 1) {
		net->family = AF_INET6, max = 128;
	} else {
		return -1;
	}
	net->prefix = max;
	if (slash != NULL) {
		char *end;
		unsigned long p = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || p > max)
			return -1;
		net->prefix = (unsigned)p;
	}
	return 0;
}

static bool smtpd_net_match_one(const struct smtpd_net *net, const unsigned char *a)
{
	unsigned full = net->prefix / 8, rest = net->prefix % 8;
	if (memcmp(net->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (net->addr[full] & mask) == (a[full] & mask);
}

bool smtpd_net_match(const struct smtpd_net *nets, size_t n, const char *ip)
{
	unsigned char a4[4], a6[16];
	bool v4 = inet_pton(AF_INET, ip, a4) == 1;
	bool v6 = !v4 && inet_pton(AF_INET6, ip, a6) == 1;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (v6 && memcmp(a6, mapped, 12) == 0) {
		memcpy(a4, a6 + 12, 4);
		v4 = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (nets[i].family == AF_INET && v4 && smtpd_net_match_one(&nets[i], a4))
			return true;
		if (nets[i].family == AF_INET6 && v6 && smtpd_net_match_one(&nets[i], a6))
			return true;
	}
	return false;
}

void smtpd_hops_feed(struct smtpd_hops *h, const char *p, size_t n)
{
	static const char name[] = "received:";
	for (size_t i = 0; i < n && !h->body; i++) {
		char c = p[i];
		if (c == '\r')
			continue;
		if (c == '\n') {
			if (h->col == 0)
				h->body = true; /* the empty line: end of the header section */
			h->col = 0;
			h->matching = true;
			continue;
		}
		if (h->matching && h->col < sizeof(name) - 1) {
			char lc = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			h->matching = lc == name[h->col];
			if (h->matching && h->col == sizeof(name) - 2)
				h->count++;
		}
		h->col++;
	}
}
