/* imapd-cmd-search: SEARCH and UID SEARCH (RFC 9051 6.4.4, 7.3.4 ESEARCH; RFC 3501 6.4.4,
 * 7.2.5 SEARCH), RETURN options MIN MAX ALL COUNT SAVE (RFC 4731, RFC 5182 SEARCHRES: the
 * result saved as "$", kept as UIDs), and the MODSEQ of the result (RFC 7162 3.1.5).
 * After ENABLE IMAP4rev2 results are always ESEARCH.
 */
#include "imapd-int.h"
#include "imap-search.h"
#include "store.h"
#include "xalloc.h"

#include <inttypes.h>
#include <string.h>

struct search_result {
	struct imap_seqset set; /* seq numbers or UIDs, as the reply needs */
	struct imap_seqset uids;
	uint32_t min, max, min_uid, max_uid;
	uint64_t count, modseq, min_modseq, max_modseq;
};

static void search_run(struct imapd_session *s, const struct imap_search_program *p, bool uid,
		       struct search_result *r)
{
	struct imapd_search_cache c;
	memset(&c, 0, sizeof(c));
	size_t n = store_folder_count(s->folder);
	store_batch_begin(s->folder); /* one index transaction for the whole walk */
	for (size_t i = 0; i < n; i++) {
		if (!imapd_search_match(s, i, &p->root, &c))
			continue;
		const struct store_msg *m = store_folder_msg(s->folder, i);
		uint32_t v = uid ? m->uid : (uint32_t)i + 1;
		imap_seqset_add(&r->set, v, v);
		imap_seqset_add(&r->uids, m->uid, m->uid);
		if (r->count == 0) {
			r->min = v;
			r->min_uid = m->uid;
			r->min_modseq = m->modseq;
		}
		r->max = v;
		r->max_uid = m->uid;
		r->max_modseq = m->modseq;
		r->count++;
		if (m->modseq > r->modseq)
			r->modseq = m->modseq;
	}
	store_batch_end(s->folder);
	imapd_search_cache_free(&c);
}

static void search_save(struct imapd_session *s, unsigned opts, const struct search_result *r)
{
	imap_seqset_clear(&s->saved);
	if ((opts & (IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX)) == 0) {
		imap_seqset_copy(&s->saved, &r->uids);
		return;
	}
	if (r->count == 0)
		return;
	if (opts & IMAP_SEARCH_RETURN_MIN)
		imap_seqset_add(&s->saved, r->min_uid, r->min_uid);
	if (opts & IMAP_SEARCH_RETURN_MAX)
		imap_seqset_add(&s->saved, r->max_uid, r->max_uid);
}

/* RETURN (PARTIAL lo:hi) of the result in mailbox order. */
static void search_write_partial(struct imapd_session *s, const struct imap_search_program *p,
				 const struct search_result *r)
{
	size_t n = 0, cap = r->count < p->partial_hi ? (size_t)r->count : p->partial_hi;
	uint32_t *v = x_reallocarray(NULL, cap + 1, sizeof(uint32_t)), x = 0;
	size_t pos = 0;
	while (n < cap && imap_seqset_next(&r->set, &pos, &x))
		v[n++] = x;
	imapd_partial_write(&s->conn.out, p->partial_lo, p->partial_hi, v, n);
	x_free(&v);
}

