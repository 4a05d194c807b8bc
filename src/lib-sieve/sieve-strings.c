/* sieve-strings: encoded-character decoding, variable names, variable storage and the
 * expansion of ${...} references in strings.
 *
 * RFC 5228 2.4.2.4 (encoded-character: ${hex:..} and ${unicode:..}), RFC 5229 3 (variable
 * names and references; unknown variables expand to "", malformed references stay as
 * written; values longer than SIEVE_MAX_VARIABLE_SIZE are truncated at a UTF-8 boundary),
 * 4.1 (set modifiers).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "sieve-run.h"
#include "xalloc.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void put_utf8(struct buf *out, uint32_t cp)
{
	if (cp < 0x80) {
		buf_append_char(out, (char)cp);
	} else if (cp < 0x800) {
		buf_append_char(out, (char)(0xc0 | (cp >> 6)));
		buf_append_char(out, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_append_char(out, (char)(0xe0 | (cp >> 12)));
		buf_append_char(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_append_char(out, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_append_char(out, (char)(0xf0 | (cp >> 18)));
		buf_append_char(out, (char)(0x80 | ((cp >> 12) & 0x3f)));
		buf_append_char(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_append_char(out, (char)(0x80 | (cp & 0x3f)));
	}
}

/* Decodes the body of one ${hex:...} or ${unicode:...} (between ':' and '}'). Returns 1 if
 * decoded into out, 0 if malformed (leave as is), -1 for a bad code point. */
static int decode_one(const char *p, const char *end, bool unicode, struct buf *out)
{
	size_t start = out->len;
	int seen = 0;
	while (p < end) {
		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			break;
		uint32_t v = 0;
		int digits = 0;
		while (p < end && hexval(*p) >= 0) {
			if (digits++ > 8)
				goto bad;
			v = v * 16 + (uint32_t)hexval(*p++);
		}
		if (digits == 0 || (p < end && !is_blank(*p)) || (!unicode && digits != 2))
			goto bad;
		if (unicode) {
			if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
				return -1;
			put_utf8(out, v);
		} else {
			buf_append_char(out, (char)v);
		}
		seen++;
	}
	(void)seen;
	return 1;
bad:
	buf_truncate(out, start);
	return 0;
}

int sieve_decode_encoded(char **s, size_t *len, struct sieve_error *err_r)
{
	if (memmem(*s, *len, "${", 2) == NULL)
		return 0;
	struct buf out = BUF_INIT;
	const char *p = *s, *end = *s + *len;
	while (p < end) {
		const char *close = NULL;
		bool uni = false;
		size_t skip = 0;
		if (p + 2 < end && p[0] == '$' && p[1] == '{') {
			if ((size_t)(end - p) > 6 && strncasecmp(p + 2, "hex:", 4) == 0)
				skip = 6;
			else if ((size_t)(end - p) > 10 && strncasecmp(p + 2, "unicode:", 8) == 0)
				skip = 10, uni = true;
			if (skip != 0)
				close = memchr(p + skip, '}', (size_t)(end - p - (ptrdiff_t)skip));
		}
		if (close != NULL) {
			int r = decode_one(p + skip, close, uni, &out);
			if (r < 0) {
				buf_free(&out);
				sieve_set_error(err_r, 0, 0,
						"invalid unicode character in ${unicode:}");
				return -1;
			}
			if (r > 0) {
				p = close + 1;
				continue;
			}
		}
		buf_append_char(&out, *p++);
	}
	free(*s);
	*len = out.len;
	buf_append_char(&out, '\0');
	*s = buf_steal(&out);
	return 0;
}

/* identifier = (ALPHA / "_") *(ALPHA / DIGIT / "_"), optionally namespace "." parts */
bool sieve_var_name_valid(const char *name, bool allow_namespace)
{
	size_t len = strlen(name);
	if (len == 0 || len > SIEVE_MAX_VARIABLE_NAME)
		return false;
	bool start = true;
	for (const char *p = name; *p != '\0'; p++) {
		if (*p == '.' && allow_namespace && !start) {
			start = true;
			continue;
		}
		if (!(isalpha((unsigned char)*p) || *p == '_' ||
		      (!start && isdigit((unsigned char)*p))))
			return false;
		start = false;
	}
	return !start;
}

#define SIEVE_MAX_EXPANDED (1024 * 1024)

struct sieve_var *sieve_var_find(struct sieve_scope *scope, const char *name)
{
	for (size_t i = 0; scope != NULL && i < scope->count; i++)
		if (strcasecmp(scope->v[i].name, name) == 0)
			return &scope->v[i];
	return NULL;
}

