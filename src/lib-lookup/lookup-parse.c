/* lookup-parse: the text formats of lookup tables, as pure functions over a buffer.
 *
 * aliases (sendmail's /etc/aliases): `name: value, value`; a line starting with a blank
 * continues the entry above (RFC 822 folding); lines whose first non-blank is '#' are
 * comments; names may be "quoted". map (Postfix-style text maps): `key value, value`.
 * Values are split at commas outside double quotes (maps also at blanks); quotes around
 * "|command args" and "/file name" are removed. Keys are lower-cased (ASCII).
 */
#include "lookup.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "xalloc.h"

static bool lookup_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static void values_add(struct lookup_values *out, const char *s, size_t n)
{
	while (n > 0 && lookup_blank(*s))
		s++, n--;
	while (n > 0 && lookup_blank(s[n - 1]))
		n--;
	if (n == 0)
		return;
	char *v;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"' &&
	    (s[1] == '|' || s[1] == '/' || strncmp(s + 1, ":include:", 9) == 0)) {
		/* "|cmd with, commas": the quotes only protect the text. */
		v = x_malloc(n);
		size_t k = 0;
		for (size_t i = 1; i + 1 < n; i++) {
			if (s[i] == '\\' && i + 2 < n)
				i++;
			v[k++] = s[i];
		}
		v[k] = '\0';
	} else {
		v = x_strndup(s, n);
	}
	out->v = x_reallocarray(out->v, out->n + 1, sizeof(*out->v));
	out->v[out->n++] = v;
}

void lookup_split_values(const char *s, size_t len, bool blanks_separate,
			 struct lookup_values *out)
{
	size_t start = 0;
	bool quoted = false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (quoted && c == '\\' && i + 1 < len) {
			i++;
		} else if (c == '"') {
			quoted = !quoted;
		} else if (!quoted && (c == ',' || c == '\n' ||
				       (blanks_separate && lookup_blank(c)))) {
			values_add(out, s + start, i - start);
			start = i + 1;
		}
	}
	values_add(out, s + start, len - start);
}

void lookup_values_free(struct lookup_values *values)
{
	for (size_t i = 0; i < values->n; i++)
		free(values->v[i]);
	free(values->v);
	values->v = NULL;
	values->n = 0;
}

/* Is s[0..n) a dot-atom (RFC 5322 3.2.3), so that its quotes can go? */
static bool lookup_dot_atom(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || strchr("()<>[]:;@\\,\"", c) != NULL ||
		    (c == '.' && s[i + 1] == '.'))
			return false;
	}
	return true;
}

/* The key of an aliases entry: a name or "quoted name" before ':'. Returns the bytes
 * used (through ':') or 0 when malformed (*why set). */
static size_t lookup_alias_key(const char *s, size_t n, struct buf *key, const char **why)
{
	size_t i = 0;
	if (n > 0 && s[0] == '"') {
		for (i = 1; i < n && s[i] != '"'; i++)
			if (s[i] == '\\' && i + 1 < n)
				i++;
		if (i >= n) {
			*why = "unterminated quoted name";
			return 0;
		}
		if (lookup_dot_atom(s + 1, i - 1))
			buf_append(key, s + 1, i - 1);
		else
			buf_append(key, s, i + 1);
		i++;
	} else {
		while (i < n && s[i] != ':' && !lookup_blank(s[i]))
			i++;
		buf_append(key, s, i);
	}
	while (i < n && lookup_blank(s[i]))
		i++;
	if (i >= n || s[i] != ':' || key->len == 0) {
		*why = "expected 'name: value'";
		return 0;
	}
	return i + 1;
}

/* One logical entry (folded lines joined with their newlines). */
static bool lookup_parse_entry(enum lookup_syntax syntax, const char *s, size_t n,
			       lookup_entry_cb *cb, void *arg, unsigned line, const char **why)
{
	struct buf key = BUF_INIT;
	size_t used;
	if (syntax == LOOKUP_SYNTAX_ALIASES) {
		used = lookup_alias_key(s, n, &key, why);
	} else {
		used = 0;
		while (used < n && !lookup_blank(s[used]) && s[used] != '\n')
			used++;
		buf_append(&key, s, used);
	}
	struct lookup_values values = {NULL, 0};
	if (used > 0)
		lookup_split_values(s + used, n - used, syntax == LOOKUP_SYNTAX_MAP, &values);
	bool ok = used > 0 && values.n > 0;
	if (used > 0 && values.n == 0)
		*why = "no value";
	if (ok)
		cb(arg, str_lower(key.data), &values, line);
	lookup_values_free(&values);
	buf_free(&key);
	return ok;
}

unsigned lookup_parse_text(enum lookup_syntax syntax, const char *text, size_t len,
			   lookup_entry_cb *cb, void *arg, struct buf *errors)
{
	struct buf entry = BUF_INIT;
	unsigned line = 0, entry_line = 0, bad = 0;
	size_t pos = 0;
	while (pos <= len) {
		const char *nl = pos < len ? memchr(text + pos, '\n', len - pos) : NULL;
		size_t end = nl ? (size_t)(nl - text) : len;
		const char *l = text + pos;
		size_t n = end - pos;
		line++;
		size_t k = 0;
		while (k < n && lookup_blank(l[k]))
			k++;
		bool comment = k < n && l[k] == '#';
		bool cont = n > 0 && lookup_blank(l[0]);
		if (!comment && !(cont && k == n) && n > 0) {
			if (!cont || entry.len == 0) {
				if (entry.len > 0 && !cont) {
					const char *why = "";
					if (!lookup_parse_entry(syntax, entry.data, entry.len, cb,
								arg, entry_line, &why))
						bad++, buf_printf(errors, "%u: %s\n", entry_line, why);
				}
				buf_reset(&entry);
				entry_line = line;
				if (cont) {
					bad++;
					buf_printf(errors, "%u: continuation line without an entry\n",
						   line);
				} else {
					buf_append(&entry, l, n);
				}
			} else {
				buf_append_char(&entry, '\n');
				buf_append(&entry, l, n);
			}
		}
		if (nl == NULL)
			break;
		pos = end + 1;
	}
	if (entry.len > 0) {
		const char *why = "";
		if (!lookup_parse_entry(syntax, entry.data, entry.len, cb, arg, entry_line, &why))
			bad++, buf_printf(errors, "%u: %s\n", entry_line, why);
	}
	buf_free(&entry);
	return bad;
}

void lookup_errors_with_path(struct buf *out, const char *path, const struct buf *errors)
{
	for (const char *p = errors->data; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		buf_printf(out, "%s:%.*s\n", path, (int)(nl ? nl - p : (long)strlen(p)), p);
		p = nl ? nl + 1 : NULL;
	}
}
