/* maildir-private: the pieces of the Maildir backend (Maildir++ folders, maildir.txt names
 * and flags, the uidlist and keyword files) shared between its files.
 *
 * maildir-name.c: file names; maildir-map.c: the base-name hash; maildir-uidlist.c and
 * maildir-keywords.c: the small text files beside the index; maildir-sync.c: catching the
 * index up with the directories; maildir-folder.c, maildir-append.c: the folder vtable;
 * maildir-store.c: the store vtable (folder list, create, delete, rename).
 */
#ifndef TERN_MAILDIR_PRIVATE_H
#define TERN_MAILDIR_PRIVATE_H

#include <stdint.h>
#include <sys/types.h>

#include "store-index.h"
#include "store-private.h"

#define MAILDIR_UIDLIST "tern-uidlist"
#define MAILDIR_KEYWORDS "tern-keywords"
#define MAILDIR_UIDLIST_VERSION 1
#define MAILDIR_NAME_MAX 255
#define MAILDIR_TMP_MAX_AGE (36 * 3600)

/* --- file names (maildir-name.c) --- */
struct maildir_name {
	size_t baselen; /* the unique part, before ":" */
	uint32_t flags;
	uint32_t keywords;
	uint64_t size; /* from ",S=", 0 when absent */
	bool has_size;
};
/* Splits a file name; false when it is not a message (starts with '.', too long). */
bool maildir_name_parse(const char *fname, struct maildir_name *n_r);
/* The same test, giving only the length of the unique part (no flags, no size). */
bool maildir_name_base(const char *fname, size_t *baselen_r);
/* Appends base + ":2," + the flag letters (A-Z then a-z, ASCII order) to out. */
void maildir_name_format(struct buf *out, const char *base, size_t baselen, uint32_t flags,
			 uint32_t keywords);
/* A new unique name as maildir.txt says: time.M<usec>P<pid>Q<n>R<random>.host */
void maildir_name_unique(struct buf *out);
/* Whether s can be a unique name given by a caller. */
bool maildir_name_valid_unique(const char *s);

/* --- base name -> message hash (maildir-map.c) --- */
struct maildir_entry {
	char *fname;
	uint32_t uid;
	uint16_t baselen;
	uint8_t dir;   /* 0 new/, 1 cur/ */
	uint8_t state; /* 0 empty, 1 used, 2 removed */
	bool seen;     /* found by the current directory scan */
};
struct maildir_map {
	struct maildir_entry *slots;
	size_t cap; /* a power of 2 */
	size_t used;
	size_t removed;
	struct maildir_entry **by_uid; /* [uid]: maildir_map_by_uid, made when first asked */
	uint32_t by_uid_max;
	bool by_uid_sparse; /* UIDs too sparse for by_uid (until the map is rebuilt) */
};
struct maildir_entry *maildir_map_find(struct maildir_map *m, const char *base, size_t len);
/* Adds or replaces the entry for fname's base. */
struct maildir_entry *maildir_map_put(struct maildir_map *m, const char *fname, size_t baselen,
				      uint32_t uid, int dir);
/* Gives an entry its message's new file name (same base: no rehash, entries stay put). */
void maildir_map_rename(struct maildir_entry *e, const char *fname, int dir);
void maildir_map_remove(struct maildir_map *m, struct maildir_entry *e);
/* The entry of uid, or NULL (a table by UID is made on the first call and kept up to date
 * by put and remove; none when the UIDs are too sparse for one). */
struct maildir_entry *maildir_map_by_uid(struct maildir_map *m, uint32_t uid);
void maildir_map_free(struct maildir_map *m);

/* --- the folder --- */
struct maildir_folder {
	struct store_folder f;
	char *path; /* the folder's directory (the root for INBOX) */
	struct index *ix;
	struct maildir_map map; /* base -> uid and file, as of map_modseq */
	uint64_t map_modseq;
	struct maildir_map *hints; /* while rebuilding: base -> UID from the uidlist */
	struct timespec kw_mtime;
	struct maildir_idate {
		uint32_t uid;
		int64_t idate;
	} *idates; /* internal dates read on demand, to record in the index */
	size_t idate_count, idate_cap;
	struct buf scratch;
	bool full_refresh; /* the index was replaced: compare the whole snapshot */
	bool build_snapshot; /* opening: a build from nothing fills the snapshot as it goes */
	bool atime_needed;   /* O_NOATIME was refused (not the files' owner) */
	bool msg_dirs_open;  /* msg_dir holds new/ and cur/, open for message opens */
	int msg_dir[2];
	unsigned index_opens; /* message opens that asked the index for the file name */
	bool map_lazy;	      /* the map was loaded for message opens (given back at idle) */
};

