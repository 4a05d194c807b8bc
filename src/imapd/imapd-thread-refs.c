/* imapd-thread-refs: the THREAD=REFERENCES algorithm of RFC 5256 section 3 over the keys
 * of the searched messages (imapd-sort-keys.c): (1) link messages by their normalised
 * Message-ID, References and In-Reply-To, with dummies for unknown IDs and no loops;
 * (2) the parentless ones form the root set; (3) prune dummies; (4) sort the root set by
 * sent date; (5) merge threads with the same base subject; (6) sort every sibling set.
 * Nodes live in one array (index 0 is the root); links are indexes, -1 for none.
 */
#include "imapd-thread.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

/* Message-ID -> node index, open addressing. */
struct id_map {
	char **keys;
	size_t *vals;
	size_t cap, used;
};

static uint64_t id_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void id_map_grow(struct id_map *m);

static size_t *id_map_slot(struct id_map *m, const char *key, bool add)
{
	if (add && (m->used + 1) * 2 > m->cap)
		id_map_grow(m);
	if (m->cap == 0)
		return NULL;
	for (size_t i = id_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == NULL) {
			if (!add)
				return NULL;
			m->keys[i] = x_strdup(key);
			m->used++;
			return &m->vals[i];
		}
		if (strcmp(m->keys[i], key) == 0)
			return &m->vals[i];
	}
}

static void id_map_grow(struct id_map *m)
{
	struct id_map n = {NULL, NULL, m->cap ? m->cap * 2 : 64, 0};
	n.keys = x_reallocarray(NULL, n.cap, sizeof(char *));
	n.vals = x_reallocarray(NULL, n.cap, sizeof(size_t));
	memset(n.keys, 0, n.cap * sizeof(char *));
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i] != NULL) {
			*id_map_slot(&n, m->keys[i], true) = m->vals[i];
			x_free(&m->keys[i]);
		}
	x_free(&m->keys);
	x_free(&m->vals);
	*m = n;
}

static void id_map_free(struct id_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		x_free(&m->keys[i]);
	x_free(&m->keys);
	x_free(&m->vals);
}

/* The next "<id>" of *p, normalised (quotes, white space and line breaks removed); NULL
 * when there is no more. Valid: "local@domain" with both parts non-empty. */
static char *next_msgid(const char **p)
{
	for (;;) {
		const char *lt = strchr(*p, '<');
		if (lt == NULL)
			return NULL;
		const char *gt = strchr(lt + 1, '>');
		if (gt == NULL)
			return NULL;
		*p = gt + 1;
		char *id = x_malloc((size_t)(gt - lt));
		size_t n = 0;
		for (const char *c = lt + 1; c < gt; c++)
			if (*c != '"' && *c != ' ' && *c != '\t' && *c != '\r' && *c != '\n')
				id[n++] = *c;
		id[n] = '\0';
		char *at = strchr(id, '@');
		if (at != NULL && at != id && at[1] != '\0' && strchr(id, '<') == NULL)
			return id;
		x_free(&id);
	}
}

struct refs {
	struct thread_node *nodes;
	size_t count, cap;
	struct id_map ids;
};

static size_t node_new(struct refs *r, ssize_t msg)
{
	if (r->count == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->nodes = x_reallocarray(r->nodes, r->cap, sizeof(*r->nodes));
	}
	struct thread_node *n = &r->nodes[r->count];
	n->msg = msg;
	n->parent = n->child = n->next = -1;
	return r->count++;
}

/* The node of a referenced ID, a dummy made when it is new. */
static size_t node_of_id(struct refs *r, const char *id)
{
	size_t *slot = id_map_slot(&r->ids, id, false);
	if (slot != NULL)
		return *slot;
	size_t n = node_new(r, -1);
	*id_map_slot(&r->ids, id, true) = n;
	return n;
}

static bool is_descendant(const struct refs *r, ssize_t node, ssize_t of)
{
	for (ssize_t p = node; p >= 0; p = r->nodes[p].parent)
		if (p == of)
			return true;
	return false;
}

static void unlink_node(struct refs *r, size_t c)
{
	ssize_t p = r->nodes[c].parent;
	if (p < 0)
		return;
	ssize_t *link = &r->nodes[p].child;
	while (*link != (ssize_t)c)
		link = &r->nodes[*link].next;
	*link = r->nodes[c].next;
	r->nodes[c].parent = r->nodes[c].next = -1;
}

