/* imapd-cmd-fetch: FETCH and UID FETCH (RFC 9051 6.4.5 and 7.5.2; RFC 3516 BINARY; RFC 7162
 * 3.1.4 MODSEQ and CHANGEDSINCE). A job that writes one message at a time and streams
 * body literals while the client reads, so output stays bounded. Non-PEEK body items set
 * \Seen first (and report FLAGS). A message expunged by someone else meanwhile is left out
 * and the command ends NO [EXPUNGEISSUED] (RFC 9051 7.1).
 */
#include "imapd-int.h"
#include "imap-date.h"
#include "log.h"
#include "mime-part.h"
#include "store.h"
#include "xalloc.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

struct fetch_job {
	struct imap_fetch f;
	uint32_t *idx;
	size_t count, pos;
	bool in_msg, streaming, expunged, need_tree, need_fd, hold;
	size_t body_i;
	struct store_msg_stream st;
	struct mime_part *tree;
	struct imapd_body_stream bs;
	struct buf envelope, bodystructure; /* this message's texts (cached ones) */
};

static void fetch_msg_end(struct fetch_job *j)
{
	if (j->st.fd >= 0)
		close(j->st.fd);
	j->st.fd = -1;
	mime_part_free(&j->tree);
	j->in_msg = false;
	j->streaming = false;
}

static void fetch_job_free(struct imapd_session *s)
{
	struct fetch_job *j = s->job_ctx;
	fetch_msg_end(j);
	if (j->hold)
		store_cache_hold(s->folder, false);
	imap_fetch_free(&j->f);
	x_free(&j->idx);
	buf_free(&j->envelope);
	buf_free(&j->bodystructure);
	x_free(&j);
}

/* The items that need no message bytes. */
static void fetch_static(struct imapd_session *s, struct fetch_job *j, size_t idx,
			 const struct store_msg *m)
{
	unsigned it = j->f.items;
	buf_printf(&s->conn.out, "* %zu FETCH (UID %" PRIu32, idx + 1, m->uid);
	if (it & IMAP_FETCH_FLAGS) {
		buf_append_str(&s->conn.out, " FLAGS ");
		imapd_flags_write(s, &s->conn.out, m);
	}
	if ((it & IMAP_FETCH_MODSEQ) || (s->condstore && (it & IMAP_FETCH_FLAGS)))
		buf_printf(&s->conn.out, " MODSEQ (%" PRIu64 ")", m->modseq);
	if (it & IMAP_FETCH_INTERNALDATE) {
		char d[IMAP_DATETIME_LEN + 1];
		imap_datetime_write(store_folder_msg_date(s->folder, idx), 0, d);
		buf_printf(&s->conn.out, " INTERNALDATE \"%s\"", d);
	}
	if (it & IMAP_FETCH_RFC822_SIZE) {
		uint64_t v = m->size;
		struct buf err = BUF_INIT;
		if (store_msg_vsize(s->folder, m->uid, &v, &err) < 0)
			v = m->size;
		buf_free(&err);
		buf_printf(&s->conn.out, " RFC822.SIZE %" PRIu64, v);
	}
	if (it & IMAP_FETCH_ENVELOPE) {
		buf_append_str(&s->conn.out, " ENVELOPE ");
		buf_append(&s->conn.out, j->envelope.data, j->envelope.len);
	}
	if (j->tree != NULL && (it & IMAP_FETCH_BODY)) {
		buf_append_str(&s->conn.out, " BODY ");
		imapd_bodystructure_write(s, &s->conn.out, j->tree, false);
	}
	if (it & IMAP_FETCH_BODYSTRUCTURE) {
		buf_append_str(&s->conn.out, " BODYSTRUCTURE ");
		buf_append(&s->conn.out, j->bodystructure.data, j->bodystructure.len);
	}
}

/* Opens what message idx needs; false when it is gone. */
static bool fetch_msg_start(struct imapd_session *s, struct fetch_job *j)
{
	size_t idx = j->idx[j->pos];
	const struct store_msg *m = store_folder_msg(s->folder, idx);
	struct buf err = BUF_INIT;
	j->st.fd = -1;
	if (j->need_fd && store_msg_open(s->folder, m->uid, &j->st, &err) < 0) {
		buf_free(&err);
		return false;
	}
	if (j->need_tree && (j->tree = imapd_msg_parts(s, m->uid, &err)) == NULL) {
		buf_free(&err);
		fetch_msg_end(j);
		return false;
	}
	buf_free(&err);
	if (((j->f.items & IMAP_FETCH_ENVELOPE) &&
	     !imapd_msg_text(s, m->uid, STORE_CACHE_ENVELOPE, &j->tree, &j->envelope)) ||
	    ((j->f.items & IMAP_FETCH_BODYSTRUCTURE) &&
	     !imapd_msg_text(s, m->uid, STORE_CACHE_BODYSTRUCTURE, &j->tree, &j->bodystructure))) {
		fetch_msg_end(j);
		return false;
	}
	fetch_static(s, j, idx, m);
	j->in_msg = true;
	j->body_i = 0;
	return true;
}

/* Writes messages until the output is full; their index reads (sizes, cached texts) share
 * one transaction per call, and what they cache is written once at its end. */
static void fetch_fill(struct imapd_session *s, struct fetch_job *j)
{
	store_batch_begin(s->folder);
	while (!imapd_output_full(s)) {
		if (j->streaming) {
			if (imapd_body_pump(s, &j->bs))
				break;
			j->streaming = false;
			continue;
		}
		if (!j->in_msg) {
			if (j->pos == j->count)
				break;
			if (!fetch_msg_start(s, j)) {
				j->expunged = true;
				j->pos++;
			}
			continue;
		}
		if (j->body_i < j->f.body_count) {
			const struct store_msg *m = store_folder_msg(s->folder, j->idx[j->pos]);
			imapd_fetch_body_start(s, &j->f.bodies[j->body_i++], m->uid, j->tree,
					       &j->st, &j->bs, &j->streaming);
			continue;
		}
		buf_append_str(&s->conn.out, ")\r\n");
		fetch_msg_end(j);
		j->pos++;
	}
	store_batch_end(s->folder);
}

