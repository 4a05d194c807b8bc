/* imapd-qresync: quick resynchronisation (RFC 7162 3.2): the QRESYNC parameter of
 * SELECT/EXAMINE (3.2.5, with known UIDs and sequence match data 3.2.5.2), the VANISHED
 * UID FETCH modifier (3.2.6) and VANISHED responses instead of EXPUNGE once QRESYNC is
 * enabled (3.2.10).
 *
 * Expunges are answered the way RFC 7162 5.1 and 5.2 allow: a UID of the client's set
 * below UIDNEXT that is not in the mailbox is reported as vanished, unless the client's
 * mod-sequence is the current HIGHESTMODSEQ (an expunge raises it), and never at or below
 * the last matching pair of the sequence match data.
 */
#include "imapd-int.h"
#include "store.h"
#include "xalloc.h"

#include <inttypes.h>
#include <string.h>

/* The 0-based index of the first message with a UID >= uid (count when none). */
static size_t first_at_or_after(const struct store_folder *f, uint32_t uid)
{
	size_t lo = 0, hi = store_folder_count(f);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (store_folder_msg(f, mid)->uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Adds to out the UIDs of known in [min_uid, UIDNEXT) that are not in the snapshot. */
static void vanished_of(const struct store_folder *f, const struct imap_seqset *known,
			uint32_t min_uid, struct imap_seqset *out)
{
	uint32_t top = store_folder_uidnext(f) - 1;
	size_t count = store_folder_count(f);
	for (size_t r = 0; r < known->count; r++) {
		uint32_t lo = known->ranges[r].lo, hi = known->ranges[r].hi;
		lo = lo < min_uid ? min_uid : lo;
		hi = hi > top ? top : hi;
		if (lo == 0 || lo > hi)
			continue;
		size_t idx = first_at_or_after(f, lo);
		uint32_t cur = lo;
		while (cur <= hi) {
			if (idx < count && store_folder_msg(f, idx)->uid <= hi) {
				uint32_t uid = store_folder_msg(f, idx++)->uid;
				if (uid > cur)
					imap_seqset_add(out, cur, uid - 1);
				cur = uid + 1;
				if (cur == 0)
					break;
			} else {
				imap_seqset_add(out, cur, hi);
				break;
			}
		}
	}
}

void imapd_vanished_earlier(struct imapd_session *s, const struct imap_seqset *known,
			    uint64_t modseq, uint32_t min_uid)
{
	if (modseq >= store_folder_highestmodseq(s->folder))
		return; /* nothing at all changed since, expunges included */
	struct imap_seqset v = IMAP_SEQSET_INIT;
	vanished_of(s->folder, known, min_uid, &v);
	if (v.count > 0) {
		buf_append_str(&s->conn.out, "* VANISHED (EARLIER) ");
		imap_seqset_write(&v, &s->conn.out);
		buf_append_str(&s->conn.out, "\r\n");
	}
	imap_seqset_free(&v);
}

void imapd_expunged_write(struct imapd_session *s, const uint32_t *uids, const uint32_t *seqs,
			  size_t count)
{
	if (count == 0)
		return;
	if (!s->qresync) {
		for (size_t i = count; i > 0; i--)
			imapd_untagged(s, "%" PRIu32 " EXPUNGE", seqs[i - 1]);
		return;
	}
	struct imap_seqset v = IMAP_SEQSET_INIT;
	for (size_t i = 0; i < count; i++)
		imap_seqset_add(&v, uids[i], uids[i]);
	buf_append_str(&s->conn.out, "* VANISHED ");
	imap_seqset_write(&v, &s->conn.out);
	buf_append_str(&s->conn.out, "\r\n");
	imap_seqset_free(&v);
}

void imapd_qresync_free(struct imapd_qresync *q)
{
	imap_seqset_free(&q->known);
	imap_seqset_free(&q->match_seqs);
	imap_seqset_free(&q->match_uids);
	memset(q, 0, sizeof(*q));
}

/* A sequence set argument (no "$"), "*" as the largest number. */
static bool set_arg(const struct imap_arg *arg, struct imap_seqset *set)
{
	const char *str, *error;
	if (!imap_arg_get_atom(arg, &str) || strcmp(str, "$") == 0)
		return false;
	return imap_seqset_parse(set, str, strlen(str), UINT32_MAX, &error) == 0;
}

int imapd_qresync_parse(const struct imap_arg *arg, struct imapd_qresync *q)
{
	const struct imap_arg *v, *m;
	size_t n, nm;
	memset(q, 0, sizeof(*q));
	if (!imap_arg_get_list(arg, &v, &n) || n < 2 || n > 4 ||
	    !imap_arg_get_number(&v[0], &q->uidvalidity) || q->uidvalidity == 0 ||
	    !imap_arg_get_number64(&v[1], &q->modseq) || q->modseq == 0)
		return -1;
	q->active = true;
	size_t i = 2;
	if (i < n && v[i].type != IMAP_ARG_LIST) {
		if (!set_arg(&v[i++], &q->known))
			return -1;
		q->has_known = true;
	}
	if (i < n) {
		if (!imap_arg_get_list(&v[i++], &m, &nm) || nm != 2 ||
		    !set_arg(&m[0], &q->match_seqs) || !set_arg(&m[1], &q->match_uids) ||
		    imap_seqset_count(&q->match_seqs) != imap_seqset_count(&q->match_uids))
			return -1;
		q->has_match = true;
	}
	return i == n ? 0 : -1;
}

/* The lowest UID that may be reported vanished after the sequence match data. */
static uint32_t match_min_uid(struct imapd_session *s, const struct imapd_qresync *q)
{
	uint32_t min_uid = 1, seq = 0, uid = 0;
	size_t ps = 0, pu = 0;
	while (imap_seqset_next(&q->match_seqs, &ps, &seq) &&
	       imap_seqset_next(&q->match_uids, &pu, &uid)) {
		if (seq > store_folder_count(s->folder) ||
		    store_folder_msg(s->folder, seq - 1)->uid != uid)
			break;
		min_uid = uid + 1;
	}
	return min_uid;
}

void imapd_qresync_select(struct imapd_session *s, const struct imapd_qresync *q)
{
	struct store_folder *f = s->folder;
	if (!q->active || q->uidvalidity != store_folder_uidvalidity(f))
		return;
	struct imap_seqset all = IMAP_SEQSET_INIT;
	const struct imap_seqset *known = &q->known;
	if (!q->has_known) {
		if (store_folder_uidnext(f) > 1)
			imap_seqset_add(&all, 1, store_folder_uidnext(f) - 1);
		known = &all;
	}
	imapd_vanished_earlier(s, known, q->modseq, q->has_match ? match_min_uid(s, q) : 1);
	for (size_t i = 0; i < store_folder_count(f); i++) {
		const struct store_msg *m = store_folder_msg(f, i);
		if (m->modseq <= q->modseq || !imap_seqset_contains(known, m->uid))
			continue;
		buf_printf(&s->conn.out, "* %zu FETCH (UID %" PRIu32 " FLAGS ", i + 1, m->uid);
		imapd_flags_write(s, &s->conn.out, m);
		buf_printf(&s->conn.out, " MODSEQ (%" PRIu64 "))\r\n", m->modseq);
	}
	imap_seqset_free(&all);
}
