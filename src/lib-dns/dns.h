/* dns: the resolver wrapper for outbound mail: MX and address lookups over libunbound's
 * asynchronous API, driven by a libevent loop (ub_fd is watched; ub_process delivers).
 *
 * Address resolution follows RFC 5321 section 5.1: MX records in preference order, a
 * random order among equal preferences; no MX records: the domain itself (implicit MX,
 * its A/AAAA records); a null MX (RFC 7505, "0 .") fails at once with 5.1.10; a domain
 * that does not exist fails with 5.1.2; server failures and timeouts are temporary
 * (4.4.3). CNAMEs are followed by unbound. Interpretation of answers is pure
 * (dns-parse.c, unit-tested with fake answers); dns.c only moves them in and out.
 */
#ifndef TERN_DNS_H
#define TERN_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "buf.h"

#define DNS_NAME_MAX 256 /* dotted, NUL included (RFC 1035 2.3.4: 255 octets) */
#define DNS_MX_MAX 32	 /* MX records kept per domain */
#define DNS_ADDR_MAX 16	 /* addresses kept per host */

#define DNS_TYPE_A 1
#define DNS_TYPE_MX 15
#define DNS_TYPE_AAAA 28

enum dns_status { DNS_OK, DNS_TEMP, DNS_PERM };

/* One answer as the resolver gave it (a view over libunbound's ub_result, or a fake). */
struct dns_answer {
	int rcode; /* 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ... */
	bool nxdomain;
	bool bogus;  /* DNSSEC validation failed */
	bool failed; /* no answer at all (timeout, resolver error) */
	char **data; /* rdata in wire format, names uncompressed */
	const int *len;
	size_t count;
};

struct dns_mx {
	char name[DNS_NAME_MAX];
	unsigned pref;
};

struct dns_mx_result {
	enum dns_status status;
	char enhanced[16]; /* status code for DNS_TEMP/DNS_PERM: "4.4.3", "5.1.10", ... */
	char text[256];
	bool implicit; /* no MX records: hosts[0] is the domain itself */
	struct dns_mx hosts[DNS_MX_MAX];
	size_t count;
};

struct dns_addr_result {
	enum dns_status status;
	char enhanced[16];
	char text[256];
	struct sockaddr_storage addrs[DNS_ADDR_MAX]; /* IPv4 ones first; port 0 */
	socklen_t addr_lens[DNS_ADDR_MAX];
	size_t count;
};

/* ---- Pure interpretation (dns-parse.c) ---- */

/* Reads the uncompressed wire-format name at p[off..len) into out (dotted, no final
 * dot; "" for the root). Returns the bytes it used, or -1 when malformed. */
int dns_wire_name(const unsigned char *p, size_t len, size_t off, char *out, size_t outlen);
/* The MX answer for domain into res: hosts sorted by preference, equal preferences
 * shuffled with rnd(arg) (a random number generator; tests pass a fixed one). */
void dns_mx_interpret(const char *domain, const struct dns_answer *ans, unsigned (*rnd)(void *),
		      void *arg, struct dns_mx_result *res);
/* The A and AAAA answers (either may be NULL) for host into res. implicit: host is a
 * mail domain without MX (a missing domain is then a permanent 5.1.2, and no address a
 * permanent 5.4.4); otherwise host is an MX host (no address is temporary, 4.4.3). */
void dns_addr_interpret(const char *host, const struct dns_answer *a, const struct dns_answer *aaaa,
			bool implicit, struct dns_addr_result *res);

/* ---- Asynchronous lookups (dns.c) ---- */

struct dns;
struct dns_query;
struct event_base;

/* A resolver on base. resolver: "ADDRESS" or "ADDRESS@PORT" to forward every query
 * there; "" or NULL: /etc/resolv.conf and /etc/hosts. NULL + err on failure. */
struct dns *dns_new(struct event_base *base, const char *resolver, struct buf *err);
/* Cancels every pending query (their callbacks are not called) and frees. */
void dns_free(struct dns **d);

typedef void dns_mx_cb(const struct dns_mx_result *res, void *arg);
typedef void dns_addr_cb(const struct dns_addr_result *res, void *arg);

/* Starts an MX lookup; cb is called once, later, from the loop (never from inside this
 * call). The handle is valid until then, or until dns_cancel. */
struct dns_query *dns_lookup_mx(struct dns *d, const char *domain, dns_mx_cb *cb, void *arg);
/* A and AAAA of host; implicit as for dns_addr_interpret. */
struct dns_query *dns_lookup_addr(struct dns *d, const char *host, bool implicit, dns_addr_cb *cb,
				  void *arg);
/* Cancels a pending query (its callback is not called) and clears *q. */
void dns_cancel(struct dns_query **q);

#endif
