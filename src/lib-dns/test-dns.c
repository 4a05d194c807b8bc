/* test-dns: the pure interpretation of resolver answers, with fake answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "dns.h"

/* MX rdata: preference then the wire-format name of host ("" = root). */
static int mx_rdata(unsigned char *out, unsigned pref, const char *host)
{
	int n = 0;
	out[n++] = (unsigned char)(pref >> 8);
	out[n++] = (unsigned char)pref;
	while (*host != '\0') {
		const char *dot = strchr(host, '.');
		size_t l = dot ? (size_t)(dot - host) : strlen(host);
		out[n++] = (unsigned char)l;
		memcpy(out + n, host, l);
		n += (int)l;
		host += l + (dot ? 1 : 0);
	}
	out[n++] = 0;
	return n;
}

static unsigned fixed_rnd(void *arg)
{
	return (*(unsigned *)arg)++;
}

static void test_wire_name(void **state)
{
	unsigned char b[64];
	char out[DNS_NAME_MAX];
	int n = mx_rdata(b, 0, "mx.example.org");
	assert_int_equal(dns_wire_name(b, (size_t)n, 2, out, sizeof(out)), n - 2);
	assert_string_equal(out, "mx.example.org");
	/* truncated, and a label running past the end */
	assert_int_equal(dns_wire_name(b, (size_t)n - 1, 2, out, sizeof(out)), -1);
	b[2] = 60;
	assert_int_equal(dns_wire_name(b, (size_t)n, 2, out, sizeof(out)), -1);
	/* compression pointer, control character, too small an output */
	unsigned char c[] = {0xc0, 0x0c};
	assert_int_equal(dns_wire_name(c, 2, 0, out, sizeof(out)), -1);
	unsigned char d[] = {2, 'a', '\n', 0};
	assert_int_equal(dns_wire_name(d, 4, 0, out, sizeof(out)), -1);
	n = mx_rdata(b, 0, "abc.def");
	assert_int_equal(dns_wire_name(b, (size_t)n, 2, out, 5), -1);
}

static void test_mx_order(void **state)
{
	unsigned char r[4][64];
	char *data[4];
	int lens[4];
	lens[0] = mx_rdata(r[0], 20, "c.example");
	lens[1] = mx_rdata(r[1], 10, "a.example");
	lens[2] = mx_rdata(r[2], 10, "b.example");
	lens[3] = mx_rdata(r[3], 5, "first.example");
	for (int i = 0; i < 4; i++)
		data[i] = (char *)r[i];
	struct dns_answer ans = {.data = data, .len = lens, .count = 4};
	struct dns_mx_result res;
	unsigned seed = 0;
	dns_mx_interpret("example", &ans, fixed_rnd, &seed, &res);
	assert_int_equal(res.status, DNS_OK);
	assert_false(res.implicit);
	assert_int_equal(res.count, 4);
	assert_string_equal(res.hosts[0].name, "first.example");
	assert_string_equal(res.hosts[3].name, "c.example");
	assert_int_equal(res.hosts[1].pref, 10);
	/* the equal pair comes out in both orders over different random draws */
	int seen_a_first = 0, seen_b_first = 0;
	for (unsigned s = 0; s < 8; s++) {
		seed = s;
		dns_mx_interpret("example", &ans, fixed_rnd, &seed, &res);
		if (strcmp(res.hosts[1].name, "a.example") == 0)
			seen_a_first++;
		else
			seen_b_first++;
	}
	assert_true(seen_a_first > 0 && seen_b_first > 0);
}

static void test_mx_implicit_null_failures(void **state)
{
	struct dns_mx_result res;
	struct dns_answer none = {0};
	dns_mx_interpret("plain.example", &none, NULL, NULL, &res);
	assert_int_equal(res.status, DNS_OK);
	assert_true(res.implicit);
	assert_string_equal(res.hosts[0].name, "plain.example");

	unsigned char r[8];
	char *data[] = {(char *)r};
	int lens[] = {mx_rdata(r, 0, "")};
	struct dns_answer null_mx = {.data = data, .len = lens, .count = 1};
	dns_mx_interpret("nullmx.example", &null_mx, NULL, NULL, &res);
	assert_int_equal(res.status, DNS_PERM);
	assert_string_equal(res.enhanced, "5.1.10");

	struct dns_answer nx = {.rcode = 3, .nxdomain = true};
	dns_mx_interpret("nx.example", &nx, NULL, NULL, &res);
	assert_int_equal(res.status, DNS_PERM);
	assert_string_equal(res.enhanced, "5.1.2");

	struct dns_answer sf = {.rcode = 2};
	dns_mx_interpret("sf.example", &sf, NULL, NULL, &res);
	assert_int_equal(res.status, DNS_TEMP);
	assert_string_equal(res.enhanced, "4.4.3");

	struct dns_answer to = {.failed = true};
	dns_mx_interpret("to.example", &to, NULL, NULL, &res);
	assert_int_equal(res.status, DNS_TEMP);

	/* a malformed record is skipped: the domain falls back to itself */
	unsigned char bad[] = {0, 10, 50, 'x'};
	char *bd[] = {(char *)bad};
	int bl[] = {4};
	struct dns_answer malformed = {.data = bd, .len = bl, .count = 1};
	dns_mx_interpret("m.example", &malformed, NULL, NULL, &res);
	assert_int_equal(res.status, DNS_OK);
	assert_true(res.implicit);
}

static void test_addr(void **state)
{
	unsigned char v4[4] = {127, 0, 0, 2}, v6[16] = {0};
	v6[15] = 1;
	char *d4[] = {(char *)v4}, *d6[] = {(char *)v6};
	int l4[] = {4}, l6[] = {16};
	struct dns_answer a = {.data = d4, .len = l4, .count = 1};
	struct dns_answer aaaa = {.data = d6, .len = l6, .count = 1};
	struct dns_addr_result res;
	dns_addr_interpret("h.example", &a, &aaaa, false, &res);
	assert_int_equal(res.status, DNS_OK);
	assert_int_equal(res.count, 2);
	assert_int_equal(res.addrs[0].ss_family, AF_INET);
	assert_int_equal(res.addrs[1].ss_family, AF_INET6);

	struct dns_answer empty = {0}, nx = {.rcode = 3, .nxdomain = true}, sf = {.rcode = 2};
	dns_addr_interpret("h.example", &empty, &empty, false, &res);
	assert_int_equal(res.status, DNS_TEMP);
	dns_addr_interpret("h.example", &empty, &empty, true, &res);
	assert_int_equal(res.status, DNS_PERM);
	assert_string_equal(res.enhanced, "5.4.4");
	dns_addr_interpret("h.example", &nx, &nx, true, &res);
	assert_int_equal(res.status, DNS_PERM);
	assert_string_equal(res.enhanced, "5.1.2");
	dns_addr_interpret("h.example", &nx, &nx, false, &res);
	assert_int_equal(res.status, DNS_TEMP);
	dns_addr_interpret("h.example", &sf, &empty, true, &res);
	assert_int_equal(res.status, DNS_TEMP);
	/* a wrong-sized record is ignored */
	int bad[] = {5};
	struct dns_answer odd = {.data = d4, .len = bad, .count = 1};
	dns_addr_interpret("h.example", &odd, NULL, false, &res);
	assert_int_equal(res.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wire_name),
	    cmocka_unit_test(test_mx_order),
	    cmocka_unit_test(test_mx_implicit_null_failures),
	    cmocka_unit_test(test_addr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
