/* store: the mail store API used by every reader and writer of mail (POP3, IMAP, delivery,
 * the mail reader). One small interface over backends (Maildir now, mbox later) behind a
 * vtable (store-private.h).
 *
 * The files are the truth; each folder keeps an SQLite index (doc/store-format.md) that is a
 * cache brought up to date by store_folder_sync() and rebuilt when lost, keeping UIDs.
 * A store_folder is a snapshot: its message list changes only in store_folder_open() and
 * store_folder_sync(), so a protocol can report EXPUNGE/EXISTS/FETCH when it is allowed to.
 * Every function that can fail returns -1 and puts a one-line reason in `err`.
 */
#ifndef TERN_STORE_H
#define TERN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

enum store_format { STORE_FORMAT_MAILDIR, STORE_FORMAT_MBOX };

/* Flags: bit n is the Maildir info letter 'A' + n, so unknown letters survive a rewrite. */
#define STORE_FLAG_LETTER(c) (1u << ((c) - 'A'))
#define STORE_FLAG_DRAFT STORE_FLAG_LETTER('D')	   /* \Draft */
#define STORE_FLAG_FLAGGED STORE_FLAG_LETTER('F')  /* \Flagged */
#define STORE_FLAG_PASSED STORE_FLAG_LETTER('P')   /* $Forwarded */
#define STORE_FLAG_ANSWERED STORE_FLAG_LETTER('R') /* \Answered */
#define STORE_FLAG_SEEN STORE_FLAG_LETTER('S')	   /* \Seen */
#define STORE_FLAG_DELETED STORE_FLAG_LETTER('T')  /* \Deleted */
#define STORE_FLAGS_ALL ((1u << 26) - 1)
/* Keywords: bit n is keyword n of the folder (store_keyword_name), at most 26 per folder. */
#define STORE_KEYWORDS_MAX 26
#define STORE_FOLDER_NAME_MAX 512

struct store;
struct store_folder;
struct store_append;

struct store_msg {
	uint32_t uid;
	uint32_t flags;	   /* STORE_FLAG_* */
	uint32_t keywords; /* bit n: keyword n */
	uint64_t modseq;
	int64_t internal_date; /* seconds since the epoch (Maildir: the file's mtime) */
	uint64_t size;	       /* bytes in the file (Maildir: ,S= when present) */
};

/* What store_folder_sync() found changed since the snapshot was last brought up to date. */
struct store_changes {
	uint32_t *expunged_uids; /* ascending */
	uint32_t *expunged_seqs; /* their 1-based numbers before the sync, ascending: send
				    EXPUNGE responses from the last to the first */
	size_t expunged_count;
	size_t new_count;	 /* messages added at the end of the snapshot */
	uint32_t *changed_uids;	 /* old messages whose flags/keywords changed, ascending */
	size_t changed_count;
	bool uidvalidity_changed; /* the UIDs are not the old ones any more (IMAP: BYE) */
};

/* Where a message's bytes are: read `length` bytes of `fd` from `offset`; close fd after. */
struct store_msg_stream {
	int fd;
	off_t offset;
	uint64_t length;
};

enum store_flags_op { STORE_FLAGS_ADD, STORE_FLAGS_REMOVE, STORE_FLAGS_REPLACE };

struct store_append_opts {
	uint32_t flags;	       /* STORE_FLAG_*; 0 and no keywords: a new message (new/) */
	uint32_t keywords;     /* bits of this folder's keywords */
	int64_t internal_date; /* 0: now */
	/* NULL, or the Maildir unique name to use (no '/', ':', no leading '.'); when a
	   message of that name exists already, its UID is returned and nothing is added
	   (exactly-once delivery names the file after queue ID + recipient). */
	const char *unique_name;
	/* mbox: the sender on the From_ line (the envelope sender); NULL: MAILER-DAEMON. */
	const char *envelope_from;
};

