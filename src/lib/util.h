/* util: small file, path, time and string helpers shared by every part of Tern.
 *
 * Functions that can fail return 0 on success and -1 with errno set.
 */
#ifndef TERN_UTIL_H
#define TERN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

/* write(2) until all n bytes are written (retries EINTR and short writes). */
int write_full(int fd, const void *p, size_t n);
/* read(2) until n bytes or end of file; returns the bytes read, or -1. */
ssize_t read_full(int fd, void *p, size_t n);
/* fsync a directory so that a rename or create in it is durable. */
int fsync_dir(const char *path);
/* The directory part of path fsync'd (path names a file in it). */
int fsync_parent(const char *path);
/* A file of Tern's kept with the mailbox at root: ROOT/name when root is a folder (a
 * Maildir, an mbox folder), else beside the file: DIR/.BASE.name (an mbox such as
 * /var/mail/USER, whose folder holds other users' mail). Free the result. */
char *path_beside_mailbox(const char *root, const char *name);
/* mkdir -p with the given mode for each created level. */
int mkdir_p(const char *path, mode_t mode);
/* Reads a whole small file (up to max bytes) into a fresh NUL-terminated string. */
char *read_file_small(const char *path, size_t max, size_t *len_r);
/* How far file_replace flushes: nothing (a cache, which a crash only makes rebuild), the
 * file's data before the rename (a reader never sees it empty), or that and the folder
 * after it (the new file survives a crash: durable). */
enum file_sync { FILE_SYNC_NONE, FILE_SYNC_DATA, FILE_SYNC_ALL };
/* Replaces path with len bytes of data, atomically: written to a temporary file of this
 * process beside it (mode, owned by uid:gid unless uid is -1, never through a symbolic
 * link), flushed as sync says, and renamed over path. Concurrent writers must serialise
 * themselves (each one's file wins whole, the last rename last). -1 + errno; the
 * temporary file is removed then. */
int file_replace(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
		 gid_t gid, enum file_sync sync);
int set_nonblock(int fd);
int set_cloexec(int fd, bool on);

/* Monotonic milliseconds, and wall-clock seconds. */
uint64_t now_ms(void);
/* RFC 5322 date-time of t in local time: "Thu, 26 Nov 2026 07:00:00 +0000". */
void rfc5322_date(time_t t, char *out, size_t outlen);

/* ASCII case-insensitive helpers (never locale-dependent). */
bool str_ieq(const char *a, const char *b);
bool str_iprefix(const char *s, const char *prefix);
char *str_lower(char *s);
/* Parses a size such as 10M, 512k, 100000 (k/M/G are powers of 1024). */
int parse_size(const char *s, uint64_t *out_r);
/* Parses a duration such as 30s, 5m, 4h, 5d; a bare number is seconds. */
int parse_duration(const char *s, uint64_t *seconds_r);
/* Run as root on files that belong to another account (an instance's run_user): becomes
 * the owner of path (uid, gid, no other groups), so that what is written stays readable
 * by the workers. 0 when done or not needed (not root, path missing or owned by root);
 * -1 with err set when the switch failed. */
int become_owner_of(const char *path, struct buf *err);
/* A worker's signal handlers are in place: lets SIGHUP (and SIGTERM) through. The master
 * starts workers with SIGHUP blocked, so a reload asked for while one starts waits for
 * it instead of being lost or killing it. */
void signals_ready(void);
/* The machine's host name (fully qualified when the resolver says so). */
const char *host_name(void);

#endif
