/* store-private: the backend vtables behind store.h, and the parts every backend shares.
 *
 * A backend fills struct store_vfuncs and struct store_folder_vfuncs; store.c checks
 * arguments and dispatches. The snapshot (msgs, uidvalidity, ...) lives in struct
 * store_folder so the accessors in store.h are the same for every backend.
 */
#ifndef TERN_STORE_PRIVATE_H
#define TERN_STORE_PRIVATE_H

#include "store.h"

/* An internal date not read yet (Maildir: a file indexed in a bulk build, whose mtime is
 * read when first asked for). */
#define STORE_IDATE_UNKNOWN (-1)

struct store_vfuncs {
	int (*list)(struct store *store, char ***names_r, size_t *count_r, struct buf *err);
	int (*create)(struct store *store, const char *name, struct buf *err);
	int (*remove)(struct store *store, const char *name, struct buf *err);
	int (*rename)(struct store *store, const char *from, const char *to, struct buf *err);
	int (*folder_open)(struct store *store, const char *name, struct store_folder **f_r,
			   struct buf *err);
	int (*folder_status)(struct store *store, const char *name,
			     struct store_folder_status *status_r, struct buf *err);
	void (*close)(struct store *store);
};

struct store_folder_vfuncs {
	void (*close)(struct store_folder *f);
	int (*sync)(struct store_folder *f, struct store_changes *changes_r, struct buf *err);
	int (*msg_open)(struct store_folder *f, uint32_t uid, struct store_msg_stream *s_r,
			struct buf *err);
	/* Optional: msg_open for a reader of the whole message (store_msg_open_whole) */
	int (*msg_open_whole)(struct store_folder *f, uint32_t uid, struct store_msg_stream *s_r,
			      struct buf *err);
	int (*msg_vsize)(struct store_folder *f, uint32_t uid, uint64_t *vsize_r,
			 struct buf *err);
	/* Optional: reads the internal date of a message whose date is STORE_IDATE_UNKNOWN
	   (called from store_folder_msg; sets msg->internal_date, 0 when it cannot). */
	void (*msg_idate)(struct store_folder *f, struct store_msg *msg);
	/* Optional: gives back what message opens keep (store_folder_release_memory). */
	void (*msg_release)(struct store_folder *f);
	/* The folder's index (cache values and batches are kept there). */
	struct index *(*index)(struct store_folder *f);
	int (*set_flags)(struct store_folder *f, const uint32_t *uids, size_t count,
			 enum store_flags_op op, uint32_t flags, uint32_t keywords,
			 struct buf *err);
	int (*keyword_lookup)(struct store_folder *f, const char *name, bool create,
			      struct buf *err);
	int (*expunge)(struct store_folder *f, const uint32_t *uids, size_t count,
		       struct buf *err);
	int (*append_begin)(struct store_folder *f, struct store_append **a_r, struct buf *err);
	int (*append_write)(struct store_append *a, const void *data, size_t len,
			    struct buf *err);
	int (*append_commit)(struct store_append *a, const struct store_append_opts *opts,
			     uint32_t *uid_r, struct buf *err);
	void (*append_free)(struct store_append *a);
	/* Copies within this backend; 1: not handled (store.c then streams the copy). */
	int (*copy)(struct store_folder *src, uint32_t uid, struct store_folder *dst,
		    uint32_t *uid_r, struct buf *err);
};

struct store {
	const struct store_vfuncs *v;
	enum store_format format;
	char *root;
};

struct store_folder {
	const struct store_folder_vfuncs *v;
	struct store *store;
	char *name;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	struct store_msg *msgs; /* the snapshot, UID ascending */
	size_t count;
	size_t cap;
	struct store_snap *shared; /* msgs belongs to this shared snapshot (cap 0), or NULL */
	char *keywords[STORE_KEYWORDS_MAX];
};

struct store_append {
	struct store_folder *folder;
};

/* Backends. */
int maildir_store_open(const char *root, struct store **store_r, struct buf *err);
int maildir_reindex(const char *root, const char *folder_or_null, struct buf *err);
int mbox_store_open(const char *root, struct store **store_r, struct buf *err);
int mbox_reindex(const char *root, const char *folder_or_null, struct buf *err);

/* Snapshot helpers (store.c). */
/* Makes f->msgs f's own before it is changed (a copy when it was shared). */
void store_folder_own(struct store_folder *f);
/* store-refresh.c: drops f's reference to a shared snapshot. */
void store_snap_release(struct store_folder *f);
void store_folder_push(struct store_folder *f, const struct store_msg *msg);
void store_folder_free_common(struct store_folder *f);
/* Sets err to "what: strerror(errno)". Returns -1. */
int store_err_errno(struct buf *err, const char *what, const char *path);
int store_err(struct buf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
