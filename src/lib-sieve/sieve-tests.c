/* sieve-tests: evaluation of the tests.
 *
 * RFC 5228 5 (address, allof, anyof, envelope, exists, false, header, not, size, true),
 * RFC 5173 (body), RFC 5229 5 (string), RFC 5232 4 (hasflag), RFC 5490 3.1
 * (mailboxexists), RFC 7352 (duplicate, state through sieve_ops), RFC 5463 (ihave).
 * Strings of the script are expanded (variables) before use.
 */
#include <stdlib.h>
#include <string.h>

#include "mime-address.h"
#include "sieve-run.h"
#include "xalloc.h"

/* Expands every string of a list argument into out. */
static void expand_list(struct sieve_run *r, const struct sieve_arg *a, struct sieve_strs *out)
{
	for (size_t i = 0; i < a->count; i++) {
		struct buf b = BUF_INIT;
		sieve_expand(r, a->strs[i], a->lens[i], &b);
		sieve_strs_add(out, b.data != NULL ? b.data : "", b.len);
		buf_free(&b);
	}
}

static void add_part(struct sieve_strs *vals, const char *addr, enum sieve_addrpart part)
{
	struct buf b = BUF_INIT;
	if (sieve_address_part(addr, part, &b))
		sieve_strs_add(vals, b.data != NULL ? b.data : "", b.len);
	buf_free(&b);
}

static bool test_address(struct sieve_run *r, const struct sieve_node *t)
{
	const struct sieve_opts *o = &t->opts;
	struct sieve_strs names = {0}, vals = {0}, raw = {0};
	expand_list(r, o->pos[0], &names);
	for (size_t i = 0; i < names.count; i++)
		sieve_header_values(r, names.v[i], false, &raw);
	for (size_t i = 0; i < raw.count; i++) {
		struct mime_address_list l = {0};
		mime_address_list_parse(raw.v[i], strlen(raw.v[i]), 0, &l);
		for (size_t k = 0; k < l.count; k++) {
			const struct mime_address *a = &l.v[k];
			if (a->host == NULL || a->mailbox == NULL)
				continue; /* group markers */
			char *addr = a->host[0] != '\0' ? x_asprintf("%s@%s", a->mailbox, a->host)
							: x_strdup(a->mailbox);
			add_part(&vals, addr, o->addrpart);
			free(addr);
		}
		mime_address_list_free(&l);
	}
	bool ok = sieve_match(r, o, &vals, o->pos[1]);
	sieve_strs_free(&names);
	sieve_strs_free(&vals);
	sieve_strs_free(&raw);
	return ok;
}

static bool test_envelope(struct sieve_run *r, const struct sieve_node *t)
{
	const struct sieve_opts *o = &t->opts;
	struct sieve_strs parts = {0}, vals = {0};
	expand_list(r, o->pos[0], &parts);
	for (size_t i = 0; i < parts.count; i++) {
		const char *v = NULL;
		if (strcasecmp(parts.v[i], "from") == 0)
			v = r->env->from;
		else if (strcasecmp(parts.v[i], "to") == 0)
			v = r->env->to;
		if (v == NULL)
			continue;
		if (v[0] == '\0') /* the null reverse-path: only "" for every part */
			sieve_strs_add(&vals, "", 0);
		else
			add_part(&vals, v, o->addrpart);
	}
	bool ok = sieve_match(r, o, &vals, o->pos[1]);
	sieve_strs_free(&parts);
	sieve_strs_free(&vals);
	return ok;
}

static bool test_header(struct sieve_run *r, const struct sieve_node *t)
{
	struct sieve_strs names = {0}, vals = {0};
	expand_list(r, t->opts.pos[0], &names);
	for (size_t i = 0; i < names.count; i++)
		sieve_header_values(r, names.v[i], true, &vals);
	bool ok = sieve_match(r, &t->opts, &vals, t->opts.pos[1]);
	sieve_strs_free(&names);
	sieve_strs_free(&vals);
	return ok;
}

