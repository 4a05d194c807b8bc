/* queue-private: what the writer, the group committer and the reader share inside
 * lib-queue: the writer's fields, the folder names and the commit steps. Not for users of
 * the library (they see queue.h only).
 */
#ifndef TERN_QUEUE_PRIVATE_H
#define TERN_QUEUE_PRIVATE_H

#include "queue.h"

#define QUEUE_DIR_TMP "tmp"
#define QUEUE_DIR_MSG "msg"
#define QUEUE_DIR_ENV "env"
#define QUEUE_DIR_CORRUPT "corrupt"
#define QUEUE_DIR_FREE "free"
/* Format 2 (one file: the data, then the envelope); 1 (separate env/ID and msg/ID) is
 * still read. */
#define QUEUE_ENVELOPE_VERSION 2
/* Bounds on what an envelope may hold, so a damaged file cannot eat memory. */
#define QUEUE_ENVELOPE_MAX (16u * 1024 * 1024)
#define QUEUE_FIELD_MAX 4096
/* Data gathered per write(2) of a queue writer (queue_writer_write). */
#define QUEUE_WRITE_BUF 32768

struct queue_writer {
	char id[QUEUE_ID_MAX];
	char *queue_dir;
	char *data_path; /* QUEUE/msg/ID: the file while it is written */
	char *env_path;  /* QUEUE/env/ID: the same file once queued */
	int data_fd;
	uint64_t data_old_size; /* a recycled file's length when taken: cut at commit */
	uint64_t size; /* bytes of data given, those still in wbuf included */
	/* Data not yet written to data_fd (QUEUE_WRITE_BUF bytes, allocated at the first
	 * write, freed at commit): the data arrives in pieces of a few kilobytes. */
	char *wbuf;
	size_t wlen;
	time_t arrival;
	struct buf envelope; /* sender, recipients and attributes, as records */
	bool have_sender;
	unsigned rcpt_count;
	bool committed;
	/* group commit */
	struct queue_writer *next;
	queue_commit_cb *done;
	void *done_arg;
	bool ok;
	char error[256];
};

/* Commit steps (each sets w->ok false and w->error on failure):
 * 1. append the envelope to the data file and fdatasync it; 2. rename msg/ID to env/ID;
 * (caller fsyncs env/). */
void queue_writer_prepare(struct queue_writer *w);
void queue_writer_publish_env(struct queue_writer *w);
/* Undo after a failed step: removes whatever files the writer created. */
void queue_writer_unlink_all(struct queue_writer *w);
/* Takes a recycled file from QUEUE/free/ (queue-recycle.c), of the kind given when the
 * pool has one (QUEUE_POOL_ENV, QUEUE_POOL_DATA), and renames it to path: an
 * fd open for writing at offset 0, and in *old_size_r the length of the bytes of an
 * earlier message it still holds (the caller writes over them and cuts the file to its
 * own length before making it durable); -1 when the pool has none to give (the caller
 * creates the file). */
int queue_pool_claim(const char *queue_dir, const char *path, char kind, uint64_t *old_size_r);
/* The kinds of pool files (free/ID.KIND): a claim prefers its own kind. Format 2 has one
 * kind of file (data and envelope); 'e' files are the envelopes of format 1 messages. */
#define QUEUE_POOL_ENV 'e'
#define QUEUE_POOL_DATA 'd'
/* The start of a format 2 envelope in its file: "V 2\nI ID\n" (queue-store.c looks for
 * its last occurrence). */
void queue_envelope_marker(const char *id, struct buf *out);
/* Appends "KEY VALUE\n" with control characters in value replaced by '?'. */
void queue_rec_field(struct buf *b, char key, const char *value);

#endif
