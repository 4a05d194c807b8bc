/* procmail-regex: procmail's egrep dialect mapped onto POSIX extended regexes.
 *
 * Translation: the ^TO_, ^TO, ^FROM_DAEMON and ^FROM_MAILER macros are substituted as
 * procmailrc(5) documents them; '{' and '}' are literal (procmail has no intervals); "\<"
 * and "\>" become a non-word character or a line edge; '^' or '$' inside an expression
 * match the newline itself; a leading or trailing "^^" anchors at the very start or end of
 * the search area; "\/" splits the expression, and the text matched by the right part goes
 * to MATCH (the left part ends as early as possible, the right part is longest, as procmail
 * does). Matching is case-insensitive unless the D flag is given (REG_ICASE), and '.' and
 * "[^...]" never match a newline (REG_NEWLINE).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "procmail-int.h"
#include "xalloc.h"

static const char *const pm_macros[][2] = {
	{"^TO_", "(^((Original-)?(Resent-)?(To|Cc|Bcc)|(X-Envelope|Apparently(-Resent)?)-To):"
		 "(.*[^-a-zA-Z0-9_.])?)"},
	{"^TO", "(^((Original-)?(Resent-)?(To|Cc|Bcc)|(X-Envelope|Apparently(-Resent)?)-To):"
		"(.*[^a-zA-Z])?)"},
	{"^FROM_DAEMON",
	 "(^(Mailing-List:|Precedence:.*(junk|bulk|list)|To: Multiple recipients of |"
	 "(((Resent-)?(From|Sender)|X-Envelope-From):|>?From )([^>]*[^(.%@a-z0-9])?"
	 "(Post(ma?(st(e?r)?|n)|office)|(send)?Mail(er)?|daemon|m(mdf|ajordomo)|n?uucp|"
	 "LIST(SERV|proc)|NETSERV|o(wner|ps)|r(e(quest|sponse)|oot)|b(ounce|bs\\.smtp)|echo|"
	 "mirror|s(erv(ices?|er)|mtp(error)?|ystem)|A(dmin(istrator)?|MMGR|utoanswer))"
	 "(([^).!:a-z0-9][-_a-z0-9]*)?[%@>\t ][^<)]*(\\(.*\\).*)?)?$([^>]|$)))"},
	{"^FROM_MAILER",
	 "(^(((Resent-)?(From|Sender)|X-Envelope-From):|>?From )([^>]*[^(.%@a-z0-9])?"
	 "(Post(ma(st(er)?|n)|office)|(send)?Mail(er)?|daemon|mmdf|n?uucp|ops|"
	 "r(esponse|oot)|(bbs\\.)?smtp(error)?|s(erv(ices?|er)|ystem)|A(dmin(istrator)?|MMGR))"
	 "(([^).!:a-z0-9][-_a-z0-9]*)?[%@>\t ][^<)]*(\\(.*\\).*)?)?$([^>]|$))"},
};

/* Substitutes the macros (each occurrence; ^TO_ is tried before ^TO). */
static void expand_macros(const char *p, struct buf *out)
{
	while (*p) {
		bool done = false;
		for (size_t i = 0; i < sizeof(pm_macros) / sizeof(pm_macros[0]) && !done; i++) {
			size_t n = strlen(pm_macros[i][0]);
			if (strncmp(p, pm_macros[i][0], n) == 0) {
				buf_append_str(out, pm_macros[i][1]);
				p += n;
				done = true;
			}
		}
		if (!done)
			buf_append_char(out, *p++);
	}
}

struct pm_xlate {
	struct buf left, right;
	struct buf *cur;
	bool split, anchor_start, anchor_end;
};

/* The length of the bracket expression at p ("[...]", "[^]...]"). */
static size_t copy_bracket_len(const char *p)
{
	size_t i = 1;
	if (p[i] == '^')
		i++;
	if (p[i] == ']')
		i++;
	while (p[i] && p[i] != ']')
		i++;
	if (p[i] == ']')
		i++;
	return i;
}

static size_t copy_bracket(const char *p, struct buf *out)
{
	size_t i = copy_bracket_len(p);
	buf_append(out, p, i);
	return i;
}

