/* imapd-context: search contexts (RFC 5267 4.3): a SEARCH or UID SEARCH with RETURN (UPDATE)
 * keeps its search program and its result (as UIDs); whenever the session may send untagged
 * responses, the messages changed since (a higher modseq, or new) are evaluated again and
 * the differences go out as ESEARCH REMOVEFROM / ADDTO, expunged messages as REMOVEFROM
 * before their EXPUNGE/VANISHED. CANCELUPDATE (4.3.5) ends a context; so does leaving the
 * mailbox. Results are in mailbox order, so every position is 0 (allowed for SEARCH).
 * SORT contexts are refused with NOUPDATE (4.3.1).
 */
#include "imapd-int.h"
#include "imap-search.h"
#include "store.h"
#include "xalloc.h"

#include <inttypes.h>
#include <string.h>

#define IMAPD_CONTEXTS_MAX 16

struct imapd_context {
	struct imapd_context *next;
	char *tag;
	bool uid;
	struct imap_search_key root;
	struct imap_seqset result; /* UIDs */
	uint64_t modseq;	   /* the highest modseq evaluated */
	uint32_t max_uid;	   /* the highest UID evaluated */
};

static struct imapd_context *context_find(struct imapd_session *s, const char *tag)
{
	for (struct imapd_context *c = s->contexts; c != NULL; c = c->next)
		if (strcmp(c->tag, tag) == 0)
			return c;
	return NULL;
}

bool imapd_context_tag_used(struct imapd_session *s, const char *tag)
{
	return context_find(s, tag) != NULL;
}

static void context_free(struct imapd_context **cp)
{
	struct imapd_context *c = *cp;
	x_free(&c->tag);
	imap_search_key_free(&c->root);
	imap_seqset_free(&c->result);
	x_free(cp);
}

int imapd_context_add(struct imapd_session *s, const char *tag, bool uid,
		      struct imap_search_key *root, const struct imap_seqset *uids)
{
	size_t n = 0;
	for (struct imapd_context *c = s->contexts; c != NULL; c = c->next)
		n++;
	if (n >= IMAPD_CONTEXTS_MAX)
		return -1;
	struct imapd_context *c = X_NEW(struct imapd_context);
	c->tag = x_strdup(tag);
	c->uid = uid;
	c->root = *root;
	memset(root, 0, sizeof(*root));
	imap_seqset_copy(&c->result, uids);
	size_t count = store_folder_count(s->folder);
	for (size_t i = 0; i < count; i++) {
		const struct store_msg *m = store_folder_msg(s->folder, i);
		if (m->modseq > c->modseq)
			c->modseq = m->modseq;
	}
	c->max_uid = count > 0 ? store_folder_msg(s->folder, count - 1)->uid : 0;
	c->next = s->contexts;
	s->contexts = c;
	return 0;
}

bool imapd_context_cancel(struct imapd_session *s, const char *tag)
{
	for (struct imapd_context **p = &s->contexts; *p != NULL; p = &(*p)->next) {
		if (strcmp((*p)->tag, tag) == 0) {
			struct imapd_context *c = *p;
			*p = c->next;
			context_free(&c);
			return true;
		}
	}
	return false;
}

void imapd_context_clear(struct imapd_session *s)
{
	while (s->contexts != NULL) {
		struct imapd_context *c = s->contexts;
		s->contexts = c->next;
		context_free(&c);
	}
}

/* "* ESEARCH (TAG "t") [UID] VERB (0 set)" */
static void context_write(struct imapd_session *s, const struct imapd_context *c,
			  const char *verb, const struct imap_seqset *set)
{
	if (set->count == 0)
		return;
	buf_append_str(&s->conn.out, "* ESEARCH (TAG ");
	imap_write_string(&s->conn.out, c->tag, strlen(c->tag), 0);
	buf_printf(&s->conn.out, ")%s %s (0 ", c->uid ? " UID" : "", verb);
	imap_seqset_write(set, &s->conn.out);
	buf_append_str(&s->conn.out, ")\r\n");
}

/* result minus the UIDs of drop (both sets of UIDs). */
static void set_remove(struct imap_seqset *result, const struct imap_seqset *drop)
{
	struct imap_seqset keep = IMAP_SEQSET_INIT;
	size_t pos = 0;
	uint32_t uid = 0;
	while (imap_seqset_next(result, &pos, &uid))
		if (!imap_seqset_contains(drop, uid))
			imap_seqset_add(&keep, uid, uid);
	imap_seqset_free(result);
	*result = keep;
}

