/* imap-url: IMAP URLs of one message or part (RFC 5092 section 3 and 6), as CATENATE
 * (RFC 4469 3) gives them: "/MAILBOX[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]",
 * relative to the current server, or absolute as "imap://[user[;AUTH=x]@]host[:port]/...".
 * Mailbox and section are %-decoded; the mailbox is left in the client's form (mUTF-7).
 * Untrusted input: a pure parser over a bounded string.
 */
#ifndef TERN_IMAP_URL_H
#define TERN_IMAP_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_url {
	char *mailbox;	      /* decoded, never empty */
	uint32_t uidvalidity; /* 0: not given */
	uint32_t uid;	      /* non-zero */
	char *section;	      /* decoded, or NULL: the whole message */
	bool partial;
	uint64_t offset, length; /* length 0 with partial: to the end */
};

/* Parses url[0..len). Returns 0, or -1 with a reason. Free with imap_url_free. */
int imap_url_parse(const char *url, size_t len, struct imap_url *url_r, const char **error_r);
void imap_url_free(struct imap_url *url);

#endif
