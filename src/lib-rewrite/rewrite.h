/* rewrite: canonical address mapping and masquerading of envelope and header addresses,
 * done once, as mail comes in (the SMTP server and the sendmail command).
 *
 * Options (tern.conf, section "Address rewriting"): canonical_maps, sender_canonical_maps,
 * recipient_canonical_maps (map: tables of lib-lookup), canonical_classes,
 * masquerade_domains, masquerade_exceptions, masquerade_classes, header_rewrite_clients,
 * header_rewrite_max_field. The behaviour follows Postfix's canonical(5) and masquerading
 * (key order user@domain, user, @domain; '@domain' results; extensions kept; '!domain'
 * exclusions); the code is Tern's own.
 *
 * Where: envelope addresses of every message; header addresses only for the clients of
 * header_rewrite_clients (default: the sendmail command and authenticated clients, as
 * Postfix's local_header_rewrite_clients: a stranger's header is not ours to edit). The
 * header is rewritten field by field as it streams (rewrite-header.c), through
 * lib-mime's position-keeping address-list parser: only addr-specs change.
 * The tables are trusted (the administrator's); addresses come from the network and are
 * only compared and copied.
 */
#ifndef TERN_REWRITE_H
#define TERN_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct conf;

enum rewrite_class {
	REWRITE_ENVELOPE_SENDER = 1 << 0,
	REWRITE_ENVELOPE_RECIPIENT = 1 << 1,
	REWRITE_HEADER_SENDER = 1 << 2,
	REWRITE_HEADER_RECIPIENT = 1 << 3,
};
#define REWRITE_HEADER_CLASSES (REWRITE_HEADER_SENDER | REWRITE_HEADER_RECIPIENT)

/* The canonical lookups are repeated on their result at most this often (a loop in a
 * table ends there, logged). */
#define REWRITE_MAX_DEPTH 10

struct rewrite;

/* Opens the tables of the configuration (c must outlive the result). */
struct rewrite *rewrite_new(const struct conf *c);
void rewrite_free(struct rewrite **r);

/* Does anything rewrite addresses of these classes? */
bool rewrite_enabled(const struct rewrite *r, unsigned classes);

/* Who sent the message, for header_rewrite_clients. */
struct rewrite_client {
	bool local;	    /* the sendmail command or a local -bs session */
	bool authenticated; /* SMTP AUTH */
	bool mynetworks;    /* the client address is in mynetworks */
};
/* May this client's header addresses be rewritten (and is there anything to do)? */
bool rewrite_headers_for(const struct rewrite *r, const struct rewrite_client *client);

/* Rewrites one address (local@domain) as an address of class cls: the canonical maps,
 * then masquerading. Returns 1 with *out_r (malloc'd) when it changed, 0 when it did not
 * (*out_r NULL), -1 when a table could not be read (err set; nothing changed). The null
 * address "" and addresses without '@' are never changed. */
int rewrite_address(struct rewrite *r, enum rewrite_class cls, const char *address, char **out_r,
		    struct buf *err);

/* The class of a header field by its name (From: is a header sender, To: a header
 * recipient, ...); 0 for fields without addresses to rewrite. */
unsigned rewrite_field_class(const char *name, size_t len);

/* ---- Streaming header rewriting (rewrite-header.c) ---- */

struct rewrite_header;

/* A filter for one message's header section, rewriting the fields of the classes given
 * (a subset of REWRITE_HEADER_CLASSES). Holds at most one field (max_field bytes). */
struct rewrite_header *rewrite_header_new(struct rewrite *r, unsigned classes, size_t max_field);
void rewrite_header_free(struct rewrite_header **h);
/* Takes message bytes (LF or CRLF line ends) and appends to out what may be written so
 * far. Returns the bytes used: fewer than n when the header section ended inside p (the
 * rest is body, for the caller to write untouched). Once the header has ended it uses
 * nothing. */
size_t rewrite_header_feed(struct rewrite_header *h, const char *p, size_t n, struct buf *out);
/* The end of the message: appends what is still held. */
void rewrite_header_finish(struct rewrite_header *h, struct buf *out);
/* Has the header section ended? */
bool rewrite_header_done(const struct rewrite_header *h);
/* Addresses rewritten so far (for logs). */
unsigned rewrite_header_count(const struct rewrite_header *h);

/* ---- Checking (rewrite-check.c) ---- */

/* Checks the canonical maps of the configuration: every malformed line is appended to
 * errors as "PATH:LINE: reason\n" (a missing file as "PATH: reason"). Returns the number
 * of problems. */
unsigned rewrite_check(const struct conf *c, struct buf *errors);

#endif
