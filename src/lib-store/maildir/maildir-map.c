/* maildir-map: an open-addressing hash from a message's base name (the file name before
 * ":") to its UID and current file, so catching up with a 100,000-file cur/ is one
 * readdir plus one lookup per name.
 */
#include "maildir-private.h"
#include "xalloc.h"

#include <string.h>

static uint64_t maildir_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static struct maildir_entry *maildir_map_slot(struct maildir_map *m, const char *base,
					      size_t len, bool for_insert)
{
	size_t mask = m->cap - 1;
	size_t i = (size_t)maildir_hash(base, len) & mask;
	struct maildir_entry *free_slot = NULL;
	for (;;) {
		struct maildir_entry *e = &m->slots[i];
		if (e->state == 0)
			return for_insert && free_slot != NULL ? free_slot
			       : for_insert		     ? e
							     : NULL;
		if (e->state == 2) {
			if (free_slot == NULL)
				free_slot = e;
		} else if (e->baselen == len && memcmp(e->fname, base, len) == 0) {
			return e;
		}
		i = (i + 1) & mask;
	}
}

static void maildir_map_grow(struct maildir_map *m)
{
	struct maildir_map old = *m;
	m->cap = old.cap ? old.cap * 2 : 1024;
	if (old.used * 4 < old.cap)
		m->cap = old.cap; /* mostly removed slots: same size, rehashed */
	m->slots = x_calloc(m->cap, sizeof(*m->slots));
	x_free(&m->by_uid); /* it points into the old slots */
	m->by_uid_sparse = false;
	m->used = 0;
	m->removed = 0;
	for (size_t i = 0; i < old.cap; i++) {
		struct maildir_entry *e = &old.slots[i];
		if (e->state != 1)
			continue;
		struct maildir_entry *n = maildir_map_slot(m, e->fname, e->baselen, true);
		*n = *e;
		m->used++;
	}
	x_free(&old.slots);
}

struct maildir_entry *maildir_map_find(struct maildir_map *m, const char *base, size_t len)
{
	if (m->cap == 0)
		return NULL;
	return maildir_map_slot(m, base, len, false);
}

struct maildir_entry *maildir_map_put(struct maildir_map *m, const char *fname, size_t baselen,
				      uint32_t uid, int dir)
{
	if ((m->used + m->removed + 1) * 2 > m->cap)
		maildir_map_grow(m);
	struct maildir_entry *e = maildir_map_slot(m, fname, baselen, true);
	if (e->state == 1) {
		x_free(&e->fname);
	} else {
		if (e->state == 2)
			m->removed--;
		m->used++;
	}
	e->fname = x_strdup(fname);
	e->baselen = (uint16_t)baselen;
	e->uid = uid;
	e->dir = (uint8_t)dir;
	e->state = 1;
	e->seen = false;
	if (m->by_uid != NULL) {
		if (uid <= m->by_uid_max)
			m->by_uid[uid] = e;
		else
			x_free(&m->by_uid); /* made again, larger, when next asked */
	}
	return e;
}

void maildir_map_rename(struct maildir_entry *e, const char *fname, int dir)
{
	x_free(&e->fname);
	e->fname = x_strdup(fname);
	e->dir = (uint8_t)dir;
}

void maildir_map_remove(struct maildir_map *m, struct maildir_entry *e)
{
	if (m->by_uid != NULL && e->uid <= m->by_uid_max && m->by_uid[e->uid] == e)
		m->by_uid[e->uid] = NULL;
	x_free(&e->fname);
	e->state = 2;
	m->used--;
	m->removed++;
}

struct maildir_entry *maildir_map_by_uid(struct maildir_map *m, uint32_t uid)
{
	if (m->by_uid == NULL) {
		if (m->by_uid_sparse)
			return NULL;
		uint32_t max = 0;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].state == 1 && m->slots[i].uid > max)
				max = m->slots[i].uid;
		if (m->used == 0)
			return NULL;
		if (max > 4 * m->used + 1024) {
			m->by_uid_sparse = true; /* not worth a table: the index is asked */
			return NULL;
		}
		m->by_uid = x_calloc((size_t)max + 1, sizeof(*m->by_uid));
		m->by_uid_max = max;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].state == 1)
				m->by_uid[m->slots[i].uid] = &m->slots[i];
	}
	struct maildir_entry *e = uid <= m->by_uid_max ? m->by_uid[uid] : NULL;
	return e != NULL && e->state == 1 && e->uid == uid ? e : NULL;
}

void maildir_map_free(struct maildir_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		x_free(&m->slots[i].fname);
	x_free(&m->by_uid);
	x_free(&m->slots);
	memset(m, 0, sizeof(*m));
}
