/* queue-id: queue IDs, unique on one host and sortable by arrival time.
 *
 * An ID is 19 characters of base32hex ([0-9A-V], whose order is the order of the
 * numbers): 11 for the microseconds since the epoch, 3 for a per-process counter, 5 for
 * the process ID. Two IDs from one process differ by the counter; two processes differ by
 * pid. Files are also created with O_EXCL, so a clash would be an error, never a mix-up.
 */
#include "queue.h"

#include <assert.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define QUEUE_ID_LEN 19

static const char queue_b32[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";

static void queue_id_put(char *out, uint64_t v, int digits)
{
	for (int i = digits - 1; i >= 0; i--) {
		out[i] = queue_b32[v & 31];
		v >>= 5;
	}
}

void queue_id_new(char id[QUEUE_ID_MAX])
{
	static atomic_uint counter;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t usec = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	unsigned n = atomic_fetch_add(&counter, 1);
	queue_id_put(id, usec, 11);
	queue_id_put(id + 11, n, 3);
	queue_id_put(id + 14, (uint64_t)getpid(), 5);
	id[QUEUE_ID_LEN] = '\0';
}

bool queue_id_valid(const char *s)
{
	if (strlen(s) != QUEUE_ID_LEN)
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if (strchr(queue_b32, *p) == NULL)
			return false;
	return true;
}

time_t queue_id_time(const char *id)
{
	assert(queue_id_valid(id));
	uint64_t v = 0;
	for (int i = 0; i < 11; i++)
		v = (v << 5) | (uint64_t)(strchr(queue_b32, id[i]) - queue_b32);
	return (time_t)(v / 1000000u);
}
