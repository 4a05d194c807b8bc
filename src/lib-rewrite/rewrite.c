/* rewrite: one address through the canonical maps and masquerading (see rewrite.h).
 *
 * Canonical lookups (Postfix canonical(5) semantics): for local@domain the keys are
 * local@domain, then (with an extension, local = user+ext) user@domain, then local and user
 * when domain is local (a `domains` entry or the hostname), then @domain; each key is
 * tried in every table before the next key. A value "@other" keeps the local part; a value
 * without '@' gets the first local domain; an extension that the key did not include is
 * put back into the result. The specific maps (sender_/recipient_canonical_maps) come
 * first, then canonical_maps; each is looked up again on its own result until nothing
 * changes (at most REWRITE_MAX_DEPTH times).
 * Masquerading: the first masquerade_domains entry that is the domain or a parent of it
 * decides: a parent strips the subdomains, the domain itself or a '!' entry leaves it.
 */
#include "rewrite.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "lookup.h"
#include "util.h"
#include "xalloc.h"

enum { MAP_COMMON, MAP_SENDER, MAP_RECIPIENT, MAP_KINDS };

enum {
	CLIENT_LOCAL = 1 << 0,
	CLIENT_AUTHENTICATED = 1 << 1,
	CLIENT_MYNETWORKS = 1 << 2,
	CLIENT_ALL = 1 << 3,
};

struct rewrite {
	struct lookup_table **maps[MAP_KINDS];
	size_t nmaps[MAP_KINDS];
	unsigned canonical_classes, masquerade_classes, header_clients;
	char **masq, **except, **domains;
	size_t nmasq, nexcept, ndomains;
	char *hostname, *delimiter, *qualify;
};

/* The bits of a list option made of the given words (the parser checked them). */
static unsigned rewrite_bits(const struct conf *c, const char *option, const char *const *names)
{
	char **words;
	size_t n = conf_words(conf_str(c, option), &words);
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++)
		for (unsigned k = 0; names[k] != NULL; k++)
			if (str_ieq(words[i], names[k]))
				bits |= 1u << k;
	conf_words_free(&words, n);
	return bits;
}

struct rewrite *rewrite_new(const struct conf *c)
{
	static const char *const classes[] = {"envelope_sender", "envelope_recipient",
					      "header_sender", "header_recipient", NULL};
	static const char *const clients[] = {"local", "authenticated", "mynetworks", "all", NULL};
	struct rewrite *r = X_NEW(struct rewrite);
	r->nmaps[MAP_COMMON] = lookup_open_option(c, "canonical_maps", "map", &r->maps[MAP_COMMON]);
	r->nmaps[MAP_SENDER] =
	    lookup_open_option(c, "sender_canonical_maps", "map", &r->maps[MAP_SENDER]);
	r->nmaps[MAP_RECIPIENT] =
	    lookup_open_option(c, "recipient_canonical_maps", "map", &r->maps[MAP_RECIPIENT]);
	r->canonical_classes = rewrite_bits(c, "canonical_classes", classes);
	r->masquerade_classes = rewrite_bits(c, "masquerade_classes", classes);
	r->header_clients = rewrite_bits(c, "header_rewrite_clients", clients);
	r->nmasq = conf_words(conf_str(c, "masquerade_domains"), &r->masq);
	r->nexcept = conf_words(conf_str(c, "masquerade_exceptions"), &r->except);
	r->ndomains = conf_words(conf_str(c, "domains"), &r->domains);
	r->hostname = x_strdup(conf_str(c, "hostname"));
	r->delimiter = x_strdup(conf_str(c, "recipient_delimiter"));
	r->qualify = x_strdup(r->ndomains > 0 ? r->domains[0] : r->hostname);
	return r;
}

void rewrite_free(struct rewrite **rp)
{
	struct rewrite *r = *rp;
	if (r == NULL)
		return;
	for (int k = 0; k < MAP_KINDS; k++) {
		for (size_t i = 0; i < r->nmaps[k]; i++)
			lookup_close(&r->maps[k][i]);
		free(r->maps[k]);
	}
	conf_words_free(&r->masq, r->nmasq);
	conf_words_free(&r->except, r->nexcept);
	conf_words_free(&r->domains, r->ndomains);
	free(r->hostname);
	free(r->delimiter);
	free(r->qualify);
	x_free(rp);
}

bool rewrite_enabled(const struct rewrite *r, unsigned classes)
{
	unsigned senders = REWRITE_ENVELOPE_SENDER | REWRITE_HEADER_SENDER;
	unsigned canon = classes & r->canonical_classes;
	if (canon != 0 && r->nmaps[MAP_COMMON] > 0)
		return true;
	if ((canon & senders) != 0 && r->nmaps[MAP_SENDER] > 0)
		return true;
	if ((canon & ~senders) != 0 && r->nmaps[MAP_RECIPIENT] > 0)
		return true;
	return (classes & r->masquerade_classes) != 0 && r->nmasq > 0;
}

