/* mbox-private: the pieces of the mbox backend (RFC 4155, mboxrd) shared between its files.
 *
 * mbox-lock.c: dotlock + fcntl locking as procmail and mutt do it; mbox-parse.c: the line
 * walker that splits a file on From_ lines, reads the status headers, and copies a message
 * in the three views (reader, rewrite, append); mbox-sync.c: catching the index up with
 * the file; mbox-rewrite.c: writing a new file for flag changes and expunges;
 * mbox-folder.c, mbox-append.c: the folder vtable; mbox-store.c: the store vtable.
 */
#ifndef TERN_MBOX_PRIVATE_H
#define TERN_MBOX_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "store-index.h"
#include "store-private.h"

#define MBOX_LINE_LOOK 1024    /* bytes of a line's start looked at (From_, >From, names) */
#define MBOX_FIELD_MAX 4096    /* longest status header value kept */
#define MBOX_CHUNK 65536       /* read and write buffers */
#define MBOX_DOTLOCK_STALE 300 /* seconds after which a dotlock is broken */
#define MBOX_INDEX_SUFFIX ".tern-index.sqlite"

/* --- locking (mbox-lock.c) --- */
struct mbox_lock {
	int fd;	       /* the mbox, open read-write, fcntl write-locked */
	char *dotlock; /* FILE.lock while we hold it */
};
/* Takes FILE.lock (when the folder lets us create it), opens the file (creating it when
 * create is set) and takes the fcntl write lock, checking that the file was not replaced
 * meanwhile. Gives up after the lock timeout: -1 with err starting "timeout:". */
int mbox_lock(const char *path, bool create, struct mbox_lock *lk, struct buf *err);
void mbox_unlock(struct mbox_lock *lk);
/* Replaces the locked file's descriptor (after a rewrite renamed a new file over it). */
void mbox_lock_swap(struct mbox_lock *lk, int new_fd);
/* Takes the fcntl write lock on fd, waiting up to the timeout. */
int mbox_fcntl_lock(int fd, const char *path, struct buf *err);
extern unsigned mbox_lock_timeout_ms;

/* --- parsing and copying (mbox-parse.c) --- */
/* One message as found in the file. Offsets are bytes from the start of the file. */
struct mbox_msg {
	uint64_t from_off;    /* the From_ line */
	uint64_t hdr_off;     /* the first header line */
	uint64_t content_end; /* end of the message (before the separating blank line) */
	uint64_t end_off;     /* the next From_ line, or the end of the file */
	uint64_t size;	      /* bytes a reader sees: status headers out, >From unquoted */
	uint64_t hash;	      /* FNV-1a of the From_ line and the other header lines */
	uint64_t from_hash;   /* FNV-1a of the From_ line alone */
	int64_t idate;	      /* the From_ line's date, 0 when it has none */
	uint32_t uid;	      /* X-UID, 0 when absent */
	uint32_t flags;	      /* Status: and X-Status: */
	char *keywords;	      /* X-Keywords: value, or NULL */
	uint32_t base_validity, base_next; /* X-IMAPbase: when present */
	char *base_keywords;
	bool has_content_length;
};
/* Calls cb for every message of fd between start (a From_ line, or the end) and end.
 * 0, 1 when start is not a From_ line, -1 error (or cb's -1). */
int mbox_parse(int fd, uint64_t start, uint64_t end, int (*cb)(void *ctx, const struct mbox_msg *m),
	       void *ctx, struct buf *err);
/* The FNV-1a hash of the line at off (the From_ line of a message). */
int mbox_line_hash(int fd, uint64_t off, uint64_t *hash_r, struct buf *err);

/* How mbox_copy writes a region. */
enum mbox_view {
	MBOX_VIEW_READER,  /* [hdr_off, content_end): status headers out, >From unquoted */
	MBOX_VIEW_REWRITE, /* [from_off, end_off): status headers replaced by `status` */
	MBOX_VIEW_APPEND,  /* a raw message: status headers replaced, >From quoted, ends in \n */
};
/* Copies [start, end) of fd to out_fd in the given view. status: the header lines to put
 * at the end of the header (rewrite, append). *written_r: bytes written. */