static bool test_exists(struct sieve_run *r, const struct sieve_node *t)
{
	struct sieve_strs names = {0};
	bool ok = true;
	expand_list(r, t->opts.pos[0], &names);
	for (size_t i = 0; i < names.count && ok; i++)
		ok = sieve_header_first(r, names.v[i]) != NULL;
	sieve_strs_free(&names);
	return ok;
}

static bool test_string(struct sieve_run *r, const struct sieve_node *t)
{
	struct sieve_strs vals = {0}, all = {0};
	expand_list(r, t->opts.pos[0], &all);
	/* RFC 5229 5: with :count, empty strings are not counted */
	for (size_t i = 0; i < all.count; i++)
		if (t->opts.match != SIEVE_MATCH_COUNT || all.v[i][0] != '\0')
			sieve_strs_add(&vals, all.v[i], strlen(all.v[i]));
	bool ok = sieve_match(r, &t->opts, &vals, t->opts.pos[1]);
	sieve_strs_free(&vals);
	sieve_strs_free(&all);
	return ok;
}

/* Splits space-separated flag strings into single flags (RFC 5232 3). */
static void split_flags(const struct sieve_strs *in, struct sieve_strs *out)
{
	for (size_t i = 0; i < in->count; i++) {
		const char *p = in->v[i];
		while (*p != '\0') {
			size_t n = strcspn(p, " ");
			if (n > 0)
				sieve_strs_add(out, p, n);
			p += n;
			p += strspn(p, " ");
		}
	}
}

static bool test_hasflag(struct sieve_run *r, const struct sieve_node *t)
{
	const struct sieve_opts *o = &t->opts;
	struct sieve_strs vals = {0};
	if (o->npos == 2) {
		struct sieve_strs names = {0}, raw = {0};
		expand_list(r, o->pos[0], &names);
		for (size_t i = 0; i < names.count; i++) {
			struct sieve_var *v = sieve_var_find(r->local, names.v[i]);
			if (v == NULL)
				v = sieve_var_find(&r->global, names.v[i]);
			if (v != NULL)
				sieve_strs_add(&raw, v->value.data != NULL ? v->value.data : "",
					       v->value.len);
		}
		split_flags(&raw, &vals);
		sieve_strs_free(&names);
		sieve_strs_free(&raw);
	} else {
		split_flags(&r->flags, &vals);
	}
	bool ok = sieve_match(r, o, &vals, o->pos[o->npos - 1]);
	sieve_strs_free(&vals);
	return ok;
}

static bool test_mailboxexists(struct sieve_run *r, const struct sieve_node *t)
{
	struct sieve_strs names = {0};
	bool ok = true;
	expand_list(r, t->opts.pos[0], &names);
	for (size_t i = 0; i < names.count && ok; i++)
		ok = r->ops->mailbox_exists != NULL
			 ? r->ops->mailbox_exists(r->ops->ctx, names.v[i])
			 : strcasecmp(names.v[i], "INBOX") == 0;
	sieve_strs_free(&names);
	return ok;
}

static bool test_body(struct sieve_run *r, const struct sieve_node *t)
{
	struct sieve_strs vals = {0};
	if (sieve_body_texts(r, &t->opts, &vals) < 0)
		return false;
	bool ok = sieve_match(r, &t->opts, &vals, t->opts.pos[0]);
	sieve_strs_free(&vals);
	return ok;
}

#define SIEVE_DUP_DEFAULT_SECONDS (12 * 3600)
#define SIEVE_DUP_MAX_SECONDS (7 * 86400)

