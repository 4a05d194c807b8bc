/* imapd-flags: message flags between the store and IMAP (RFC 9051 2.3.2): system flags are
 * Maildir info letters (\Seen S, \Answered R, \Flagged F, \Deleted T, \Draft D, and
 * $Forwarded P), keywords are the folder's keyword table (at most 26, a Maildir++ limit).
 * Also resolves message sets (RFC 9051 9 "sequence-set", RFC 5182 "$") to snapshot
 * indexes, for every command that takes one.
 */
#include "imapd-int.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include <string.h>

static const struct {
	uint32_t store;
	unsigned imap;
	const char *name;
} flag_map[] = {
    {STORE_FLAG_ANSWERED, IMAP_FLAG_ANSWERED, "\\Answered"},
    {STORE_FLAG_FLAGGED, IMAP_FLAG_FLAGGED, "\\Flagged"},
    {STORE_FLAG_DELETED, IMAP_FLAG_DELETED, "\\Deleted"},
    {STORE_FLAG_SEEN, IMAP_FLAG_SEEN, "\\Seen"},
    {STORE_FLAG_DRAFT, IMAP_FLAG_DRAFT, "\\Draft"},
};
#define FLAG_MAP_N (sizeof(flag_map) / sizeof(flag_map[0]))
#define FORWARDED "$Forwarded"

void imapd_flags_write(struct imapd_session *s, struct buf *out, const struct store_msg *m)
{
	size_t start = out->len;
	buf_append_char(out, '(');
	for (size_t i = 0; i < FLAG_MAP_N; i++)
		if (m->flags & flag_map[i].store)
			buf_printf(out, "%s ", flag_map[i].name);
	if (m->flags & STORE_FLAG_PASSED)
		buf_append_str(out, FORWARDED " ");
	if (!s->rev2 && imapd_recent_has(s, m->uid))
		buf_append_str(out, "\\Recent ");
	for (unsigned k = 0; k < STORE_KEYWORDS_MAX; k++) {
		const char *name =
		    (m->keywords & (1u << k)) ? store_keyword_name(s->folder, k) : NULL;
		if (name != NULL)
			buf_printf(out, "%s ", name);
	}
	if (out->len > start + 1)
		buf_truncate(out, out->len - 1);
	buf_append_char(out, ')');
}

void imapd_folder_flags_write(struct imapd_session *s, struct buf *out, bool permanent)
{
	buf_append_str(out, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft " FORWARDED);
	for (unsigned k = 0; k < STORE_KEYWORDS_MAX; k++) {
		const char *name = store_keyword_name(s->folder, k);
		if (name != NULL)
			buf_printf(out, " %s", name);
	}
	buf_append_str(out, permanent ? " \\*)" : ")");
}

int imapd_flags_to_store(struct imapd_session *s, const struct imap_flags *f, bool create,
			 uint32_t *flags_r, uint32_t *keywords_r)
{
	*flags_r = 0;
	*keywords_r = 0;
	for (size_t i = 0; i < FLAG_MAP_N; i++)
		if (f->system & flag_map[i].imap)
			*flags_r |= flag_map[i].store;
	for (size_t i = 0; i < f->keyword_count; i++) {
		if (str_ieq(f->keywords[i], FORWARDED)) {
			*flags_r |= STORE_FLAG_PASSED;
			continue;
		}
		struct buf err = BUF_INIT;
		int k = store_keyword_lookup(s->folder, f->keywords[i], create, &err);
		if (k < 0 && create) {
			imapd_reply(s, "NO", "LIMIT", "%s", buf_cstr(&err));
			buf_free(&err);
			return -1;
		}
		buf_free(&err);
		if (k >= 0)
			*keywords_r |= 1u << k;
	}
	return 0;
}

static void resolve_add(uint32_t **idx, size_t *n, size_t *cap, uint32_t i)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*idx = x_reallocarray(*idx, *cap, sizeof(**idx));
	}
	(*idx)[(*n)++] = i;
}

int imapd_seqset_resolve(struct imapd_session *s, const struct imap_arg *arg, bool uid,
			 uint32_t **idx_r, size_t *count_r)
{
	const char *text;
	size_t total = store_folder_count(s->folder), n = 0, cap = 0;
	uint32_t *idx = NULL;
	*idx_r = NULL;
	*count_r = 0;
	if (!imap_arg_get_atom(arg, &text)) {
		imapd_bad(s, "Invalid message set");
		return -1;
	}
	if (strcmp(text, "$") == 0) {
		for (size_t i = 0; i < total; i++)
			if (imap_seqset_contains(&s->saved, store_folder_msg(s->folder, i)->uid))
				resolve_add(&idx, &n, &cap, (uint32_t)i);
		*idx_r = idx;
		*count_r = n;
		return 0;
	}
	struct imap_seqset set = IMAP_SEQSET_INIT;
	const char *error;
	uint32_t star =
	    uid ? (total ? store_folder_msg(s->folder, total - 1)->uid : 0) : (uint32_t)total;
	if (imap_seqset_parse(&set, text, strlen(text), star, &error) < 0 ||
	    (!uid && ((set.count > 0 && set.ranges[set.count - 1].hi > total) ||
		      (total == 0 && strchr(text, '*') != NULL)))) {
		imap_seqset_free(&set);
		imapd_bad(s, uid ? error : "Invalid message sequence number");
		return -1;
	}
	if (uid) {
		for (size_t i = 0; i < total; i++)
			if (imap_seqset_contains(&set, store_folder_msg(s->folder, i)->uid))
				resolve_add(&idx, &n, &cap, (uint32_t)i);
	} else {
		size_t pos = 0;
		uint32_t seq = 0;
		while (imap_seqset_next(&set, &pos, &seq))
			resolve_add(&idx, &n, &cap, seq - 1);
	}
	imap_seqset_free(&set);
	*idx_r = idx;
	*count_r = n;
	return 0;
}