/* Appends c to p's children. */
static void link_node(struct refs *r, size_t p, size_t c)
{
	ssize_t *link = &r->nodes[p].child;
	while (*link >= 0)
		link = &r->nodes[*link].next;
	*link = (ssize_t)c;
	r->nodes[c].parent = (ssize_t)p;
	r->nodes[c].next = -1;
}

/* Step 1 for one message: its references linked in a chain, then its own parent. */
static void refs_link_msg(struct refs *r, size_t me, const struct imapd_sort_msg *k)
{
	const char *p = k->references != NULL ? k->references : "";
	char *id;
	ssize_t prev = -1;
	bool any = false;
	while ((id = next_msgid(&p)) != NULL) {
		size_t cur = node_of_id(r, id);
		x_free(&id);
		any = true;
		if (prev >= 0 && r->nodes[cur].parent < 0 && (size_t)prev != cur &&
		    !is_descendant(r, prev, (ssize_t)cur))
			link_node(r, (size_t)prev, cur);
		prev = (ssize_t)cur;
	}
	if (!any && k->in_reply_to != NULL) {
		p = k->in_reply_to;
		if ((id = next_msgid(&p)) != NULL) {
			prev = (ssize_t)node_of_id(r, id);
			x_free(&id);
		}
	}
	unlink_node(r, me);
	if (prev >= 0 && (size_t)prev != me && !is_descendant(r, prev, (ssize_t)me))
		link_node(r, (size_t)prev, me);
}

/* Step 1: one node per message (IDs unique to the first holder), then the links. */
static void refs_build(struct refs *r, const struct imapd_sort_msg *k, size_t n, size_t *msg_node)
{
	for (size_t i = 0; i < n; i++) {
		char *id = NULL;
		const char *p = k[i].message_id;
		if (p != NULL)
			id = next_msgid(&p);
		size_t *slot = id != NULL ? id_map_slot(&r->ids, id, false) : NULL;
		if (slot != NULL && r->nodes[*slot].msg < 0) {
			r->nodes[*slot].msg = (ssize_t)i; /* a dummy made by an earlier reference */
			msg_node[i] = *slot;
		} else {
			msg_node[i] = node_new(r, (ssize_t)i);
			if (id != NULL && slot == NULL)
				*id_map_slot(&r->ids, id, true) = msg_node[i];
		}
		x_free(&id);
	}
	for (size_t i = 0; i < n; i++)
		refs_link_msg(r, msg_node[i], &k[i]);
}

/* Step 3: dummies without children go; those with children give them to their parent
 * (at the top only when there is one). */
static void refs_prune(struct refs *r, size_t parent, bool is_root)
{
	ssize_t *link = &r->nodes[parent].child;
	while (*link >= 0) {
		size_t c = (size_t)*link;
		struct thread_node *n = &r->nodes[c];
		if (n->msg < 0 && n->child < 0) {
			*link = n->next;
			continue;
		}
		if (n->msg < 0 && (!is_root || r->nodes[n->child].next < 0)) {
			ssize_t last = n->child;
			for (ssize_t x = n->child; x >= 0; x = r->nodes[x].next) {
				r->nodes[x].parent = (ssize_t)parent;
				last = x;
			}
			r->nodes[last].next = n->next;
			*link = n->child;
			continue;
		}
		refs_prune(r, c, false);
		link = &r->nodes[c].next;
	}
}

/* The message that stands for node x in sorting and subjects: itself or its first child. */
static ssize_t node_msg(const struct thread_node *nodes, size_t x)
{
	if (nodes[x].msg >= 0 || nodes[x].child < 0)
		return nodes[x].msg;
	return nodes[nodes[x].child].msg;
}

struct sort_ctx {
	const struct thread_node *nodes;
	const struct imapd_sort_msg *k;
};

static int node_cmp(const void *pa, const void *pb, void *arg)
{
	const struct sort_ctx *c = arg;
	ssize_t a = node_msg(c->nodes, *(const size_t *)pa);
	ssize_t b = node_msg(c->nodes, *(const size_t *)pb);
	if (a < 0 || b < 0)
		return (a >= 0) - (b >= 0);
	const struct imapd_sort_msg *ka = &c->k[a], *kb = &c->k[b];
	if (ka->date != kb->date)
		return ka->date < kb->date ? -1 : 1;
	return ka->seq < kb->seq ? -1 : ka->seq > kb->seq;
}

