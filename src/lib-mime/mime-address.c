/* mime-address: tolerant parser of RFC 5322 3.4 address lists (see mime-address.h).
 *
 * Tolerant rules: a phrase followed by "," or the end is a local part without domain (host
 * ""); "addr@host (Name)" takes the comment as the name; an unterminated angle-addr, group
 * or quoted string ends at the end of input; a nested group's ":" is ignored; garbage after
 * an address is skipped up to the next ","; "<>" gives an empty mailbox and host; tokens
 * that fit nowhere are dropped. Phrase words are joined by one space (RFC 5322 3.2.5).
 */
#include "mime-address.h"

#include <stdbool.h>
#include <string.h>

#include "mime-lex.h"
#include "mime-rfc2047.h"
#include "xalloc.h"

enum atok { T_END, T_ATOM, T_QSTR, T_DLIT, T_SPECIAL };

struct alex {
	const char *p, *end;
	enum atok tok;
	char special;
	struct buf text;    /* atom, unquoted string, or domain literal with brackets */
	struct buf comment; /* comments seen since the last reset */
	unsigned int flags;
	/* scratch of read_address and read_angle_addr, kept for the whole list (one malloc
	   for all its addresses, not two per address) */
	struct buf phrase, angle_phrase;
};

static void advance(struct alex *lx)
{
	lx->p = mime_lex_skip_cfws(lx->p, lx->end, &lx->comment);
	buf_reset(&lx->text);
	if (lx->p >= lx->end) {
		lx->tok = T_END;
		return;
	}
	const char *p = lx->p;
	if (*p == '"') {
		lx->tok = T_QSTR;
		lx->p = mime_lex_qstring(p, lx->end, &lx->text);
	} else if (*p == '[') {
		lx->tok = T_DLIT;
		while (p < lx->end && *p != ']')
			p++;
		p = p < lx->end ? p + 1 : p;
		buf_append(&lx->text, lx->p, (size_t)(p - lx->p));
		lx->p = p;
	} else if (mime_lex_is_atext(*p)) {
		lx->tok = T_ATOM;
		while (p < lx->end && mime_lex_is_atext(*p))
			p++;
		buf_append(&lx->text, lx->p, (size_t)(p - lx->p));
		lx->p = p;
	} else {
		lx->tok = T_SPECIAL;
		lx->special = *p;
		lx->p = p + 1;
	}
}

static bool is_special(const struct alex *lx, char c)
{
	return lx->tok == T_SPECIAL && lx->special == c;
}

/* Appends the current word in local-part form: atoms as they are, strings re-quoted. */
static void append_local_word(const struct alex *lx, struct buf *local)
{
	if (lx->tok != T_QSTR) {
		buf_append(local, lx->text.data, lx->text.len);
		return;
	}
	buf_append_char(local, '"');
	for (size_t i = 0; i < lx->text.len; i++) {
		if (lx->text.data[i] == '"' || lx->text.data[i] == '\\')
			buf_append_char(local, '\\');
		buf_append_char(local, lx->text.data[i]);
	}
	buf_append_char(local, '"');
}

/* Reads words and dots: the phrase (display form) and the same as a local part. */
static void read_phrase(struct alex *lx, struct buf *phrase, struct buf *local)
{
	while (lx->tok == T_ATOM || lx->tok == T_QSTR || is_special(lx, '.')) {
		if (lx->tok == T_SPECIAL) {
			buf_append_char(phrase, '.');
			buf_append_char(local, '.');
		} else {
			if (phrase->len > 0)
				buf_append_char(phrase, ' ');
			buf_append(phrase, lx->text.data, lx->text.len);
			append_local_word(lx, local);
		}
		advance(lx);
	}
}

/* Reads a domain: atoms or domain literals separated by dots (RFC 5322 3.4.1, 4.4). */
static void read_domain(struct alex *lx, struct buf *domain)
{
	bool want_word = true;
	while (lx->tok == T_ATOM || lx->tok == T_DLIT || is_special(lx, '.')) {
		bool dot = lx->tok == T_SPECIAL;
		if (!dot && !want_word)
			break; /* two words in a row: the domain has ended */
		if (dot)
			buf_append_char(domain, '.');
		else
			buf_append(domain, lx->text.data, lx->text.len);
		want_word = dot;
		advance(lx);
	}
}

static char *make_name(const struct alex *lx, const struct buf *phrase)
{
	if (phrase->len == 0)
		return NULL;
	if ((lx->flags & MIME_ADDRESS_DECODE_2047) == 0)
		return x_strndup(phrase->data, phrase->len);
	struct buf b = BUF_INIT;
	mime_rfc2047_decode(phrase->data, phrase->len, &b);
	return buf_steal(&b);
}

static void add_owned(struct mime_address_list *list, char *name, char *route, char *mailbox,
		      char *host)
{
	list->v = x_reallocarray(list->v, list->count + 1, sizeof(*list->v));
	struct mime_address *a = &list->v[list->count++];
	a->name = name;
	a->route = route;
	a->mailbox = mailbox;
	a->host = host;
}

void mime_address_list_add(struct mime_address_list *list, const char *name, const char *route,
			   const char *mailbox, const char *host)
{
	add_owned(list, name ? x_strdup(name) : NULL, route ? x_strdup(route) : NULL,
		  mailbox ? x_strdup(mailbox) : NULL, host ? x_strdup(host) : NULL);
}

