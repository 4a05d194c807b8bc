/* sieve-result: the list of actions a run decides, with the rules between them.
 *
 * RFC 5228 2.10.1-2.10.5 (implicit keep cancelled by discard, fileinto and redirect,
 * duplicate actions collapsed: fileinto of one mailbox, keep and fileinto "INBOX",
 * redirect of one address), RFC 3894 (:copy keeps the implicit keep), RFC 5429 2.1/2.2
 * (one reject; reject conflicts with keep, fileinto, redirect and vacation), RFC 5230 4.7
 * (one vacation), RFC 5232 (flags merged for one mailbox). Also formatting and freeing.
 */
#include <stdlib.h>
#include <string.h>

#include "sieve-run.h"
#include "xalloc.h"

static const char *const type_names[] = {"keep",   "fileinto", "redirect", "discard",
					 "reject", "ereject",  "vacation"};

static bool is_store(const struct sieve_action *a)
{
	return a->type == SIEVE_ACT_KEEP || a->type == SIEVE_ACT_FILEINTO;
}

static bool is_reject(const struct sieve_action *a)
{
	return a->type == SIEVE_ACT_REJECT || a->type == SIEVE_ACT_EREJECT;
}

static bool same_mailbox(const char *a, const char *b)
{
	if (strcasecmp(a, "INBOX") == 0 && strcasecmp(b, "INBOX") == 0)
		return true;
	return strcmp(a, b) == 0;
}

/* Local parts compare exactly, domains without case (RFC 5321 2.4). */
static bool same_address(const char *a, const char *b)
{
	const char *ea = strrchr(a, '@'), *eb = strrchr(b, '@');
	if (ea == NULL || eb == NULL || ea - a != eb - b)
		return strcmp(a, b) == 0;
	return strncmp(a, b, (size_t)(ea - a)) == 0 && strcasecmp(ea, eb) == 0;
}

static void merge_flags(struct sieve_action *into, char **flags)
{
	size_t n = 0, m = 0;
	while (into->flags != NULL && into->flags[n] != NULL)
		n++;
	for (size_t i = 0; flags != NULL && flags[i] != NULL; i++) {
		bool dup = false;
		for (size_t k = 0; k < n + m && !dup; k++)
			dup = strcasecmp(into->flags[k], flags[i]) == 0;
		if (dup)
			continue;
		into->flags = x_reallocarray(into->flags, n + m + 2, sizeof(char *));
		into->flags[n + m++] = x_strdup(flags[i]);
		into->flags[n + m] = NULL;
	}
}

void sieve_action_clear(struct sieve_action *a)
{
	for (size_t i = 0; a->flags != NULL && a->flags[i] != NULL; i++)
		free(a->flags[i]);
	free(a->flags);
	free(a->mailbox);
	free(a->address);
	free(a->text);
	free(a->subject);
	free(a->from);
	free(a->handle);
	free(a->in_reply_to);
	free(a->references);
	memset(a, 0, sizeof(*a));
}

/* A duplicate of an existing action merges into it: true if a was absorbed. */
static bool collapse(struct sieve_result *res, struct sieve_action *a)
{
	for (size_t i = 0; i < res->count; i++) {
		struct sieve_action *o = &res->actions[i];
		if (is_store(a) && is_store(o) && same_mailbox(o->mailbox, a->mailbox)) {
			merge_flags(o, a->flags);
			o->create |= a->create;
			o->implicit &= a->implicit;
			return true;
		}
		if (a->type == SIEVE_ACT_REDIRECT && o->type == SIEVE_ACT_REDIRECT &&
		    same_address(o->address, a->address))
			return true;
	}
	return false;
}

static int conflict(struct sieve_run *r, const struct sieve_action *a)
{
	for (size_t i = 0; i < r->res->count; i++) {
		const struct sieve_action *o = &r->res->actions[i];
		bool bad = (is_reject(a) && is_reject(o)) ||
			   (a->type == SIEVE_ACT_VACATION && o->type == SIEVE_ACT_VACATION) ||
			   (is_reject(a) && o->type != SIEVE_ACT_DISCARD && !o->implicit) ||
			   (is_reject(o) && a->type != SIEVE_ACT_DISCARD);
		if (bad)
			return sieve_runtime_error(r, a->line, "%s conflicts with the earlier %s",
						   type_names[a->type], type_names[o->type]);
	}
	return 0;
}

int sieve_result_add(struct sieve_run *r, struct sieve_action *a)
{
	struct sieve_result *res = r->res;
	if (r->failed || conflict(r, a) < 0) {
		sieve_action_clear(a);
		return -1;
	}
	if (a->type == SIEVE_ACT_REDIRECT || a->type == SIEVE_ACT_FILEINTO || is_reject(a) ||
	    a->type == SIEVE_ACT_DISCARD)
		if (!a->copy)
			r->implicit_keep = false;
	if (collapse(res, a)) {
		sieve_action_clear(a);
		return 0;
	}
	if (a->type == SIEVE_ACT_REDIRECT) {
		unsigned int max =
		    r->ops->max_redirects != 0 ? r->ops->max_redirects : SIEVE_MAX_REDIRECTS;
		if (++r->redirects > max) {
			int line = a->line;
			sieve_action_clear(a);
			return sieve_runtime_error(r, line, "too many redirects (over %u)", max);
		}
	}
	if (res->count >= SIEVE_MAX_ACTIONS) {
		int line = a->line;
		sieve_action_clear(a);
		return sieve_runtime_error(r, line, "too many actions (over %d)",
					   SIEVE_MAX_ACTIONS);
	}
	if (a->type == SIEVE_ACT_DISCARD) { /* only listed when nothing else happens */
		for (size_t i = 0; i < res->count; i++)
			if (res->actions[i].type == SIEVE_ACT_DISCARD)
				return 0;
	}
	res->actions = x_reallocarray(res->actions, res->count + 1, sizeof(*res->actions));
	res->actions[res->count++] = *a;
	memset(a, 0, sizeof(*a));
	return 0;
}

