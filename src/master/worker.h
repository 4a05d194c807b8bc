/* worker: the table of worker roles `tern serve` can start. */
#ifndef TERN_WORKER_H
#define TERN_WORKER_H

/* The role that serves a listener protocol (smtp, submission, imap, pop3), or NULL when
 * this build has none. */
const char *worker_role_for_protocol(const char *protocol);

#endif
