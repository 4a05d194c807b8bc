/* autoreply: RFC 3834 rules shared by the automatic responders (see autoreply.h). */
#include "autoreply.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mime-address.h"
#include "mime-rfc2047.h"
#include "util.h"
#include "xalloc.h"

/* RFC 3834 2: local parts used by responders, daemons and list software as return
 * addresses (the names vacation(1) and RFC 5230 4.6 skip). */
static const char *const automatic_names[] = {"mailer-daemon", "postmaster", "mailer",
					      "listserv",      "majordomo",  "uucp"};

const char *autoreply_sender_refused(const char *sender)
{
	if (sender == NULL || sender[0] == '\0' || strcmp(sender, "<>") == 0)
		return "null sender";
	const char *at = strrchr(sender, '@');
	size_t n = at != NULL ? (size_t)(at - sender) : strlen(sender);
	for (size_t i = 0; i < sizeof(automatic_names) / sizeof(automatic_names[0]); i++)
		if (strlen(automatic_names[i]) == n && strncasecmp(sender, automatic_names[i], n) == 0)
			return automatic_names[i];
	if (n >= 6 && strncasecmp(sender, "owner-", 6) == 0)
		return "owner-";
	if (n >= 8 && strncasecmp(sender + n - 8, "-request", 8) == 0)
		return "-request";
	if (n >= 6 && strncasecmp(sender + n - 6, "-owner", 6) == 0)
		return "-owner";
	return NULL;
}

/* The first word of a field value, compared without regard to case. */
static bool first_word_is(const char *value, const char *word)
{
	size_t n = strlen(word);
	while (*value == ' ' || *value == '\t')
		value++;
	if (strncasecmp(value, word, n) != 0)
		return false;
	char c = value[n];
	return c == '\0' || c == ' ' || c == '\t' || c == ';' || c == '(' || c == '\r' || c == '\n';
}

const char *autoreply_field_refused(const char *name, const char *value)
{
	/* RFC 3834 5.1 and 2: any value other than "no" (with optional parameters). */
	if (strcasecmp(name, "Auto-Submitted") == 0)
		return first_word_is(value, "no") ? NULL : "Auto-Submitted";
	if (strcasecmp(name, "Precedence") == 0)
		return first_word_is(value, "bulk") || first_word_is(value, "list") ||
			       first_word_is(value, "junk")
			   ? "Precedence"
			   : NULL;
	/* RFC 3834 2: a List-* field (RFC 2369 List-Help ... List-Archive, RFC 2919
	 * List-Id, RFC 8058 List-Unsubscribe-Post) means a list sent it. */
	if (strncasecmp(name, "List-", 5) == 0 && name[5] != '\0')
		return "List-*";
	/* vacation(1) and RFC 3834 2: do not answer what a filter called spam. */
	if (strcasecmp(name, "X-Spam-Flag") == 0)
		return first_word_is(value, "yes") ? "X-Spam-Flag" : NULL;
	return NULL;
}

const char *const autoreply_recipient_fields[] = {"To",	       "Cc",	    "Bcc", "Resent-To",
						  "Resent-Cc", "Resent-Bcc", NULL};

bool autoreply_is_recipient_field(const char *name)
{
	for (size_t i = 0; autoreply_recipient_fields[i] != NULL; i++)
		if (strcasecmp(name, autoreply_recipient_fields[i]) == 0)
			return true;
	return false;
}

bool autoreply_value_has(const char *value, bool (*mine)(void *ctx, const char *addr), void *ctx)
{
	struct mime_address_list l = {0};
	mime_address_list_parse(value, strlen(value), 0, &l);
	bool found = false;
	for (size_t k = 0; k < l.count && !found; k++) {
		if (l.v[k].host == NULL || l.v[k].mailbox == NULL)
			continue; /* a group's start or end */
		char *a = l.v[k].host[0] != '\0' ? x_asprintf("%s@%s", l.v[k].mailbox, l.v[k].host)
						 : x_strdup(l.v[k].mailbox);
		found = mine(ctx, a);
		free(a);
	}
	mime_address_list_free(&l);
	return found;
}

bool autoreply_address_is(const char *address, const char *name, const char *delims)
{
	if (name == NULL || name[0] == '\0')
		return false;
	const char *at = strrchr(address, '@'), *nat = strrchr(name, '@');
	size_t local = at != NULL ? (size_t)(at - address) : strlen(address);
	size_t nlocal = nat != NULL ? (size_t)(nat - name) : strlen(name);
	if (nat != NULL && (at == NULL || strcasecmp(at, nat) != 0))
		return false; /* name is an address: the domains must agree */
	if (local < nlocal || strncasecmp(address, name, nlocal) != 0)
		return false;
	/* the same local part, or "name+tag" */
	return local == nlocal ||
	       (delims != NULL && delims[0] != '\0' && strchr(delims, address[nlocal]) != NULL);
}

/* Appends "Name: value\n" with any control character in value made a space, so that a
 * value taken from the original (a decoded subject) cannot start a field of its own. */
static void put_field(struct buf *out, const char *name, const char *value)
{
	buf_printf(out, "%s: ", name);
	for (const char *p = value; *p != '\0'; p++)
		buf_append_char(out, (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
	buf_append_char(out, '\n');
}

/* A single message ID "<...>" (In-Reply-To may hold several, or words). */
static bool one_msgid(const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	const char *end = v[0] == '<' ? strchr(v, '>') : NULL;
	if (end == NULL)
		return false;
	for (end++; *end == ' ' || *end == '\t'; end++)
		;
	return *end == '\0';
}

void autoreply_head_write(const struct autoreply_head *h, struct buf *out)
{
	if (h->from != NULL)
		put_field(out, "From", h->from);
	if (h->to != NULL)
		put_field(out, "To", h->to);
	if (h->subject != NULL)
		put_field(out, "Subject", h->subject);
	if (h->date != 0) {
		char date[64];
		rfc5322_date(h->date, date, sizeof(date));
		put_field(out, "Date", date);
	}
	if (h->id_host != NULL) {
		static unsigned counter; /* the queue manager delivers in threads */
		buf_printf(out, "Message-ID: <%lld.%ld.%u.autoreply@%s>\n", (long long)time(NULL),
			   (long)getpid(), __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED),
			   h->id_host);
	}
	if (h->in_reply_to != NULL && h->in_reply_to[0] != '\0')
		put_field(out, "In-Reply-To", h->in_reply_to);
	if (h->references != NULL && h->references[0] != '\0')
		put_field(out, "References", h->references);
	if (h->auto_submitted)
		buf_append_str(out, "Auto-Submitted: auto-replied\n");
}

char *autoreply_references(const char *message_id, const char *references,
			   const char *in_reply_to)
{
	if (message_id == NULL || message_id[0] == '\0')
		return NULL;
	if (references != NULL && references[0] != '\0')
		return x_asprintf("%s %s", references, message_id);
	if (in_reply_to != NULL && one_msgid(in_reply_to))
		return x_asprintf("%s %s", in_reply_to, message_id);
	return x_strdup(message_id);
}

char *autoreply_subject(const char *orig_subject)
{
	if (orig_subject == NULL)
		return x_strdup("Automated reply");
	char *d = mime_rfc2047_decode_str(orig_subject);
	char *s = x_asprintf("Auto: %s", d);
	free(d);
	return s;
}
