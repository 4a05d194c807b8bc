/* imapd-search-eval: evaluates a lib-imap search program against one message of the
 * snapshot (RFC 9051 6.4.4; RFC 7162 3.1.5 MODSEQ; RFC 5032 OLDER/YOUNGER). Flags, dates,
 * sizes and sets come from the snapshot; header keys read the message's header once
 * (decoded RFC 2047, case-insensitive substring): the fields most searched (Subject, From,
 * To, Cc, Bcc, Date, References) are kept decoded in the index (STORE_CACHE_FIELDS, every
 * occurrence), so SUBJECT/FROM/... read no file once they are; BODY and TEXT stream through the
 * message in chunks, never holding it whole, then through the base64 and quoted-printable
 * parts decoded (lib-mime's decoders). Dates are taken in UTC.
 */
#include "imapd-int.h"
#include "imap-search.h"
#include "mime-address.h"
#include "mime-date.h"
#include "mime-header.h"
#include "mime-part.h"
#include "mime-rfc2047.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define HEADER_SCAN_MAX (1024 * 1024)

void imapd_search_cache_free(struct imapd_search_cache *c)
{
	for (size_t i = 0; i < c->n; i++) {
		x_free(&c->names[i]);
		x_free(&c->values[i]);
	}
	x_free(&c->names);
	x_free(&c->values);
	memset(c, 0, sizeof(*c));
}

/* The fields kept in STORE_CACHE_FIELDS: "Name\0decoded value\0" for each occurrence. */
static const struct {
	const char *name;
	size_t len;
} cached_fields[] = {{"Subject", 7}, {"From", 4}, {"To", 2},	       {"Cc", 2},
		     {"Bcc", 3},     {"Date", 4}, {"References", 10}};

static bool field_cached(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(cached_fields) / sizeof(cached_fields[0]); i++)
		if (cached_fields[i].len == len && strncasecmp(cached_fields[i].name, name, len) == 0)
			return true;
	return false;
}

void imapd_search_fields_add(struct buf *fields, const struct mime_header_field *f)
{
	if (f->invalid || !field_cached(f->name, f->name_len))
		return;
	buf_append(fields, f->name, f->name_len);
	buf_append_char(fields, '\0');
	/* the value decoded in place, up to its first NUL (a C string, as read back) */
	size_t at = fields->len;
	mime_rfc2047_decode(f->value, strlen(f->value), fields);
	const char *nul = memchr(fields->data + at, '\0', fields->len - at);
	if (nul != NULL)
		buf_truncate(fields, (size_t)(nul - fields->data));
	buf_append_char(fields, '\0');
}

bool imapd_search_fields_complete(uint64_t header_size)
{
	return header_size < HEADER_SCAN_MAX - IMAPD_CHUNK;
}

static void cache_add(struct imapd_search_cache *c, char *name, char *value)
{
	c->names = x_reallocarray(c->names, c->n + 1, sizeof(char *));
	c->values = x_reallocarray(c->values, c->n + 1, sizeof(char *));
	c->names[c->n] = name;
	c->values[c->n++] = value;
}

/* The cached fields of message uid into c; false when there are none. */
static bool cache_load_fields(struct imapd_session *s, uint32_t uid, struct imapd_search_cache *c)
{
	struct buf b = BUF_INIT;
	bool found = store_msg_cache_get(s->folder, uid, STORE_CACHE_FIELDS, &b, NULL) == 1;
	for (size_t pos = 0; found && pos < b.len;) {
		const char *name = b.data + pos, *nul = memchr(name, '\0', b.len - pos);
		const char *value = nul != NULL ? nul + 1 : NULL;
		const char *end = value != NULL ? memchr(value, '\0', b.len - (size_t)(value - b.data))
					: NULL;
		if (end == NULL) { /* damaged: read the file */
			imapd_search_cache_free(c);
			found = false;
			break;
		}
		cache_add(c, x_strdup(name), x_strdup(value));
		pos = (size_t)(end + 1 - b.data);
	}
	buf_free(&b);
	return found;
}