int mbox_copy(int fd, uint64_t start, uint64_t end, enum mbox_view view, const char *status,
	      int out_fd, uint64_t *written_r, struct buf *err);
/* The status header lines for flags, keywords (names, space-separated) and uid. */
void mbox_status_format(struct buf *out, uint32_t flags, const char *keywords, uint32_t uid);
/* A From_ line: "From SENDER Www Mmm dd hh:mm:ss yyyy\n" (the date in UTC). */
void mbox_from_line(struct buf *out, const char *sender, int64_t t);
uint64_t mbox_hash(uint64_t h, const void *p, size_t n);
#define MBOX_HASH_INIT 0xcbf29ce484222325ULL

/* --- the folder --- */
struct mbox_folder {
	struct store_folder f;
	char *path; /* the mbox file */
	struct index *ix;
	bool full_refresh;
	struct buf scratch;
};

/* --- mbox-sync.c (called with the file locked and inside an index transaction) --- */
/* Brings the index up to date with the locked file; force: parse it all. *modseq_r: the
 * modseq given to the changes (0 when nothing changed; may be NULL). */
int mbox_catchup(struct mbox_folder *mf, int fd, bool force, uint64_t *modseq_r, struct buf *err);
/* Whether the file still is what the index last saw (same inode, size, time). */
bool mbox_unchanged(struct mbox_folder *mf, const struct stat *st);
/* Loads the folder's keyword names from the index. */
int mbox_keywords_load(struct mbox_folder *mf, struct buf *err);
int mbox_keyword_lookup(struct store_folder *f, const char *name, bool create, struct buf *err);
/* Keyword bits to names ("a b c") and back (creating unknown ones while there is room). */
void mbox_keywords_text(struct mbox_folder *mf, uint32_t bits, struct buf *out);
uint32_t mbox_keywords_bits(struct mbox_folder *mf, const char *text, struct buf *err);
/* The index row's location fields. */
struct mbox_loc {
	uint64_t from_off, hdr_off, content_end, end_off, hash;
};
void mbox_loc_format(struct buf *out, const struct mbox_loc *loc);
bool mbox_loc_parse(const char *s, struct mbox_loc *loc);

/* --- mbox-rewrite.c --- */
/* Writes the file again with the flags in the index (and without the messages in
 * expunge, sorted), renames it over the old one, and catches the index up. */
int mbox_rewrite(struct mbox_folder *mf, struct mbox_lock *lk, const uint32_t *expunge,
		 size_t expunge_count, uint64_t *modseq_r, struct buf *err);

/* --- mbox-repair.c --- */
/* Repairs one mbox file; the number of problems, or -1. */
int mbox_repair_file(const char *path, const struct store_repair_opts *o, struct buf *err);

/* --- mbox-folder.c, mbox-append.c --- */
extern const struct store_folder_vfuncs mbox_folder_vfuncs;
int mbox_folder_open(struct store *store, const char *name, const char *path,
		     struct store_folder **f_r, struct buf *err);
/* Catches the file's index up and reads its totals (no snapshot). */
int mbox_folder_status(struct store *store, const char *name, const char *path,
		       struct store_folder_status *st_r, struct buf *err);
/* Locks the file, begins the index transaction and catches up. */
int mbox_folder_lock(struct mbox_folder *mf, struct mbox_lock *lk, struct buf *err);
/* Commits (ret >= 0) or rolls back, and unlocks. Returns ret, or -1. */
int mbox_folder_unlock(struct mbox_folder *mf, struct mbox_lock *lk, int ret, struct buf *err);
/* Path of the index beside the mbox: DIR/.NAME.tern-index.sqlite */
char *mbox_index_path(const char *path);
int mbox_append_begin(struct store_folder *f, struct store_append **a_r, struct buf *err);
int mbox_append_write(struct store_append *a, const void *data, size_t len, struct buf *err);
int mbox_append_commit(struct store_append *a, const struct store_append_opts *opts,
		       uint32_t *uid_r, struct buf *err);
void mbox_append_free(struct store_append *a);
/* An unlinked temporary file in dir (or $TMPDIR). */
int mbox_tmpfile(const char *dir, struct buf *err);

#endif
