/* vacation: `tern vacation` (vacation(1)) and the delivery agent's own vacation answer.
 *
 * vacation-db.c: the database of who was answered when, the exclusions and the interval,
 * as a text file (format in doc/vacation.md) rewritten atomically under a lock.
 * vacation.c: reading one message's header, deciding by RFC 3834 (lib-autoreply) and the
 * database, and sending the answer built from the message file (deliver-autoreply.c).
 * vacation-cmd.c: the command line. Not for other folders but through deliver-cmd.h.
 */
#ifndef TERN_VACATION_H
#define TERN_VACATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "buf.h"

struct conf;

/* ---- vacation-db.c ---- */

#define VACATION_MSG_FILE ".vacation.msg"
#define VACATION_DB_FILE ".vacation.db"
#define VACATION_DB_MAGIC "# tern vacation database 1"
#define VACATION_FOREVER INT64_MAX /* interval: one answer ever ("infinite") */
#define VACATION_UNSET (-1)

struct vacation_rec {
	char *addr;   /* an address, or "@domain" for an exclusion */
	int64_t time; /* when it was last answered; unused for exclusions */
	bool exclude; /* -x: never answered */
};

struct vacation_db {
	int64_t interval; /* seconds, VACATION_FOREVER, or VACATION_UNSET (the default) */
	struct vacation_rec *v;
	size_t count;
	int lock_fd; /* PATH.lock while held, else -1 */
};

/* Takes PATH.lock (fcntl, waiting up to timeout seconds), then reads path unless fresh
 * (-i): a missing file is an empty database. 0; -1 + err (errno_r: ENOLCK for a lock
 * timeout, EINVAL for a file that is not a Tern vacation database or is too big, else
 * the system's). */
int vacation_db_open(const char *path, uint64_t max_size, unsigned timeout, bool fresh,
		     struct vacation_db *db, int *errno_r, struct buf *err);
/* Writes the database to a temporary file, fsyncs it and renames it over path, dropping
 * answers older than interval (the one in force) at now. 0, or -1 + err. */
int vacation_db_save(const char *path, const struct vacation_db *db, int64_t interval, int64_t now,
		     struct buf *err);
/* Does path start like a Tern vacation database (not vacation(1)'s dbm file)? */
bool vacation_db_is_ours(const char *path);
/* Releases the lock and the memory. */
void vacation_db_close(struct vacation_db *db);
/* Has addr been answered within the interval, or is it (or its @domain) excluded? */
bool vacation_db_recent(const struct vacation_db *db, const char *addr, int64_t interval,
			int64_t now);
/* Notes an answer to addr at t (or an exclusion). */
void vacation_db_set(struct vacation_db *db, const char *addr, int64_t t, bool exclude);
void vacation_db_clear(struct vacation_db *db);
/* vacation(1) -l: "ADDRESS (50 columns)" then ctime(3) or "(never deleted)". */
void vacation_db_list(const struct vacation_db *db, FILE *out);
/* The interval of "-r ARG": days, or with a unit s/m/h/d/w; a word (as "infinite") is
 * VACATION_FOREVER. -1 when not valid. */
int64_t vacation_interval_parse(const char *arg);

/* ---- vacation.c ---- */

/* Reads the next bytes of the message into buf: count, 0 at the end, -1 on error. */
typedef ssize_t vacation_read_fn(void *ctx, void *buf, size_t len);

struct vacation_cfg {
	const struct conf *conf;
	const char *db_path, *msg_path;
	const char *const *names; /* the user's addresses and names (-a), NULL-terminated */
	bool any_recipient;	  /* -j: do not look for the user in To/Cc */
	const char *sender;	  /* -s, or the envelope sender (agent); NULL: from the message */
	const char *from;	  /* the answer's From: when the message file has none */
	const char *cc;		  /* -c: a copy of each answer to this address, or NULL */
	int64_t interval;	  /* -r given: stored in the database; else VACATION_UNSET */
	bool debug;		  /* -d: each decision on stderr */
	const char *conf_path;	  /* for `tern sendmail -c` */
};

/* Exit codes (sysexits). */
#define VAC_EX_OK 0
#define VAC_EX_USAGE 64
#define VAC_EX_DATAERR 65
#define VAC_EX_NOINPUT 66
#define VAC_EX_NOUSER 67
#define VAC_EX_SOFTWARE 70
#define VAC_EX_CANTCREAT 73
#define VAC_EX_TEMPFAIL 75
#define VAC_EX_CONFIG 78

/* Reads one message's header through read, decides whether to answer and answers (at
 * most once per interval per sender). Returns a sysexits code; a message that gets no
 * answer is 0. A one-line reason for a failure goes to err. */
int vacation_process(const struct vacation_cfg *cfg, vacation_read_fn *read, void *ctx,
		     struct buf *err);

/* vacation_process over the message being delivered (deliver-int.h's deliver_msg). */
struct deliver_msg;
int deliver_vacation_run(struct deliver_msg *m, const struct vacation_cfg *cfg, struct buf *err);

#endif