/* Reads the header fields of message uid into c (the file), caching the searched ones. */
static void cache_load(struct imapd_session *s, uint32_t uid, struct imapd_search_cache *c)
{
	imapd_search_cache_free(c);
	c->uid = uid;
	c->loaded = true;
	struct buf fields = BUF_INIT;
	struct store_msg_stream st;
	struct buf err = BUF_INIT;
	if (store_msg_open(s->folder, uid, &st, &err) < 0) {
		buf_free(&err);
		return;
	}
	buf_free(&err);
	struct mime_header_parser hp;
	mime_header_parser_init(&hp, 0);
	char chunk[IMAPD_CHUNK];
	uint64_t done = 0;
	int r = MIME_HEADER_MORE;
	while (r != MIME_HEADER_END && done < HEADER_SCAN_MAX) {
		size_t want =
		    st.length - done < sizeof(chunk) ? (size_t)(st.length - done) : sizeof(chunk);
		ssize_t got = want > 0 ? pread(st.fd, chunk, want, st.offset + (off_t)done) : 0;
		size_t pos = 0, used;
		struct mime_header_field f;
		do {
			r = got > 0 ? mime_header_parser_feed(&hp, chunk + pos, (size_t)got - pos,
							      &used, &f)
				    : mime_header_parser_finish(&hp, &f);
			pos += got > 0 ? used : 0;
			if (r == MIME_HEADER_FIELD && !f.invalid) {
				cache_add(c, x_strndup(f.name, f.name_len),
					  mime_rfc2047_decode_str(f.value));
				imapd_search_fields_add(&fields, &f);
			}
		} while (r == MIME_HEADER_FIELD);
		if (got <= 0)
			break;
		done += (uint64_t)got;
	}
	if (r == MIME_HEADER_END && imapd_search_fields_complete(mime_header_parser_offset(&hp)))
		store_msg_cache_put(s->folder, uid, STORE_CACHE_FIELDS, fields.data, fields.len, NULL);
	buf_free(&fields);
	mime_header_parser_deinit(&hp);
	close(st.fd);
}

/* Makes c hold the fields of message uid that field name needs: the cached ones when name
 * is among them and they are there, else the whole header from the file. */
static void cache_need(struct imapd_session *s, uint32_t uid, const char *name,
		       struct imapd_search_cache *c)
{
	bool cached = field_cached(name, strlen(name));
	if (c->loaded && c->uid == uid && (!c->partial || cached))
		return;
	if (cached && (!c->loaded || c->uid != uid)) {
		imapd_search_cache_free(c);
		c->uid = uid;
		if (cache_load_fields(s, uid, c)) {
			c->loaded = c->partial = true;
			return;
		}
	}
	cache_load(s, uid, c);
}

const char *imapd_msg_header(struct imapd_session *s, struct imapd_search_cache *c, uint32_t uid,
			     const char *name)
{
	cache_need(s, uid, name, c);
	for (size_t i = 0; i < c->n; i++)
		if (str_ieq(c->names[i], name))
			return c->values[i];
	return NULL;
}

static bool contains_ci(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen == 0)
		return true;
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (strncasecmp(hay + i, needle, nlen) == 0)
			return true;
	return false;
}

/* Address fields also match on their parsed addresses, so that comments and white space
 * inside an address ("<a (x)@ b.org>") do not hide "a@b.org". */
static bool match_addresses(const char *field, const char *value, size_t vlen)
{
	struct mime_address_list l = {NULL, 0};
	mime_address_list_parse(field, strlen(field), 0, &l);
	bool found = false;
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < l.count && !found; i++) {
		const struct mime_address *a = &l.v[i];
		if (a->mailbox == NULL || a->host == NULL)
			continue;
		buf_reset(&b);
		buf_printf(&b, "%s%s<%s@%s>", a->name ? a->name : "", a->name ? " " : "",
			   a->mailbox, a->host);
		found = contains_ci(b.data, b.len, value, vlen);
	}
	buf_free(&b);
	mime_address_list_free(&l);
	return found;
}

static bool match_header(struct imapd_search_cache *c, const char *name, const char *value,
			 size_t vlen)
{
	bool addr = str_ieq(name, "From") || str_ieq(name, "To") || str_ieq(name, "Cc") ||
		    str_ieq(name, "Bcc");
	for (size_t i = 0; i < c->n; i++)
		if (str_ieq(c->names[i], name) &&
		    (contains_ci(c->values[i], strlen(c->values[i]), value, vlen) ||
		     (addr && match_addresses(c->values[i], value, vlen))))
			return true;
	return false;
}