static bool fetch_pump(struct imapd_session *s)
{
	struct fetch_job *j = s->job_ctx;
	fetch_fill(s, j);
	if (j->pos < j->count || j->in_msg)
		return true;
	if (j->hold) /* the cache values are written before the reply says they are done */
		store_cache_hold(s->folder, false);
	j->hold = false;
	if (j->expunged)
		imapd_reply(s, "NO", "EXPUNGEISSUED", "Some messages were expunged meanwhile");
	else
		imapd_reply(s, "OK", NULL, "%sFETCH completed", s->cmd.uid ? "UID " : "");
	return false;
}

/* Sets \Seen on the messages a non-PEEK body fetch reads (RFC 9051 6.4.5). */
static void fetch_set_seen(struct imapd_session *s, struct fetch_job *j)
{
	bool seen = false;
	for (size_t i = 0; i < j->f.body_count; i++)
		seen |= !j->f.bodies[i].peek && j->f.bodies[i].kind != IMAP_FETCH_BINARY_SIZE;
	if (!seen || s->readonly)
		return;
	uint32_t *uids = x_reallocarray(NULL, j->count + 1, sizeof(uint32_t));
	size_t n = 0;
	for (size_t i = 0; i < j->count; i++) {
		const struct store_msg *m = store_folder_msg(s->folder, j->idx[i]);
		if ((m->flags & STORE_FLAG_SEEN) == 0) {
			uids[n++] = m->uid;
			imap_seqset_add(&s->shown, m->uid, m->uid);
		}
	}
	struct buf err = BUF_INIT;
	if (n > 0 &&
	    store_set_flags(s->folder, uids, n, STORE_FLAGS_ADD, STORE_FLAG_SEEN, 0, &err) < 0)
		log_warn("user=<%s>: set \\Seen: %s", s->user.address, buf_cstr(&err));
	if (n > 0)
		j->f.items |= IMAP_FETCH_FLAGS;
	buf_free(&err);
	x_free(&uids);
}

/* Keeps only the messages changed since the CHANGEDSINCE value (RFC 7162 3.1.4.1). */
static void fetch_changedsince(struct imapd_session *s, struct fetch_job *j)
{
	size_t n = 0;
	for (size_t i = 0; i < j->count; i++)
		if (store_folder_msg(s->folder, j->idx[i])->modseq > j->f.changedsince)
			j->idx[n++] = j->idx[i];
	j->count = n;
	j->f.items |= IMAP_FETCH_MODSEQ;
}

/* UID FETCH ... (CHANGEDSINCE m VANISHED): the set's expunged UIDs first (RFC 7162 3.2.6). */
static void fetch_vanished(struct imapd_session *s, const struct imap_arg *arg, uint64_t since)
{
	const char *str, *error;
	struct imap_seqset set = IMAP_SEQSET_INIT;
	uint32_t star = store_folder_uidnext(s->folder) - 1; /* every UID given out */
	if (imap_arg_get_atom(arg, &str) && strcmp(str, "$") != 0 &&
	    imap_seqset_parse(&set, str, strlen(str), star, &error) == 0)
		imapd_vanished_earlier(s, &set, since, 1);
	else if (s->saved.count > 0)
		imapd_vanished_earlier(s, &s->saved, since, 1);
	imap_seqset_free(&set);
}

void imapd_cmd_fetch(struct imapd_session *s, struct imapd_cmd *cmd)
{
	struct fetch_job *j = X_NEW(struct fetch_job);
	const char *error;
	j->st.fd = -1;
	imapd_body_close(&j->bs);
	if (cmd->count < 2 ||
	    imap_fetch_parse(cmd->args + 1, cmd->count - 1, cmd->uid, &j->f, &error) < 0) {
		x_free(&j);
		imapd_bad(s, cmd->count < 2 ? "FETCH takes a message set and items" : error);
		return;
	}
	if (j->f.vanished && !s->qresync) {
		imap_fetch_free(&j->f);
		x_free(&j);
		imapd_bad(s, "VANISHED needs ENABLE QRESYNC");
		return;
	}
	if (imapd_seqset_resolve(s, &cmd->args[0], cmd->uid, &j->idx, &j->count) < 0) {
		imap_fetch_free(&j->f);
		x_free(&j);
		return;
	}
	if (j->f.vanished)
		fetch_vanished(s, &cmd->args[0], j->f.changedsince);
	if (j->f.changedsince_set) {
		imapd_condstore_enable(s);
		fetch_changedsince(s, j);
	}
	if (j->f.items & IMAP_FETCH_MODSEQ)
		imapd_condstore_enable(s); /* RFC 7162 3.1: a CONDSTORE-enabling command */
	j->need_tree = (j->f.items & IMAP_FETCH_BODY) != 0; /* the others: cached texts */
	for (size_t i = 0; i < j->f.body_count; i++) {
		const struct imap_fetch_body *b = &j->f.bodies[i];
		j->need_fd = true;
		if (b->part_count > 0 || b->spec != IMAP_SECTION_ALL)
			j->need_tree = true;
	}
	fetch_set_seen(s, j);
	/* many steps: their cache values are written in a few transactions at the end */
	j->hold = j->count > 1;
	if (j->hold)
		store_cache_hold(s->folder, true);
	imapd_job_start(s, fetch_pump, fetch_job_free, j);
}