/* Opens the store of one user: root is the Maildir (INBOX) or, for mbox, the INBOX file. */
int store_open(const char *root, enum store_format format, struct store **store_r,
	       struct buf *err);
void store_close(struct store **store);

/* Folder names use '/' as hierarchy separator ("INBOX", "Sent", "Lists/tern"); Maildir++
 * keeps "Lists/tern" in ROOT/.Lists.tern. A component may not be empty, start with '.',
 * or contain '.' (the Maildir++ separator). Names are bytes as stored (IMAP passes mUTF-7).
 * store_list returns INBOX first, then the others sorted; free with store_list_free. */
int store_list(struct store *store, char ***names_r, size_t *count_r, struct buf *err);
void store_list_free(char ***names, size_t count);
int store_folder_create(struct store *store, const char *name, struct buf *err);
/* Deletes the folder and its messages (not its children). INBOX cannot be deleted. */
int store_folder_delete(struct store *store, const char *name, struct buf *err);
/* Renames a folder and its children. INBOX cannot be renamed. */
int store_folder_rename(struct store *store, const char *from, const char *to, struct buf *err);

/* The special-use folders (RFC 6154) every user gets, by their well-known names: Sent,
 * Drafts, Trash, Junk, Archive. */
#define STORE_SPECIAL_COUNT 5
extern const char *const store_special_names[STORE_SPECIAL_COUNT];
/* Makes those of them that are missing, and subscribes the ones it made; a Maildir folder
 * gets its directories only (its index is built when it is first opened), no flush. The
 * files made are given to uid:gid unless uid is -1. Nothing for a single mbox file. When
 * all are there: one stat each (Maildir). -1: some could not be made (err: the last
 * reason); the others are made all the same. */
int store_special_make(struct store *store, uid_t uid, gid_t gid, struct buf *err);

/* The subscriptions: names one a line in the file STORE_SUBSCRIPTIONS beside the mailbox
 * at root (path_beside_mailbox). store_subs_read: the names (free with store_list_free).
 * store_subs_change: adds the names not listed (add) or removes every line of each; the
 * file is rewritten atomically only when that changes it, owned by uid:gid unless uid is
 * -1. */
#define STORE_SUBSCRIPTIONS "subscriptions"
char **store_subs_read(const char *root, size_t *count_r);
int store_subs_change(const char *root, const char *const *names, size_t count, bool add,
		      uid_t uid, gid_t gid, struct buf *err);

/* What IMAP STATUS reports of a folder. */
struct store_folder_status {
	uint64_t messages;
	uint64_t unseen; /* messages without \Seen */
	uint64_t size;	 /* the sum of the messages' sizes (STATUS=SIZE, quotas) */
	uint32_t uidnext;
	uint32_t uidvalidity;
	uint64_t highestmodseq;
};
/* Brings the folder's index up to date and reads its totals, without taking a snapshot:
 * cheap on a large folder (the totals are kept in the index). */
int store_folder_status(struct store *store, const char *name,
			struct store_folder_status *status_r, struct buf *err);

/* Opens a folder: brings its index up to date and takes the snapshot. */
int store_folder_open(struct store *store, const char *name, struct store_folder **folder_r,
		      struct buf *err);
void store_folder_close(struct store_folder **folder);
uint32_t store_folder_uidvalidity(const struct store_folder *folder);
uint32_t store_folder_uidnext(const struct store_folder *folder);
uint64_t store_folder_highestmodseq(const struct store_folder *folder);
/* Messages of the snapshot, by 0-based index (IMAP sequence number - 1), UID ascending.
 * Their internal_date is -1 when it was not read yet (a Maildir indexed in bulk takes sizes
 * from the names and stats no file): read it with store_folder_msg_date. */
size_t store_folder_count(const struct store_folder *folder);
const struct store_msg *store_folder_msg(const struct store_folder *folder, size_t index);
/* The internal date of message index, read from the file the first time it is needed. */
int64_t store_folder_msg_date(const struct store_folder *folder, size_t index);
/* The 0-based index of uid in the snapshot, or -1. */
ssize_t store_folder_find(const struct store_folder *folder, uint32_t uid);
/* Catches up with changes by anyone (other processes, mutt, rm, deliveries) and brings the
 * snapshot up to date; reports what changed in changes_r (may be NULL; free with
 * store_changes_free). */
