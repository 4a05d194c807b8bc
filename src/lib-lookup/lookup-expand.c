/* lookup-expand: recursive alias expansion (RFC 5321 3.9) over virtual_alias_maps and
 * alias_maps, with loop detection, a depth limit and duplicate elimination.
 *
 * For local@domain: virtual maps are asked for "local@domain", then (subaddress)
 * "base@domain"; in a local domain alias maps are asked for "local@domain", "local", then
 * "base@domain", "base". A virtual "@domain" catch-all applies only to addresses that are
 * neither users nor aliases. Targets: addresses (a bare name takes the domain of the alias),
 * "\name" (a mailbox, not expanded again), "|command", "/file", ":include:/path" (a file of
 * more targets). An address met again on its own expansion path is delivered as a mailbox
 * if it is a user ("alice: alice, |vacation alice"), else the branch is a loop (5.4.6).
 */
#include "lookup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "xalloc.h"

struct lookup_walk {
	const struct lookup_ctx *ctx;
	struct lookup_result *out;
	unsigned origin;
	char *chain[LOOKUP_MAX_DEPTH + 2]; /* the addresses being expanded, outermost first */
	unsigned depth;
	struct buf *err;
};

static void lookup_add(struct lookup_walk *w, enum lookup_kind kind, const char *value,
		       const char *status, const char *text)
{
	struct lookup_result *out = w->out;
	for (size_t i = 0; i < out->n; i++)
		if (out->v[i].kind == kind && str_ieq(out->v[i].value, value))
			return;
	if (out->n == out->cap) {
		out->cap = out->cap ? out->cap * 2 : 8;
		out->v = x_reallocarray(out->v, out->cap, sizeof(*out->v));
	}
	struct lookup_item *it = &out->v[out->n++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->value = x_strdup(value);
	it->via = w->depth > 0 ? x_strdup(w->chain[w->depth - 1]) : NULL;
	snprintf(it->status, sizeof(it->status), "%s", status ? status : "");
	it->text = text;
	it->origin = w->origin;
}

/* Asks each table for key; 1 with values, 0, -1. */
static int lookup_tables(struct lookup_table **tables, size_t n, const char *key,
			 struct lookup_values *values, struct buf *err)
{
	for (size_t i = 0; i < n; i++) {
		int r = lookup_get(tables[i], key, values, err);
		if (r != 0)
			return r;
	}
	return 0;
}

/* local with its subaddress extension cut ("" when it has none). */
static char *lookup_base(const struct lookup_ctx *ctx, const char *local)
{
	if (ctx->delimiter == NULL || ctx->delimiter[0] == '\0')
		return x_strdup("");
	const char *d = strstr(local, ctx->delimiter);
	if (d == NULL || d == local)
		return x_strdup("");
	return x_strndup(local, (size_t)(d - local));
}

/* Finds the alias entry for local@domain; 1/0/-1. */
static int lookup_find(const struct lookup_ctx *ctx, const char *local, const char *domain,
		       bool is_local, struct lookup_values *v, struct buf *err)
{
	char *base = lookup_base(ctx, local);
	char *keys[4] = {x_asprintf("%s@%s", local, domain), x_strdup(local), NULL, NULL};
	if (base[0] != '\0') {
		keys[2] = x_asprintf("%s@%s", base, domain);
		keys[3] = x_strdup(base);
	}
	int r = 0;
	for (int i = 0; i < 4 && r == 0; i += 2)
		if (keys[i] != NULL)
			r = lookup_tables(ctx->virtuals, ctx->virtual_count, keys[i], v, err);
	for (int i = 0; i < 4 && r == 0 && is_local; i++)
		if (keys[i] != NULL)
			r = lookup_tables(ctx->aliases, ctx->alias_count, keys[i], v, err);
	for (int i = 0; i < 4; i++)
		free(keys[i]);
	free(base);
	return r;
}

static int lookup_walk_address(struct lookup_walk *w, const char *address);

/* One target of an alias; domain: the alias's own, for bare names. */
static int lookup_walk_target(struct lookup_walk *w, const char *t, const char *domain)
{
	if (t[0] == '|') {
		lookup_add(w, LOOKUP_PIPE, t + 1, NULL, NULL);
		return 0;
	}
	if (t[0] == '/') {
		lookup_add(w, LOOKUP_FILE, t, NULL, NULL);
		return 0;
	}
	if (strncmp(t, ":include:", 9) == 0) {
		const char *path = t + 9;
		size_t len;
		char *text = read_file_small(path, w->ctx->include_max, &len);
		if (text == NULL) {
			buf_printf(w->err, "%s: %s", path, strerror(errno));
			return -1;
		}
		struct lookup_values v = {NULL, 0};
		lookup_split_values(text, len, false, &v);
		free(text);
		int r = 0;
		for (size_t i = 0; i < v.n && r >= 0; i++)
			if (v.v[i][0] != '#')
				r = lookup_walk_target(w, v.v[i], domain);
		lookup_values_free(&v);
		return r;
	}
	bool final = t[0] == '\\';
	if (final)
		t++;
	char *addr = strchr(t, '@') ? x_strdup(t) : x_asprintf("%s@%s", t, domain);
	int r = final ? 1 : lookup_walk_address(w, addr);
	if (final)
		lookup_add(w, LOOKUP_ADDRESS, addr, NULL, NULL);
	else if (r == 0)
		lookup_add(w, LOOKUP_ERROR, addr, "5.1.1", "unknown user in alias");
	free(addr);
	return r < 0 ? r : 0;
}

/* Expands the targets of one alias entry one level deeper. */
static int lookup_walk_values(struct lookup_walk *w, const char *address, const char *domain,
			      const struct lookup_values *v)
{
	if (w->depth >= w->ctx->max_depth) {
		lookup_add(w, LOOKUP_ERROR, address, "5.4.6", "alias expansion too deep");
		return 0;
	}
	w->chain[w->depth++] = str_lower(x_strdup(address));
	int r = 0;
	for (size_t i = 0; i < v->n && r >= 0; i++)
		r = lookup_walk_target(w, v->v[i], domain);
	x_free(&w->chain[--w->depth]);
	return r;
}

static bool lookup_on_path(const struct lookup_walk *w, const char *address)
{
	for (unsigned i = 0; i < w->depth; i++)
		if (str_ieq(w->chain[i], address))
			return true;
	return false;
}

/* 1 known, 0 unknown local address, -1 temporary failure. */
static int lookup_walk_address(struct lookup_walk *w, const char *address)
{
	const struct lookup_ctx *ctx = w->ctx;
	const char *at = strrchr(address, '@');
	char *local = at ? x_strndup(address, (size_t)(at - address)) : x_strdup(address);
	char *domain = str_lower(x_strdup(at ? at + 1 : ""));
	bool is_local = ctx->is_local_domain(ctx->arg, domain);
	int user = is_local ? ctx->is_user(ctx->arg, address, w->err) : 0;
	struct lookup_values v = {NULL, 0};
	int r = user;
	if (user >= 0 && lookup_on_path(w, address)) {
		if (user > 0)
			lookup_add(w, LOOKUP_ADDRESS, address, NULL, NULL);
		else
			lookup_add(w, LOOKUP_ERROR, address, "5.4.6", "alias loop");
		r = 1;
	} else if (user >= 0 && (r = lookup_find(ctx, local, domain, is_local, &v, w->err)) > 0) {
		r = lookup_walk_values(w, address, domain, &v) < 0 ? -1 : 1;
	} else if (r == 0 && user > 0) {
		lookup_add(w, LOOKUP_ADDRESS, address, NULL, NULL);
		r = 1;
	} else if (r == 0 && !is_local) {
		lookup_add(w, LOOKUP_ADDRESS, address, NULL, NULL);
		r = 1;
	} else if (r == 0) {
		char *key = x_asprintf("@%s", domain);
		r = lookup_tables(ctx->virtuals, ctx->virtual_count, key, &v, w->err);
		if (r > 0)
			r = lookup_walk_values(w, address, domain, &v) < 0 ? -1 : 1;
		free(key);
	}
	lookup_values_free(&v);
	free(local);
	free(domain);
	return r;
}

int lookup_expand(const struct lookup_ctx *ctx, const char *address, unsigned origin,
		  struct lookup_result *out, struct buf *err)
{
	struct lookup_walk w = {.ctx = ctx, .out = out, .origin = origin, .err = err};
	size_t before = out->n;
	int r = lookup_walk_address(&w, address);
	if (r < 0) {
		/* Nothing half-expanded is kept. */
		for (size_t i = before; i < out->n; i++) {
			free(out->v[i].value);
			free(out->v[i].via);
		}
		out->n = before;
	}
	return r;
}

size_t lookup_result_deliverable(const struct lookup_result *out, unsigned origin)
{
	size_t n = 0;
	for (size_t i = 0; i < out->n; i++)
		if (out->v[i].kind != LOOKUP_ERROR && out->v[i].origin == origin)
			n++;
	return n;
}

void lookup_result_free(struct lookup_result *out)
{
	for (size_t i = 0; i < out->n; i++) {
		free(out->v[i].value);
		free(out->v[i].via);
	}
	free(out->v);
	memset(out, 0, sizeof(*out));
}
