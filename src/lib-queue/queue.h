/* queue: the on-disk mail queue (format in doc/queue-format.md).
 *
 * A message is one file named by its queue ID: the data, then the envelope records
 * (format 2; format 1, a separate data file in msg/, is still read). The file appears in
 * env/ (by rename from msg/, after an fdatasync of it) only when the message is safe on
 * disk: its presence there is what "queued" means. The writer streams: message bytes go
 * to the file as they arrive.
 *
 * Group commit: queue_committer runs the fsyncs of many messages in a worker thread and
 * calls back in the event loop, so one slow disk flush serves every session waiting.
 */
#ifndef TERN_QUEUE_H
#define TERN_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

#define QUEUE_ID_MAX 32

struct queue_writer;
struct queue_committer;
struct event_base;

/* Starts a message: allocates a queue ID and creates its data file. NULL + err on failure. */
struct queue_writer *queue_writer_open(const char *queue_dir, struct buf *err);
const char *queue_writer_id(const struct queue_writer *w);
/* Appends message bytes (line ends as stored: LF). -1 + errno on failure. */
int queue_writer_write(struct queue_writer *w, const void *p, size_t n);
/* Bytes of message written so far. */
uint64_t queue_writer_size(const struct queue_writer *w);
/* Envelope. sender "" is the null reverse-path. Strings are copied. */
void queue_writer_set_sender(struct queue_writer *w, const char *sender);
/* rcpt: the address to deliver to (after rewriting); orcpt: as the client gave it. */
void queue_writer_add_rcpt(struct queue_writer *w, const char *rcpt, const char *orcpt);
/* Free-form envelope attributes kept with the message (client address, helo, auth
 * user, BODY=, SMTPUTF8, ...). Names are [a-z0-9_]+; values single-line. */
void queue_writer_set_attr(struct queue_writer *w, const char *name, const char *value);
/* Synchronous commit (sendmail, tests): fsyncs and publishes. 0, or -1 + err. */
int queue_writer_commit(struct queue_writer *w, struct buf *err);
/* Drops the message (its files are removed). */
void queue_writer_abort(struct queue_writer **w);
void queue_writer_free(struct queue_writer **w);

/* Group commit for an event loop. done(arg, ok, err) is called in the loop's thread;
 * the writer then belongs to the caller again (free it). */
typedef void queue_commit_cb(void *arg, bool ok, const char *err);
struct queue_committer *queue_committer_new(struct event_base *base);
void queue_commit_async(struct queue_committer *qc, struct queue_writer *w,
			queue_commit_cb *done, void *arg);
void queue_committer_free(struct queue_committer **qc);

/* Tells the queue manager that a message was queued (a datagram to its socket in the
 * queue folder; harmless if nobody listens: the manager also rescans). */
void queue_notify(const char *queue_dir, const char *id);

/* ---- Queue IDs ---- */

/* A new ID into id (QUEUE_ID_MAX bytes): base32hex of microseconds since the epoch (11
 * characters), a per-process counter (3) and the process ID (5). Unique on one host,
 * sorted by time, made of [0-9A-V] only (safe as a file name). */
void queue_id_new(char id[QUEUE_ID_MAX]);
/* Is s a well-formed queue ID? (Tools check user input with it before building paths.) */
bool queue_id_valid(const char *s);
/* The arrival time (seconds) coded in a valid ID. */
time_t queue_id_time(const char *id);

/* ---- Folders ---- */

/* Creates QUEUE/{tmp,msg,env,corrupt,free} (mode 0700) if missing. 0, or -1 + err. */
int queue_dirs_create(const char *queue_dir, struct buf *err);

/* Tools started as root (sendmail, tern queue) switch to the owner of the queue folder
 * (the account the workers run as), so that the files they make stay readable by the
 * queue manager. Does nothing when not root or when the folder belongs to root.
 * 0, or -1 + err. */
int queue_become_owner(const char *queue_dir, struct buf *err);

/* ---- Envelopes: reading and state records ---- */

enum queue_rcpt_state { QUEUE_RCPT_PENDING, QUEUE_RCPT_DELIVERED, QUEUE_RCPT_FAILED };

