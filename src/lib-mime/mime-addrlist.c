/* mime-addrlist: the addr-specs of an address list and their positions (see
 * mime-addrlist.h).
 *
 * Two passes over the value: a lexer turns it into tokens (atoms, quoted strings, domain
 * literals, comments, runs of whitespace and line breaks, single specials), each with its
 * byte range; then each address is cut out at the top-level commas (and ';' inside a
 * group), classified as name-addr (a '<' ... '>' pair), group start (a ':' before any '@'
 * outside angle brackets) or bare addr-spec, and its addr-spec checked against RFC 5322
 * 3.4.1 / 4.4 token by token. CFWS between the words of an addr-spec is allowed (obsolete
 * syntax) and its comments are reported so a rewrite can keep them.
 */
#include "mime-addrlist.h"

#include <stdlib.h>
#include <string.h>

#include "mime-lex.h"
#include "xalloc.h"

enum addrlist_kind { TK_ATOM, TK_QSTR, TK_DLIT, TK_COMMENT, TK_WSP, TK_SPECIAL };

struct addrlist_tok {
	enum addrlist_kind kind;
	size_t start, end;
	bool broken; /* an unclosed quote, comment or literal, or a comment nested too deep */
	char c;	     /* TK_SPECIAL: the character */
};

struct addrlist_toks {
	struct addrlist_tok *v;
	size_t n, cap;
};

static bool addrlist_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void addrlist_push(struct addrlist_toks *t, enum addrlist_kind kind, size_t start,
			  size_t end, bool broken, char c)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->v = x_reallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n++] = (struct addrlist_tok){kind, start, end, broken, c};
}

/* The end of a comment, quoted string or literal starting at s[i]; *broken_r when it is
 * not closed (or nests deeper than MIME_LEX_MAX_COMMENT_DEPTH). */
static size_t addrlist_delimited(const char *s, size_t len, size_t i, bool *broken_r)
{
	char open = s[i], close = open == '(' ? ')' : open == '"' ? '"' : ']';
	unsigned depth = 1;
	for (i++; i < len; i++) {
		char c = s[i];
		if (c == '\\' && open != '[' && i + 1 < len) {
			i++;
		} else if (c == close) {
			if (--depth == 0)
				return i + 1;
		} else if (open == '(' && c == '(') {
			if (++depth > MIME_LEX_MAX_COMMENT_DEPTH)
				break;
		} else if (open == '[' && (c == '[' || c == '\\')) {
			break; /* RFC 5322 3.4.1 dtext excludes these */
		}
	}
	*broken_r = true;
	return len;
}

static void addrlist_lex(const char *s, size_t len, struct addrlist_toks *t)
{
	size_t i = 0;
	while (i < len) {
		char c = s[i];
		size_t start = i;
		bool broken = false;
		if (addrlist_wsp(c)) {
			while (i < len && addrlist_wsp(s[i]))
				i++;
			addrlist_push(t, TK_WSP, start, i, false, 0);
		} else if (c == '(' || c == '"' || c == '[') {
			i = addrlist_delimited(s, len, i, &broken);
			addrlist_push(t,
				      c == '('	 ? TK_COMMENT
				      : c == '"' ? TK_QSTR
						 : TK_DLIT,
				      start, i, broken, 0);
		} else if (mime_lex_is_atext(c)) {
			while (i < len && mime_lex_is_atext(s[i]))
				i++;
			addrlist_push(t, TK_ATOM, start, i, false, 0);
		} else {
			addrlist_push(t, TK_SPECIAL, start, ++i, false, c);
		}
	}
}

static bool addrlist_cfws(const struct addrlist_tok *k)
{
	return k->kind == TK_WSP || k->kind == TK_COMMENT;
}

static bool addrlist_special(const struct addrlist_tok *k, char c)
{
	return k->kind == TK_SPECIAL && k->c == c;
}

/* Appends a word's content: an atom as it is, a quoted string unescaped, without the line
 * breaks of its folding (RFC 5322 3.2.4). */
static void addrlist_word(const char *s, const struct addrlist_tok *k, struct buf *out)
{
	if (k->kind != TK_QSTR) {
		buf_append(out, s + k->start, k->end - k->start);
		return;
	}
	for (size_t i = k->start + 1; i + 1 < k->end; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		if (s[i] == '\\')
			i++;
		buf_append_char(out, s[i]);
	}
}