int store_folder_sync(struct store_folder *folder, struct store_changes *changes_r,
		      struct buf *err);
void store_changes_free(struct store_changes *changes);

/* Opens a message for reading (see struct store_msg_stream). A message expunged by someone
 * else fails with "expunged". */
int store_msg_open(struct store_folder *folder, uint32_t uid, struct store_msg_stream *stream_r,
		   struct buf *err);
/* Like store_msg_open, for a caller that reads the message to its end: the length may be
 * STORE_MSG_TO_EOF, the message then being all of the file from offset (a Maildir message
 * is not stat'ed: a tenth of the system calls of a cold FETCH ENVELOPE). A short read of
 * a regular file is its end. */
#define STORE_MSG_TO_EOF UINT64_MAX
int store_msg_open_whole(struct store_folder *folder, uint32_t uid,
			 struct store_msg_stream *stream_r, struct buf *err);
/* The size with every line ending as CRLF (IMAP RFC822.SIZE), computed once then cached. */
int store_msg_vsize(struct store_folder *folder, uint32_t uid, uint64_t *vsize_r,
		    struct buf *err);
/* Records that size when the caller has read the whole message anyway (a parse). */
int store_msg_vsize_set(struct store_folder *folder, uint32_t uid, uint64_t vsize,
			struct buf *err);
/* Values kept with a message in the index, computed by the protocol on first use. */
enum store_cache_kind {
	STORE_CACHE_PARTS,	   /* the parsed structure (lib-mime's mime-serial) */
	STORE_CACHE_ENVELOPE,	   /* the IMAP ENVELOPE text */
	STORE_CACHE_BODYSTRUCTURE, /* the IMAP BODYSTRUCTURE text */
	STORE_CACHE_FIELDS,	   /* decoded header fields that SEARCH and SORT read */
	STORE_CACHE_KINDS
};
/* get returns 1 and fills out (replacing its contents), 0 when there is none, -1 on error. */
int store_msg_cache_get(struct store_folder *folder, uint32_t uid, enum store_cache_kind kind,
			struct buf *out, struct buf *err);
int store_msg_cache_put(struct store_folder *folder, uint32_t uid, enum store_cache_kind kind,
			const void *data, size_t len, struct buf *err);
/* Around the reads of many messages (one FETCH or SEARCH step): they share one index
 * transaction, and the sizes and cache values they compute are written in one transaction
 * at the end. Nests; end every batch before going back to an event loop. */
void store_batch_begin(struct store_folder *folder);
void store_batch_end(struct store_folder *folder);
/* Between hold true and false the batches' cache values wait past their ends (until false,
 * a write transaction, or 4 MB): a FETCH over many steps writes them in a few large
 * transactions, not in one per step (each rewrote the tables' last pages). */
void store_cache_hold(struct store_folder *folder, bool hold);
/* Gives back the memory the folder holds only to be faster (the index's page cache): for a
 * session that goes idle. */
void store_folder_release_memory(struct store_folder *folder);
/* From now on, folders of this process opened on the same index at the same state share one
 * snapshot (copied on change): for a worker serving many sessions of one mailbox. Only for
 * a process that uses the store from one thread. */
void store_share_snapshots(bool on);
/* on: the index checkpoints that commits set off (copying the WAL into the file, with
 * its flushes) run on a thread of the process instead of delaying the commit's caller. */
void store_async_checkpoints(bool on);

/* Changes the flags of messages (UIDs no longer there are skipped). The snapshot's entries
 * are updated at once and reported as changed by the next sync. */
int store_set_flags(struct store_folder *folder, const uint32_t *uids, size_t count,
		    enum store_flags_op op, uint32_t flags, uint32_t keywords, struct buf *err);
