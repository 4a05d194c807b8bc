/* imapd-cmd-list: LIST and LSUB (RFC 9051 6.3.9, RFC 3501 6.3.8-6.3.9), with
 * LIST-EXTENDED (RFC 5258: selection options SUBSCRIBED, REMOTE, RECURSIVEMATCH,
 * SPECIAL-USE; return options SUBSCRIBED, CHILDREN, SPECIAL-USE; several patterns;
 * CHILDINFO), CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154) and LIST-STATUS (RFC 5819).
 * Wildcards: "*" matches anything, "%" anything but the separator "/". A parent that does
 * not exist but has children is shown \Noselect (\NonExistent with LIST-EXTENDED).
 */
#include "imapd-int.h"
#include "mutf7.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

struct list_entry {
	char *name;
	bool exists, subscribed, child_subscribed, has_children;
};

struct list_ctx {
	bool extended;
	bool sel_subscribed, sel_recursive, sel_special;
	bool ret_subscribed, ret_children, ret_special;
	const struct imap_arg *status_items;
	size_t status_count;
	char **patterns;
	size_t pattern_count;
	struct list_entry *v;
	size_t n;
};

/* Does name match the pattern (RFC 9051 6.3.9 wildcards)? */
static bool list_match(const char *pat, const char *name)
{
	for (; *pat != '\0'; pat++, name++) {
		if (*pat == '*' || *pat == '%') {
			for (const char *n = name;; n++) {
				if (list_match(pat + 1, n))
					return true;
				if (*n == '\0' || (*pat == '%' && *n == IMAPD_HIERARCHY_SEP))
					return false;
			}
		}
		if (*name == '\0' || *pat != *name)
			return false;
	}
	return *name == '\0';
}

static struct list_entry *list_add(struct list_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].name, name) == 0)
			return &c->v[i];
	c->v = x_reallocarray(c->v, c->n + 1, sizeof(*c->v));
	struct list_entry *e = &c->v[c->n++];
	memset(e, 0, sizeof(*e));
	e->name = x_strdup(name);
	return e;
}

static int list_cmp(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
	if (xi || yi)
		return yi - xi;
	return strcmp(x->name, y->name);
}

/* Every folder, every subscribed name and every parent of those, with their attributes. */
static int list_collect(struct imapd_session *s, struct list_ctx *c)
{
	char **names;
	size_t n, sn;
	struct buf err = BUF_INIT;
	if (store_list(s->store, &names, &n, &err) < 0) {
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	for (size_t i = 0; i < n; i++)
		list_add(c, names[i])->exists = true;
	store_list_free(&names, n);
	char **subs = imapd_subs_read(s, &sn);
	for (size_t i = 0; i < sn; i++) {
		list_add(c, subs[i])->subscribed = true;
		x_free(&subs[i]);
	}
	x_free(&subs);
	for (size_t i = 0; i < c->n; i++) {
		char *name = x_strdup(c->v[i].name);
		bool sub = c->v[i].subscribed;
		for (char *sep = strrchr(name, IMAPD_HIERARCHY_SEP); sep != NULL;
		     sep = strrchr(name, IMAPD_HIERARCHY_SEP)) {
			*sep = '\0';
			struct list_entry *p = list_add(c, name);
			p->has_children = true;
			p->child_subscribed |= sub;
		}
		x_free(&name);
	}
	if (c->n > 1)
		qsort(c->v, c->n, sizeof(*c->v), list_cmp);
	return 0;
}

static bool list_hidden_subscribed_child(const struct list_ctx *c, const struct list_entry *e);

static void list_write(struct imapd_session *s, struct list_ctx *c, const struct list_entry *e,
		       const char *verb)
{
	bool lsub = strcmp(verb, "LSUB") == 0;
	buf_printf(&s->conn.out, "* %s (", verb);
	size_t start = s->conn.out.len;
	if (!e->exists && !lsub)
		buf_append_str(&s->conn.out, c->extended ? "\\NonExistent " : "\\Noselect ");
	if (lsub && !e->subscribed)
		buf_append_str(&s->conn.out, "\\Noselect ");
	if (!lsub)
		buf_append_str(&s->conn.out, e->has_children ? "\\HasChildren " : "\\HasNoChildren ");
	if (e->subscribed && (c->ret_subscribed || c->sel_subscribed))
		buf_append_str(&s->conn.out, "\\Subscribed ");
	const char *special = imapd_special_use(e->name);
	if (special != NULL && e->exists && !lsub)
		buf_printf(&s->conn.out, "%s ", special);
	if (s->conn.out.len > start)
		buf_truncate(&s->conn.out, s->conn.out.len - 1);
	buf_append_str(&s->conn.out, ") \"/\" ");
	imapd_write_mailbox(s, &s->conn.out, e->name);
	/* RFC 5258 3.5: only when a subscribed child is not listed itself */
	if (c->sel_recursive && c->sel_subscribed && e->child_subscribed && !lsub &&
	    list_hidden_subscribed_child(c, e))
		buf_append_str(&s->conn.out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	buf_append_str(&s->conn.out, "\r\n");
	if (c->status_items != NULL && e->exists) {
		struct buf err = BUF_INIT;
		imapd_status_write(s, e->name, c->status_items, c->status_count, &err);
		buf_free(&err);
	}
}

static bool list_match_any(const struct list_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->pattern_count; i++)
		if (list_match(c->patterns[i], name))
			return true;
	return false;
}

/* RFC 3501 6.3.9: a subscribed name below e that the patterns do not match ("%"). */
static bool list_hidden_subscribed_child(const struct list_ctx *c, const struct list_entry *e)
{
	size_t len = strlen(e->name);
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].subscribed && strncmp(c->v[i].name, e->name, len) == 0 &&
		    c->v[i].name[len] == IMAPD_HIERARCHY_SEP && !list_match_any(c, c->v[i].name))
			return true;
	return false;
}

