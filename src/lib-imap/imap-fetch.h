/* imap-fetch: FETCH attribute and STORE argument parsing.
 *
 * RFC 3501 / RFC 9051 section 6.4.5 and 9 (fetch-att, section, partial, macros ALL, FAST,
 * FULL), RFC 3516 (BINARY[...], BINARY.PEEK, BINARY.SIZE), RFC 7162 (MODSEQ item,
 * CHANGEDSINCE and VANISHED modifiers, STORE UNCHANGEDSINCE). Input is the argument tree from
 * imap-parser, after the sequence set.
 */
#ifndef TERN_IMAP_FETCH_H
#define TERN_IMAP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap-arg.h"
#include "imap-flags.h"

enum imap_fetch_item {
	IMAP_FETCH_FLAGS = 1 << 0,
	IMAP_FETCH_INTERNALDATE = 1 << 1,
	IMAP_FETCH_RFC822_SIZE = 1 << 2,
	IMAP_FETCH_ENVELOPE = 1 << 3,
	IMAP_FETCH_BODY = 1 << 4, /* non-extensible BODYSTRUCTURE */
	IMAP_FETCH_BODYSTRUCTURE = 1 << 5,
	IMAP_FETCH_UID = 1 << 6,
	IMAP_FETCH_MODSEQ = 1 << 7,
};

#define IMAP_SECTION_MAX_PARTS 32
#define IMAP_SECTION_MAX_FIELDS 128

enum imap_section_spec {
	IMAP_SECTION_ALL, /* BODY[] or BODY[1.2]: the whole message or part */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,
};

enum imap_fetch_body_kind {
	IMAP_FETCH_BODY_SECTION, /* BODY[...], BODY.PEEK[...], RFC822, RFC822.HEADER/.TEXT */
	IMAP_FETCH_BINARY,       /* BINARY[...], BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE,  /* BINARY.SIZE[...] */
};

struct imap_fetch_body {
	enum imap_fetch_body_kind kind;
	bool peek; /* false: fetching it sets \Seen (RFC 3501 section 6.4.5) */
	uint32_t parts[IMAP_SECTION_MAX_PARTS];
	unsigned part_count;
	enum imap_section_spec spec;
	char **fields; /* HEADER.FIELDS[.NOT] names, as sent */
	size_t field_count;
	bool partial;
	uint64_t offset, length;
	/* The item name for the response, without the origin: "BODY[1.HEADER]",
	 * "BINARY.SIZE[2]", "RFC822.TEXT". With partial, append "<offset>". */
	char *name;
};

struct imap_fetch {
	unsigned items; /* enum imap_fetch_item bits */
	struct imap_fetch_body *bodies;
	size_t body_count;
	bool changedsince_set;
	uint64_t changedsince;
	bool vanished;
};

/* Parses the FETCH arguments after the sequence set: a macro, one item or a list of items,
 * then optional modifiers. uid: this is UID FETCH (adds UID; allows VANISHED). Returns 0 or
 * -1 with a reason for a BAD reply. */
int imap_fetch_parse(const struct imap_arg *args, size_t count, bool uid,
		     struct imap_fetch *fetch_r, const char **error_r);
void imap_fetch_free(struct imap_fetch *fetch);
/* Parses one section text (between "[" and "]", e.g. "1.2.HEADER.FIELDS (From To)") into
 * body; binary: only part numbers are allowed (RFC 3516). 0 or -1. */
int imap_fetch_section_parse(const char *s, size_t len, bool binary,
			     struct imap_fetch_body *body, const char **error_r);

enum imap_store_op { IMAP_STORE_SET, IMAP_STORE_ADD, IMAP_STORE_REMOVE };

struct imap_store {
	enum imap_store_op op;
	bool silent;
	struct imap_flags flags;
	bool unchangedsince_set;
	uint64_t unchangedsince;
};

/* Parses the STORE arguments after the sequence set:
 * ["(UNCHANGEDSINCE n)"] ("FLAGS" / "+FLAGS" / "-FLAGS")[".SILENT"] (flag-list / flags). */
int imap_store_parse(const struct imap_arg *args, size_t count, struct imap_store *store_r,
		     const char **error_r);
void imap_store_free(struct imap_store *store);

#endif