/* Translates one token at p; returns its length. at_start: after start, '(' or '|'. */
static size_t xlate_token(struct pm_xlate *x, const char *p, bool at_start, bool first)
{
	struct buf *o = x->cur;
	switch (p[0]) {
	case '[':
		return copy_bracket(p, o);
	case '{':
	case '}':
		buf_append_char(o, '\\');
		buf_append_char(o, p[0]);
		return 1;
	case '^':
		if (first && p[1] == '^') {
			x->anchor_start = true;
			return 2;
		}
		if (p[1] == '^' && p[2] == 0) {
			x->anchor_end = true;
			return 2;
		}
		buf_append_char(o, at_start ? '^' : '\n');
		return 1;
	case '$':
		buf_append_char(o, (p[1] == 0 || p[1] == ')' || p[1] == '|') ? '$' : '\n');
		return 1;
	case '\\':
		if (p[1] == 0) {
			buf_append_str(o, "\\\\");
			return 1;
		}
		if (p[1] == '/' && !x->split) {
			x->split = true;
			x->cur = &x->right;
		} else if (p[1] == '<') {
			buf_append_str(o, "(^|[^a-zA-Z0-9_])");
		} else if (p[1] == '>') {
			buf_append_str(o, "([^a-zA-Z0-9_]|$)");
		} else if ((p[1] >= 'a' && p[1] <= 'z') || (p[1] >= 'A' && p[1] <= 'Z') ||
			   (p[1] >= '0' && p[1] <= '9') || p[1] == '/' || (unsigned char)p[1] >= 128) {
			buf_append_char(o, p[1]); /* no GNU \w \b \s... in procmail */
		} else {
			buf_append(o, p, 2);
		}
		return 2;
	default:
		buf_append_char(o, p[0]);
		return 1;
	}
}

static int compile_one(regex_t *re, const char *pat, int cflags, struct buf *err)
{
	int rc = regcomp(re, pat, cflags);
	if (rc != 0) {
		char msg[128];
		regerror(rc, re, msg, sizeof(msg));
		buf_printf(err, "bad regular expression: %s", msg);
		return -1;
	}
	return 0;
}

int pm_regex_compile(struct pm_regex *re, const char *pattern, bool icase, struct buf *err)
{
	struct buf src = BUF_INIT;
	struct pm_xlate x = {.left = BUF_INIT, .right = BUF_INIT};
	memset(re, 0, sizeof(*re));
	buf_init(&src, PROCMAIL_MAX_REGEX);
	buf_init(&x.left, PROCMAIL_MAX_REGEX * 4);
	buf_init(&x.right, PROCMAIL_MAX_REGEX * 4);
	x.cur = &x.left;
	expand_macros(pattern, &src);
	const char *p = buf_cstr(&src);
	bool at_start = true;
	for (size_t i = 0; p[i];) {
		size_t n = xlate_token(&x, p + i, at_start, i == 0);
		at_start = p[i] == '(' || p[i] == '|' || (at_start && n == 2 && p[i] == '^');
		i += n;
	}
	int rc = -1, cflags = REG_EXTENDED | REG_NEWLINE | (icase ? REG_ICASE : 0);
	if (src.overflow || x.left.overflow || x.right.overflow) {
		buf_append_str(err, "regular expression too long");
		goto out;
	}
	struct buf full = BUF_INIT;
	buf_printf(&full, "%s%s", buf_cstr(&x.left), buf_cstr(&x.right));
	rc = compile_one(&re->full, buf_cstr(&full), cflags, err);
	buf_free(&full);
	if (rc < 0)
		goto out;
	re->compiled = true;
	re->anchor_start = x.anchor_start;
	re->anchor_end = x.anchor_end;
	if (x.split) {
		struct buf l = BUF_INIT, r = BUF_INIT, dummy = BUF_INIT;
		buf_printf(&l, "(%s)$", x.left.len ? buf_cstr(&x.left) : "()");
		buf_printf(&r, "^(%s)", x.right.len ? buf_cstr(&x.right) : "()");
		if (compile_one(&re->left, buf_cstr(&l), cflags, &dummy) == 0) {
			if (compile_one(&re->right, buf_cstr(&r), cflags, &dummy) == 0)
				re->split = true;
			else
				regfree(&re->left);
		}
		buf_free(&l);
		buf_free(&r);
		buf_free(&dummy);
	}
out:
	buf_free(&src);
	buf_free(&x.left);
	buf_free(&x.right);
	return rc;
}

void pm_regex_free(struct pm_regex *re)
{
	if (!re->compiled)
		return;
	regfree(&re->full);
	if (re->split) {
		regfree(&re->left);
		regfree(&re->right);
	}
	re->compiled = false;
}

/* ---- Compiled expressions kept for the next message. A process that delivers many
 * messages (the queue's delivery threads, `tern deliver -s`) compiles each pattern of an
 * rc file once instead of once a message. Per thread: glibc's regexec locks the regex_t,
 * so threads sharing one would take turns. At most PM_REGEX_CACHE per thread, the oldest
 * replaced first; the key is the pattern as written after $-expansion, with icase. ---- */

#define PM_REGEX_CACHE 128

struct pm_regex_slot {
	char *pattern;
	bool icase;
	struct pm_regex re;
};