bool rewrite_headers_for(const struct rewrite *r, const struct rewrite_client *client)
{
	unsigned who = r->header_clients;
	bool allowed = (who & CLIENT_ALL) || (client->local && (who & CLIENT_LOCAL)) ||
		       (client->authenticated && (who & CLIENT_AUTHENTICATED)) ||
		       (client->mynetworks && (who & CLIENT_MYNETWORKS));
	return allowed && rewrite_enabled(r, REWRITE_HEADER_CLASSES);
}

static bool rewrite_local_domain(const struct rewrite *r, const char *domain)
{
	if (str_ieq(domain, r->hostname))
		return true;
	for (size_t i = 0; i < r->ndomains; i++)
		if (str_ieq(domain, r->domains[i]))
			return true;
	return false;
}

/* Looks key up in the tables in order: 1 (*value_r malloc'd), 0, or -1 + err. */
static int rewrite_map_get(struct lookup_table **t, size_t n, const char *key, char **value_r,
			   struct buf *err)
{
	for (size_t i = 0; i < n; i++) {
		struct lookup_values v;
		int k = lookup_get(t[i], key, &v, err);
		if (k < 0)
			return -1;
		if (k == 0)
			continue;
		if (v.n != 1) {
			log_warn("%s: '%s' maps to %zu addresses, not one; entry not used",
				 lookup_path(t[i]), log_safe(key, strlen(key), 300), v.n);
			lookup_values_free(&v);
			continue;
		}
		*value_r = x_strdup(v.v[0]);
		lookup_values_free(&v);
		return 1;
	}
	return 0;
}

/* The address a table value stands for (see the file comment); ext: the extension to put
 * back, or NULL. */
static char *rewrite_result(const struct rewrite *r, const char *value, const char *local,
			    const char *ext)
{
	if (value[0] == '@')
		return x_asprintf("%s%s", local, value);
	const char *at = strrchr(value, '@');
	if (ext == NULL)
		return at ? x_strdup(value) : x_asprintf("%s@%s", value, r->qualify);
	if (at == NULL)
		return x_asprintf("%s%s@%s", value, ext, r->qualify);
	return x_asprintf("%.*s%s%s", (int)(at - value), value, ext, at);
}

struct rewrite_key {
	char *key;
	bool propagate; /* the key lacks the address's extension: put it back */
};

/* One round of lookups for address in one group of tables: 1 (*out_r), 0, -1. */
static int rewrite_lookup(const struct rewrite *r, struct lookup_table **t, size_t n,
			  const char *address, char **out_r, struct buf *err)
{
	const char *at = strrchr(address, '@');
	char *local = x_strndup(address, (size_t)(at - address));
	const char *domain = at + 1;
	const char *ext = NULL;
	char *base = NULL;
	if (r->delimiter[0] != '\0') {
		char *d = strstr(local, r->delimiter);
		if (d != NULL && d != local) {
			base = x_strndup(local, (size_t)(d - local));
			ext = address + (d - local);
		}
	}
	bool local_domain = rewrite_local_domain(r, domain);
	struct rewrite_key keys[5];
	size_t nk = 0;
	keys[nk++] = (struct rewrite_key){x_strdup(address), false};
	if (base != NULL)
		keys[nk++] = (struct rewrite_key){x_asprintf("%s@%s", base, domain), true};
	if (local_domain) {
		keys[nk++] = (struct rewrite_key){x_strdup(local), false};
		if (base != NULL)
			keys[nk++] = (struct rewrite_key){x_strdup(base), true};
	}
	keys[nk++] = (struct rewrite_key){x_asprintf("@%s", domain), base != NULL};
	int found = 0;
	char *value = NULL;
	for (size_t i = 0; i < nk && found == 0; i++) {
		found = rewrite_map_get(t, n, keys[i].key, &value, err);
		if (found > 0) {
			char *e = keys[i].propagate ? x_strndup(ext, (size_t)(at - ext)) : NULL;
			*out_r = rewrite_result(r, value, local, e);
			free(e);
		}
	}
	for (size_t i = 0; i < nk; i++)
		free(keys[i].key);
	free(value);
	free(local);
	free(base);
	return found;
}