struct queue_rcpt {
	char *addr;
	char *orcpt;
	enum queue_rcpt_state state;
	bool attempting;  /* a delivery was started and its outcome is not recorded */
	char *last_error; /* last deferral or failure reason (enhanced code first), or NULL */
	bool warned;      /* the delay warning about it was sent (or was not due: NOTIFY) */
	time_t changed;   /* time of the last record about this recipient */
};

struct queue_attr {
	char *name;
	char *value;
};

struct queue_envelope {
	char id[QUEUE_ID_MAX];
	time_t arrival;
	uint64_t size;
	char *sender;
	struct queue_rcpt *rcpts;
	size_t rcpt_count;
	struct queue_attr *attrs;
	size_t attr_count;
	unsigned attempts; /* delivery passes so far */
	time_t next_try;   /* 0: at once */
	bool held;
	unsigned version;  /* 2: one file, env/ID (data, then envelope); 1: data in msg/ID */
	uint64_t env_offset; /* where the envelope text starts in env/ID (format 2: = size) */
	size_t valid_len;  /* bytes of the envelope text up to the last complete record */
};

enum queue_load { QUEUE_LOAD_OK, QUEUE_LOAD_MISSING, QUEUE_LOAD_DAMAGED, QUEUE_LOAD_ERROR };

/* Parses envelope text (a pure function, for the loader and tests). A last line without
 * its LF is a record torn by a crash and ignored. NULL + err ("line N: reason") when
 * damaged. */
struct queue_envelope *queue_envelope_parse(const char *id, const char *text, size_t len,
					    struct buf *err);
/* Reads the envelope of QUEUE/env/ID, either format (format 2: the text after the data,
 * found from the end of the file); a torn last record is cut off the file. */
enum queue_load queue_envelope_load(const char *queue_dir, const char *id,
				    struct queue_envelope **env_r, struct buf *err);
void queue_envelope_free(struct queue_envelope **env);
/* The attribute's value, or NULL. */
const char *queue_envelope_attr(const struct queue_envelope *env, const char *name);
/* Is every recipient delivered or failed? */
bool queue_envelope_done(const struct queue_envelope *env);

/* State records, appended to the envelope file and fdatasync'd (one write for all the
 * records in recs), under flock(2) on it, after checking that env/ID is still the file
 * opened (a removed envelope may be recycled for another message at once). Build recs
 * with the queue_rec_* helpers. -1 + err (errno ENOENT: the message was removed
 * meanwhile). */
void queue_rec_attempt(struct buf *recs, unsigned rcpt_index);
void queue_rec_delivered(struct buf *recs, unsigned rcpt_index, const char *text);
void queue_rec_failed(struct buf *recs, unsigned rcpt_index, const char *text);
void queue_rec_deferred(struct buf *recs, unsigned rcpt_index, const char *text);
void queue_rec_retry(struct buf *recs, time_t next_try, unsigned attempts);
/* The delay warning (RFC 3464 Action: delayed) for the recipient is done: never again. */
void queue_rec_warned(struct buf *recs, unsigned rcpt_index);
void queue_rec_hold(struct buf *recs, bool held);
int queue_append_records(const char *queue_dir, const char *id, const struct buf *recs,
			 struct buf *err);

/* ---- Notifications and the records they stand for (doc/queue-format.md, "A
 * notification exactly once") ----
 * A notification about message ORIGIN names, in its own envelope and so in the same
 * commit, the state records of ORIGIN it stands for: attributes
 * "dsn_of ORIGIN KEY IDX,IDX,..." (KEY: f failed, w warned, o delivered). Whoever finds
 * the notification queued and ORIGIN without those records (a crash came between the
 * two) appends them to ORIGIN instead of notifying again. */
