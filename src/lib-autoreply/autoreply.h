/* autoreply: the rules of RFC 3834 that every automatic responder in Tern follows, shared
 * by `tern vacation` (src/deliver/vacation.c) and Sieve vacation (src/lib-sieve).
 *
 * When not to answer (RFC 3834 2): a sender that is a program, a list or nobody (null
 * reverse-path, MAILER-DAEMON, postmaster, owner-*, *-request, ...); a message that is
 * automatic or from a list (Auto-Submitted other than "no", RFC 3834 5; Precedence
 * bulk/list/junk; List-* fields, RFC 2369 and RFC 2919; X-Spam-Flag: yes); a message that
 * does not name the user in a recipient field. And the header of the answer (RFC 3834
 * 3.1): Auto-Submitted: auto-replied, In-Reply-To and References, "Auto:" subject.
 * Pure: strings in, strings out; no I/O, no globals.
 */
#ifndef TERN_AUTOREPLY_H
#define TERN_AUTOREPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"

/* Why a reverse-path gets no answer ("null sender", "MAILER-DAEMON", "-request", ...),
 * or NULL when it may get one. RFC 3834 2: never to <>, not to addresses responders and
 * lists use as return addresses. Compares the local part without regard to case. */
const char *autoreply_sender_refused(const char *sender);

/* Why a header field makes the message one that gets no answer (a short reason naming
 * the field), or NULL. Call it for every field of the header section. */
const char *autoreply_field_refused(const char *name, const char *value);

/* The fields whose addresses must include one of the user's (RFC 3834 2: To, Cc, Bcc,
 * Resent-To, Resent-Cc, Resent-Bcc), NULL-terminated. */
extern const char *const autoreply_recipient_fields[];
bool autoreply_is_recipient_field(const char *name);

/* Does an address-list field value hold an addr-spec for which mine(ctx, "local@domain")
 * answers true? */
bool autoreply_value_has(const char *value, bool (*mine)(void *ctx, const char *addr),
			 void *ctx);

/* Is address one of the user's, as given by name: the same address (without regard to
 * case), or when name has no '@' (a login name, as vacation(1)'s -a takes), any address
 * with that local part. A "+tag" (any character of delims after the name) is ignored
 * in the local part. */
bool autoreply_address_is(const char *address, const char *name, const char *delims);

/* The header of an answer. Fields given as NULL are left out (the caller's text has
 * them, or there is nothing to say). */
struct autoreply_head {
	const char *from;
	const char *to;
	const char *subject;	 /* already a complete Subject value */
	const char *in_reply_to; /* the original's Message-ID, or NULL */
	const char *references;	 /* from autoreply_references(), or NULL */
	const char *id_host;	 /* NULL: no Message-ID of our own */
	time_t date;		 /* 0: no Date */
	bool auto_submitted;	 /* add "Auto-Submitted: auto-replied" (RFC 3834 5) */
};

/* Appends "Name: value\n" lines (no empty line after them); control characters in the
 * values become spaces, so a value taken from the original cannot add a field. */
void autoreply_head_write(const struct autoreply_head *h, struct buf *out);

/* The References of an answer (RFC 3834 3.1.5, RFC 5322 3.6.4): the original's
 * References (else its In-Reply-To when that is one message ID), then its Message-ID.
 * NULL when the original has no Message-ID. Free the result. */
char *autoreply_references(const char *message_id, const char *references,
			   const char *in_reply_to);

/* RFC 3834 3.1.5: "Auto: " and the original subject (encoded-words decoded), or
 * "Automated reply" when there was none. Free the result. */
char *autoreply_subject(const char *orig_subject);

#endif
