/* imap-seqset: IMAP sequence sets as normalised sorted range lists.
 *
 * RFC 3501 / RFC 9051 section 9 "sequence-set": numbers, ranges in either order, "*" (the
 * largest number in use, given by the caller), and "$" (RFC 5182 SEARCHRES: the saved
 * search result, which the caller substitutes). Also builds and formats sets for responses
 * such as COPYUID (RFC 4315) and ESEARCH ALL (RFC 4731).
 */
#ifndef TERN_IMAP_SEQSET_H
#define TERN_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct imap_range {
	uint32_t lo, hi; /* lo <= hi */
};

struct imap_seqset {
	struct imap_range *ranges; /* sorted, disjoint, not adjacent */
	size_t count, cap;
	bool saved; /* the set was "$": use the saved result instead */
};

#define IMAP_SEQSET_INIT {NULL, 0, 0, false}

void imap_seqset_free(struct imap_seqset *set);
void imap_seqset_clear(struct imap_seqset *set);
/* Parses s[0..len) replacing "*" with star (the message count, or the highest UID). Numbers
 * are 1..4294967295. With star 0 (empty mailbox) "*" matches nothing: "1:*" yields 1 and a lone
 * "*" nothing (UID commands then find no message; sequence-number commands should refuse "*"
 * on an empty mailbox themselves). Returns 0, or -1 with a reason for a BAD reply. */
int imap_seqset_parse(struct imap_seqset *set, const char *s, size_t len, uint32_t star,
		      const char **error_r);
/* Adds lo..hi (either order), keeping the set normalised. */
void imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi);
void imap_seqset_copy(struct imap_seqset *dst, const struct imap_seqset *src);
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
uint64_t imap_seqset_count(const struct imap_seqset *set);
/* Iteration in ascending order: uint32_t n = 0; size_t i = 0; while (imap_seqset_next(set,
 * &i, &n)) ... Start with *pos_r 0 and *n_r 0. */
bool imap_seqset_next(const struct imap_seqset *set, size_t *pos_r, uint32_t *n_r);
/* Appends "1,3:5,7" (nothing for an empty set). */
void imap_seqset_write(const struct imap_seqset *set, struct buf *out);

#endif
