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
#include <time.h>

#include "buf.h"

enum delivery_status { DELIVERY_OK, DELIVERY_DEFER, DELIVERY_BOUNCE };

struct delivery_result {
	enum delivery_status status;
	char enhanced[16]; /* "2.0.0", "4.2.2", ... */
	char text[256];
};

struct delivery_request {
	const char *queue_id;
	unsigned rcpt_index;    /* which recipient of the message: part of the unique name */
	const char *sender;     /* envelope sender, "" for the null sender */
	const char *recipient;  /* the address as delivered (Delivered-To:) */
	const char *maildir;    /* the Maildir folder (created if missing) */
	int message_fd;         /* the queued message, read from offset 0 with pread */
	const char *hostname;   /* for the Maildir unique name */
	time_t queue_time;      /* the message's arrival (seconds): the name's time part */
	bool recheck;           /* a previous attempt may have got as far as new/: look for
				 * its file in new/ and cur/ under any host name first */
};

/* Delivers into a Maildir; fills res. Never loses the message: any failure is DEFER
 * unless it is certain to be permanent. */
void deliver_maildir(const struct delivery_request *req, struct delivery_result *res);
/* The unique part of the file name for req, without ",S=SIZE" and info:
 * "TIME.QUEUEID_RCPTINDEX.HOST" (HOST with '/' as \\057 and ':' as \\072). */
void deliver_maildir_base(const struct delivery_request *req, struct buf *out);

#endif