/* Is e listed under the selection options, for one of the patterns? */
static bool list_selected(const struct list_ctx *c, const struct list_entry *e, bool lsub)
{
	if (!list_match_any(c, e->name))
		return false;
	if (lsub)
		return e->subscribed ||
		       (e->child_subscribed && list_hidden_subscribed_child(c, e));
	if (c->sel_subscribed)
		return e->subscribed || (c->sel_recursive && e->child_subscribed &&
					 list_hidden_subscribed_child(c, e));
	if (c->sel_special)
		return e->exists && imapd_special_use(e->name) != NULL;
	return e->exists || e->has_children;
}

/* The pattern in stored form, after the reference, INBOX normalised. */
static char *list_pattern(struct imapd_session *s, const char *ref, const char *pat)
{
	struct buf b = BUF_INIT;
	if (pat[0] != IMAPD_HIERARCHY_SEP)
		buf_append_str(&b, ref);
	buf_append_str(&b, pat);
	if (s->utf8 && !mutf7_is_valid(b.data, b.len)) {
		struct buf m = BUF_INIT;
		if (mutf7_encode(b.data, b.len, &m) == 0) {
			buf_free(&b);
			b = m;
		} else {
			buf_free(&m);
		}
	}
	char *p = buf_steal(&b);
	if (str_iprefix(p, "INBOX") && (p[5] == '\0' || p[5] == '/'))
		memcpy(p, "INBOX", 5);
	return p;
}

static int list_options(struct list_ctx *c, const struct imap_arg *arg, bool ret)
{
	const struct imap_arg *v;
	size_t n;
	if (!imap_arg_get_list(arg, &v, &n))
		return -1;
	c->extended = true;
	for (size_t i = 0; i < n; i++) {
		if (!ret && imap_arg_is_atom(&v[i], "SUBSCRIBED"))
			c->sel_subscribed = true;
		else if (!ret && imap_arg_is_atom(&v[i], "REMOTE"))
			continue;
		else if (!ret && imap_arg_is_atom(&v[i], "RECURSIVEMATCH"))
			c->sel_recursive = true;
		else if (imap_arg_is_atom(&v[i], "SPECIAL-USE"))
			*(ret ? &c->ret_special : &c->sel_special) = true;
		else if (ret && imap_arg_is_atom(&v[i], "SUBSCRIBED"))
			c->ret_subscribed = true;
		else if (ret && imap_arg_is_atom(&v[i], "CHILDREN"))
			c->ret_children = true;
		else if (ret && imap_arg_is_atom(&v[i], "STATUS") && i + 1 < n &&
			 imap_arg_get_list(&v[i + 1], &c->status_items, &c->status_count) &&
			 imapd_status_items_valid(c->status_items, c->status_count))
			i++;
		else
			return -1;
	}
	if (c->sel_recursive && !c->sel_subscribed)
		return -1; /* RFC 5258 3: RECURSIVEMATCH alone is an error */
	return 0;
}

