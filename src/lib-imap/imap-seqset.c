/* imap-seqset: parsing, normalising, testing and formatting IMAP sequence sets.
 *
 * RFC 3501 section 9: sequence-set = (seq-number / seq-range) *("," sequence-set),
 * seq-range = seq-number ":" seq-number where "the two seq-number values can be in either
 * order" (RFC 9051 section 9); "*" is the largest number in use. RFC 5182: "$" alone.
 */
#include "imap-seqset.h"

#include "imap-arg.h"
#include "xalloc.h"

#include <string.h>

void imap_seqset_free(struct imap_seqset *set)
{
	x_free(&set->ranges);
	set->count = set->cap = 0;
	set->saved = false;
}

void imap_seqset_clear(struct imap_seqset *set)
{
	set->count = 0;
	set->saved = false;
}

/* Index of the first range whose hi + 1 >= n (where n could join or follow). */
static size_t find_pos(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((uint64_t)set->ranges[mid].hi + 1 < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	if (lo > hi) {
		uint32_t t = lo;
		lo = hi;
		hi = t;
	}
	size_t i = find_pos(set, lo);
	/* ranges i..j-1 overlap or touch lo..hi: merge them */
	size_t j = i;
	while (j < set->count && set->ranges[j].lo <= (uint64_t)hi + 1) {
		if (set->ranges[j].lo < lo)
			lo = set->ranges[j].lo;
		if (set->ranges[j].hi > hi)
			hi = set->ranges[j].hi;
		j++;
	}
	if (j == i) {
		if (set->count == set->cap) {
			set->cap = set->cap == 0 ? 8 : set->cap * 2;
			set->ranges = x_reallocarray(set->ranges, set->cap, sizeof(*set->ranges));
		}
		memmove(&set->ranges[i + 1], &set->ranges[i],
			(set->count - i) * sizeof(*set->ranges));
		set->count++;
	} else if (j > i + 1) {
		memmove(&set->ranges[i + 1], &set->ranges[j],
			(set->count - j) * sizeof(*set->ranges));
		set->count -= j - i - 1;
	}
	set->ranges[i].lo = lo;
	set->ranges[i].hi = hi;
}

void imap_seqset_copy(struct imap_seqset *dst, const struct imap_seqset *src)
{
	imap_seqset_clear(dst);
	for (size_t i = 0; i < src->count; i++)
		imap_seqset_add(dst, src->ranges[i].lo, src->ranges[i].hi);
	dst->saved = src->saved;
}

/* One seq-number: digits or "*" (returned as 0 with *star_r set). */
static int parse_seq_number(const char *s, size_t len, uint32_t *n_r, bool *star_r,
			    const char **error_r)
{
	uint64_t v;
	*star_r = false;
	if (len == 1 && s[0] == '*') {
		*star_r = true;
		*n_r = 0;
		return 0;
	}
	if (len == 0 || s[0] == '0') {
		/* nz-number = digit-nz *DIGIT */
		*error_r = len == 0 ? "Empty number in sequence set" : "Invalid number in sequence set";
		return -1;
	}
	if (!imap_parse_number(s, len, UINT32_MAX, &v)) {
		*error_r = "Invalid number in sequence set";
		return -1;
	}
	*n_r = (uint32_t)v;
	return 0;
}

static int parse_item(struct imap_seqset *set, const char *s, size_t len, uint32_t star,
		      const char **error_r)
{
	const char *colon = memchr(s, ':', len);
	size_t len1 = colon != NULL ? (size_t)(colon - s) : len;
	uint32_t a, b;
	bool star_a, star_b;
	if (parse_seq_number(s, len1, &a, &star_a, error_r) < 0)
		return -1;
	if (colon == NULL) {
		if (!star_a)
			imap_seqset_add(set, a, a);
		else if (star != 0)
			imap_seqset_add(set, star, star);
		return 0;
	}
	if (parse_seq_number(colon + 1, len - len1 - 1, &b, &star_b, error_r) < 0)
		return -1;
	if (star_a)
		a = star;
	if (star_b)
		b = star;
	/* RFC 3501 section 6.4.8: "559:*" includes the last UID even if 559 is higher */
	if (a == 0)
		a = 1;
	if (b == 0)
		b = 1;
	if (star == 0 && star_a && star_b)
		return 0;
	imap_seqset_add(set, a, b);
	return 0;
}

int imap_seqset_parse(struct imap_seqset *set, const char *s, size_t len, uint32_t star,
		      const char **error_r)
{
	imap_seqset_clear(set);
	if (len == 1 && s[0] == '$') {
		set->saved = true;
		return 0;
	}
	if (len == 0) {
		*error_r = "Empty sequence set";
		return -1;
	}
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != ',')
			continue;
		if (parse_item(set, s + start, i - start, star, error_r) < 0) {
			imap_seqset_clear(set);
			return -1;
		}
		start = i + 1;
	}
	return 0;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set->ranges[mid].hi < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < set->count && set->ranges[lo].lo <= n;
}

uint64_t imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t total = 0;
	for (size_t i = 0; i < set->count; i++)
		total += (uint64_t)set->ranges[i].hi - set->ranges[i].lo + 1;
	return total;
}

bool imap_seqset_next(const struct imap_seqset *set, size_t *pos_r, uint32_t *n_r)
{
	while (*pos_r < set->count) {
		const struct imap_range *r = &set->ranges[*pos_r];
		if (*n_r < r->lo) {
			*n_r = r->lo;
			return true;
		}
		if (*n_r < r->hi) {
			(*n_r)++;
			return true;
		}
		(*pos_r)++;
	}
	return false;
}

void imap_seqset_write(const struct imap_seqset *set, struct buf *out)
{
	for (size_t i = 0; i < set->count; i++) {
		const struct imap_range *r = &set->ranges[i];
		if (i > 0)
			buf_append_char(out, ',');
		if (r->lo == r->hi)
			buf_printf(out, "%u", r->lo);
		else
			buf_printf(out, "%u:%u", r->lo, r->hi);
	}
}
