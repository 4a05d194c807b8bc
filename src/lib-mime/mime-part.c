/* mime-part: part tree allocation, IMAP section lookup and the test dump (see mime-part.h).
 *
 * Section numbers (RFC 3501 6.4.5): the children of a multipart are 1..n; a message that
 * is not multipart has one part, 1, which is the message itself; for a message/rfc822
 * part N, N.M numbers the parts of the enclosed message in the same way.
 */
#include "mime-part.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct mime_part *mime_part_new(struct mime_part *parent)
{
	struct mime_part *p = X_NEW(struct mime_part);
	p->parent = parent;
	if (parent != NULL) {
		if (parent->last_child != NULL)
			parent->last_child->next = p;
		else
			parent->children = p;
		parent->last_child = p;
	}
	return p;
}

void mime_envelope_free(struct mime_envelope **envp)
{
	struct mime_envelope *e = *envp;
	if (e == NULL)
		return;
	x_free(&e->date);
	x_free(&e->subject);
	mime_address_list_free(&e->from);
	mime_address_list_free(&e->sender);
	mime_address_list_free(&e->reply_to);
	mime_address_list_free(&e->to);
	mime_address_list_free(&e->cc);
	mime_address_list_free(&e->bcc);
	x_free(&e->in_reply_to);
	x_free(&e->message_id);
	x_free(envp);
}

void mime_part_free(struct mime_part **partp)
{
	struct mime_part *p = *partp;
	if (p == NULL)
		return;
	struct mime_part *c = p->children;
	while (c != NULL) {
		struct mime_part *next = c->next;
		mime_part_free(&c);
		c = next;
	}
	x_free(&p->type);
	x_free(&p->subtype);
	mime_params_free(&p->params);
	x_free(&p->id);
	x_free(&p->description);
	x_free(&p->encoding);
	x_free(&p->disposition);
	mime_params_free(&p->disp_params);
	x_free(&p->language);
	x_free(&p->location);
	x_free(&p->md5);
	mime_envelope_free(&p->envelope);
	x_free(partp);
}

static struct mime_part *nth_child(struct mime_part *p, unsigned long n)
{
	struct mime_part *c = p->children;
	while (c != NULL && --n > 0)
		c = c->next;
	return c;
}

/* Part n of a message whose root is m: a child of a multipart, or m itself for 1. */
static struct mime_part *message_part(struct mime_part *m, unsigned long n)
{
	if (mime_part_is_multipart(m))
		return nth_child(m, n);
	return n == 1 ? m : NULL;
}

struct mime_part *mime_part_find(struct mime_part *root, const char *section)
{
	struct mime_part *cur = root;
	bool first = true;
	while (*section != '\0') {
		char *end;
		if (*section < '1' || *section > '9')
			return NULL;
		unsigned long n = strtoul(section, &end, 10);
		if (first)
			cur = message_part(cur, n);
		else if (cur->flags & MIME_PART_F_MESSAGE)
			cur = message_part(cur->children, n);
		else if (mime_part_is_multipart(cur))
			cur = nth_child(cur, n);
		else
			cur = NULL;
		if (cur == NULL || (*end != '.' && *end != '\0') || (*end == '.' && end[1] == '\0'))
			return NULL;
		first = false;
		section = *end == '.' ? end + 1 : end;
	}
	return cur;
}

static void dump_params(const struct mime_params *ps, struct buf *out)
{
	for (size_t i = 0; i < ps->count; i++)
		buf_printf(out, " %s=%s", ps->v[i].name, ps->v[i].value);
}

static void dump_flags(unsigned int f, struct buf *out)
{
	static const char *const names[] = {"message", "no-ct",	    "bad-ct",	  "opaque",
					    "no-end",  "truncated", "no-hdr-end", "synthetic"};
	const char *sep = " [";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((f & (1u << i)) != 0 && i != 0) {
			buf_printf(out, "%s%s", sep, names[i]);
			sep = ",";
		}
	}
	if (*sep == ',')
		buf_append_char(out, ']');
}

static void dump_envelope(const char *name, const struct mime_envelope *e, struct buf *out)
{
	buf_printf(out, "%s env date=%s subject=%s from=", name, e->date ? e->date : "NIL",
		   e->subject ? e->subject : "NIL");
	mime_address_list_format(&e->from, out);
	buf_append_str(out, " to=");
	mime_address_list_format(&e->to, out);
	if (e->cc.count > 0) {
		buf_append_str(out, " cc=");
		mime_address_list_format(&e->cc, out);
	}
	if (e->message_id != NULL)
		buf_printf(out, " id=%s", e->message_id);
	buf_append_char(out, '\n');
}

static void dump_part(const struct mime_part *p, const char *name, const char *prefix,
		      struct buf *out)
{
	buf_printf(out, "%s %s/%s", name, p->type, p->subtype);
	dump_params(&p->params, out);
	buf_printf(out, " %s %llu bytes %llu lines", p->encoding ? p->encoding : "7bit",
		   (unsigned long long)mime_part_body_size(p), (unsigned long long)p->body_lines);
	if (p->disposition != NULL) {
		buf_printf(out, " disp=%s", p->disposition);
		dump_params(&p->disp_params, out);
	}
	struct mime_params dec = {NULL, 0};
	mime_params_decode(&p->disp_params, &dec);
	mime_params_decode(&p->params, &dec);
	const char *fn = mime_params_get(&dec, "filename");
	if (fn == NULL)
		fn = mime_params_get(&dec, "name");
	if (fn != NULL)
		buf_printf(out, " file=\"%s\"", fn);
	mime_params_free(&dec);
	if (p->id != NULL)
		buf_printf(out, " id=%s", p->id);
	if (p->language != NULL)
		buf_printf(out, " lang=%s", p->language);
	buf_printf(out, " h=%llu b=%llu e=%llu", (unsigned long long)p->hdr_offset,
		   (unsigned long long)p->body_offset, (unsigned long long)p->end_offset);
	dump_flags(p->flags, out);
	buf_append_char(out, '\n');
	if (p->envelope != NULL)
		dump_envelope(name, p->envelope, out);
	unsigned int i = 1;
	for (const struct mime_part *c = p->children; c != NULL; c = c->next, i++) {
		char cname[256];
		if (p->flags & MIME_PART_F_MESSAGE) {
			snprintf(cname, sizeof(cname), "%s.0", name);
			dump_part(c, cname, name, out);
		} else {
			snprintf(cname, sizeof(cname), "%s%s%u", prefix, *prefix ? "." : "", i);
			dump_part(c, cname, cname, out);
		}
	}
}

void mime_part_dump(const struct mime_part *root, struct buf *out)
{
	dump_part(root, "0", "", out);
}
