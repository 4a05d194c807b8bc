/* pop3d-limit: a small table of failed logins per client address, so that password
 * guessing from one address is locked out for a while (pop3_auth_max_failures within
 * pop3_auth_lockout). Fixed size: when full, the oldest entry makes room. The shared
 * limiter of lib-sasl may replace it.
 */
#include "pop3d-int.h"
#include "xalloc.h"

#include <string.h>
#include <time.h>

#define LIMIT_ENTRIES 1024

struct limit_entry {
	char ip[POP3D_IP_MAX];
	uint64_t count;
	time_t first;
};

struct pop3d_limit {
	struct limit_entry entries[LIMIT_ENTRIES];
};

struct pop3d_limit *pop3d_limit_new(void)
{
	return X_NEW(struct pop3d_limit);
}

void pop3d_limit_free(struct pop3d_limit **l)
{
	x_free(l);
}

static struct limit_entry *limit_find(struct pop3d_limit *l, const char *ip)
{
	for (size_t i = 0; i < LIMIT_ENTRIES; i++)
		if (l->entries[i].count > 0 && strcmp(l->entries[i].ip, ip) == 0)
			return &l->entries[i];
	return NULL;
}

bool pop3d_limit_locked(struct pop3d_limit *l, const char *ip, uint64_t max, uint64_t window_s)
{
	struct limit_entry *e = limit_find(l, ip);
	if (e == NULL || max == 0)
		return false;
	if ((uint64_t)(time(NULL) - e->first) > window_s) {
		memset(e, 0, sizeof(*e));
		return false;
	}
	return e->count >= max;
}

void pop3d_limit_fail(struct pop3d_limit *l, const char *ip)
{
	struct limit_entry *e = limit_find(l, ip);
	if (e == NULL) {
		e = &l->entries[0];
		for (size_t i = 0; i < LIMIT_ENTRIES && e->count > 0; i++)
			if (l->entries[i].count == 0 || l->entries[i].first < e->first)
				e = &l->entries[i];
		memset(e, 0, sizeof(*e));
		strncpy(e->ip, ip, sizeof(e->ip) - 1);
		e->first = time(NULL);
	}
	e->count++;
}

void pop3d_limit_clear(struct pop3d_limit *l, const char *ip)
{
	struct limit_entry *e = limit_find(l, ip);
	if (e != NULL)
		memset(e, 0, sizeof(*e));
}
