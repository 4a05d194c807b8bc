/* mime-serial: the cached form of a part tree and of an envelope (see mime-serial.h).
 *
 * Format, version 1 (all integers unsigned LEB128 varints, at most 10 bytes):
 *   tree     = "TMS" %x01 part
 *   envelope = "TME" %x01 env
 *   part  = flags hdr_offset hdr_size body_size hdr_lines body_lines hdr_bare body_bare
 *           str(type) str(subtype) params str(id) str(description) str(encoding)
 *           str(disposition) params str(language) str(location) str(md5)
 *           has_env(0|1) [env] nchildren part*
 *   env   = str(date) str(subject) addrs(from) addrs(sender) addrs(reply-to) addrs(to)
 *           addrs(cc) addrs(bcc) str(in-reply-to) str(message-id)
 *   params = count (str(name) str(value))*;  addrs = count (str str str str)*
 *            (name, route, mailbox, host)
 *   str   = 0 (NULL) | len+1 bytes
 */
#include "mime-serial.h"

#include <string.h>

#include "xalloc.h"

static void put_varint(struct buf *out, uint64_t v)
{
	char tmp[10];
	size_t n = 0;
	do {
		tmp[n++] = (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
	buf_append(out, tmp, n);
}

static void put_str(struct buf *out, const char *s)
{
	if (s == NULL) {
		put_varint(out, 0);
		return;
	}
	size_t n = strlen(s);
	put_varint(out, (uint64_t)n + 1);
	buf_append(out, s, n);
}

static void put_params(struct buf *out, const struct mime_params *ps)
{
	put_varint(out, ps->count);
	for (size_t i = 0; i < ps->count; i++) {
		put_str(out, ps->v[i].name);
		put_str(out, ps->v[i].value);
	}
}

static void put_addrs(struct buf *out, const struct mime_address_list *l)
{
	put_varint(out, l->count);
	for (size_t i = 0; i < l->count; i++) {
		put_str(out, l->v[i].name);
		put_str(out, l->v[i].route);
		put_str(out, l->v[i].mailbox);
		put_str(out, l->v[i].host);
	}
}

static void put_env(struct buf *out, const struct mime_envelope *e)
{
	put_str(out, e->date);
	put_str(out, e->subject);
	put_addrs(out, &e->from);
	put_addrs(out, &e->sender);
	put_addrs(out, &e->reply_to);
	put_addrs(out, &e->to);
	put_addrs(out, &e->cc);
	put_addrs(out, &e->bcc);
	put_str(out, e->in_reply_to);
	put_str(out, e->message_id);
}

static void put_part(struct buf *out, const struct mime_part *p)
{
	put_varint(out, p->flags);
	put_varint(out, p->hdr_offset);
	put_varint(out, p->body_offset - p->hdr_offset);
	put_varint(out, p->end_offset - p->body_offset);
	put_varint(out, p->hdr_lines);
	put_varint(out, p->body_lines);
	put_varint(out, p->hdr_bare_lf);
	put_varint(out, p->body_bare_lf);
	put_str(out, p->type);
	put_str(out, p->subtype);
	put_params(out, &p->params);
	put_str(out, p->id);
	put_str(out, p->description);
	put_str(out, p->encoding);
	put_str(out, p->disposition);
	put_params(out, &p->disp_params);
	put_str(out, p->language);
	put_str(out, p->location);
	put_str(out, p->md5);
	put_varint(out, p->envelope != NULL);
	if (p->envelope != NULL)
		put_env(out, p->envelope);
	size_t n = 0;
	for (const struct mime_part *c = p->children; c != NULL; c = c->next)
		n++;
	put_varint(out, n);
	for (const struct mime_part *c = p->children; c != NULL; c = c->next)
		put_part(out, c);
}

void mime_serialize(const struct mime_part *root, struct buf *out)
{
	buf_append(out, "TMS", 3);
	buf_append_char(out, MIME_SERIAL_VERSION);
	put_part(out, root);
}

void mime_envelope_serialize(const struct mime_envelope *env, struct buf *out)
{
	buf_append(out, "TME", 3);
	buf_append_char(out, MIME_SERIAL_VERSION);
	put_env(out, env);
}

/* Decoding: a cursor that fails once and stays failed. */
struct rd {
	const unsigned char *p, *end;
	const char *error;
};

static uint64_t get_varint(struct rd *r)
{
	uint64_t v = 0;
	for (unsigned int shift = 0; shift < 70; shift += 7) {
		if (r->p >= r->end) {
			r->error = "short data";
			return 0;
		}
		unsigned char c = *r->p++;
		if (shift == 63 && c > 1) {
			r->error = "varint overflow";
			return 0;
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0)
			return v;
	}
	r->error = "varint too long";
	return 0;
}

static char *get_str(struct rd *r)
{
	uint64_t n = get_varint(r);
	if (r->error != NULL || n == 0)
		return NULL;
	n--;
	if (n > (uint64_t)(r->end - r->p)) {
		r->error = "short data";
		return NULL;
	}
	char *s = x_strndup((const char *)r->p, (size_t)n);
	if (strlen(s) != n)
		r->error = "NUL in string";
	r->p += n;
	return s;
}

/* A count of items each at least min_size bytes long: checked against what is left. */
static size_t get_count(struct rd *r, size_t min_size)
{
	uint64_t n = get_varint(r);
	if (r->error == NULL && n > (uint64_t)(r->end - r->p) / min_size) {
		r->error = "bad count";
		return 0;
	}
	return (size_t)n;
}

static void get_params(struct rd *r, struct mime_params *ps)
{
	size_t n = get_count(r, 2);
	for (size_t i = 0; i < n && r->error == NULL; i++) {
		char *name = get_str(r), *value = get_str(r);
		if (r->error == NULL && (name == NULL || value == NULL))
			r->error = "NULL parameter";
		if (r->error == NULL) {
			ps->v = x_reallocarray(ps->v, ps->count + 1, sizeof(*ps->v));
			ps->v[ps->count].name = name;
			ps->v[ps->count++].value = value;
		} else {
			x_free(&name);
			x_free(&value);
		}
	}
}

static void get_addrs(struct rd *r, struct mime_address_list *l)
{
	size_t n = get_count(r, 4);
	l->v = n > 0 ? x_calloc(n, sizeof(*l->v)) : NULL;
	for (size_t i = 0; i < n && r->error == NULL; i++) {
		struct mime_address *a = &l->v[l->count++];
		a->name = get_str(r);
		a->route = get_str(r);
		a->mailbox = get_str(r);
		a->host = get_str(r);
	}
}

static struct mime_envelope *get_env(struct rd *r)
{
	struct mime_envelope *e = X_NEW(struct mime_envelope);
	e->date = get_str(r);
	e->subject = get_str(r);
	get_addrs(r, &e->from);
	get_addrs(r, &e->sender);
	get_addrs(r, &e->reply_to);
	get_addrs(r, &e->to);
	get_addrs(r, &e->cc);
	get_addrs(r, &e->bcc);
	e->in_reply_to = get_str(r);
	e->message_id = get_str(r);
	return e;
}

/* Offsets and sizes of a part: they must not wrap around. */
static void get_offsets(struct rd *r, struct mime_part *p)
{
	uint64_t hdr_size, body_size;
	p->flags = (unsigned int)get_varint(r);
	p->hdr_offset = get_varint(r);
	hdr_size = get_varint(r);
	body_size = get_varint(r);
	p->hdr_lines = get_varint(r);
	p->body_lines = get_varint(r);
	p->hdr_bare_lf = get_varint(r);
	p->body_bare_lf = get_varint(r);
	if (r->error != NULL)
		return;
	if (hdr_size > UINT64_MAX - p->hdr_offset ||
	    body_size > UINT64_MAX - p->hdr_offset - hdr_size) {
		r->error = "bad offsets";
		return;
	}
	p->body_offset = p->hdr_offset + hdr_size;
	p->end_offset = p->body_offset + body_size;
}

static struct mime_part *get_part(struct rd *r, struct mime_part *parent, unsigned int depth)
{
	struct mime_part *p = mime_part_new(parent);
	if (depth > MIME_SERIAL_MAX_DEPTH) {
		r->error = "nesting too deep";
		return p;
	}
	get_offsets(r, p);
	p->type = get_str(r);
	p->subtype = get_str(r);
	if (r->error == NULL && (p->type == NULL || p->subtype == NULL))
		r->error = "missing type";
	get_params(r, &p->params);
	p->id = get_str(r);
	p->description = get_str(r);
	p->encoding = get_str(r);
	p->disposition = get_str(r);
	get_params(r, &p->disp_params);
	p->language = get_str(r);
	p->location = get_str(r);
	p->md5 = get_str(r);
	uint64_t has_env = get_varint(r);
	if (r->error == NULL && has_env > 1)
		r->error = "bad envelope marker";
	if (r->error == NULL && has_env == 1)
		p->envelope = get_env(r);
	size_t n = r->error == NULL ? get_count(r, 20) : 0;
	for (size_t i = 0; i < n && r->error == NULL; i++)
		get_part(r, p, depth + 1);
	return p;
}

static bool check_magic(struct rd *r, const char *magic)
{
	if (r->end - r->p < 4) {
		r->error = "short data";
		return false;
	}
	if (memcmp(r->p, magic, 3) != 0) {
		r->error = "bad magic";
		return false;
	}
	if (r->p[3] != MIME_SERIAL_VERSION) {
		r->error = "unsupported version";
		return false;
	}
	r->p += 4;
	return true;
}

int mime_deserialize(const void *data, size_t len, struct mime_part **root_r, const char **error_r)
{
	struct rd r = {data, (const unsigned char *)data + len, NULL};
	*root_r = NULL;
	if (!check_magic(&r, "TMS")) {
		*error_r = r.error;
		return -1;
	}
	struct mime_part *root = get_part(&r, NULL, 0);
	if (r.error == NULL && r.p != r.end)
		r.error = "trailing data";
	if (r.error != NULL) {
		mime_part_free(&root);
		*error_r = r.error;
		return -1;
	}
	*root_r = root;
	return 0;
}

int mime_envelope_deserialize(const void *data, size_t len, struct mime_envelope **env_r,
			      const char **error_r)
{
	struct rd r = {data, (const unsigned char *)data + len, NULL};
	*env_r = NULL;
	if (!check_magic(&r, "TME")) {
		*error_r = r.error;
		return -1;
	}
	struct mime_envelope *e = get_env(&r);
	if (r.error == NULL && r.p != r.end)
		r.error = "trailing data";
	if (r.error != NULL) {
		mime_envelope_free(&e);
		*error_r = r.error;
		return -1;
	}
	*env_r = e;
	return 0;
}
