/* imapd-sort-keys: what SORT and THREAD compare (RFC 5256 sections 2.1-2.2, RFC 5957): for
 * each message of a result, its sequence number and UID, arrival date, RFC822.SIZE, sent
 * date (the Date: field, or the arrival date when it is missing or unreadable), base
 * subject, the addr-mailbox of the first From/To/Cc address, the display name (or
 * addr-spec) of the first From/To address, and for THREAD its Message-ID, In-Reply-To and
 * References. Read from the cached ENVELOPE (imapd_msg_parts) and, for References, the
 * header; decoded from RFC 2047 with lib-mime.
 */
#include "imapd-int.h"
#include "imap-base-subject.h"
#include "mime-date.h"
#include "mime-part.h"
#include "mime-rfc2047.h"
#include "store.h"
#include "xalloc.h"

#include <string.h>

static char *key_mailbox(const struct mime_address_list *l)
{
	if (l->count == 0 || l->v[0].mailbox == NULL)
		return x_strdup("");
	return mime_rfc2047_decode_str(l->v[0].mailbox);
}

/* RFC 5957: the display name when there is one, else the addr-spec. */
static char *key_display(const struct mime_address_list *l)
{
	if (l->count == 0)
		return x_strdup("");
	const struct mime_address *a = &l->v[0];
	if (a->name != NULL && a->name[0] != '\0')
		return mime_rfc2047_decode_str(a->name);
	struct buf b = BUF_INIT;
	buf_append_str(&b, a->mailbox != NULL ? a->mailbox : "");
	if (a->host != NULL && a->host[0] != '\0')
		buf_printf(&b, "@%s", a->host);
	char *out = x_strdup(buf_cstr(&b));
	buf_free(&b);
	return out;
}

static void keys_from_envelope(struct imapd_sort_msg *k, const struct mime_envelope *env)
{
	char *subj = mime_rfc2047_decode_str(env->subject != NULL ? env->subject : "");
	k->subject = imap_base_subject(subj, &k->is_reply);
	x_free(&subj);
	k->from = key_mailbox(&env->from);
	k->to = key_mailbox(&env->to);
	k->cc = key_mailbox(&env->cc);
	k->dfrom = key_display(&env->from);
	k->dto = key_display(&env->to);
	time_t t;
	int tz;
	const char *error;
	if (env->date != NULL &&
	    mime_date_parse(env->date, strlen(env->date), &t, &tz, &error) == 0) {
		k->date = t;
		k->has_date = true;
	}
	if (env->message_id != NULL)
		k->message_id = x_strdup(env->message_id);
	if (env->in_reply_to != NULL)
		k->in_reply_to = x_strdup(env->in_reply_to);
}

void imapd_sort_msg_load(struct imapd_session *s, size_t idx, bool references,
			 struct imapd_search_cache *c, struct imapd_sort_msg *k)
{
	const struct store_msg *m = store_folder_msg(s->folder, idx);
	memset(k, 0, sizeof(*k));
	k->seq = (uint32_t)idx + 1;
	k->uid = m->uid;
	k->arrival = store_folder_msg_date(s->folder, idx);
	k->date = k->arrival;
	struct buf err = BUF_INIT;
	if (store_msg_vsize(s->folder, m->uid, &k->size, &err) < 0)
		k->size = m->size;
	buf_reset(&err);
	struct mime_part *tree = imapd_msg_parts(s, m->uid, &err);
	if (tree != NULL && tree->envelope != NULL)
		keys_from_envelope(k, tree->envelope);
	mime_part_free(&tree);
	buf_free(&err);
	if (k->subject == NULL)
		k->subject = x_strdup("");
	const char **fields[] = {(const char **)&k->from, (const char **)&k->to,
				 (const char **)&k->cc, (const char **)&k->dfrom,
				 (const char **)&k->dto};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (*fields[i] == NULL)
			*fields[i] = x_strdup("");
	if (references) {
		const char *refs = imapd_msg_header(s, c, m->uid, "References");
		if (refs != NULL)
			k->references = x_strdup(refs);
	}
}

void imapd_sort_msg_free(struct imapd_sort_msg *k)
{
	x_free(&k->subject);
	x_free(&k->from);
	x_free(&k->to);
	x_free(&k->cc);
	x_free(&k->dfrom);
	x_free(&k->dto);
	x_free(&k->message_id);
	x_free(&k->in_reply_to);
	x_free(&k->references);
}

int imapd_sort_strcmp(const char *a, const char *b)
{
	/* i;ascii-casemap: octets compared after mapping a-z to A-Z */
	for (;; a++, b++) {
		unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;
		if (ca >= 'a' && ca <= 'z')
			ca = (unsigned char)(ca - 'a' + 'A');
		if (cb >= 'a' && cb <= 'z')
			cb = (unsigned char)(cb - 'a' + 'A');
		if (ca != cb || ca == '\0')
			return (int)ca - (int)cb;
	}
}

/* Runs the search keys over the snapshot: the matching 0-based indexes, ascending. */
size_t imapd_sort_search(struct imapd_session *s, const struct imap_search_key *root,
			 size_t **idx_r)
{
	struct imapd_search_cache c;
	memset(&c, 0, sizeof(c));
	size_t n = store_folder_count(s->folder), count = 0;
	size_t *idx = x_reallocarray(NULL, n > 0 ? n : 1, sizeof(size_t));
	store_batch_begin(s->folder);
	for (size_t i = 0; i < n; i++)
		if (imapd_search_match(s, i, root, &c))
			idx[count++] = i;
	store_batch_end(s->folder);
	imapd_search_cache_free(&c);
	*idx_r = idx;
	return count;
}
