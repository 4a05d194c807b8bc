/* deliver: local delivery of one queued message to one recipient's mailbox.
 *
 * Durable and idempotent (doc/queue-format.md, "delivery"): the Maildir file is named
 * after the queue ID and recipient, written in tmp/, fsync'd, linked into new/, and the
 * folder fsync'd; a repeated delivery of the same (queue ID, recipient) finds the first
 * one and reports success without a second copy.
 */
#ifndef TERN_DELIVER_H
#define TERN_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

struct conf;

enum delivery_status { DELIVERY_OK, DELIVERY_DEFER, DELIVERY_BOUNCE };

struct delivery_result {
	enum delivery_status status;
	char enhanced[16]; /* "2.0.0", "4.2.2", ... */
	char text[256];
};

struct delivery_request {
	const char *queue_id;
	unsigned rcpt_index;   /* which recipient of the message: part of the unique name */
	const char *sender;    /* envelope sender, "" for the null sender */
	const char *recipient; /* the address as delivered (Delivered-To:) */
	const char *maildir;   /* the Maildir folder (created if missing) */
	int message_fd;	       /* the queued message, read from offset 0 with pread */
	bool message_sized;    /* it is message_size bytes of message_fd (a queue file goes */
	uint64_t message_size; /* on with its envelope); else all of it (fstat) */
	const char *hostname;  /* for the Maildir unique name */
	time_t queue_time;     /* the message's arrival (seconds): the name's time part */
	bool recheck;	       /* a previous attempt may have got as far as new/: look for
				* its file in new/ and cur/ under any host name first */
};

/* The message's length: message_size when given, else the file's. -1 + errno. */
int deliver_message_size(const struct delivery_request *req, uint64_t *size_r);
/* Delivers into a Maildir; fills res. Never loses the message: any failure is DEFER
 * unless it is certain to be permanent. */
void deliver_maildir(const struct delivery_request *req, struct delivery_result *res);
/* The unique part of the file name for req, without ",S=SIZE" and info:
 * "TIME.QUEUEID_RCPTINDEX.HOST" (HOST with '/' as \\057 and ':' as \\072). */
void deliver_maildir_base(const struct delivery_request *req, struct buf *out);

/* ---- Local delivery with the user's filters (deliver-local.c) ---- */

/* A message as pieces: `mem` bytes first, then `fd_len` bytes of fd from fd_off (fd < 0:
 * none). Every writer streams it with a fixed buffer. */
struct deliver_src {
	const char *mem;
	size_t mem_len;
	int fd;
	uint64_t fd_off;
	uint64_t fd_len;
};

/* Where a user's mail and filters are (deliver-user.c): the one place that answers it. */
struct deliver_user {
	char *address;	  /* canonical address (Delivered-To: uses the request's recipient) */
	char *login;	  /* the name in comsat datagrams: local part, or the passwd name */
	char *root;	  /* the user's mail folder: MAILDIR, and the confinement root */
	char *inbox;	  /* the INBOX: a Maildir (virtual users) */
	char *procmailrc; /* the rc file when it exists, else NULL */
	char *sieve;	  /* the active Sieve script when it exists, else NULL */
	char *sieve_at;	  /* where the active script is or would be (tern sieve), or NULL */
	bool virtual_user;
	/* System users: */
	bool inbox_mbox;  /* inbox is an mbox file, not a Maildir */
	char *folders;	  /* the Maildir++ root of Sieve's fileinto (NULL: root) */
	char *forward;	  /* ~/.forward when it exists, else NULL */
};

/* Finds the user of address (virtual users: DATA/mail/DOMAIN/USER). 1 found, 0 unknown
 * user, -1 error (err set). Free with deliver_user_free. */
int deliver_user_lookup(const struct conf *c, const char *address, struct deliver_user *u,
			struct buf *err);
/* The same for a virtual user whose Maildir the caller knows already (the queue). */
void deliver_user_from_maildir(const struct conf *c, const char *address, const char *maildir,
			       struct deliver_user *u);
