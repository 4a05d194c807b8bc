/* smtpd-rcpt: RCPT (RFC 5321 4.1.1.3, limits 4.5.3.1.8): relay control, users and aliases,
 * and the DSN parameters of RFC 3461 4.1-4.2 kept for the queue.
 *
 * Relay control (RFC 5321 3.6, DESIGN.md principle 5): an address outside the local
 * domains (or an address literal) is accepted only from a trusted client: a local
 * submission (inetd with a local user), an authenticated one (RFC 4954), or one whose
 * address is in mynetworks; others get 554 5.7.1. Local parts carrying routing of their
 * own (user%host, host!user, "user@host") are refused the same way from everyone: they are
 * never routed. Source routes are dropped by the path parser (RFC 5321 C), so
 * <@local:user@remote> is just user@remote.
 *
 * A local address is accepted when it is a user or an alias (lib-lookup); aliases are
 * expanded here, at receipt, and the final recipients queued with the client's address
 * as their original recipient; the envelope says so with "aliases_expanded yes".
 * Recipient canonical maps (and masquerading, when configured for envelope recipients)
 * apply after relay control has judged the address as given, and before the lookup of
 * users and aliases.
 */
#include "smtpd-private.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lookup.h"
#include "queue.h"
#include "rewrite.h"
#include "userdb.h"
#include "util.h"
#include "xalloc.h"

struct smtpd_policy {
	struct lookup_ctx *lookup;
	struct smtpd_net *nets;
	size_t nnets;
	uint64_t max_hops;
};

struct smtpd_policy *smtpd_policy_new(const struct conf *conf, struct userdb *udb)
{
	struct smtpd_policy *p = X_NEW(struct smtpd_policy);
	p->lookup = lookup_ctx_new(conf, udb);
	p->max_hops = conf_num(conf, "max_hops");
	char **words;
	size_t n = conf_words(conf_str(conf, "mynetworks"), &words);
	p->nets = x_calloc(n + 1, sizeof(*p->nets));
	for (size_t i = 0; i < n; i++) {
		if (smtpd_net_parse(words[i], &p->nets[p->nnets]) == 0)
			p->nnets++;
		else
			log_error("mynetworks: '%s' is not a network (a.b.c.d/len or x::y/len); "
				  "ignored", log_safe(words[i], strlen(words[i]), 100));
	}
	conf_words_free(&words, n);
	return p;
}

void smtpd_policy_free(struct smtpd_policy **pp)
{
	struct smtpd_policy *p = *pp;
	if (p == NULL)
		return;
	lookup_ctx_free(&p->lookup);
	free(p->nets);
	x_free(pp);
}

bool smtpd_hops_exceeded(const struct smtpd_session *s)
{
	return (uint64_t)s->hops.count + 1 > s->set->policy->max_hops;
}

bool smtpd_client_in_mynetworks(const struct smtpd_session *s)
{
	const struct smtpd_policy *p = s->set->policy;
	return s->ip[0] != '\0' && smtpd_net_match(p->nets, p->nnets, s->ip);
}

/* May this client send mail to other domains? */
static bool smtpd_rcpt_trusted(const struct smtpd_session *s)
{
	return s->local_user != NULL || s->auth_user != NULL || smtpd_client_in_mynetworks(s);
}

static void smtpd_rcpt_reject(struct smtpd_session *s, const char *to, int code, const char *enh,
			      const char *text)
{
	smtpd_reply(s, code, enh, "<%s>: %s", to, text);
	smtpd_log_reject(s, "RCPT", code, enh, text, to);
}

static void smtpd_rcpt_add(struct smtpd_session *s, const char *addr, const char *given,
			   const char *dsn, int kind)
{
	for (size_t i = 0; i < s->nrcpt; i++)
		if (s->rcpts[i].kind == kind && str_ieq(s->rcpts[i].addr, addr))
			return; /* once is enough */
	if (s->nrcpt == s->rcpt_cap) {
		s->rcpt_cap = s->rcpt_cap ? s->rcpt_cap * 2 : 8;
		s->rcpts = x_reallocarray(s->rcpts, s->rcpt_cap, sizeof(*s->rcpts));
	}
	struct smtpd_rcpt *r = &s->rcpts[s->nrcpt++];
	r->addr = x_strdup(addr);
	r->given = x_strdup(given);
	r->dsn = dsn ? x_strdup(dsn) : NULL;
	r->kind = kind;
}