/* A group of tables applied until the address stops changing; *cur may be replaced. */
static int rewrite_canonical(const struct rewrite *r, struct lookup_table **t, size_t n, char **cur,
			     struct buf *err)
{
	for (unsigned round = 0; n > 0; round++) {
		if (round == REWRITE_MAX_DEPTH) {
			log_warn("canonical maps: <%s>: still changing after %d lookups; stopped",
				 log_safe(*cur, strlen(*cur), 300), REWRITE_MAX_DEPTH);
			break;
		}
		char *next = NULL;
		int k = rewrite_lookup(r, t, n, *cur, &next, err);
		if (k < 0)
			return -1;
		if (k == 0 || str_ieq(next, *cur) || strrchr(next, '@') == next ||
		    strrchr(next, '@') == NULL) {
			free(next);
			break;
		}
		free(*cur);
		*cur = next;
	}
	return 0;
}

/* The masqueraded address, or NULL when it stays. */
static char *rewrite_masquerade(const struct rewrite *r, const char *address)
{
	const char *at = strrchr(address, '@');
	const char *domain = at + 1;
	size_t dl = strlen(domain), ll = (size_t)(at - address);
	size_t dlm = r->delimiter[0] ? strlen(r->delimiter) : 0;
	for (size_t i = 0; i < r->nexcept; i++) {
		const char *e = r->except[i];
		size_t el = strlen(e);
		/* "root" also covers root+tag */
		if (el <= ll && strncasecmp(address, e, el) == 0 &&
		    (el == ll || (dlm > 0 && strncmp(address + el, r->delimiter, dlm) == 0)))
			return NULL;
	}
	for (size_t i = 0; i < r->nmasq; i++) {
		const char *m = r->masq[i];
		bool excluded = m[0] == '!';
		m += excluded;
		size_t ml = strlen(m);
		if (ml == 0)
			continue;
		if (ml == dl && str_ieq(m, domain))
			return NULL;
		if (ml < dl && domain[dl - ml - 1] == '.' && str_ieq(domain + dl - ml, m))
			return excluded ? NULL
					: x_asprintf("%.*s@%s", (int)ll, address, domain + dl - ml);
	}
	return NULL;
}

int rewrite_address(struct rewrite *r, enum rewrite_class cls, const char *address, char **out_r,
		    struct buf *err)
{
	*out_r = NULL;
	const char *at = strrchr(address, '@');
	if (at == NULL || at == address || at[1] == '\0')
		return 0;
	char *cur = x_strdup(address);
	if (cls & r->canonical_classes) {
		int which = (cls & (REWRITE_ENVELOPE_SENDER | REWRITE_HEADER_SENDER))
				? MAP_SENDER
				: MAP_RECIPIENT;
		if (rewrite_canonical(r, r->maps[which], r->nmaps[which], &cur, err) < 0 ||
		    rewrite_canonical(r, r->maps[MAP_COMMON], r->nmaps[MAP_COMMON], &cur, err) <
			0) {
			free(cur);
			return -1;
		}
	}
	if (cls & r->masquerade_classes) {
		char *m = rewrite_masquerade(r, cur);
		if (m != NULL) {
			free(cur);
			cur = m;
		}
	}
	if (strcmp(cur, address) == 0) {
		free(cur);
		return 0;
	}
	*out_r = cur;
	return 1;
}

unsigned rewrite_field_class(const char *name, size_t len)
{
	/* Postfix's header classes; RFC 5322 3.6.2, 3.6.3, 3.6.6; RFC 8098 2.1. */
	static const struct {
		const char *name;
		unsigned cls;
	} fields[] = {
	    {"From", REWRITE_HEADER_SENDER},
	    {"Sender", REWRITE_HEADER_SENDER},
	    {"Reply-To", REWRITE_HEADER_SENDER},
	    {"Errors-To", REWRITE_HEADER_SENDER},
	    {"Return-Receipt-To", REWRITE_HEADER_SENDER},
	    {"Disposition-Notification-To", REWRITE_HEADER_SENDER},
	    {"Resent-From", REWRITE_HEADER_SENDER},
	    {"Resent-Sender", REWRITE_HEADER_SENDER},
	    {"Resent-Reply-To", REWRITE_HEADER_SENDER},
	    {"To", REWRITE_HEADER_RECIPIENT},
	    {"Cc", REWRITE_HEADER_RECIPIENT},
	    {"Bcc", REWRITE_HEADER_RECIPIENT},
	    {"Apparently-To", REWRITE_HEADER_RECIPIENT},
	    {"Resent-To", REWRITE_HEADER_RECIPIENT},
	    {"Resent-Cc", REWRITE_HEADER_RECIPIENT},
	    {"Resent-Bcc", REWRITE_HEADER_RECIPIENT},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strlen(fields[i].name) == len && strncasecmp(fields[i].name, name, len) == 0)
			return fields[i].cls;
	return 0;
}