static bool test_duplicate(struct sieve_run *r, const struct sieve_node *t)
{
	const struct sieve_opts *o = &t->opts;
	char *id = NULL;
	if (o->uniqueid != NULL) {
		id = sieve_expand_str(r, o->uniqueid->strs[0]);
	} else {
		char *name = o->header != NULL ? sieve_expand_str(r, o->header->strs[0])
					       : x_strdup("Message-ID");
		const char *v = sieve_header_first(r, name);
		id = v != NULL ? x_strdup(v) : NULL;
		free(name);
	}
	if (id == NULL)
		return false; /* RFC 7352 3.1: no header, no duplicate */
	char *handle = o->handle != NULL ? sieve_expand_str(r, o->handle->strs[0]) : x_strdup("");
	uint64_t secs = o->seconds != NULL ? o->seconds->num : SIEVE_DUP_DEFAULT_SECONDS;
	if (secs > SIEVE_DUP_MAX_SECONDS)
		secs = SIEVE_DUP_MAX_SECONDS;
	bool seen =
	    r->ops->duplicate_seen != NULL && r->ops->duplicate_seen(r->ops->ctx, handle, id, secs);
	/* a second test of the same id in this run sees the first */
	for (size_t i = 0; i < r->res->dup_count && !seen; i++)
		seen = strcmp(r->res->dups[i].handle, handle) == 0 &&
		       strcmp(r->res->dups[i].id, id) == 0;
	if ((!seen || o->last) && r->res->dup_count < SIEVE_MAX_ACTIONS) {
		struct sieve_result *res = r->res;
		res->dups = x_reallocarray(res->dups, res->dup_count + 1, sizeof(*res->dups));
		res->dups[res->dup_count++] = (struct sieve_dup_record){handle, id, secs};
	} else {
		free(handle);
		free(id);
	}
	return seen;
}

static bool test_ihave(struct sieve_run *r, const struct sieve_node *t)
{
	struct sieve_strs names = {0};
	bool ok = true;
	expand_list(r, t->opts.pos[0], &names);
	for (size_t i = 0; i < names.count && ok; i++)
		ok = sieve_ext_lookup(names.v[i]) != -1;
	sieve_strs_free(&names);
	return ok;
}

static int test_list(struct sieve_run *r, const struct sieve_node *t, bool all, bool *res)
{
	for (size_t i = 0; i < t->ntests; i++) {
		bool v;
		if (sieve_eval_test(r, t->tests[i], &v) < 0)
			return -1;
		if (v != all) { /* short-circuit (RFC 5228 5.2, 5.3) */
			*res = v;
			return 0;
		}
	}
	*res = all;
	return 0;
}

int sieve_eval_test(struct sieve_run *r, const struct sieve_node *t, bool *res)
{
	bool v = false;
	switch (t->spec->id) {
	case SIEVE_TEST_ALLOF:
		return test_list(r, t, true, res);
	case SIEVE_TEST_ANYOF:
		return test_list(r, t, false, res);
	case SIEVE_TEST_NOT:
		if (sieve_eval_test(r, t->tests[0], &v) < 0)
			return -1;
		*res = !v;
		return 0;
	case SIEVE_TEST_TRUE:
		v = true;
		break;
	case SIEVE_TEST_FALSE:
		v = false;
		break;
	case SIEVE_TEST_ADDRESS:
		v = test_address(r, t);
		break;
	case SIEVE_TEST_ENVELOPE:
		v = test_envelope(r, t);
		break;
	case SIEVE_TEST_HEADER:
		v = test_header(r, t);
		break;
	case SIEVE_TEST_EXISTS:
		v = test_exists(r, t);
		break;
	case SIEVE_TEST_SIZE:
		v = t->opts.over ? r->msg->size > t->opts.pos[0]->num
				 : r->msg->size < t->opts.pos[0]->num;
		break;
	case SIEVE_TEST_BODY:
		v = test_body(r, t);
		break;
	case SIEVE_TEST_STRING:
		v = test_string(r, t);
		break;
	case SIEVE_TEST_HASFLAG:
		v = test_hasflag(r, t);
		break;
	case SIEVE_TEST_MAILBOXEXISTS:
		v = test_mailboxexists(r, t);
		break;
	case SIEVE_TEST_DATE:
	case SIEVE_TEST_CURRENTDATE:
		return sieve_test_date(r, t, res);
	case SIEVE_TEST_DUPLICATE:
		v = test_duplicate(r, t);
		break;
	case SIEVE_TEST_IHAVE:
		v = test_ihave(r, t);
		break;
	default:
		return sieve_runtime_error(r, t->line, "'%s' is not a test", t->name);
	}
	*res = v;
	return r->failed ? -1 : 0;
}