/* The address to look up: <postmaster> alone means the postmaster of our first domain
 * (RFC 5321 4.1.1.3). NULL when no local domain is configured. */
static char *smtpd_rcpt_address(struct smtpd_session *s, const struct smtp_path *p)
{
	if (p->domain[0] != '\0')
		return x_strdup(p->mailbox);
	char **words;
	size_t n = conf_words(conf_str(s->set->conf, "domains"), &words);
	char *a = n > 0 ? x_asprintf("%s@%s", p->local, words[0]) : NULL;
	conf_words_free(&words, n);
	return a;
}

/* The RFC 3461 parameters as kept in the queue: "NOTIFY=A,B ORCPT=type;xtext", or NULL. */
static char *smtpd_rcpt_dsn(const struct smtp_rcpt_args *r)
{
	static const char *const names[] = {"NEVER", "SUCCESS", "FAILURE", "DELAY"};
	if (r->notify == 0 && r->orcpt == NULL)
		return NULL;
	struct buf b = BUF_INIT;
	if (r->notify != 0) {
		buf_append_str(&b, "NOTIFY=");
		for (unsigned i = 0, k = 0; i < 4; i++)
			if (r->notify & (1u << i))
				buf_printf(&b, "%s%s", k++ ? "," : "", names[i]);
	}
	if (r->orcpt != NULL)
		buf_printf(&b, "%sORCPT=%s", b.len ? " " : "", r->orcpt);
	return buf_steal(&b);
}

/* The mailbox to queue for an expanded address: the user's canonical address. */
static char *smtpd_rcpt_canonical(struct smtpd_session *s, const char *addr)
{
	struct user_info info;
	struct buf err = BUF_INIT;
	char *out;
	if (userdb_lookup(s->set->userdb, addr, &info, &err) > 0) {
		out = x_strdup(info.address);
		user_info_free(&info);
	} else {
		out = x_strdup(addr);
	}
	buf_free(&err);
	return out;
}

/* A recipient in a local domain: a user or an alias, expanded now. */
static void smtpd_rcpt_local(struct smtpd_session *s, const char *addr,
			     const struct smtp_rcpt_args *r)
{
	struct lookup_result res = {0};
	struct buf err = BUF_INIT;
	int known = lookup_expand(s->set->policy->lookup, addr, 0, &res, &err);
	const char *to = r->path.mailbox;
	if (known < 0) {
		log_error("aliases: %s", buf_cstr(&err));
		smtpd_rcpt_reject(s, to, 451, "4.3.0", "Temporary lookup failure");
	} else if (known == 0) {
		smtpd_rcpt_reject(s, to, 550, "5.1.1", "Recipient address rejected: User unknown");
	} else if (lookup_result_deliverable(&res, 0) == 0) {
		const struct lookup_item *e = &res.v[0];
		smtpd_rcpt_reject(s, to, 550, e->status[0] ? e->status : "5.1.1",
				  e->text ? e->text : "Recipient address rejected");
	} else {
		char *dsn = smtpd_rcpt_dsn(r);
		for (size_t i = 0; i < res.n; i++) {
			const struct lookup_item *it = &res.v[i];
			if (it->kind == LOOKUP_ERROR) {
				log_warn("aliases: <%s> via <%s>: %s %s",
					 log_safe(it->value, strlen(it->value), 300),
					 it->via ? log_safe(it->via, strlen(it->via), 300) : "",
					 it->status, it->text);
				continue;
			}
			char *a = it->kind == LOOKUP_ADDRESS ? smtpd_rcpt_canonical(s, it->value)
			    : x_asprintf("%s%s", it->kind == LOOKUP_PIPE ? "|" : "", it->value);
			smtpd_rcpt_add(s, a, to, dsn, it->kind);
			free(a);
		}
		free(dsn);
		s->state = SMTPD_RCPT;
		smtpd_reply(s, 250, "2.1.5", "Ok");
	}
	lookup_result_free(&res);
	buf_free(&err);
}

/* Does the local part route somewhere itself (user%host, host!user, "user@host")? */
static bool smtpd_rcpt_routing(const struct smtp_path *p)
{
	return strpbrk(p->local, "%!@") != NULL;
}

