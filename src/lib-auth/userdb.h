/* userdb: the directory of virtual users (DATA/users, format in doc/users-format.md).
 *
 * One line per user: address:crypt-hash:quota-bytes:quota-messages:scram-secret. The file is
 * re-read when it changes, so workers see `tern user add` at once. Addresses are
 * compared with the domain in lower case and the local part case-insensitively (ASCII).
 */
#ifndef TERN_USERDB_H
#define TERN_USERDB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

struct conf;

struct user_info {
	char *address;  /* canonical: localpart@domain, as stored */
	char *hash;     /* crypt(3) hash ("" for system users: see sysuser_verify) */
	char *scram;    /* SCRAM secrets (lib-sasl's text form, a space-separated list), or NULL */
	char *maildir;  /* DATA/mail/DOMAIN/LOCALPART; system users: their INBOX (mbox
			 * file or Maildir, as system_mailbox says) */
	uint64_t quota_bytes;    /* 0: none */
	uint64_t quota_messages; /* 0: none */
	/* System users (user_source = system) only: */
	bool system;
	bool mbox;   /* maildir names an mbox file (system_mailbox = mbox:...) */
	char *login; /* the account name */
	char *home;
	uid_t uid;
	gid_t gid;
};

struct userdb;

struct userdb *userdb_open(const struct conf *c);
void userdb_close(struct userdb **db);
/* Finds a user by address (the recipient delimiter and what follows it are dropped
 * from the local part first). 1 found (info filled; free with user_info_free), 0 not
 * found, -1 error (err set: the directory could not be read).
 * With user_source = system the users are the Unix accounts (sysuser.h) instead of the
 * users file: ACCOUNT@DOMAIN for any local domain, or a bare ACCOUNT (the address is
 * then ACCOUNT@ the first local domain). */
int userdb_lookup(struct userdb *db, const char *address, struct user_info *info, struct buf *err);
void user_info_free(struct user_info *info);
/* Is domain one of the local domains? */
bool userdb_is_local_domain(struct userdb *db, const char *domain);
/* Expands an option's path: %u (u, ulen bytes), %d (d), %h (h), %%; with h, a leading
 * "~/" is h too. A letter whose value is NULL stays as written. */
char *userdb_expand(const char *pattern, const char *u, size_t ulen, const char *d,
		    const char *h);
/* Is this directory the Unix accounts (user_source = system)? */
bool userdb_system(const struct userdb *db);
/* The path of the users file. */
const char *userdb_path(const struct userdb *db);

/* Editing (tools): add/replace/delete a line atomically (write temp, fsync, rename). */
int userdb_put(struct userdb *db, const char *address, const char *hash, const char *scram,
	       uint64_t quota_bytes, uint64_t quota_messages, struct buf *err);
int userdb_delete(struct userdb *db, const char *address, struct buf *err);
/* Calls fn for every user, in file order. */
int userdb_foreach(struct userdb *db, void (*fn)(const struct user_info *, void *), void *arg,
		   struct buf *err);

/* crypt(3) helpers: a new hash (yescrypt, or sha512-crypt where yescrypt is missing),
 * and a constant-time check. */
char *password_hash(const char *password);
bool password_check(const char *password, const char *hash);
/* Like password_check, for any hash crypt(3) knows (also the old DES ones of shadow);
 * an empty hash, or one starting with '!' or '*' (locked), never matches. */
bool password_check_crypt(const char *password, const char *hash);
/* The cache of successful checks (password-cache.c): on for ttl_seconds per entry with at
 * most entries entries, off with 0. Once configured, password_check_crypt consults and
 * fills it (through password_set_cache, so that programs that never check a password,
 * like tern-deliver, do not link it and its crypto library). */
void password_cache_configure(unsigned ttl_seconds, unsigned entries);
bool password_cache_hit(const char *password, const char *hash);
void password_cache_add(const char *password, const char *hash);
struct password_cache_ops {
	bool (*hit)(const char *password, const char *hash);
	void (*add)(const char *password, const char *hash);
};
void password_set_cache(const struct password_cache_ops *ops);

#endif