void imapd_context_expunged(struct imapd_session *s, const uint32_t *uids, const uint32_t *seqs,
			    size_t count)
{
	for (struct imapd_context *c = s->contexts; c != NULL && count > 0; c = c->next) {
		struct imap_seqset gone = IMAP_SEQSET_INIT, shown = IMAP_SEQSET_INIT;
		for (size_t i = 0; i < count; i++) {
			if (!imap_seqset_contains(&c->result, uids[i]))
				continue;
			imap_seqset_add(&gone, uids[i], uids[i]);
			uint32_t v = c->uid ? uids[i] : seqs[i];
			imap_seqset_add(&shown, v, v);
		}
		context_write(s, c, "REMOVEFROM", &shown);
		set_remove(&c->result, &gone);
		imap_seqset_free(&gone);
		imap_seqset_free(&shown);
	}
}

/* Evaluates the messages of c changed since it last looked; writes the differences. */
static void context_update(struct imapd_session *s, struct imapd_context *c,
			   struct imapd_search_cache *cache)
{
	struct imap_seqset add = IMAP_SEQSET_INIT, del = IMAP_SEQSET_INIT;
	struct imap_seqset add_out = IMAP_SEQSET_INIT, del_out = IMAP_SEQSET_INIT;
	size_t count = store_folder_count(s->folder);
	uint64_t modseq = c->modseq;
	for (size_t i = 0; i < count; i++) {
		const struct store_msg *m = store_folder_msg(s->folder, i);
		if (m->modseq <= c->modseq && m->uid <= c->max_uid)
			continue;
		if (m->modseq > modseq)
			modseq = m->modseq;
		bool was = imap_seqset_contains(&c->result, m->uid);
		if (imapd_search_match(s, i, &c->root, cache) == was)
			continue;
		uint32_t v = c->uid ? m->uid : (uint32_t)i + 1;
		imap_seqset_add(was ? &del : &add, m->uid, m->uid);
		imap_seqset_add(was ? &del_out : &add_out, v, v);
	}
	c->modseq = modseq;
	if (count > 0 && store_folder_msg(s->folder, count - 1)->uid > c->max_uid)
		c->max_uid = store_folder_msg(s->folder, count - 1)->uid;
	context_write(s, c, "REMOVEFROM", &del_out);
	context_write(s, c, "ADDTO", &add_out);
	set_remove(&c->result, &del);
	size_t pos = 0;
	uint32_t uid = 0;
	while (imap_seqset_next(&add, &pos, &uid))
		imap_seqset_add(&c->result, uid, uid);
	imap_seqset_free(&add);
	imap_seqset_free(&del);
	imap_seqset_free(&add_out);
	imap_seqset_free(&del_out);
}

void imapd_context_update(struct imapd_session *s)
{
	if (s->contexts == NULL || s->folder == NULL)
		return;
	struct imapd_search_cache cache;
	memset(&cache, 0, sizeof(cache));
	store_batch_begin(s->folder);
	for (struct imapd_context *c = s->contexts; c != NULL; c = c->next)
		context_update(s, c, &cache);
	store_batch_end(s->folder);
	imapd_search_cache_free(&cache);
}

void imapd_cmd_cancelupdate(struct imapd_session *s, struct imapd_cmd *cmd)
{
	if (cmd->count == 0) {
		imapd_bad(s, "CANCELUPDATE takes search tags");
		return;
	}
	for (size_t i = 0; i < cmd->count; i++) {
		const char *tag;
		size_t len;
		if (!imap_arg_get_string(&cmd->args[i], &tag, &len) || !context_find(s, tag)) {
			imapd_bad(s, "Unknown search context");
			return;
		}
	}
	for (size_t i = 0; i < cmd->count; i++)
		imapd_context_cancel(s, cmd->args[i].str);
	imapd_reply(s, "OK", NULL, "CANCELUPDATE completed");
}

void imapd_partial_write(struct buf *out, uint32_t lo, uint32_t hi, const uint32_t *v, size_t n)
{
	buf_printf(out, " PARTIAL (%" PRIu32 ":%" PRIu32 " ", lo, hi);
	if (lo > n) {
		buf_append_str(out, "NIL)");
		return;
	}
	size_t end = hi < n ? hi : n;
	for (size_t i = lo - 1; i < end;) {
		size_t j = i;
		while (j + 1 < end && v[j + 1] == v[j] + 1)
			j++;
		buf_printf(out, "%s%" PRIu32, i > lo - 1 ? "," : "", v[i]);
		if (j > i)
			buf_printf(out, ":%" PRIu32, v[j]);
		i = j + 1;
	}
	buf_append_char(out, ')');
}