static bool match_sent(struct imapd_search_cache *c, enum imap_search_op op, int64_t days)
{
	for (size_t i = 0; i < c->n; i++) {
		time_t t;
		int tz;
		const char *error;
		if (!str_ieq(c->names[i], "Date") ||
		    mime_date_parse(c->values[i], strlen(c->values[i]), &t, &tz, &error) < 0)
			continue;
		/* RFC 9051 6.4.4: the date of the Date: field, disregarding time and zone */
		int64_t local = ((int64_t)t + tz * 60);
		int64_t d = local >= 0 ? local / 86400 : (local - 86399) / 86400;
		return op == IMAP_SEARCH_SENTBEFORE ? d < days
		       : op == IMAP_SEARCH_SENTON   ? d == days
						    : d >= days;
	}
	return false;
}

/* Does the decoded body of part p (base64 or quoted-printable) contain k's value? */
static bool match_part_decoded(int fd, off_t base, const struct mime_part *p,
			       const struct imap_search_key *k)
{
	enum mime_cte cte = mime_cte_parse(p->encoding);
	if (cte != MIME_CTE_BASE64 && cte != MIME_CTE_QP)
		return false;
	struct mime_decoder dec;
	mime_decoder_init(&dec, cte);
	struct buf win = BUF_INIT;
	char chunk[IMAPD_CHUNK];
	uint64_t pos = p->body_offset;
	bool found = false;
	size_t keep = k->value_len > 0 ? k->value_len - 1 : 0;
	while (!found && pos < p->end_offset) {
		size_t want = p->end_offset - pos < sizeof(chunk) ? (size_t)(p->end_offset - pos)
								  : sizeof(chunk);
		ssize_t got = pread(fd, chunk, want, base + (off_t)pos);
		if (got <= 0)
			break;
		pos += (uint64_t)got;
		mime_decoder_feed(&dec, chunk, (size_t)got, &win);
		if (pos >= p->end_offset)
			mime_decoder_finish(&dec, &win);
		found = contains_ci(win.data, win.len, k->value, k->value_len);
		if (win.len > keep) { /* keep a tail for a match across chunks */
			memmove(win.data, win.data + win.len - keep, keep);
			buf_truncate(&win, keep);
		}
	}
	buf_free(&win);
	return found;
}

/* The encoded leaf parts of message uid, searched decoded. */
static bool match_decoded(struct imapd_session *s, uint32_t uid, const struct store_msg_stream *st,
			  const struct imap_search_key *k)
{
	struct buf err = BUF_INIT;
	struct mime_part *tree = imapd_msg_parts(s, uid, &err);
	buf_free(&err);
	bool found = false;
	for (struct mime_part *p = tree; p != NULL && !found;) {
		if (p->children != NULL) {
			p = p->children;
			continue;
		}
		found = match_part_decoded(st->fd, st->offset, p, k);
		while (p != NULL && p->next == NULL)
			p = p->parent;
		if (p != NULL)
			p = p->next;
	}
	if (tree != NULL)
		mime_part_free(&tree);
	return found;
}

/* BODY / TEXT: a case-insensitive substring of the message (TEXT) or its body (BODY). */
static bool match_text(struct imapd_session *s, uint32_t uid, const struct imap_search_key *k)
{
	struct store_msg_stream st;
	struct buf err = BUF_INIT;
	if (store_msg_open(s->folder, uid, &st, &err) < 0) {
		buf_free(&err);
		return false;
	}
	buf_free(&err);
	size_t keep = k->value_len > 0 ? k->value_len - 1 : 0;
	char *win = x_malloc(IMAPD_CHUNK + keep + 1);
	size_t have = 0;
	uint64_t done = 0;
	bool in_body = k->op == IMAP_SEARCH_TEXT, found = k->value_len == 0;
	while (!found && done < st.length) {
		size_t want =
		    st.length - done < IMAPD_CHUNK ? (size_t)(st.length - done) : IMAPD_CHUNK;
		ssize_t got = pread(st.fd, win + have, want, st.offset + (off_t)done);
		if (got <= 0)
			break;
		done += (uint64_t)got;
		have += (size_t)got;
		size_t start = 0;
		if (!in_body) {
			win[have] = '\0';
			char *e = strstr(win, "\n\r\n");
			char *e2 = strstr(win, "\n\n");
			if (e2 != NULL && (e == NULL || e2 < e))
				e = e2;
			if (e == NULL) {
				size_t k2 = have > 2 ? 2 : have;
				memmove(win, win + have - k2, k2);
				have = k2;
				continue;
			}
			in_body = true;
			start = (size_t)(e - win) + 1;
		}
		found = contains_ci(win + start, have - start, k->value, k->value_len);
		size_t k2 = have - start > keep ? keep : have - start;
		memmove(win, win + have - k2, k2);
		have = k2;
	}
	x_free(&win);
	if (!found)
		found = match_decoded(s, uid, &st, k);
	close(st.fd);
	return found;
}