/* --- maildir-uidlist.c --- */
/* Reads the uidlist: 0 read, 1 missing, -1 error. Fills hints with base -> uid. */
int maildir_uidlist_read(struct maildir_folder *mf, uint32_t *uidvalidity_r,
			 uint32_t *uidnext_r, struct maildir_map *hints, struct buf *err);
int maildir_uidlist_append(struct maildir_folder *mf, uint32_t uid, const char *base,
			   size_t baselen, struct buf *err);
/* Rewrites it atomically from the map (when missing or grown with stale lines). */
int maildir_uidlist_write(struct maildir_folder *mf, struct buf *err);
/* The same with the given "UID BASE\n" lines; sync: flushed before it replaces the old
 * file (not when there was none to keep: a first build, as unflushed as its index). */
int maildir_uidlist_write_lines(struct maildir_folder *mf, const char *lines, size_t len,
				bool sync, struct buf *err);
int maildir_uidlist_maybe_compact(struct maildir_folder *mf, struct buf *err);

/* --- maildir-keywords.c --- */
int maildir_keywords_load(struct maildir_folder *mf, struct buf *err);
int maildir_keyword_lookup(struct store_folder *f, const char *name, bool create,
			   struct buf *err);

/* --- maildir-sync.c (called inside an index transaction) --- */
/* Brings the index (and the map) up to date with new/ and cur/; force: read both dirs. */
int maildir_catchup(struct maildir_folder *mf, bool force, struct buf *err);
/* Fills the map from the index changes since map_modseq (0: the map is not loaded; it is
 * loaded lazily, by a directory scan or before a change, so an open that finds nothing
 * changed does not read every row). */
int maildir_map_refresh(struct maildir_folder *mf, struct buf *err);
/* Starts a fresh index: UIDVALIDITY and UIDs from the uidlist when there is one. */
int maildir_index_init(struct maildir_folder *mf, struct buf *err);
/* "cur/NAME" or "new/NAME" under the folder. */
char *maildir_path(struct maildir_folder *mf, int dir, const char *fname);
/* Renames tmp into new/ or cur/ and indexes it; *uid_r gets the UID. */
int maildir_deliver_tmp(struct maildir_folder *mf, const char *tmp_path, const char *base,
			uint64_t size, int64_t idate, uint32_t flags, uint32_t keywords,
			uint32_t *uid_r, struct buf *err);

/* --- maildir-folder.c, maildir-append.c --- */
/* Finds uid's file where the index says it is (no check: the caller opens or renames it,
 * and when that fails with ENOENT calls again with again set, which first reads the
 * directories to catch up with a rename by another program). 1: found (*path_r set; row's
 * strings valid until the next call), 0: expunged, -1: error. locked: the caller holds the
 * index lock. */
int maildir_locate(struct maildir_folder *mf, uint32_t uid, struct index_row *row,
		   char **path_r, bool locked, bool again, struct buf *err);
/* Delivers a finished tmp/ file under the lock. */
int maildir_folder_deliver(struct maildir_folder *mf, const char *tmp_path, const char *base,
			   uint64_t size, int64_t idate, uint32_t flags, uint32_t keywords,
			   uint32_t *uid_r, struct buf *err);
int maildir_folder_open(struct store *store, const char *name, const char *path,
			struct store_folder **f_r, struct buf *err);
/* Catches the folder's index up and reads its totals (no snapshot). */
int maildir_folder_status(struct store *store, const char *name, const char *path,
			  struct store_folder_status *st_r, struct buf *err);
extern const struct store_folder_vfuncs maildir_folder_vfuncs;
int maildir_append_begin(struct store_folder *f, struct store_append **a_r, struct buf *err);
int maildir_append_write(struct store_append *a, const void *data, size_t len,
			 struct buf *err);
int maildir_append_commit(struct store_append *a, const struct store_append_opts *opts,
			  uint32_t *uid_r, struct buf *err);
void maildir_append_free(struct store_append *a);
int maildir_copy(struct store_folder *src, uint32_t uid, struct store_folder *dst,
		 uint32_t *uid_r, struct buf *err);
/* Makes the folder's directory, tmp/, new/, cur/. */
int maildir_make_dirs(const char *path, bool subfolder, struct buf *err);
/* Makes folder name when its directory is missing (store_special_make): the directory,
 * tmp/, new/, cur/ and maildirfolder, given to uid:gid unless uid is -1, with no flush.
 * 1 made, 0 there already, -1 error. */
int maildir_folder_make(struct store *s, const char *name, uid_t uid, gid_t gid,
			struct buf *err);

#endif
