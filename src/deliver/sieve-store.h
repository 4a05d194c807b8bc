/* sieve-store: a user's Sieve scripts on disk, the one implementation shared by
 * `tern sieve` (sieve-cmd.c) and the ManageSieve server (src/sieved, RFC 5804).
 *
 * A script NAME is NAME.sieve in the user's script folder (deliver_sieve_dir); the active
 * one is a symbolic link at the user's active path (deliver_user.sieve_at: sieve_path,
 * system_sieve_path) to it, replaced by rename so a delivery sees the old script or the
 * new one. A legacy active script that is a regular file is reported as active (name "")
 * and kept: activating another one moves it to the script "active" first. Scripts are
 * written to a temporary file, fsync'd and renamed. Every function works as the calling
 * process: become the owner of the files first (`tern sieve` as root does).
 */
#ifndef TERN_SIEVE_STORE_H
#define TERN_SIEVE_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "deliver.h"

/* Bytes of a name: NAME.sieve and its temporary name must fit a file name (255 bytes), so
 * this is less than RFC 5804 1.6 asks for names of 128 non-ASCII characters. */
#define SIEVE_STORE_NAME_MAX 200
#define SIEVE_STORE_LIST_MAX 10000 /* names read from one folder */

enum sieve_store_status {
	SIEVE_STORE_OK = 0,
	SIEVE_STORE_NONEXISTENT = -1,	/* no script of that name */
	SIEVE_STORE_ACTIVE = -2,	/* it is the active script (delete) */
	SIEVE_STORE_EXISTS = -3,	/* the new name is taken (rename) */
	SIEVE_STORE_BAD_NAME = -4,	/* not a name this store accepts */
	SIEVE_STORE_ERROR = -5,		/* a system error: err says which */
};

/* A user's store: the user and their script folder. */
struct sieve_store {
	const struct deliver_user *user;
	char *dir;
};

/* Opens u's store (u must have a sieve_at path and outlive the store). */
void sieve_store_open(struct sieve_store *st, const struct deliver_user *u);
void sieve_store_close(struct sieve_store *st);

/* A script name: UTF-8 without control characters (RFC 5804 1.6), one path component
 * (no '/'), not starting with '.', at most SIEVE_STORE_NAME_MAX bytes. */
bool sieve_store_name_ok(const char *name, size_t len);

/* The active script's name; "" when the active script is a regular file, NULL when none. */
char *sieve_store_active(const struct sieve_store *st);
/* The script names, sorted (the legacy active file itself is not listed). Free each and
 * the array. Returns how many. */
size_t sieve_store_list(const struct sieve_store *st, char ***names_r);
/* Does NAME exist? */
bool sieve_store_exists(const struct sieve_store *st, const char *name);
/* Writes NAME (already compiled by the caller) durably, creating the folder. */
int sieve_store_put(const struct sieve_store *st, const char *name, const char *text,
		    size_t len, struct buf *err);
/* Reads NAME (at most max bytes) into *text_r (NUL-terminated, to free). */
int sieve_store_get(const struct sieve_store *st, const char *name, size_t max, char **text_r,
		    size_t *len_r, struct buf *err);
/* Makes NAME the active script. */
int sieve_store_activate(const struct sieve_store *st, const char *name, struct buf *err);
/* No script is active (OK when none was). A legacy active file is left as it is:
 * SIEVE_STORE_ERROR with err saying so. */
int sieve_store_deactivate(const struct sieve_store *st, struct buf *err);
/* Removes NAME unless it is the active one (SIEVE_STORE_ACTIVE). */
int sieve_store_delete(const struct sieve_store *st, const char *name, struct buf *err);
/* Renames OLD to NEW (not over an existing NEW); the active link follows. */
int sieve_store_rename(const struct sieve_store *st, const char *old_name, const char *new_name,
		       struct buf *err);

#endif
