/* store-quota: a user's usage (messages and bytes over all folders) and the quota check
 * that local delivery makes before adding a message (issue 3, point 7).
 *
 * The usage is the sum of the folders' totals (store_folder_status: kept in each index by
 * triggers), each index first brought up to date (a stat or two per folder when nothing
 * changed), so mail moved in by other programs counts.
 */
#include "store-private.h"
#include "xalloc.h"

#include <inttypes.h>

int store_usage(struct store *s, uint64_t *bytes_r, uint64_t *messages_r, struct buf *err)
{
	*bytes_r = 0;
	*messages_r = 0;
	char **names;
	size_t n;
	if (store_list(s, &names, &n, err) < 0)
		return -1;
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct store_folder_status st;
		ret = store_folder_status(s, names[i], &st, err);
		*bytes_r += st.size;
		*messages_r += st.messages;
	}
	store_list_free(&names, n);
	return ret;
}

int store_quota_check(struct store *s, uint64_t quota_bytes, uint64_t quota_messages,
		      uint64_t adding_bytes, struct buf *err)
{
	if (quota_bytes == 0 && quota_messages == 0)
		return 0;
	uint64_t bytes, messages;
	if (store_usage(s, &bytes, &messages, err) < 0)
		return -1;
	if (quota_bytes != 0 && bytes + adding_bytes > quota_bytes) {
		store_err(err, "over quota: %" PRIu64 " + %" PRIu64 " bytes > %" PRIu64, bytes,
			  adding_bytes, quota_bytes);
		return 1;
	}
	if (quota_messages != 0 && messages + 1 > quota_messages) {
		store_err(err, "over quota: %" PRIu64 " messages, at most %" PRIu64, messages,
			  quota_messages);
		return 1;
	}
	return 0;
}