#define QUEUE_REPORT_ATTR "dsn_of"
#define QUEUE_REPORT_FAILED 'f'
#define QUEUE_REPORT_WARNED 'w'
#define QUEUE_REPORT_DELIVERED 'o'
struct queue_report {
	char origin[QUEUE_ID_MAX];
	char key;    /* QUEUE_REPORT_FAILED, _WARNED or _DELIVERED */
	size_t *idx; /* recipient indexes in the origin */
	size_t count;
};
/* Adds the attributes for recipients idx[] of origin (several when the list is long). */
void queue_writer_add_report(struct queue_writer *w, const char *origin, char key,
			     const size_t *idx, size_t count);
/* The reports an envelope carries (none: *count_r 0). -1 + err when one is malformed
 * (then none is returned). */
int queue_envelope_reports(const struct queue_envelope *env, struct queue_report **reports_r,
			   size_t *count_r, struct buf *err);
void queue_reports_free(struct queue_report **reports, size_t count);
/* Appends to recs the records of report r that origin lacks (f or o for recipients still
 * pending, w for pending ones not warned); by_id, the notification's queue ID, goes into
 * their text. Returns how many. (A pure function: the caller appends recs.) */
size_t queue_report_missing(const struct queue_envelope *origin, const struct queue_report *r,
			    const char *by_id, struct buf *recs);

/* Sorted list of the queued IDs (messages with an envelope). -1 + err. */
int queue_list(const char *queue_dir, char ***ids_r, size_t *count_r, struct buf *err);
void queue_list_free(char ***ids, size_t count);
/* The oldest max of them, sorted, and in *total_r (may be NULL) how many there are in
 * all; memory is bounded by max however long the queue (mailq for local users). */
int queue_list_oldest(const char *queue_dir, size_t max, char ***ids_r, size_t *count_r,
		      size_t *total_r, struct buf *err);
/* The message data of a loaded envelope, for every reader (delivery, relay, bounces,
 * tools): the first env->size bytes of the file at this path (format 2: QUEUE/env/ID,
 * whose envelope follows the data; format 1: QUEUE/msg/ID). Never read past env->size. */
char *queue_data_path(const char *queue_dir, const struct queue_envelope *env);
/* Opens that file read-only: fd, or -1 + errno. */
int queue_data_open(const char *queue_dir, const struct queue_envelope *env);
/* Removes a message, either format: env/ID first (so a crash leaves at most a data file
 * in msg/, which is cleaned up), then msg/ID. 0, or -1 + err. */
int queue_remove(const char *queue_dir, const char *id, struct buf *err);

/* ---- Recycled queue files (QUEUE/free/, doc/queue-format.md) ----
 * The queue manager removes finished messages by renaming their files into the pool,
 * up to max_files files (0: none) and data files up to max_size bytes; writers take
 * files from the pool before they create new ones (queue_writer_open does that). */
struct queue_recycler;
/* Counts the pool and trims it to max_files; empty: unlinks every file in it (at a
 * start after an unclean stop). Safe to use from several threads. */
struct queue_recycler *queue_recycler_new(const char *queue_dir, unsigned max_files,
					  uint64_t max_size, bool empty);
/* New bounds (a reload); the pool is trimmed to them. */
void queue_recycler_set(struct queue_recycler *r, unsigned max_files, uint64_t max_size);
void queue_recycler_free(struct queue_recycler **r);
/* queue_remove for a loaded envelope, with the files recycled into the pool while it
 * has room (r NULL: none are). 0, or -1 + err. */
int queue_remove_recycle(const char *queue_dir, struct queue_recycler *r,
			 const struct queue_envelope *env, struct buf *err);
/* Moves a damaged envelope and its data to QUEUE/corrupt/ (never deletes). */
int queue_move_corrupt(const char *queue_dir, const char *id, struct buf *err);
/* Removes leftovers of unacknowledged messages: data files in msg/ without an envelope
 * and files in tmp/ not changed for min_age seconds. Returns how many were removed. */
unsigned queue_cleanup(const char *queue_dir, time_t min_age);

/* The notify socket's path (QUEUE/notify); the manager binds it. Datagram bodies are
 * a queue ID, or "flush" (retry everything now). */
void queue_notify_path(const char *queue_dir, struct buf *path);
/* Sends a datagram body (queue_notify sends an ID). */
void queue_notify_send(const char *queue_dir, const char *text);

#endif