/* Is b a dot-atom (RFC 5322 3.2.3), which needs no quotes? */
static bool addrlist_dot_atom(const struct buf *b)
{
	if (b->len == 0 || b->data[0] == '.' || b->data[b->len - 1] == '.')
		return false;
	for (size_t i = 0; i < b->len; i++) {
		char c = b->data[i];
		if (c == '.' ? b->data[i + 1] == '.' : !mime_lex_is_atext(c))
			return false;
	}
	return true;
}

/* The local part in its shortest correct form. */
static char *addrlist_local(const struct buf *content)
{
	if (addrlist_dot_atom(content))
		return x_strndup(content->data, content->len);
	struct buf q = BUF_INIT;
	buf_append_char(&q, '"');
	for (size_t i = 0; i < content->len; i++) {
		if (content->data[i] == '"' || content->data[i] == '\\')
			buf_append_char(&q, '\\');
		buf_append_char(&q, content->data[i]);
	}
	buf_append_char(&q, '"');
	return buf_steal(&q);
}

/* Checks tokens [a, b) as an addr-spec: word *("." word) ["@" (dot-atom / literal)],
 * CFWS allowed between tokens (RFC 5322 4.4). Fills spec (positions, local, domain,
 * comments) and returns true when well formed. */
static bool addrlist_spec(const char *s, const struct addrlist_toks *t, size_t a, size_t b,
			  struct mime_addrlist_spec *spec)
{
	struct buf local = BUF_INIT, domain = BUF_INIT, comments = BUF_INIT;
	enum { WANT_WORD, AFTER_WORD, WANT_DOMAIN, AFTER_DOMAIN, AFTER_LITERAL } st = WANT_WORD;
	bool ok = true, have_at = false;
	size_t first = b, last = a;
	for (size_t i = a; i < b && ok; i++) {
		const struct addrlist_tok *k = &t->v[i];
		if (k->broken) {
			ok = false;
		} else if (k->kind == TK_WSP) {
			continue;
		} else if (k->kind == TK_COMMENT) {
			continue;
		} else if (st == WANT_WORD && (k->kind == TK_ATOM || k->kind == TK_QSTR)) {
			addrlist_word(s, k, &local);
			st = AFTER_WORD;
		} else if (st == AFTER_WORD && addrlist_special(k, '.')) {
			buf_append_char(&local, '.');
			st = WANT_WORD;
		} else if (st == AFTER_WORD && addrlist_special(k, '@')) {
			have_at = true;
			st = WANT_DOMAIN;
		} else if (st == WANT_DOMAIN && k->kind == TK_DLIT && domain.len == 0) {
			buf_append(&domain, s + k->start, k->end - k->start);
			st = AFTER_LITERAL;
		} else if (st == WANT_DOMAIN && k->kind == TK_ATOM) {
			buf_append(&domain, s + k->start, k->end - k->start);
			st = AFTER_DOMAIN;
		} else if (st == AFTER_DOMAIN && addrlist_special(k, '.')) {
			buf_append_char(&domain, '.');
			st = WANT_DOMAIN;
		} else {
			ok = false;
		}
		if (first == b)
			first = i;
		last = i;
	}
	ok = ok && first < b && (st == AFTER_WORD || st == AFTER_DOMAIN || st == AFTER_LITERAL);
	if (ok) {
		/* The comments between its first and last token belong to the addr-spec. */
		for (size_t i = first; i < last; i++)
			if (t->v[i].kind == TK_COMMENT)
				buf_printf(&comments, "%s%.*s", comments.len ? " " : "",
					   (int)(t->v[i].end - t->v[i].start), s + t->v[i].start);
		spec->start = t->v[first].start;
		spec->end = t->v[last].end;
		spec->local = addrlist_local(&local);
		spec->domain = have_at ? buf_steal(&domain) : NULL;
		spec->comments = comments.len > 0 ? buf_steal(&comments) : NULL;
	}
	buf_free(&local);
	buf_free(&domain);
	buf_free(&comments);
	return ok;
}

/* Is every token of [a, b) CFWS, or (phrase) a word, a '.' or CFWS? */
static bool addrlist_only(const struct addrlist_toks *t, size_t a, size_t b, bool phrase)
{
	for (size_t i = a; i < b; i++) {
		const struct addrlist_tok *k = &t->v[i];
		if (k->broken)
			return false;
		if (addrlist_cfws(k))
			continue;
		if (phrase &&
		    (k->kind == TK_ATOM || k->kind == TK_QSTR || addrlist_special(k, '.')))
			continue;
		return false;
	}
	return true;
}

