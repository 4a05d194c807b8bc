/* sasl-limiter: failed-login counting per client address and per user.
 *
 * A fixed pool of entries, found through a chained hash and recycled in least-recently-used
 * order, so memory is bounded whatever an attacker sends. Keys are "a:" + address and
 * "u:" + user in one table. The per-user lock stops guessing spread over many addresses;
 * its price is that anyone can lock a user out for lockout_ms, which is why it has its own
 * threshold (user_max_failures, 0 turns it off).
 */
#include "sasl-limiter.h"
#include "xalloc.h"

#include <string.h>

#define LIMITER_KEY_MAX 130 /* "a:" or "u:" + 127 bytes (longer names are cut) */
#define LIMITER_NONE ((size_t)-1)

struct limiter_entry {
	char key[LIMITER_KEY_MAX + 1];
	bool used;
	unsigned int failures;
	uint64_t window_start;
	uint64_t locked_until;
	size_t hash_next;	   /* chain in a bucket */
	size_t lru_prev, lru_next; /* most recent at lru_head */
};

struct sasl_limiter {
	struct sasl_limiter_settings set;
	struct limiter_entry *entries;
	size_t *buckets;
	size_t bucket_count; /* a power of two */
	size_t used;
	size_t free_head; /* free entries, chained through hash_next */
	size_t lru_head, lru_tail;
};

void sasl_limiter_settings_default(struct sasl_limiter_settings *set_r)
{
	set_r->delay_min_ms = 2000;
	set_r->delay_max_ms = 15000;
	set_r->max_failures = 10;
	set_r->user_max_failures = 10;
	set_r->window_ms = 15 * 60 * 1000;
	set_r->lockout_ms = 15 * 60 * 1000;
	set_r->capacity = 8192;
}

struct sasl_limiter *sasl_limiter_new(const struct sasl_limiter_settings *set)
{
	struct sasl_limiter *l = X_NEW(struct sasl_limiter);
	l->set = *set;
	if (l->set.capacity == 0)
		l->set.capacity = 1;
	l->entries = x_calloc(l->set.capacity, sizeof(*l->entries));
	l->bucket_count = 16;
	while (l->bucket_count < l->set.capacity * 2)
		l->bucket_count *= 2;
	l->buckets = x_calloc(l->bucket_count, sizeof(*l->buckets));
	for (size_t i = 0; i < l->bucket_count; i++)
		l->buckets[i] = LIMITER_NONE;
	for (size_t i = 0; i < l->set.capacity; i++)
		l->entries[i].hash_next = i + 1 < l->set.capacity ? i + 1 : LIMITER_NONE;
	l->free_head = 0;
	l->lru_head = l->lru_tail = LIMITER_NONE;
	return l;
}

void sasl_limiter_free(struct sasl_limiter **lp)
{
	struct sasl_limiter *l = *lp;
	if (l == NULL)
		return;
	x_free(&l->entries);
	x_free(&l->buckets);
	x_free(lp);
}

size_t sasl_limiter_count(const struct sasl_limiter *l)
{
	return l->used;
}

/* FNV-1a over the key. */
static size_t limiter_hash(const char *key)
{
	uint64_t h = 14695981039346656037ULL;
	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)h;
}

static void limiter_key(char out[LIMITER_KEY_MAX + 1], char kind, const char *name)
{
	out[0] = kind;
	out[1] = ':';
	size_t n = strnlen(name, LIMITER_KEY_MAX - 2);
	memcpy(out + 2, name, n);
	out[2 + n] = '\0';
}

static void lru_unlink(struct sasl_limiter *l, size_t i)
{
	struct limiter_entry *e = &l->entries[i];
	if (e->lru_prev != LIMITER_NONE)
		l->entries[e->lru_prev].lru_next = e->lru_next;
	else
		l->lru_head = e->lru_next;
	if (e->lru_next != LIMITER_NONE)
		l->entries[e->lru_next].lru_prev = e->lru_prev;
	else
		l->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = LIMITER_NONE;
}

static void lru_push_front(struct sasl_limiter *l, size_t i)
{
	struct limiter_entry *e = &l->entries[i];
	e->lru_prev = LIMITER_NONE;
	e->lru_next = l->lru_head;
	if (l->lru_head != LIMITER_NONE)
		l->entries[l->lru_head].lru_prev = i;
	l->lru_head = i;
	if (l->lru_tail == LIMITER_NONE)
		l->lru_tail = i;
}

static size_t limiter_find(const struct sasl_limiter *l, const char *key)
{
	size_t i = l->buckets[limiter_hash(key) & (l->bucket_count - 1)];
	while (i != LIMITER_NONE && strcmp(l->entries[i].key, key) != 0)
		i = l->entries[i].hash_next;
	return i;
}