/* After '<': [route ":"] local-part ["@" domain] [">"]; adds the address. */
static void read_angle_addr(struct alex *lx, char *name, struct mime_address_list *list)
{
	struct buf route = BUF_INIT, local = BUF_INIT, domain = BUF_INIT;
	struct buf *ph = &lx->angle_phrase;
	buf_reset(ph);
	advance(lx);
	while (is_special(lx, '@') || (is_special(lx, ',') && route.len > 0)) {
		/* obs-route (RFC 5322 4.4): "@a,@b:" */
		if (lx->special == ',') {
			advance(lx);
			continue;
		}
		advance(lx);
		if (route.len > 0)
			buf_append_char(&route, ',');
		buf_append_char(&route, '@');
		read_domain(lx, &route);
	}
	if (route.len > 0 && is_special(lx, ':'))
		advance(lx);
	read_phrase(lx, ph, &local);
	if (is_special(lx, '@')) {
		advance(lx);
		read_domain(lx, &domain);
	}
	while (lx->tok != T_END && !is_special(lx, '>'))
		advance(lx); /* garbage inside the brackets */
	if (is_special(lx, '>'))
		advance(lx);
	add_owned(list, name, route.len > 0 ? buf_steal(&route) : NULL, buf_steal(&local),
		  buf_steal(&domain));
	buf_free(&route);
}

/* Parses one mailbox (or group when !in_group) starting at the current token. */
static void read_address(struct alex *lx, bool in_group, struct mime_address_list *list);

static void read_group(struct alex *lx, char *group_name, struct mime_address_list *list)
{
	add_owned(list, NULL, NULL, group_name, NULL);
	advance(lx); /* ':' */
	while (lx->tok != T_END && !is_special(lx, ';')) {
		if (is_special(lx, ',')) {
			advance(lx);
			continue;
		}
		read_address(lx, true, list);
	}
	if (is_special(lx, ';'))
		advance(lx);
	add_owned(list, NULL, NULL, NULL, NULL);
}

static void read_address(struct alex *lx, bool in_group, struct mime_address_list *list)
{
	struct buf local = BUF_INIT;
	struct buf *phrase = &lx->phrase;
	buf_reset(phrase);
	buf_reset(&lx->comment);
	read_phrase(lx, phrase, &local);
	if (is_special(lx, '<')) {
		read_angle_addr(lx, make_name(lx, phrase), list);
	} else if (is_special(lx, ':') && !in_group) {
		char *group = make_name(lx, phrase);
		read_group(lx, group != NULL ? group : x_strdup(""), list);
	} else if (is_special(lx, '@')) {
		struct buf domain = BUF_INIT;
		advance(lx);
		read_domain(lx, &domain);
		if (local.len > 0 || domain.len > 0)
			add_owned(list, make_name(lx, &lx->comment), NULL, buf_steal(&local),
				  buf_steal(&domain));
		buf_free(&domain);
	} else if (local.len > 0) {
		add_owned(list, make_name(lx, &lx->comment), NULL, buf_steal(&local), x_strdup(""));
	}
	/* skip what is left of this address */
	while (lx->tok != T_END && !is_special(lx, ',') && !(in_group && is_special(lx, ';')))
		advance(lx);
	buf_free(&local);
}

size_t mime_address_list_parse(const char *s, size_t len, unsigned int flags,
			       struct mime_address_list *list)
{
	struct alex lx = {s, s + len, T_END, 0, BUF_INIT, BUF_INIT, flags, BUF_INIT, BUF_INIT};
	size_t before = list->count;
	advance(&lx);
	while (lx.tok != T_END) {
		if (is_special(&lx, ',') || is_special(&lx, ';') || is_special(&lx, '>')) {
			advance(&lx);
			continue;
		}
		const char *at = lx.p;
		read_address(&lx, false, list);
		if (lx.p == at && lx.tok != T_END && !is_special(&lx, ','))
			advance(&lx); /* no progress: drop the token */
	}
	buf_free(&lx.text);
	buf_free(&lx.comment);
	buf_free(&lx.phrase);
	buf_free(&lx.angle_phrase);
	return list->count - before;
}

void mime_address_list_free(struct mime_address_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		x_free(&list->v[i].name);
		x_free(&list->v[i].route);
		x_free(&list->v[i].mailbox);
		x_free(&list->v[i].host);
	}
	x_free(&list->v);
	list->count = 0;
}

void mime_address_list_format(const struct mime_address_list *list, struct buf *out)
{
	bool first = true;
	for (size_t i = 0; i < list->count; i++) {
		const struct mime_address *a = &list->v[i];
		if (a->host == NULL && a->mailbox == NULL) {
			buf_append_char(out, ';');
			first = false;
			continue;
		}
		if (!first)
			buf_append_str(out, ", ");
		first = false;
		if (a->host == NULL) {
			buf_printf(out, "%s: ", a->mailbox);
			first = true;
			continue;
		}
		if (a->name != NULL)
			buf_printf(out, "\"%s\" ", a->name);
		buf_printf(out, "<%s%s%s@%s>", a->route ? a->route : "", a->route ? ":" : "",
			   a->mailbox, a->host);
	}
}