/* One address in tokens [a, b): lt and gt are its '<' and '>' (or b when absent). */
static void addrlist_address(const char *s, const struct addrlist_toks *t, size_t a, size_t b,
			     size_t lt, size_t gt, bool in_group, struct mime_addrlist *list)
{
	struct mime_addrlist_spec spec = {0};
	size_t from = a, to = b;
	if (addrlist_only(t, a, b, false))
		return; /* an empty list element ("a, , b") */
	if (lt < b) {
		if (gt >= b || !addrlist_only(t, a, lt, true) ||
		    !addrlist_only(t, gt + 1, b, false)) {
			list->skipped++;
			return;
		}
		from = lt + 1;
		to = gt;
		size_t i = from;
		while (i < to && addrlist_cfws(&t->v[i]))
			i++;
		if (i < to && addrlist_special(&t->v[i], '@')) {
			/* obs-route "@a,@b:" (RFC 5322 4.4): the addr-spec follows the ':' */
			while (i < to && !addrlist_special(&t->v[i], ':'))
				i++;
			if (i >= to) {
				list->skipped++;
				return;
			}
			from = i + 1;
		}
		if (addrlist_only(t, from, to, false))
			return; /* "<>": nothing to rewrite */
	}
	if (!addrlist_spec(s, t, from, to, &spec)) {
		list->skipped++;
		return;
	}
	spec.angle = lt < b;
	spec.group = in_group;
	list->v = x_reallocarray(list->v, list->count + 1, sizeof(*list->v));
	list->v[list->count++] = spec;
}

size_t mime_addrlist_parse(const char *s, size_t len, struct mime_addrlist *list)
{
	struct addrlist_toks t = {NULL, 0, 0};
	size_t before = list->count;
	addrlist_lex(s, len, &t);
	bool in_group = false;
	size_t i = 0;
	while (i < t.n) {
		size_t j, lt = t.n, gt = t.n;
		bool angle = false, at = false, group_start = false, group_end = false;
		for (j = i; j < t.n; j++) {
			const struct addrlist_tok *k = &t.v[j];
			if (k->kind != TK_SPECIAL)
				continue;
			if (angle) {
				if (k->c == '>') {
					angle = false;
					gt = j;
				}
				continue;
			}
			if (k->c == '<' && lt == t.n) {
				lt = j;
				angle = true;
			} else if (k->c == ',') {
				break;
			} else if (k->c == ';') {
				group_end = in_group;
				break;
			} else if (k->c == ':' && !in_group && lt == t.n && !at) {
				group_start = true;
				break;
			} else if (k->c == '@') {
				at = true;
			} else if (k->c == '<' || k->c == '>') {
				gt = t.n; /* a second '<' or a stray '>': malformed */
				lt = i;
			}
		}
		if (group_start) {
			in_group = true; /* the display name before ':' is left alone */
		} else {
			addrlist_address(s, &t, i, j, lt, gt, in_group, list);
			if (group_end)
				in_group = false;
		}
		i = j + 1;
	}
	free(t.v);
	return list->count - before;
}

void mime_addrlist_free(struct mime_addrlist *list)
{
	for (size_t i = 0; i < list->count; i++) {
		x_free(&list->v[i].local);
		x_free(&list->v[i].domain);
		x_free(&list->v[i].comments);
	}
	x_free(&list->v);
	list->count = 0;
	list->skipped = 0;
}

size_t mime_addrlist_rewrite(const char *s, size_t len, mime_addrlist_rewrite_cb *cb, void *arg,
			     struct buf *out)
{
	struct mime_addrlist list = {NULL, 0, 0};
	struct buf rep = BUF_INIT;
	size_t pos = 0, replaced = 0;
	mime_addrlist_parse(s, len, &list);
	for (size_t i = 0; i < list.count; i++) {
		const struct mime_addrlist_spec *spec = &list.v[i];
		buf_reset(&rep);
		if (!cb(arg, spec, &rep))
			continue;
		buf_append(out, s + pos, spec->start - pos);
		buf_append(out, rep.data ? rep.data : "", rep.len);
		if (spec->comments != NULL)
			buf_printf(out, " %s", spec->comments);
		pos = spec->end;
		replaced++;
	}
	buf_append(out, s + pos, len - pos);
	buf_free(&rep);
	mime_addrlist_free(&list);
	return replaced;
}