static void search_write_esearch(struct imapd_session *s, unsigned opts, bool uid,
				 const struct imap_search_program *p, const struct search_result *r)
{
	buf_append_str(&s->conn.out, "* ESEARCH (TAG ");
	imap_write_string(&s->conn.out, s->cmd.tag, strlen(s->cmd.tag), 0);
	buf_append_char(&s->conn.out, ')');
	if (uid)
		buf_append_str(&s->conn.out, " UID");
	if ((opts & IMAP_SEARCH_RETURN_MIN) && r->count)
		buf_printf(&s->conn.out, " MIN %" PRIu32, r->min);
	if ((opts & IMAP_SEARCH_RETURN_MAX) && r->count)
		buf_printf(&s->conn.out, " MAX %" PRIu32, r->max);
	if (opts & IMAP_SEARCH_RETURN_COUNT)
		buf_printf(&s->conn.out, " COUNT %" PRIu64, r->count);
	if ((opts & IMAP_SEARCH_RETURN_ALL) && r->count) {
		buf_append_str(&s->conn.out, " ALL ");
		imap_seqset_write(&r->set, &s->conn.out);
	}
	if (opts & IMAP_SEARCH_RETURN_PARTIAL)
		search_write_partial(s, p, r);
	if (p->uses_modseq && r->count) {
		/* RFC 7162 3.1.5: with only MIN and/or MAX, the highest of those returned */
		uint64_t modseq = r->modseq;
		if ((opts & (IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_COUNT)) == 0) {
			modseq = 0;
			if ((opts & IMAP_SEARCH_RETURN_MIN) && r->min_modseq > modseq)
				modseq = r->min_modseq;
			if ((opts & IMAP_SEARCH_RETURN_MAX) && r->max_modseq > modseq)
				modseq = r->max_modseq;
		}
		buf_printf(&s->conn.out, " MODSEQ %" PRIu64, modseq);
	}
	buf_append_str(&s->conn.out, "\r\n");
}

static void search_write_plain(struct imapd_session *s, const struct imap_search_program *p,
			       const struct search_result *r)
{
	buf_append_str(&s->conn.out, "* SEARCH");
	size_t pos = 0;
	uint32_t v = 0;
	while (imap_seqset_next(&r->set, &pos, &v)) {
		buf_printf(&s->conn.out, " %" PRIu32, v);
		if (imapd_output_full(s))
			imapd_session_flush(s);
	}
	if (p->uses_modseq && r->count)
		buf_printf(&s->conn.out, " (MODSEQ %" PRIu64 ")", r->modseq);
	buf_append_str(&s->conn.out, "\r\n");
}

void imapd_cmd_search(struct imapd_session *s, struct imapd_cmd *cmd)
{
	struct imap_search_program p;
	const char *error;
	size_t n = store_folder_count(s->folder);
	struct imap_search_context ctx = {(uint32_t)n,
					  n ? store_folder_msg(s->folder, n - 1)->uid : 0};
	enum imap_search_result pr = imap_search_parse(cmd->args, cmd->count, &ctx, &p, &error);
	if (pr == IMAP_SEARCH_ERR_BADCHARSET) {
		imapd_reply(s, "NO", IMAP_SEARCH_BADCHARSET_CODE, "%s", error);
		return;
	}
	if (pr != IMAP_SEARCH_OK) {
		imapd_bad(s, error);
		return;
	}
	if (p.uses_modseq)
		imapd_condstore_enable(s);
	if ((p.return_opts & IMAP_SEARCH_RETURN_UPDATE) && imapd_context_tag_used(s, cmd->tag)) {
		imap_search_program_free(&p);
		imapd_bad(s, "Tag reuse"); /* RFC 5267 4.3 */
		return;
	}
	struct search_result r;
	memset(&r, 0, sizeof(r));
	search_run(s, &p, cmd->uid, &r);
	unsigned opts = p.return_opts;
	if (p.esearch && (opts & ~(unsigned)IMAP_SEARCH_RETURN_CONTEXT) == 0)
		opts |= IMAP_SEARCH_RETURN_ALL; /* RETURN () */
	if (!p.esearch && s->rev2)
		opts = IMAP_SEARCH_RETURN_ALL;
	if (opts & IMAP_SEARCH_RETURN_SAVE)
		search_save(s, opts, &r);
	if (p.esearch || s->rev2) {
		if (opts != IMAP_SEARCH_RETURN_SAVE)
			search_write_esearch(s, opts, cmd->uid, &p, &r);
	} else {
		search_write_plain(s, &p, &r);
	}
	if ((opts & IMAP_SEARCH_RETURN_UPDATE) &&
	    imapd_context_add(s, cmd->tag, cmd->uid, &p.root, &r.uids) < 0) {
		buf_append_str(&s->conn.out, "* NO [NOUPDATE ");
		imap_write_string(&s->conn.out, cmd->tag, strlen(cmd->tag), 0);
		buf_append_str(&s->conn.out, "] Too many search contexts\r\n");
	}
	imap_seqset_free(&r.set);
	imap_seqset_free(&r.uids);
	imap_search_program_free(&p);
	imapd_reply(s, "OK", NULL, "%sSEARCH completed", cmd->uid ? "UID " : "");
}