struct pm_regex_cache {
	struct pm_regex_slot slot[PM_REGEX_CACHE];
	size_t n, next; /* slots used; the one replaced next when all are */
};

static _Thread_local struct pm_regex_cache *regex_cache;
static pthread_key_t regex_cache_key;
static pthread_once_t regex_cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *p)
{
	struct pm_regex_cache *c = p;
	for (size_t i = 0; i < c->n; i++) {
		x_free(&c->slot[i].pattern);
		pm_regex_free(&c->slot[i].re);
	}
	free(c);
}

static void cache_key_make(void)
{
	(void)pthread_key_create(&regex_cache_key, cache_free);
}

static struct pm_regex_cache *cache_get(void)
{
	if (regex_cache == NULL) {
		pthread_once(&regex_cache_once, cache_key_make);
		regex_cache = x_calloc(1, sizeof(*regex_cache));
		(void)pthread_setspecific(regex_cache_key, regex_cache); /* freed at thread exit */
	}
	return regex_cache;
}

const struct pm_regex *pm_regex_get(const char *pattern, bool icase, struct buf *err)
{
	struct pm_regex_cache *c = cache_get();
	for (size_t i = 0; i < c->n; i++) {
		struct pm_regex_slot *s = &c->slot[i];
		if (s->icase == icase && strcmp(s->pattern, pattern) == 0)
			return &s->re;
	}
	struct pm_regex re;
	if (pm_regex_compile(&re, pattern, icase, err) < 0)
		return NULL; /* not kept: the error is logged again for the next message */
	struct pm_regex_slot *s;
	if (c->n < PM_REGEX_CACHE) {
		s = &c->slot[c->n++];
	} else {
		s = &c->slot[c->next];
		c->next = (c->next + 1) % PM_REGEX_CACHE;
		x_free(&s->pattern);
		pm_regex_free(&s->re);
	}
	s->pattern = x_strdup(pattern);
	s->icase = icase;
	s->re = re;
	return &s->re;
}

/* regexec on text[from, to) with the line edges of the whole text; bol and eol force '^' to
 * hold at from and '$' at to. glibc takes the context of a REG_STARTEND start from the byte
 * before it, so the string is passed from `from` on and the offsets moved back. */
static bool exec_range(const regex_t *re, const char *text, size_t len, size_t from, size_t to,
		       bool bol, bool eol, regmatch_t *m)
{
	int eflags = REG_STARTEND;
	if (!bol && from > 0 && text[from - 1] != '\n')
		eflags |= REG_NOTBOL;
	if (!eol && to < len && text[to] != '\n')
		eflags |= REG_NOTEOL;
	m->rm_so = 0;
	m->rm_eo = (regoff_t)(to - from);
	if (regexec(re, text + from, 1, m, eflags) != 0)
		return false;
	m->rm_so += (regoff_t)from;
	m->rm_eo += (regoff_t)from;
	return true;
}

static bool exec_at(const regex_t *re, const char *text, size_t len, size_t from, size_t to,
		    regmatch_t *m)
{
	return exec_range(re, text, len, from, to, false, false, m);
}

/* The first match that satisfies the ^^ anchors, from position from. */
static bool find(const struct pm_regex *re, const char *text, size_t len, size_t from,
		 regmatch_t *m)
{
	while (from <= len) {
		if (!exec_at(&re->full, text, len, from, len, m))
			return false;
		if (re->anchor_start && m->rm_so != 0)
			return false;
		if (!re->anchor_end || (size_t)m->rm_eo == len)
			return true;
		from = (size_t)m->rm_so + 1;
	}
	return false;
}

static void extract_match(const struct pm_regex *re, const char *text, size_t len, size_t s,
			  struct buf *match)
{
	size_t last = len - s > PROCMAIL_MAX_LINE * 8 ? s + PROCMAIL_MAX_LINE * 8 : len;
	for (size_t p = s; p <= last; p++) {
		regmatch_t m;
		/* the left part, "(left)$", must end at p; the right one, "^(right)", start there */
		if (!exec_range(&re->left, text, len, s, p, false, true, &m) || (size_t)m.rm_eo != p)
			continue;
		size_t to = len - p > PROCMAIL_MAX_LINE ? p + PROCMAIL_MAX_LINE : len;
		if (!exec_range(&re->right, text, len, p, to, true, false, &m) ||
		    (size_t)m.rm_so != p)
			continue;
		if (re->anchor_end && (size_t)m.rm_eo != len)
			continue;
		buf_append(match, text + p, (size_t)(m.rm_eo - m.rm_so));
		return;
	}
}

bool pm_regex_search(const struct pm_regex *re, const char *text, size_t len, struct buf *match)
{
	regmatch_t m;
	if (!find(re, text, len, 0, &m))
		return false;
	if (re->split && match != NULL)
		extract_match(re, text, len, (size_t)m.rm_so, match);
	return true;
}