/* The recipient after the canonical maps: 1 (*addr replaced, *local updated), 0, or -1
 * (a table could not be read). */
static int smtpd_rcpt_rewrite(struct smtpd_session *s, char **addr, bool *local)
{
	struct rewrite *rw = s->set->rewrite;
	if (!rewrite_enabled(rw, REWRITE_ENVELOPE_RECIPIENT))
		return 0;
	char *out = NULL;
	struct buf err = BUF_INIT;
	int k = rewrite_address(rw, REWRITE_ENVELOPE_RECIPIENT, *addr, &out, &err);
	if (k < 0)
		log_error("recipient rewriting: %s", buf_cstr(&err));
	buf_free(&err);
	if (k <= 0)
		return k;
	log_debug("%s: recipient <%s> rewritten to <%s>", s->client,
		  log_safe(*addr, strlen(*addr), 300), log_safe(out, strlen(out), 300));
	free(*addr);
	*addr = out;
	const char *at = strrchr(out, '@');
	*local = at != NULL && at[1] != '[' && userdb_is_local_domain(s->set->userdb, at + 1);
	return 1;
}

/* Relay control, then rewriting, then users and aliases. */
static void smtpd_rcpt_policy(struct smtpd_session *s, const struct smtp_rcpt_args *r)
{
	const char *to = r->path.mailbox;
	char *addr = smtpd_rcpt_address(s, &r->path);
	const char *at = addr ? strrchr(addr, '@') : NULL;
	bool local = at != NULL && !r->path.literal &&
		     userdb_is_local_domain(s->set->userdb, at + 1);
	if (addr == NULL || smtpd_rcpt_routing(&r->path)) {
		smtpd_rcpt_reject(s, to, 554, "5.7.1", "Relay access denied");
	} else if (!local && !smtpd_rcpt_trusted(s)) {
		smtpd_rcpt_reject(s, to, 554, "5.7.1", "Relay access denied");
	} else if (smtpd_rcpt_rewrite(s, &addr, &local) < 0) {
		smtpd_rcpt_reject(s, to, 451, "4.3.0", "Temporary lookup failure");
	} else if (local) {
		smtpd_rcpt_local(s, addr, r);
	} else {
		char *dsn = smtpd_rcpt_dsn(r);
		smtpd_rcpt_add(s, addr, to, dsn, LOOKUP_ADDRESS);
		free(dsn);
		s->state = SMTPD_RCPT;
		smtpd_reply(s, 250, "2.1.5", "Ok");
	}
	free(addr);
}

void smtpd_cmd_rcpt(struct smtpd_session *s, const struct smtp_command *cmd)
{
	struct smtp_error err;
	struct smtp_rcpt_args r;
	if (smtp_rcpt_args_parse(cmd->args, cmd->args_len, s->mail.smtputf8, &r, &err) < 0) {
		smtpd_reply_error(s, &err);
		smtpd_log_reject(s, "RCPT", err.code, err.enh, err.text, NULL);
		return;
	}
	if (s->bdat_active)
		smtpd_reply(s, 503, "5.5.1", "Error: RCPT after BDAT");
	else if (s->nrcpt >= s->set->max_recipients)
		smtpd_rcpt_reject(s, r.path.mailbox, 452, "4.5.3", "Too many recipients");
	else
		smtpd_rcpt_policy(s, &r);
	smtp_rcpt_args_free(&r);
}

void smtpd_rcpt_queue(struct smtpd_session *s, struct queue_writer *w)
{
	char name[32];
	for (size_t i = 0; i < s->nrcpt; i++) {
		const struct smtpd_rcpt *r = &s->rcpts[i];
		queue_writer_add_rcpt(w, r->addr, r->given);
		if (r->dsn != NULL) {
			snprintf(name, sizeof(name), "dsn_rcpt_%zu", i);
			queue_writer_set_attr(w, name, r->dsn);
		}
		if (r->kind == LOOKUP_PIPE || r->kind == LOOKUP_FILE) {
			snprintf(name, sizeof(name), "alias_rcpt_%zu", i);
			queue_writer_set_attr(w, name, r->kind == LOOKUP_PIPE ? "pipe" : "file");
		}
	}
	queue_writer_set_attr(w, "aliases_expanded", "yes");
}