static bool match_keyword(struct imapd_session *s, const struct store_msg *m, const char *name)
{
	if (str_ieq(name, "$Forwarded"))
		return (m->flags & STORE_FLAG_PASSED) != 0;
	struct buf err = BUF_INIT;
	int k = store_keyword_lookup(s->folder, name, false, &err);
	buf_free(&err);
	return k >= 0 && (m->keywords & (1u << k)) != 0;
}

static bool match_flag(const struct imapd_session *s, const struct store_msg *m, unsigned flag)
{
	if (flag == IMAP_FLAG_RECENT)
		return imapd_recent_has(s, m->uid);
	static const struct {
		unsigned imap;
		uint32_t store;
	} map[] = {
	    {IMAP_FLAG_SEEN, STORE_FLAG_SEEN},	     {IMAP_FLAG_ANSWERED, STORE_FLAG_ANSWERED},
	    {IMAP_FLAG_FLAGGED, STORE_FLAG_FLAGGED}, {IMAP_FLAG_DELETED, STORE_FLAG_DELETED},
	    {IMAP_FLAG_DRAFT, STORE_FLAG_DRAFT},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].imap == flag)
			return (m->flags & map[i].store) != 0;
	return false;
}

static int64_t day_of(int64_t t)
{
	return t >= 0 ? t / 86400 : (t - 86399) / 86400;
}

bool imapd_search_match(struct imapd_session *s, size_t idx, const struct imap_search_key *k,
			struct imapd_search_cache *c)
{
	const struct store_msg *m = store_folder_msg(s->folder, idx);
	if (k->op == IMAP_SEARCH_HEADER)
		cache_need(s, m->uid, k->name, c);
	else if (k->op == IMAP_SEARCH_SENTBEFORE || k->op == IMAP_SEARCH_SENTON ||
		 k->op == IMAP_SEARCH_SENTSINCE)
		cache_need(s, m->uid, "Date", c);
	uint64_t v;
	struct buf err = BUF_INIT;
	switch (k->op) {
	case IMAP_SEARCH_ALL:
		return true;
	case IMAP_SEARCH_AND:
		for (size_t i = 0; i < k->sub_count; i++)
			if (!imapd_search_match(s, idx, &k->sub[i], c))
				return false;
		return true;
	case IMAP_SEARCH_OR:
		return imapd_search_match(s, idx, &k->sub[0], c) ||
		       imapd_search_match(s, idx, &k->sub[1], c);
	case IMAP_SEARCH_NOT:
		return !imapd_search_match(s, idx, &k->sub[0], c);
	case IMAP_SEARCH_FLAG:
		return match_flag(s, m, k->flag);
	case IMAP_SEARCH_KEYWORD:
		return match_keyword(s, m, k->name);
	case IMAP_SEARCH_SEQSET:
		return k->set.saved ? imap_seqset_contains(&s->saved, m->uid)
				    : imap_seqset_contains(&k->set, (uint32_t)idx + 1);
	case IMAP_SEARCH_UID:
		return imap_seqset_contains(k->set.saved ? &s->saved : &k->set, m->uid);
	case IMAP_SEARCH_BEFORE:
		return day_of(store_folder_msg_date(s->folder, idx)) < k->date;
	case IMAP_SEARCH_ON:
		return day_of(store_folder_msg_date(s->folder, idx)) == k->date;
	case IMAP_SEARCH_SINCE:
		return day_of(store_folder_msg_date(s->folder, idx)) >= k->date;
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE:
		return match_sent(c, k->op, k->date);
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
		if (store_msg_vsize(s->folder, m->uid, &v, &err) < 0)
			v = m->size;
		buf_free(&err);
		return k->op == IMAP_SEARCH_LARGER ? v > k->number : v < k->number;
	case IMAP_SEARCH_HEADER:
		return match_header(c, k->name, k->value, k->value_len);
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		return match_text(s, m->uid, k);
	case IMAP_SEARCH_MODSEQ:
		return m->modseq >= k->number;
	case IMAP_SEARCH_OLDER:
		return (int64_t)time(NULL) - store_folder_msg_date(s->folder, idx) >= (int64_t)k->number;
	case IMAP_SEARCH_YOUNGER:
		return (int64_t)time(NULL) - store_folder_msg_date(s->folder, idx) <= (int64_t)k->number;
	}
	return false;
}