/* Cuts a value to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

void sieve_var_set(struct sieve_run *r, struct sieve_scope *scope, const char *name,
		   const char *value, size_t len)
{
	struct sieve_var *v = sieve_var_find(scope, name);
	if (v == NULL) {
		if (scope->count >= SIEVE_MAX_VARIABLES) {
			sieve_runtime_error(r, 0, "too many variables (over %d)",
					    SIEVE_MAX_VARIABLES);
			return;
		}
		scope->v = x_reallocarray(scope->v, scope->count + 1, sizeof(*scope->v));
		v = &scope->v[scope->count++];
		v->name = x_strdup(name);
		buf_init(&v->value, 0);
	}
	buf_reset(&v->value);
	buf_append(&v->value, value, utf8_cut(value, len, SIEVE_MAX_VARIABLE_SIZE));
}

void sieve_scope_free(struct sieve_scope *scope)
{
	for (size_t i = 0; i < scope->count; i++) {
		free(scope->v[i].name);
		buf_free(&scope->v[i].value);
	}
	free(scope->v);
	memset(scope, 0, sizeof(*scope));
}

/* The value of ${name}, or NULL if name is not a valid reference. */
static const struct buf *lookup_ref(struct sieve_run *r, const char *name, bool *valid_r)
{
	static const struct buf empty = BUF_INIT;
	*valid_r = true;
	if (isdigit((unsigned char)name[0])) {
		unsigned long idx = 0;
		for (const char *p = name; *p != '\0'; p++) {
			if (!isdigit((unsigned char)*p) || idx > 1000) {
				*valid_r = false;
				return NULL;
			}
			idx = idx * 10 + (unsigned long)(*p - '0');
		}
		return idx < r->nmatch ? &r->match[idx] : &empty;
	}
	if (!sieve_var_name_valid(name, true)) {
		*valid_r = false;
		return NULL;
	}
	const struct sieve_var *v;
	if (strncasecmp(name, "global.", 7) == 0)
		v = sieve_var_find(&r->global, name + 7);
	else if (strchr(name, '.') != NULL)
		return &empty; /* an unknown namespace */
	else
		v = sieve_var_find(r->local, name);
	if (v == NULL && strchr(name, '.') == NULL)
		v = sieve_var_find(&r->global, name); /* declared with "global" */
	return v != NULL ? &v->value : &empty;
}

void sieve_expand(struct sieve_run *r, const char *s, size_t len, struct buf *out)
{
	if (!sieve_run_has(r, SIEVE_EXT_VARIABLES) || memmem(s, len, "${", 2) == NULL) {
		buf_append(out, s, len);
		return;
	}
	const char *p = s, *end = s + len;
	while (p < end) {
		const char *close;
		if (p + 2 < end && p[0] == '$' && p[1] == '{' &&
		    (close = memchr(p + 2, '}', (size_t)(end - p - 2))) != NULL &&
		    close - p - 2 <= SIEVE_MAX_VARIABLE_NAME) {
			char name[SIEVE_MAX_VARIABLE_NAME + 1];
			size_t n = (size_t)(close - p - 2);
			memcpy(name, p + 2, n);
			name[n] = '\0';
			bool valid;
			const struct buf *v = n > 0 ? lookup_ref(r, name, &valid) : NULL;
			if (v != NULL) {
				if (out->len + v->len > SIEVE_MAX_EXPANDED)
					return;
				buf_append(out, v->data, v->len);
				p = close + 1;
				continue;
			}
		}
		if (out->len >= SIEVE_MAX_EXPANDED)
			return;
		buf_append_char(out, *p++);
	}
}

char *sieve_expand_str(struct sieve_run *r, const char *s)
{
	struct buf b = BUF_INIT;
	sieve_expand(r, s, strlen(s), &b);
	buf_append(&b, "", 0);
	if (b.data == NULL)
		return x_strdup("");
	return buf_steal(&b);
}

static void quote_wildcards(struct buf *v)
{
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < v->len; i++) {
		if (v->data[i] == '*' || v->data[i] == '?' || v->data[i] == '\\')
			buf_append_char(&out, '\\');
		buf_append_char(&out, v->data[i]);
	}
	buf_reset(v);
	buf_append(v, out.data, out.len);
	buf_free(&out);
}

/* RFC 5229 4.1: applied from the highest precedence (40) to the lowest (10). */
void sieve_apply_modifiers(unsigned int mods, struct buf *v)
{
	for (size_t i = 0; i < v->len; i++) {
		if (mods & SIEVE_MOD_LOWER)
			v->data[i] = (char)tolower((unsigned char)v->data[i]);
		if (mods & SIEVE_MOD_UPPER)
			v->data[i] = (char)toupper((unsigned char)v->data[i]);
	}
	if (v->len > 0 && (mods & SIEVE_MOD_LOWERFIRST))
		v->data[0] = (char)tolower((unsigned char)v->data[0]);
	if (v->len > 0 && (mods & SIEVE_MOD_UPPERFIRST))
		v->data[0] = (char)toupper((unsigned char)v->data[0]);
	if (mods & SIEVE_MOD_QUOTEWILDCARD)
		quote_wildcards(v);
	if (mods & SIEVE_MOD_LENGTH) {
		size_t chars = 0; /* characters, not octets */
		for (size_t i = 0; i < v->len; i++)
			if (((unsigned char)v->data[i] & 0xc0) != 0x80)
				chars++;
		buf_reset(v);
		buf_printf(v, "%zu", chars);
	}
}

void sieve_strs_add(struct sieve_strs *l, const char *s, size_t len)
{
	l->v = x_reallocarray(l->v, l->count + 1, sizeof(*l->v));
	l->v[l->count++] = x_strndup(s, len);
}

void sieve_strs_free(struct sieve_strs *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->count = 0;
}