/* Adds the implicit keep if nothing cancelled it; drops discard when mail is delivered. */
void sieve_result_finish(struct sieve_run *r)
{
	struct sieve_result *res = r->res;
	if (r->implicit_keep) {
		struct sieve_action k = {.type = SIEVE_ACT_KEEP, .implicit = true};
		k.mailbox = x_strdup("INBOX");
		k.flags = sieve_flags_copy(&r->flags);
		if (!collapse(res, &k) && res->count < SIEVE_MAX_ACTIONS + 1) {
			res->actions =
			    x_reallocarray(res->actions, res->count + 1, sizeof(*res->actions));
			res->actions[res->count++] = k;
			memset(&k, 0, sizeof(k));
		}
		sieve_action_clear(&k);
	}
	bool delivered = false;
	for (size_t i = 0; i < res->count; i++)
		delivered |= res->actions[i].type != SIEVE_ACT_DISCARD &&
			     res->actions[i].type != SIEVE_ACT_VACATION;
	for (size_t i = 0; delivered && i < res->count; i++) {
		if (res->actions[i].type == SIEVE_ACT_DISCARD) {
			sieve_action_clear(&res->actions[i]);
			memmove(&res->actions[i], &res->actions[i + 1],
				(res->count - i - 1) * sizeof(*res->actions));
			res->count--;
			i--;
		}
	}
}

static void format_str(struct buf *out, const char *key, const char *s)
{
	if (s == NULL)
		return;
	buf_printf(out, " %s\"", key);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_append_char(out, '\\');
		if (*s == '\n')
			buf_append_str(out, "\\n");
		else if (*s != '\r')
			buf_append_char(out, *s);
	}
	buf_append_char(out, '"');
}

void sieve_result_format(const struct sieve_result *res, struct buf *out)
{
	if (res->status != SIEVE_OK)
		buf_printf(out, "error %d: %s\n", res->error.line, res->error.msg);
	for (size_t i = 0; i < res->count; i++) {
		const struct sieve_action *a = &res->actions[i];
		buf_append_str(out, type_names[a->type]);
		if (a->type == SIEVE_ACT_FILEINTO)
			format_str(out, "", a->mailbox);
		if (a->type == SIEVE_ACT_REDIRECT)
			format_str(out, "", a->address);
		if (a->type == SIEVE_ACT_VACATION)
			format_str(out, "to=", a->address);
		if (is_reject(a) || a->type == SIEVE_ACT_VACATION)
			format_str(out, "", a->text);
		if (a->flags != NULL && a->flags[0] != NULL) {
			buf_append_str(out, " flags=\"");
			for (size_t k = 0; a->flags[k] != NULL; k++)
				buf_printf(out, "%s%s", k > 0 ? " " : "", a->flags[k]);
			buf_append_char(out, '"');
		}
		if (a->type == SIEVE_ACT_VACATION) {
			format_str(out, "subject=", a->subject);
			format_str(out, "from=", a->from);
			buf_printf(out, " seconds=%llu", (unsigned long long)a->seconds);
			if (a->mime)
				buf_append_str(out, " mime");
		}
		if (a->copy)
			buf_append_str(out, " copy");
		if (a->create)
			buf_append_str(out, " create");
		if (a->implicit)
			buf_append_str(out, " implicit");
		buf_append_char(out, '\n');
	}
}

void sieve_result_commit(const struct sieve_result *res, const struct sieve_ops *ops)
{
	for (size_t i = 0; i < res->count; i++) {
		const struct sieve_action *a = &res->actions[i];
		if (a->type == SIEVE_ACT_VACATION && ops->vacation_record != NULL)
			ops->vacation_record(ops->ctx, a->handle, a->address, a->seconds);
	}
	for (size_t i = 0; res->status == SIEVE_OK && i < res->dup_count; i++)
		if (ops->duplicate_record != NULL)
			ops->duplicate_record(ops->ctx, res->dups[i].handle, res->dups[i].id,
					      res->dups[i].seconds);
}

void sieve_result_free(struct sieve_result *res)
{
	for (size_t i = 0; i < res->count; i++)
		sieve_action_clear(&res->actions[i]);
	for (size_t i = 0; i < res->dup_count; i++) {
		free(res->dups[i].handle);
		free(res->dups[i].id);
	}
	free(res->dups);
	free(res->actions);
	memset(res, 0, sizeof(*res));
}
