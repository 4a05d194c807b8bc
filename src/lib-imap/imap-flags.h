/* imap-flags: message flag lists (RFC 3501 / RFC 9051 section 2.3.2 and 9 "flag-list").
 *
 * System flags are bits; keywords are atoms kept in the order first seen, without
 * case-insensitive duplicates. Used by STORE, APPEND and the FLAGS response.
 */
#ifndef TERN_IMAP_FLAGS_H
#define TERN_IMAP_FLAGS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "imap-arg.h"

enum imap_flag {
	IMAP_FLAG_SEEN = 1 << 0,
	IMAP_FLAG_ANSWERED = 1 << 1,
	IMAP_FLAG_FLAGGED = 1 << 2,
	IMAP_FLAG_DELETED = 1 << 3,
	IMAP_FLAG_DRAFT = 1 << 4,
	IMAP_FLAG_RECENT = 1 << 5, /* never settable by a client */
};

#define IMAP_KEYWORD_MAX_LEN 128
#define IMAP_KEYWORDS_MAX 256 /* per command */

struct imap_flags {
	unsigned system;
	char **keywords;
	size_t keyword_count;
};

/* "\Seen" etc. (case-insensitive) to its bit; 0 if not a system flag. */
unsigned imap_flag_from_name(const char *name);
const char *imap_flag_name(unsigned bit);
/* True if s is a valid flag-keyword (an atom of ATOM-CHARs, bounded length). */
bool imap_keyword_is_valid(const char *s);
/* Parses flags from args[0..count) (the items of a flag-list, or bare flags). "\Recent"
 * and unknown "\X" flags are refused, as is "\*". Returns 0 or -1 with a BAD reason. */
int imap_flags_parse(const struct imap_arg *args, size_t count, struct imap_flags *flags_r,
		     const char **error_r);
void imap_flags_free(struct imap_flags *flags);
/* Adds a keyword unless present; returns false if the keyword limit is reached. */
bool imap_flags_add_keyword(struct imap_flags *flags, const char *keyword);
/* Writes "(\Seen \Flagged $Junk)". */
void imap_flags_write(struct buf *out, const struct imap_flags *flags);

#endif
