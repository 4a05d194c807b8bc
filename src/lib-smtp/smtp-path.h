/* smtp-path: the reverse-path and forward-path grammar of RFC 5321 4.1.2.
 *
 * Accepts dot-atom and quoted local parts, domains and address literals ([1.2.3.4],
 * [IPv6:...], general literals), the null path <> (when allowed), <postmaster> (when
 * allowed, RFC 5321 4.1.1.3), and source routes (@a,@b:user@dom, RFC 5321 4.1.1.3 and
 * Appendix C: parsed and dropped). UTF-8 in local parts and domains (RFC 6531 3.3) is
 * accepted when valid and reported in `utf8`; the caller refuses it without SMTPUTF8.
 * Lengths follow RFC 5321 4.5.3.1. Pure: no allocation besides the result strings.
 */
#ifndef TERN_SMTP_PATH_H
#define TERN_SMTP_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "smtp-reply.h"

#define SMTP_LOCAL_PART_MAX 64 /* RFC 5321 4.5.3.1.1 */
#define SMTP_DOMAIN_MAX 255    /* RFC 5321 4.5.3.1.2 */
#define SMTP_PATH_MAX 256      /* RFC 5321 4.5.3.1.3, angle brackets included */

struct smtp_path {
	char *mailbox; /* canonical "local@domain"; "" for <>; "postmaster" alone */
	char *local;   /* canonical local part: unquoted when it can be, else quoted */
	char *domain;  /* as given (case kept); "" for <> and <postmaster> */
	bool utf8;     /* non-ASCII bytes (valid UTF-8) in the local part or domain */
	bool literal;  /* domain is an address literal */
};

enum {
	SMTP_PATH_SENDER = 1 << 0,     /* errors use X.1.7 (sender) instead of X.1.3 */
	SMTP_PATH_ALLOW_NULL = 1 << 1, /* <> is allowed (MAIL FROM) */
	SMTP_PATH_ALLOW_POSTMASTER = 1 << 2, /* <postmaster> without a domain (RCPT TO) */
};

/* Parses a path at the start of s (len bytes, which begin with '<'). On success fills
 * path (free with smtp_path_free), sets *used_r to the bytes consumed (through '>') and
 * returns 0; otherwise -1 with err set. */
int smtp_path_parse(const char *s, size_t len, unsigned flags, struct smtp_path *path,
		    size_t *used_r, struct smtp_error *err);
void smtp_path_free(struct smtp_path *path);

/* Is s[0..n) a well-formed domain (RFC 5321 sub-domains, U-labels allowed)? */
bool smtp_domain_valid(const char *s, size_t n);
/* Is s[0..n) an address literal "[...]" (RFC 5321 4.1.3)? */
bool smtp_address_literal_valid(const char *s, size_t n);
/* Length of the valid UTF-8 sequence (of a non-ASCII character) at s, or 0 (RFC 3629). */
size_t smtp_utf8_char_len(const unsigned char *s, size_t n);

#endif
