/* sieve-match: comparators and match types.
 *
 * RFC 5228 2.7.1 (:is, :contains, :matches with "*", "?" and "\" escapes), 2.7.3
 * (i;octet, i;ascii-casemap), RFC 4790 9.1 (i;ascii-numeric: leading digits, no digits is
 * positive infinity), RFC 5231 (relational :count and :value), the regex draft (:regex,
 * POSIX extended syntax), RFC 5229 3.2 (match variables: ${0} the whole match, then one
 * per wildcard or regex group; each "*" takes as little as it can).
 */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve-run.h"
#include "xalloc.h"

static int numeric_order(const char *a, const char *b)
{
	bool ia = !isdigit((unsigned char)*a), ib = !isdigit((unsigned char)*b);
	if (ia || ib)
		return ia && ib ? 0 : ia ? 1 : -1;
	while (*a == '0' && isdigit((unsigned char)a[1]))
		a++;
	while (*b == '0' && isdigit((unsigned char)b[1]))
		b++;
	size_t la = 0, lb = 0;
	while (isdigit((unsigned char)a[la]))
		la++;
	while (isdigit((unsigned char)b[lb]))
		lb++;
	if (la != lb)
		return la < lb ? -1 : 1;
	int c = memcmp(a, b, la);
	return c < 0 ? -1 : c > 0;
}

int sieve_cmp_order(enum sieve_cmp cmp, const char *a, const char *b)
{
	int c;
	if (cmp == SIEVE_CMP_NUMERIC)
		return numeric_order(a, b);
	if (cmp == SIEVE_CMP_CASEMAP)
		c = strcasecmp(a, b);
	else
		c = strcmp(a, b);
	return c < 0 ? -1 : c > 0;
}

static bool rel_holds(enum sieve_rel rel, int order)
{
	switch (rel) {
	case SIEVE_REL_GT:
		return order > 0;
	case SIEVE_REL_GE:
		return order >= 0;
	case SIEVE_REL_LT:
		return order < 0;
	case SIEVE_REL_LE:
		return order <= 0;
	case SIEVE_REL_EQ:
		return order == 0;
	case SIEVE_REL_NE:
		return order != 0;
	}
	return false;
}

static bool chr_eq(enum sieve_cmp cmp, char a, char b)
{
	if (cmp == SIEVE_CMP_CASEMAP)
		return tolower((unsigned char)a) == tolower((unsigned char)b);
	return a == b;
}

static bool contains(enum sieve_cmp cmp, const char *v, const char *k)
{
	size_t lv = strlen(v), lk = strlen(k);
	for (size_t i = 0; i + lk <= lv; i++) {
		size_t j = 0;
		while (j < lk && chr_eq(cmp, v[i + j], k[j]))
			j++;
		if (j == lk)
			return true;
	}
	return false;
}

struct capture {
	size_t start, end;
};

/* Wildcard match: on each mismatch go back to the last "*" and let it take one more
 * character. caps[i] records what wildcard i took. */
static bool wild_match(enum sieve_cmp cmp, const char *v, const char *pat, struct capture *caps,
		       size_t *ncaps_r)
{
	size_t vi = 0, pi = 0, ncap = 0, star_pi = SIZE_MAX, star_vi = 0, star_cap = 0;
	size_t vlen = strlen(v), plen = strlen(pat);
	while (vi < vlen || pi < plen) {
		if (pi < plen && pat[pi] == '*') {
			star_pi = pi++;
			star_vi = vi;
			star_cap = ncap;
			if (ncap < SIEVE_MAX_MATCH_VARS - 1)
				caps[ncap] = (struct capture){vi, vi};
			ncap++;
			continue;
		}
		if (pi < plen && vi < vlen) {
			char pc = pat[pi];
			size_t adv = 1;
			if (pc == '\\' && pi + 1 < plen)
				pc = pat[pi + 1], adv = 2;
			if (pat[pi] == '?') {
				if (ncap < SIEVE_MAX_MATCH_VARS - 1)
					caps[ncap] = (struct capture){vi, vi + 1};
				ncap++;
				pi++, vi++;
				continue;
			}
			if (chr_eq(cmp, pc, v[vi])) {
				pi += adv, vi++;
				continue;
			}
		}
		if (star_pi == SIZE_MAX || star_vi >= vlen)
			return false;
		pi = star_pi + 1;
		vi = ++star_vi;
		ncap = star_cap + 1;
		if (star_cap < SIEVE_MAX_MATCH_VARS - 1)
			caps[star_cap].end = star_vi;
	}
	*ncaps_r = ncap;
	return true;
}