size_t pm_regex_count(const struct pm_regex *re, const char *text, size_t len, size_t max)
{
	size_t n = 0, from = 0;
	regmatch_t m;
	while (n < max && from <= len && find(re, text, len, from, &m)) {
		n++;
		if (re->anchor_start || re->anchor_end)
			break;
		from = m.rm_eo > m.rm_so ? (size_t)m.rm_eo : (size_t)m.rm_so + 1;
	}
	return n;
}

/* ---- Literals every match contains. Most conditions fail on most messages, and regcomp
 * is most of what a condition costs, so a pattern with a literal that is not in the text is
 * not compiled at all (as grep looks for a fixed string before it runs its automaton). ---- */

#define PM_LITERAL_MAX 64
#define PM_LITERALS 8

struct pm_lit {
	char run[PM_LITERALS][PM_LITERAL_MAX];
	size_t len[PM_LITERALS];
	size_t n;   /* runs kept */
	size_t cur; /* length of the run being read (in run[n]) */
};

static void lit_end(struct pm_lit *l)
{
	if (l->cur > 0 && l->n < PM_LITERALS)
		l->len[l->n++] = l->cur;
	l->cur = 0;
}

static void lit_add(struct pm_lit *l, char c)
{
	if (l->n == PM_LITERALS)
		return;
	if (l->cur == PM_LITERAL_MAX)
		lit_end(l); /* a prefix is kept: the rest is another run */
	if (l->n < PM_LITERALS)
		l->run[l->n][l->cur++] = c;
}

/* The runs of plain characters at the top level of pattern (procmail syntax): not in a
 * group or a bracket expression, not quantified. A top-level '|' or a macro: none.
 * Plain: ASCII other than . [ ] ( ) * + ? { } | ^ $ \, or punctuation that glibc takes
 * literally after a backslash (procmail's \d is 'd', \< a word edge, \/ the split: these
 * end a run, as does anything else). *split_r: there is a \/ (at any depth). */
static void required_literals(const char *p, struct pm_lit *l, bool *split_r)
{
	int depth = 0;
	*split_r = false;
	if (strstr(p, "^TO") != NULL || strstr(p, "^FROM_") != NULL)
		return;
	while (*p != 0) {
		unsigned char c = (unsigned char)*p;
		if (c == '[') {
			lit_end(l);
			p += copy_bracket_len(p);
		} else if (c == '\\') {
			unsigned char e = (unsigned char)p[1];
			if (e == '/')
				*split_r = true;
			if (depth == 0 && e != 0 && strchr(".[]()*+?{}|^$\\-:@ ", e) != NULL)
				lit_add(l, (char)e);
			else
				lit_end(l);
			p += e != 0 ? 2 : 1;
		} else if (c == '(' || c == ')') {
			lit_end(l);
			depth += c == '(' ? 1 : -(depth > 0);
			p++;
		} else if (c == '|' && depth == 0) {
			l->n = l->cur = 0;
			return;
		} else if (c == '*' || c == '+' || c == '?') {
			l->cur -= l->cur > 0; /* the quantified character may be absent */
			lit_end(l);
			p++;
		} else {
			if (depth == 0 && c < 128 && strchr(".{}|^$", c) == NULL)
				lit_add(l, (char)c);
			else
				lit_end(l);
			p++;
		}
	}
	lit_end(l);
}

/* Is lit (n > 0 bytes, ASCII) in text, ignoring ASCII case when icase (REG_ICASE in the
 * C locale, which Tern runs in)? */
static bool contains(const char *text, size_t len, const char *lit, size_t n, bool icase)
{
	if (!icase)
		return memmem(text, len, lit, n) != NULL;
	unsigned char lo = (unsigned char)lit[0], up = lo;
	if (lo >= 'A' && lo <= 'Z')
		lo = (unsigned char)(lo - 'A' + 'a');
	if (up >= 'a' && up <= 'z')
		up = (unsigned char)(up - 'a' + 'A');
	for (size_t i = 0; i + n <= len; i++) {
		unsigned char c = (unsigned char)text[i];
		if ((c == lo || c == up) && strncasecmp(text + i, lit, n) == 0)
			return true;
	}
	return false;
}

bool pm_regex_cannot_match(const char *pattern, bool icase, const char *text, size_t len,
			   bool *split_r)
{
	struct pm_lit l;
	l.n = l.cur = 0;
	required_literals(pattern, &l, split_r);
	/* the last runs first: the first is often the header's name, which is there */
	for (size_t i = l.n; i-- > 0;)
		if (!contains(text, len, l.run[i], l.len[i], icase))
			return true;
	return false;
}