/* Takes entry i out of its hash chain and the LRU list, and marks it free. */
static void limiter_remove(struct sasl_limiter *l, size_t i)
{
	size_t *pp = &l->buckets[limiter_hash(l->entries[i].key) & (l->bucket_count - 1)];
	while (*pp != i)
		pp = &l->entries[*pp].hash_next;
	*pp = l->entries[i].hash_next;
	lru_unlink(l, i);
	memset(&l->entries[i], 0, sizeof(l->entries[i]));
	l->entries[i].hash_next = l->free_head;
	l->free_head = i;
	l->used--;
}

/* Finds or creates the entry for key (evicting the least recently used when full). */
static struct limiter_entry *limiter_get(struct sasl_limiter *l, const char *key)
{
	size_t i = limiter_find(l, key);
	if (i != LIMITER_NONE) {
		lru_unlink(l, i);
		lru_push_front(l, i);
		return &l->entries[i];
	}
	if (l->used == l->set.capacity)
		limiter_remove(l, l->lru_tail);
	i = l->free_head;
	struct limiter_entry *e = &l->entries[i];
	l->free_head = e->hash_next;
	memset(e, 0, sizeof(*e));
	strcpy(e->key, key);
	e->used = true;
	size_t b = limiter_hash(key) & (l->bucket_count - 1);
	e->hash_next = l->buckets[b];
	l->buckets[b] = i;
	lru_push_front(l, i);
	l->used++;
	return e;
}

/* Remaining lock time of key, 0 if none (does not create an entry). */
static uint64_t limiter_locked(const struct sasl_limiter *l, const char *key, uint64_t now)
{
	size_t i = limiter_find(l, key);
	if (i == LIMITER_NONE || l->entries[i].locked_until <= now)
		return 0;
	return l->entries[i].locked_until - now;
}

uint64_t sasl_limiter_check(struct sasl_limiter *l, const char *addr, const char *user,
			    uint64_t now_ms)
{
	char key[LIMITER_KEY_MAX + 1];
	uint64_t wait = 0;
	if (addr != NULL) {
		limiter_key(key, 'a', addr);
		wait = limiter_locked(l, key, now_ms);
	}
	if (user != NULL) {
		limiter_key(key, 'u', user);
		uint64_t w = limiter_locked(l, key, now_ms);
		wait = w > wait ? w : wait;
	}
	return wait;
}

/* Counts one failure on key; returns its failure count in the window. */
static unsigned int limiter_count(struct sasl_limiter *l, const char *key, uint64_t now,
				  unsigned int max, bool *locked_r)
{
	struct limiter_entry *e = limiter_get(l, key);
	if (e->failures == 0 || now - e->window_start >= l->set.window_ms) {
		e->failures = 0;
		e->window_start = now;
	}
	if (e->failures < 1000000)
		e->failures++;
	if (max != 0 && e->failures >= max && e->locked_until <= now) {
		e->locked_until = now + l->set.lockout_ms;
		e->failures = 0; /* a fresh count after the lock ends */
		*locked_r = true;
	}
	return e->failures == 0 ? max : e->failures;
}

uint64_t sasl_limiter_fail(struct sasl_limiter *l, const char *addr, const char *user,
			   uint64_t now_ms, bool *locked_r)
{
	char key[LIMITER_KEY_MAX + 1];
	bool locked = false;
	unsigned int n = 0;
	if (addr != NULL) {
		limiter_key(key, 'a', addr);
		n = limiter_count(l, key, now_ms, l->set.max_failures, &locked);
	}
	if (user != NULL) {
		limiter_key(key, 'u', user);
		unsigned int un = limiter_count(l, key, now_ms, l->set.user_max_failures, &locked);
		n = un > n ? un : n;
	}
	if (locked_r != NULL)
		*locked_r = locked;
	uint64_t delay = l->set.delay_min_ms;
	for (unsigned int i = 1; i < n && delay < l->set.delay_max_ms; i++)
		delay *= 2;
	return delay > l->set.delay_max_ms ? l->set.delay_max_ms : delay;
}

void sasl_limiter_success(struct sasl_limiter *l, const char *addr, const char *user)
{
	/* Only the user's count is forgotten: if a success cleared the address too, one
	 * known password would let an address interleave unlimited guesses at other users. */
	(void)addr;
	if (user == NULL)
		return;
	char key[LIMITER_KEY_MAX + 1];
	limiter_key(key, 'u', user);
	size_t i = limiter_find(l, key);
	if (i != LIMITER_NONE)
		limiter_remove(l, i);
}
