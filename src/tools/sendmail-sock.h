/* sendmail-sock: the sendmail command as a client of the local submission socket
 * (src/smtpd/smtpd-local.c), used when it may not write the queue itself. */
#ifndef TERN_SENDMAIL_SOCK_H
#define TERN_SENDMAIL_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "conf.h"

struct sm_sock;

/* Connects, reads the greeting, says EHLO: the session, or NULL + err (the server is not
 * running, refused us, or local submission is off). */
struct sm_sock *sm_sock_open(const struct conf *c, struct buf *err);
/* Sends a command line (without CRLF) and reads the reply: its code, or -1 (I/O). */
int sm_sock_cmd(struct sm_sock *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text of the last reply. */
const char *sm_sock_text(const struct sm_sock *k);
/* DATA: the reply code (354 to go on). */
int sm_sock_data(struct sm_sock *k);
/* Message bytes with LF line ends: sent with CRLF and dot-stuffed. 0, or -1 + errno. */
int sm_sock_write(struct sm_sock *k, const char *p, size_t n);
/* The end of the data: the final reply's code, or -1. */
int sm_sock_data_end(struct sm_sock *k);
/* Closes (after QUIT when quit: a session left in DATA is just cut, so nothing queues). */
void sm_sock_close(struct sm_sock **k, bool quit);
/* `sendmail -bs` through the socket: copies stdin to it and it to stdout until either
 * ends. 0, or -1 + err when the server cannot be reached. */
int sm_sock_proxy(const struct conf *c, struct buf *err);
/* mailq through the socket (XMAILQ): prints the server's listing to out as it comes.
 * 0; -1 + err when the server cannot be reached or went away; or the code of its
 * refusal (550: mailq_users does not allow us; 451: it cannot read the queue) + err. */
int sm_sock_mailq(const struct conf *c, FILE *out, struct buf *err);
/* Does this process use the queue itself (root, the queue's owner, or a queue not made
 * yet), rather than the local submission socket? */
bool sm_queue_direct(const char *queue_dir);

#endif
