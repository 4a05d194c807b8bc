/* sieve-vacation: the vacation action and the decision whether to reply.
 *
 * RFC 5230 4 (arguments, :days, default handle from the arguments), 4.5 (reply only to
 * mail addressed to the user: To, Cc, Bcc, Resent-To/Cc/Bcc against the recipient, the
 * user's addresses and :addresses), 4.6 (no reply to list or automatic mail), 4.7 (once
 * per script), RFC 6131 (:seconds). The RFC 3834 rules (2: automatic and list mail, null
 * and daemon senders, the recipient fields; 3.1: "Auto:" subject, References) are
 * lib-autoreply's, shared with `tern vacation`. The "once per interval per sender" state
 * is read through sieve_ops.vacation_seen and written by sieve_result_commit().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoreply.h"
#include "sieve-run.h"
#include "xalloc.h"

#define DAY 86400ULL

/* RFC 5230 4.6 / RFC 3834 2: a field that marks the message as automatic or a list's. */
static bool message_is_automatic(struct sieve_run *r)
{
	if (sieve_load_headers(r) < 0)
		return true; /* unreadable: no reply rather than a wrong one */
	for (size_t i = 0; i < r->nhdrs; i++)
		if (autoreply_field_refused(r->hdrs[i].name, r->hdrs[i].value) != NULL)
			return true;
	return false;
}

static bool is_user_address(struct sieve_run *r, const struct sieve_strs *extra, const char *addr)
{
	const struct sieve_envelope *e = r->env;
	const char *mine[] = {e->to, e->orig_to, e->user};
	for (size_t i = 0; i < 3; i++)
		if (mine[i] != NULL && mine[i][0] != '\0' && strcasecmp(mine[i], addr) == 0)
			return true;
	for (size_t i = 0; e->user_aliases != NULL && e->user_aliases[i] != NULL; i++)
		if (strcasecmp(e->user_aliases[i], addr) == 0)
			return true;
	for (size_t i = 0; i < extra->count; i++)
		if (strcasecmp(extra->v[i], addr) == 0)
			return true;
	return false;
}

struct mine_ctx {
	struct sieve_run *r;
	const struct sieve_strs *extra;
};

static bool mine(void *ctx, const char *addr)
{
	struct mine_ctx *m = ctx;
	return is_user_address(m->r, m->extra, addr);
}

/* RFC 5230 4.5: one of the user's addresses is in a recipient field. */
static bool addressed_to_user(struct sieve_run *r, const struct sieve_strs *extra)
{
	struct mine_ctx m = {r, extra};
	bool found = false;
	for (size_t f = 0; autoreply_recipient_fields[f] != NULL && !found; f++) {
		struct sieve_strs vals = {0};
		sieve_header_values(r, autoreply_recipient_fields[f], false, &vals);
		for (size_t i = 0; i < vals.count && !found; i++)
			found = autoreply_value_has(vals.v[i], mine, &m);
		sieve_strs_free(&vals);
	}
	return found;
}

static uint64_t interval(struct sieve_run *r, const struct sieve_opts *o)
{
	const struct sieve_ops *ops = r->ops;
	uint64_t min = ops->vacation_min_seconds != 0 ? ops->vacation_min_seconds : DAY;
	uint64_t max = ops->vacation_max_seconds != 0 ? ops->vacation_max_seconds : 90 * DAY;
	uint64_t v = ops->vacation_default_seconds != 0 ? ops->vacation_default_seconds : 7 * DAY;
	if (o->days != NULL)
		v = o->days->num > UINT64_MAX / DAY ? UINT64_MAX : o->days->num * DAY;
	else if (o->seconds != NULL)
		v = o->seconds->num;
	return v < min ? min : v > max ? max : v;
}

/* RFC 5230 4.2: without :handle, the same arguments give the same handle. */
static char *default_handle(const struct sieve_action *a)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	const char *parts[] = {a->text, a->subject, a->from, a->mime ? "mime" : ""};
	for (size_t i = 0; i < 4; i++) {
		for (const char *p = parts[i] != NULL ? parts[i] : ""; *p != '\0'; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	return x_asprintf("%016llx", (unsigned long long)h);
}

/* Whether to reply at all (every reason not to is a silent "no"). */
static bool should_reply(struct sieve_run *r, const struct sieve_strs *extra)
{
	const char *sender = r->env->from;
	if (autoreply_sender_refused(sender) != NULL)
		return false;
	if (is_user_address(r, extra, sender))
		return false;
	if (message_is_automatic(r))
		return false;
	return addressed_to_user(r, extra);
}

static void fill_defaults(struct sieve_run *r, struct sieve_action *a)
{
	if (a->subject == NULL)
		a->subject = autoreply_subject(sieve_header_first(r, "Subject"));
	if (a->from == NULL) {
		const char *u = r->env->user != NULL ? r->env->user : r->env->to;
		a->from = x_strdup(u != NULL ? u : "");
	}
	const char *id = sieve_header_first(r, "Message-ID");
	a->in_reply_to = id != NULL ? x_strdup(id) : NULL;
	a->references = autoreply_references(id, sieve_header_first(r, "References"),
					     sieve_header_first(r, "In-Reply-To"));
}

int sieve_cmd_vacation(struct sieve_run *r, const struct sieve_node *n)
{
	const struct sieve_opts *o = &n->opts;
	if (r->vacation_done)
		return sieve_runtime_error(r, n->line, "vacation used more than once");
	r->vacation_done = true;
	struct sieve_strs extra = {0};
	for (size_t i = 0; o->addresses != NULL && i < o->addresses->count; i++) {
		char *s = sieve_expand_str(r, o->addresses->strs[i]);
		sieve_strs_add(&extra, s, strlen(s));
		free(s);
	}
	bool reply = should_reply(r, &extra);
	sieve_strs_free(&extra);
	if (!reply)
		return r->failed ? -1 : 0;
	struct sieve_action a = {.type = SIEVE_ACT_VACATION, .line = n->line, .mime = o->mime};
	a.text = sieve_expand_str(r, o->pos[0]->strs[0]);
	a.subject = o->subject != NULL ? sieve_expand_str(r, o->subject->strs[0]) : NULL;
	a.from = o->from != NULL ? sieve_expand_str(r, o->from->strs[0]) : NULL;
	a.handle = o->handle != NULL ? sieve_expand_str(r, o->handle->strs[0]) : default_handle(&a);
	a.seconds = interval(r, o);
	a.address = x_strdup(r->env->from);
	if (r->ops->vacation_seen != NULL &&
	    r->ops->vacation_seen(r->ops->ctx, a.handle, a.address, a.seconds)) {
		sieve_action_clear(&a);
		return 0;
	}
	fill_defaults(r, &a);
	return sieve_result_add(r, &a);
}
