/* mime-address: RFC 5322 address lists, as IMAP ENVELOPE needs them.
 *
 * RFC 5322 3.4 (mailbox, name-addr, angle-addr, group), 3.4.1 (addr-spec), 4.4 (obsolete
 * routes, obs-phrase, obs-local-part); RFC 3501 7.4.2 (group start: host NULL and mailbox
 * the group name; group end: host and mailbox NULL). Never fails: broken input yields what
 * can be recovered (see mime-address.c for the rules).
 */
#ifndef TERN_MIME_ADDRESS_H
#define TERN_MIME_ADDRESS_H

#include <stddef.h>

#include "buf.h"

struct mime_address {
	char *name;    /* display name (phrase unquoted, or a trailing comment), or NULL */
	char *route;   /* obsolete source route "@a,@b", or NULL */
	char *mailbox; /* local part as written (quotes kept); group start: the group name;
			* group end: NULL */
	char *host;    /* domain, "" if it was missing; NULL in group markers */
};

struct mime_address_list {
	struct mime_address *v;
	size_t count;
};

/* Flags for mime_address_list_parse() */
#define MIME_ADDRESS_DECODE_2047 0x1 /* decode encoded-words in names and group names */

/* Parses len bytes of an (unfolded) address-list field value and appends the addresses
 * and group markers to *list. Returns the number of entries added. */
size_t mime_address_list_parse(const char *s, size_t len, unsigned int flags,
			       struct mime_address_list *list);
/* Appends an entry (NULL fields allowed) with copies of the strings. */
void mime_address_list_add(struct mime_address_list *list, const char *name, const char *route,
			   const char *mailbox, const char *host);
void mime_address_list_free(struct mime_address_list *list);
/* Appends "name <mailbox@host>, ..." (groups as "name: ...;") to out, for tests and logs. */
void mime_address_list_format(const struct mime_address_list *list, struct buf *out);

#endif