static void list_add_pattern(struct imapd_session *s, struct list_ctx *c, const char *ref,
			     const char *pat)
{
	c->patterns = x_reallocarray(c->patterns, c->pattern_count + 1, sizeof(char *));
	c->patterns[c->pattern_count++] = list_pattern(s, ref, pat);
}

/* Parses the arguments into c; -1 on a syntax error. */
static int list_parse(struct imapd_session *s, struct imapd_cmd *cmd, struct list_ctx *c,
		      bool *empty_r)
{
	size_t i = 0;
	const char *ref, *pat;
	size_t len;
	if (i < cmd->count && cmd->args[i].type == IMAP_ARG_LIST &&
	    list_options(c, &cmd->args[i++], false) < 0)
		return -1;
	if (i + 2 > cmd->count || !imap_arg_get_astring(&cmd->args[i++], &ref, &len))
		return -1;
	const struct imap_arg *pats = &cmd->args[i++];
	size_t npat = 1;
	if (pats->type == IMAP_ARG_LIST) {
		c->extended = true;
		if (!imap_arg_get_list(pats, &pats, &npat) || npat == 0)
			return -1;
	}
	*empty_r = false;
	for (size_t j = 0; j < npat; j++) {
		if (!imap_arg_get_astring(&pats[j], &pat, &len))
			return -1;
		if (len == 0 && npat == 1)
			*empty_r = true;
		list_add_pattern(s, c, ref, pat);
	}
	if (i < cmd->count) {
		if (!imap_arg_is_atom(&cmd->args[i++], "RETURN") || i >= cmd->count ||
		    list_options(c, &cmd->args[i++], true) < 0)
			return -1;
	}
	return i == cmd->count ? 0 : -1;
}

static void list_free(struct list_ctx *c)
{
	for (size_t i = 0; i < c->n; i++)
		x_free(&c->v[i].name);
	x_free(&c->v);
	for (size_t i = 0; i < c->pattern_count; i++)
		x_free(&c->patterns[i]);
	x_free(&c->patterns);
}

static void list_run(struct imapd_session *s, struct imapd_cmd *cmd, bool lsub)
{
	struct list_ctx c;
	memset(&c, 0, sizeof(c));
	bool empty = false;
	if (list_parse(s, cmd, &c, &empty) < 0 || (lsub && c.extended)) {
		list_free(&c);
		imapd_bad(s,
			  lsub ? "LSUB takes a reference and a pattern" : "Invalid LIST arguments");
		return;
	}
	if (empty && !lsub) {
		imapd_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
	} else if (list_collect(s, &c) < 0) {
		list_free(&c);
		imapd_reply(s, "NO", "SERVERBUG", "Cannot list the mailboxes");
		return;
	} else {
		for (size_t i = 0; i < c.n; i++)
			if (list_selected(&c, &c.v[i], lsub))
				list_write(s, &c, &c.v[i], lsub ? "LSUB" : "LIST");
	}
	list_free(&c);
	imapd_reply(s, "OK", NULL, "%s completed", lsub ? "LSUB" : "LIST");
}

void imapd_cmd_list(struct imapd_session *s, struct imapd_cmd *cmd)
{
	list_run(s, cmd, false);
}

void imapd_cmd_lsub(struct imapd_session *s, struct imapd_cmd *cmd)
{
	list_run(s, cmd, true);
}