void deliver_user_free(struct deliver_user *u);
/* The root of the user's folders (Sieve fileinto, flagged copies): folders, else root. */
const char *deliver_user_folders(const struct deliver_user *u);
/* A system user (user_source = system) from the directory's answer: HOME is MAILDIR,
 * the INBOX is system_mailbox, the filters are ~/.procmailrc, the Sieve script
 * system_sieve_path, and ~/.forward. */
struct user_info;
void deliver_user_system(const struct conf *c, const struct user_info *info,
			 struct deliver_user *u);

/* ---- System users: delivery as the recipient (deliver-system.c, deliver-worker.c) ---- */

/* The deliver worker's socket: QUEUE_DIR/deliver.sock. */
char *deliver_socket_path(const struct conf *c);
/* In the master, as root: the listening socket (SOCK_SEQPACKET, owned by run_user, mode
 * 0600), made before the queue manager starts. fd, or -1 with err. */
int deliver_socket_listen(const struct conf *c, struct buf *err);
/* Role deliver (system mode): the only worker that keeps root. Takes one request per
 * connection from the queue manager and delivers as the recipient. */
int deliver_worker_main(const char *conf_path);
/* In the queue manager: hands one local delivery to the deliver worker and waits for the
 * outcome (a failure to reach it is a deferral). login: the recipient's account. */
void deliver_handoff(const struct conf *c, const struct delivery_request *req, const char *login,
		     struct delivery_result *res);
/* Delivers as the user (root only): forks a child that becomes the user and runs
 * deliver_local, while this process becomes run_user and queues the child's forwards.
 * unique: exactly-once Maildir names (the queue's deliveries). Returns the sysexits code;
 * res is filled. This process is run_user afterwards (or
 * unchanged when not root). */
int deliver_as_user(const struct conf *c, const struct user_info *info,
		    const struct delivery_request *req, bool unique, struct delivery_result *res);
/* Seconds one delivery as a user may take before it is killed and deferred. */
unsigned deliver_system_timeout(const struct conf *c);

struct deliver_ctx {
	const struct conf *conf;
	const struct delivery_request *req; /* req->maildir: the user's INBOX */
	const struct deliver_user *user;    /* NULL: found from req->recipient and maildir */
	bool unique_names; /* name Maildir files after queue ID + recipient (exactly-once) */
};

/* Delivers req's message for one recipient, through the user's procmail rc file or Sieve
 * script when there is one, else straight into the INBOX (deliver_maildir). Adds
 * Return-Path: and Delivered-To:, refuses a mail loop (a Delivered-To: of this
 * recipient already), sends the comsat datagram after an INBOX delivery. Fills res and
 * returns the sysexits code for it (0, 65 data/loop, 67 no user, 73, 75 temporary, 77,
 * 78 configuration). */
int deliver_local(const struct deliver_ctx *ctx, struct delivery_result *res);

/* Durable Maildir write of src under a name: `unique` (exactly-once: an existing file of
 * that name in new/, or with recheck in new/ or cur/ under any info, counts as done) or a
 * fresh "TIME.MusecPpidQn.HOST" name when NULL. The path written
 * goes to path_r (may be NULL). 0, or -1 with res set (DEFER). */
int deliver_maildir_put(const char *maildir, const char *unique, bool recheck, const char *hostname,
			const struct deliver_src *src, struct buf *path_r,
			struct delivery_result *res);
/* Writes src to fd with a fixed buffer. -1 + errno. */
int deliver_src_write(int fd, const struct deliver_src *src);
/* Maildir copies are written as unnamed files of new/ (O_TMPFILE) where the file system
 * can; false: always through tmp/ (the fallback; for tests). */
extern bool deliver_maildir_unnamed;
/* Sets res to a deferral/failure for errno e ("what path: strerror"). */
void deliver_result_errno(struct delivery_result *res, const char *what, const char *path, int e);
void deliver_result_set(struct delivery_result *res, enum delivery_status st, const char *enhanced,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
