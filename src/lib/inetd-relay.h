/* inetd-relay: one protocol session over stdin/stdout (`tern imap --inetd`, `tern pop3
 * --inetd`: inetd, ssh pipes, tests) when they are not a socket.
 *
 * A bufferevent pair stands in for the socket: the session gets one end, and two relays
 * copy stdin to the other end and that end to stdout, each pausing while the far side's
 * output is above the high mark, so a big FETCH or RETR still streams with bounded memory.
 * stdin or stdout may also be a regular file or /dev/null (which libevent cannot watch):
 * input from a file is handed over at once (bounded), output to one is written blocking.
 */
#ifndef TERN_INETD_RELAY_H
#define TERN_INETD_RELAY_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stddef.h>

struct inetd_relay {
	struct bufferevent *in;	  /* stdin, or NULL when it is a file */
	struct bufferevent *out;  /* stdout, or NULL when it is a file */
	struct bufferevent *pair; /* our end of the pair; the session has the other */
	size_t high;		  /* stop reading a side while the other holds this much */
};

/* Sets up the pair and the relays (high/low: output watermarks of the session's protocol);
 * returns the session's end. Fatal when libevent cannot make the pair. */
struct bufferevent *inetd_relay_open(struct event_base *base, struct inetd_relay *r,
				     size_t high, size_t low);
/* When stdin is a file (r->in NULL): hands its contents over at once, then its end. Call
 * after the session is set up. */
void inetd_relay_file_input(struct inetd_relay *r);
/* After the event loop ended: writes what is left for stdout and frees the relays. */
void inetd_relay_close(struct inetd_relay *r);

#endif