void imapd_thread_sort_children(struct thread_node *nodes, size_t parent,
				const struct imapd_sort_msg *k)
{
	size_t n = 0;
	for (ssize_t x = nodes[parent].child; x >= 0; x = nodes[x].next)
		n++;
	if (n < 2)
		return;
	size_t *v = x_reallocarray(NULL, n, sizeof(size_t));
	n = 0;
	for (ssize_t x = nodes[parent].child; x >= 0; x = nodes[x].next)
		v[n++] = (size_t)x;
	struct sort_ctx c = {nodes, k};
	qsort_r(v, n, sizeof(size_t), node_cmp, &c);
	nodes[parent].child = (ssize_t)v[0];
	for (size_t i = 0; i < n; i++)
		nodes[v[i]].next = i + 1 < n ? (ssize_t)v[i + 1] : -1;
	x_free(&v);
}

/* Step 6: every sibling set, the deepest first. */
static void refs_sort_all(struct refs *r, size_t parent, const struct imapd_sort_msg *k)
{
	for (ssize_t x = r->nodes[parent].child; x >= 0; x = r->nodes[x].next)
		refs_sort_all(r, (size_t)x, k);
	imapd_thread_sort_children(r->nodes, parent, k);
}

/* Step 5 (C) for one top-level node cur whose subject's table entry is other. */
static void refs_merge(struct refs *r, size_t root, size_t cur, size_t *other,
		       const struct imapd_sort_msg *k)
{
	struct thread_node *nc = &r->nodes[cur], *no = &r->nodes[*other];
	if (nc->msg < 0 && no->msg < 0) {
		while (nc->child >= 0) {
			size_t ch = (size_t)nc->child;
			unlink_node(r, ch);
			link_node(r, *other, ch);
		}
		unlink_node(r, cur);
	} else if (no->msg < 0 ||
		   (nc->msg >= 0 && k[nc->msg].is_reply && !k[no->msg].is_reply)) {
		unlink_node(r, cur);
		link_node(r, *other, cur);
	} else {
		size_t d = node_new(r, -1);
		unlink_node(r, cur);
		unlink_node(r, *other);
		link_node(r, d, *other);
		link_node(r, d, cur);
		link_node(r, root, d);
		*other = d;
	}
}

/* Step 5: threads with the same base subject are merged. */
static void refs_subjects(struct refs *r, size_t root, const struct imapd_sort_msg *k)
{
	size_t n = 0;
	for (ssize_t x = r->nodes[root].child; x >= 0; x = r->nodes[x].next)
		n++;
	size_t *v = x_reallocarray(NULL, n > 0 ? n : 1, sizeof(size_t));
	n = 0;
	for (ssize_t x = r->nodes[root].child; x >= 0; x = r->nodes[x].next)
		v[n++] = (size_t)x;
	struct id_map subj = {NULL, NULL, 0, 0};
	for (size_t i = 0; i < n; i++) {
		ssize_t m = node_msg(r->nodes, v[i]);
		if (m < 0 || k[m].subject[0] == '\0')
			continue;
		size_t *slot = id_map_slot(&subj, k[m].subject, false);
		if (slot == NULL) {
			*id_map_slot(&subj, k[m].subject, true) = v[i];
			continue;
		}
		const struct thread_node *t = &r->nodes[*slot], *c = &r->nodes[v[i]];
		if (t->msg >= 0 && (c->msg < 0 || (k[t->msg].is_reply && !k[c->msg].is_reply)))
			*slot = v[i];
	}
	for (size_t i = 0; i < n; i++) {
		ssize_t m = node_msg(r->nodes, v[i]);
		if (m < 0 || k[m].subject[0] == '\0')
			continue;
		size_t *slot = id_map_slot(&subj, k[m].subject, false);
		if (*slot != v[i])
			refs_merge(r, root, v[i], slot, k);
	}
	id_map_free(&subj);
	x_free(&v);
}

size_t imapd_thread_references(const struct imapd_sort_msg *k, size_t n,
			       struct thread_node **nodes_r)
{
	struct refs r;
	memset(&r, 0, sizeof(r));
	size_t *msg_node = x_reallocarray(NULL, n > 0 ? n : 1, sizeof(size_t));
	refs_build(&r, k, n, msg_node);
	x_free(&msg_node);
	id_map_free(&r.ids);
	size_t root = node_new(&r, -1), count = r.count - 1;
	for (size_t i = 0; i < count; i++)
		if (r.nodes[i].parent < 0)
			link_node(&r, root, i);
	refs_prune(&r, root, true);
	for (ssize_t x = r.nodes[root].child; x >= 0; x = r.nodes[x].next)
		imapd_thread_sort_children(r.nodes, (size_t)x, k);
	imapd_thread_sort_children(r.nodes, root, k);
	refs_subjects(&r, root, k);
	refs_sort_all(&r, root, k);
	*nodes_r = r.nodes;
	return root;
}
