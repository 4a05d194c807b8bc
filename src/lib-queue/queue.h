/* queue: the on-disk mail queue (format in doc/queue-format.md).
 *
 * A message is one data file plus one envelope file, named by its queue ID. The
 * envelope file appears (by rename, after fsync of the data and envelope and of their
 * folders) only when the message is safe on disk: its presence is what "queued" means.
 * The writer streams: message bytes go to the data file as they arrive.
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

#endif
