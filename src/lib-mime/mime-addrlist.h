/* mime-addrlist: where the addr-specs are in an address-list field value, so that they can
 * be rewritten and everything else kept byte for byte.
 *
 * RFC 5322 3.4 (address-list, mailbox, name-addr, angle-addr, group), 3.4.1 (addr-spec),
 * 3.2.2 (CFWS, folding), 4.4 (obsolete routes and local parts with CFWS between words);
 * RFC 6532 3.2 (UTF-8 in atoms and quoted strings). Works on the raw value, folding kept:
 * every position is an offset into the bytes given.
 *
 * Unlike mime-address.c (tolerant, for IMAP ENVELOPE), this parser is strict about what
 * it reports: an address whose addr-spec is not well formed (a missing '>', an unclosed
 * quote or comment, words without dots between them, ...) is skipped, so that a caller
 * never rewrites something it misread. Pure: no I/O, no globals; memory is bounded by the
 * input's size.
 */
#ifndef TERN_MIME_ADDRLIST_H
#define TERN_MIME_ADDRLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct mime_addrlist_spec {
	size_t start, end; /* the addr-spec's bytes in the value: [start, end) */
	char *local;	   /* local part without CFWS; unquoted when it is a dot-atom, else
			    * a quoted string with only the needed backslashes */
	char *domain;	   /* domain without CFWS (a literal keeps its brackets); NULL when
			    * the addr-spec has no '@' */
	bool angle;	   /* it was inside <...> */
	bool group;	   /* it was inside a group ("name: a, b;") */
	char *comments;	   /* comments found inside [start, end) (obsolete syntax), each with
			    * its parentheses, separated by a space; NULL when none */
};

struct mime_addrlist {
	struct mime_addrlist_spec *v;
	size_t count;
	size_t skipped; /* addresses left out because they were not well formed */
};

/* Parses len bytes of an address-list value (as after the field name's colon, folding
 * kept) and appends the addr-specs found to *list. Returns the number added. */
size_t mime_addrlist_parse(const char *s, size_t len, struct mime_addrlist *list);
void mime_addrlist_free(struct mime_addrlist *list);

/* Called for each addr-spec: returns true and fills replacement (an addr-spec in the same
 * syntax: local@domain) to replace it, false to keep it. */
typedef bool mime_addrlist_rewrite_cb(void *arg, const struct mime_addrlist_spec *spec,
				      struct buf *replacement);
/* Appends the value to out with each addr-spec replaced where cb says so; comments that
 * were inside a replaced addr-spec follow it, after a space. Returns the number of
 * addr-specs replaced (0: out got the value unchanged). */
size_t mime_addrlist_rewrite(const char *s, size_t len, mime_addrlist_rewrite_cb *cb, void *arg,
			     struct buf *out);

#endif