static void set_matches(struct sieve_run *r, const char *v, const struct capture *caps, size_t n)
{
	if (!sieve_run_has(r, SIEVE_EXT_VARIABLES))
		return;
	if (n > SIEVE_MAX_MATCH_VARS)
		n = SIEVE_MAX_MATCH_VARS;
	for (size_t i = 0; i < SIEVE_MAX_MATCH_VARS; i++)
		buf_reset(&r->match[i]);
	for (size_t i = 0; i < n; i++)
		buf_append(&r->match[i], v + caps[i].start, caps[i].end - caps[i].start);
	r->nmatch = n;
}

static bool regex_match(struct sieve_run *r, enum sieve_cmp cmp, const char *v, const char *k)
{
	regex_t re;
	regmatch_t m[SIEVE_MAX_MATCH_VARS];
	int flags = REG_EXTENDED | (cmp == SIEVE_CMP_CASEMAP ? REG_ICASE : 0);
	if (regcomp(&re, k, flags) != 0) {
		sieve_runtime_error(r, 0, "invalid regular expression '%s'", k);
		return false;
	}
	bool ok = regexec(&re, v, SIEVE_MAX_MATCH_VARS, m, 0) == 0;
	if (ok) {
		struct capture caps[SIEVE_MAX_MATCH_VARS];
		size_t n = 0;
		for (size_t i = 0; i < SIEVE_MAX_MATCH_VARS && i <= re.re_nsub; i++, n++)
			caps[i] = m[i].rm_so < 0
				      ? (struct capture){0, 0}
				      : (struct capture){(size_t)m[i].rm_so, (size_t)m[i].rm_eo};
		set_matches(r, v, caps, n);
	}
	regfree(&re);
	return ok;
}

/* One value against one key. */
static bool match_one(struct sieve_run *r, const struct sieve_opts *o, const char *v, const char *k)
{
	switch (o->match) {
	case SIEVE_MATCH_IS:
		return sieve_cmp_order(o->cmp, v, k) == 0;
	case SIEVE_MATCH_CONTAINS:
		return contains(o->cmp, v, k);
	case SIEVE_MATCH_MATCHES: {
		struct capture caps[SIEVE_MAX_MATCH_VARS];
		size_t n = 0;
		if (!wild_match(o->cmp, v, k, caps + 1, &n))
			return false;
		caps[0] = (struct capture){0, strlen(v)};
		set_matches(r, v, caps, n + 1);
		return true;
	}
	case SIEVE_MATCH_REGEX:
		return regex_match(r, o->cmp, v, k);
	case SIEVE_MATCH_VALUE:
		return rel_holds(o->rel, sieve_cmp_order(o->cmp, v, k));
	case SIEVE_MATCH_COUNT:
		break;
	}
	return false;
}

bool sieve_match(struct sieve_run *r, const struct sieve_opts *o, const struct sieve_strs *vals,
		 const struct sieve_arg *keys)
{
	bool ok = false;
	char count[32];
	snprintf(count, sizeof(count), "%zu", vals->count);
	for (size_t k = 0; k < keys->count && !ok && !r->failed; k++) {
		char *key = sieve_expand_str(r, keys->strs[k]);
		if (o->match == SIEVE_MATCH_COUNT) {
			ok = rel_holds(o->rel, sieve_cmp_order(o->cmp, count, key));
		} else {
			for (size_t i = 0; i < vals->count && !ok; i++)
				ok = match_one(r, o, vals->v[i], key);
		}
		free(key);
	}
	return ok;
}
