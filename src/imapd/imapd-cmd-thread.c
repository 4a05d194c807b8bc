/* imapd-cmd-thread: THREAD and UID THREAD (RFC 5256 sections 3 and 4) with the
 * ORDEREDSUBJECT and REFERENCES (imapd-thread-refs.c) algorithms, and the THREAD response:
 * "(a b (c)(d))" where b is a's child and c and d are b's children.
 */
#include "imapd-thread.h"
#include "imap-search.h"
#include "store.h"
#include "xalloc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static int ordered_cmp(const void *pa, const void *pb)
{
	const struct imapd_sort_msg *a = pa, *b = pb;
	int r = imapd_sort_strcmp(a->subject, b->subject);
	if (r != 0)
		return r;
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* ORDEREDSUBJECT: one thread per base subject, the others children of its first message. */
static size_t thread_ordered(struct imapd_sort_msg *k, size_t n, struct thread_node **nodes_r)
{
	if (n > 1)
		qsort(k, n, sizeof(*k), ordered_cmp);
	struct thread_node *nodes = x_reallocarray(NULL, n + 1, sizeof(*nodes));
	size_t root = n;
	nodes[root] = (struct thread_node){-1, -1, -1, -1};
	ssize_t last_top = -1, last_child = -1;
	for (size_t i = 0; i < n; i++) {
		nodes[i] = (struct thread_node){(ssize_t)i, -1, -1, -1};
		if (last_top >= 0 && imapd_sort_strcmp(k[last_top].subject, k[i].subject) == 0) {
			nodes[i].parent = last_top;
			if (last_child < 0)
				nodes[last_top].child = (ssize_t)i;
			else
				nodes[last_child].next = (ssize_t)i;
			last_child = (ssize_t)i;
			continue;
		}
		nodes[i].parent = (ssize_t)root;
		if (last_top < 0)
			nodes[root].child = (ssize_t)i;
		else
			nodes[last_top].next = (ssize_t)i;
		last_top = (ssize_t)i;
		last_child = -1;
	}
	imapd_thread_sort_children(nodes, root, k);
	*nodes_r = nodes;
	return root;
}

/* Writes node x and its descendants as thread-members. */
static void thread_write_members(struct buf *out, const struct thread_node *nodes, size_t x,
				 const struct imapd_sort_msg *k, bool uid)
{
	const struct thread_node *n = &nodes[x];
	if (n->msg < 0 && n->child >= 0 && nodes[n->child].next < 0) {
		thread_write_members(out, nodes, (size_t)n->child, k, uid);
		return;
	}
	bool first = true;
	if (n->msg >= 0) {
		buf_printf(out, "%" PRIu32, uid ? k[n->msg].uid : k[n->msg].seq);
		first = false;
	}
	if (n->child < 0)
		return;
	if (nodes[n->child].next < 0) {
		buf_append_char(out, ' ');
		thread_write_members(out, nodes, (size_t)n->child, k, uid);
		return;
	}
	if (!first)
		buf_append_char(out, ' ');
	for (ssize_t c = n->child; c >= 0; c = nodes[c].next) {
		buf_append_char(out, '(');
		thread_write_members(out, nodes, (size_t)c, k, uid);
		buf_append_char(out, ')');
	}
}

static void thread_write(struct imapd_session *s, const struct thread_node *nodes, size_t root,
			 const struct imapd_sort_msg *k, bool uid)
{
	buf_append_str(&s->conn.out, "* THREAD ");
	for (ssize_t x = nodes[root].child; x >= 0; x = nodes[x].next) {
		buf_append_char(&s->conn.out, '(');
		thread_write_members(&s->conn.out, nodes, (size_t)x, k, uid);
		buf_append_char(&s->conn.out, ')');
		if (imapd_output_full(s))
			imapd_session_flush(s);
	}
	buf_append_str(&s->conn.out, "\r\n");
}

/* The keys of the messages matching the search keys after algorithm and charset. */
static struct imapd_sort_msg *thread_keys(struct imapd_session *s, struct imapd_cmd *cmd,
					  bool references, size_t *n_r)
{
	size_t total = store_folder_count(s->folder);
	struct imap_search_context ctx = {(uint32_t)total,
					  total ? store_folder_msg(s->folder, total - 1)->uid : 0};
	struct imap_search_key root;
	bool saved;
	const char *error;
	if (imap_search_parse_keys(cmd->args + 2, cmd->count - 2, &ctx, &root, &saved, &error) <
	    0) {
		imapd_bad(s, error);
		return NULL;
	}
	size_t *idx, n = imapd_sort_search(s, &root, &idx);
	imap_search_key_free(&root);
	struct imapd_sort_msg *k = x_reallocarray(NULL, n > 0 ? n : 1, sizeof(*k));
	struct imapd_search_cache c;
	memset(&c, 0, sizeof(c));
	store_batch_begin(s->folder);
	for (size_t i = 0; i < n; i++)
		imapd_sort_msg_load(s, idx[i], references, &c, &k[i]);
	store_batch_end(s->folder);
	imapd_search_cache_free(&c);
	x_free(&idx);
	*n_r = n;
	return k;
}

void imapd_cmd_thread(struct imapd_session *s, struct imapd_cmd *cmd)
{
	const char *alg, *charset;
	if (cmd->count < 3 || !imap_arg_get_atom(&cmd->args[0], &alg) ||
	    !imap_arg_get_astring(&cmd->args[1], &charset, NULL)) {
		imapd_bad(s, "THREAD takes an algorithm, a charset and search keys");
		return;
	}
	bool refs = imap_arg_is_atom(&cmd->args[0], "REFERENCES");
	if (!refs && !imap_arg_is_atom(&cmd->args[0], "ORDEREDSUBJECT")) {
		imapd_bad(s, "Unknown threading algorithm");
		return;
	}
	if (!imap_search_charset_ok(charset)) {
		imapd_reply(s, "NO", IMAP_SEARCH_BADCHARSET_CODE, "Unsupported charset");
		return;
	}
	size_t n;
	struct imapd_sort_msg *k = thread_keys(s, cmd, refs, &n);
	if (k == NULL)
		return;
	struct thread_node *nodes;
	size_t root = refs ? imapd_thread_references(k, n, &nodes) : thread_ordered(k, n, &nodes);
	thread_write(s, nodes, root, k, cmd->uid);
	x_free(&nodes);
	for (size_t i = 0; i < n; i++)
		imapd_sort_msg_free(&k[i]);
	x_free(&k);
	imapd_reply(s, "OK", NULL, "%sTHREAD completed", cmd->uid ? "UID " : "");
}