/* The index of keyword name (case-insensitive), adding it when create is set; -1 when it
 * is unknown or the folder has 26 already (err says which). */
int store_keyword_lookup(struct store_folder *folder, const char *name, bool create,
			 struct buf *err);
/* The name of keyword idx, or NULL. */
const char *store_keyword_name(const struct store_folder *folder, unsigned idx);

/* Removes the messages among uids (all of the folder when uids is NULL) that have
 * \Deleted. The snapshot keeps them until the next store_folder_sync() reports them. */
int store_expunge(struct store_folder *folder, const uint32_t *uids, size_t count,
		  struct buf *err);

/* Appends a message streamed in pieces: begin, write..., then commit or abort. */
int store_append_begin(struct store_folder *folder, struct store_append **append_r,
		       struct buf *err);
int store_append_write(struct store_append *append, const void *data, size_t len,
		       struct buf *err);
/* Makes the message durable (file and folder fsync'd) and returns its UID. Frees append
 * whatever the outcome. */
int store_append_commit(struct store_append **append, const struct store_append_opts *opts,
			uint32_t *uid_r, struct buf *err);
void store_append_abort(struct store_append **append);
/* Appends from a file descriptor read to its end. */
int store_append_fd(struct store_folder *folder, int fd, const struct store_append_opts *opts,
		    uint32_t *uid_r, struct buf *err);

/* Copies message uid of src into dst with its flags and keywords (a hard link when it
 * can); move also expunges it from src. */
int store_copy(struct store_folder *src, uint32_t uid, struct store_folder *dst,
	       uint32_t *uid_r, struct buf *err);
int store_move(struct store_folder *src, uint32_t uid, struct store_folder *dst,
	       uint32_t *uid_r, struct buf *err);

/* Rebuilds the index of one folder (or every folder when folder is NULL) from the files,
 * keeping the UIDs recorded in each folder's tern-uidlist. root: a Maildir (or mbox file). */
int store_reindex(const char *root, const char *folder_or_null, struct buf *err);

/* Repairs the store at root (an mbox file, an mbox directory or a Maildir): see
 * doc/store-format.md. Each action (or what would be done, with dry_run) is reported as
 * one line. Data is never deleted: what cannot stay goes to lost+found. Returns the number
 * of problems found, or -1. */
struct store_repair_opts {
	bool dry_run;
	uint64_t max_message_size; /* 0: no limit */
	void (*report)(void *ctx, const char *line);
	void *ctx;
};
int store_repair(const char *root, const struct store_repair_opts *opts, struct buf *err);

/* Copies every folder of the store at from_root into a new store of format to_format,
 * keeping flags, keywords and internal dates, then puts it in place of the old one
 * (which is kept as ROOT.old until the copy is checked, then removed unless keep_old).
 * Stop deliveries to the user while it runs. Reports each folder. */
int store_convert(const char *root, enum store_format to_format, bool keep_old,
		  void (*report)(void *ctx, const char *line), void *ctx, struct buf *err);

/* Quotas: the messages and bytes of every folder of the store. */
int store_usage(struct store *store, uint64_t *bytes_r, uint64_t *messages_r, struct buf *err);
/* Whether adding a message of adding_bytes keeps the store within the quotas (0: no limit):
 * 0 yes, 1 over quota (err says which), -1 error. */
int store_quota_check(struct store *store, uint64_t quota_bytes, uint64_t quota_messages,
		      uint64_t adding_bytes, struct buf *err);

/* The format of the store at root: a regular file is an mbox INBOX; a directory with cur/
 * a Maildir; a directory with an INBOX file (and no cur/) an mbox directory store; anything
 * else (missing) Maildir, the default. */
enum store_format store_detect_format(const char *root);
/* How long mbox locking waits for other programs' locks before failing with an error
 * starting "timeout:" (a temporary failure). Default 60000 ms. */
void store_set_lock_timeout(unsigned ms);

#endif
