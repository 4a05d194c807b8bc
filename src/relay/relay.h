/* relay: the outbound SMTP and LMTP client, a library run in the queue manager's event
 * loop, many connections at once.
 *
 * The queue manager routes each non-local recipient (relay_route: transport_map,
 * relayhost, else the domain's MX), groups a message's recipients by next hop into a
 * relay_msg and submits it. The relay keeps one queue per destination (next hop), opens
 * up to relay_max_per_destination connections to each and relay_max_connections in all,
 * resolves MX and addresses with lib-dns, speaks SMTP (RFC 5321: EHLO/HELO, PIPELINING
 * RFC 2920, SIZE RFC 1870, 8BITMIME RFC 6152, SMTPUTF8 RFC 6531, CHUNKING RFC 3030,
 * STARTTLS RFC 3207, AUTH RFC 4954 to a smarthost) or LMTP (RFC 2033), reuses a
 * connection for the next message to the same destination, and reports one result per
 * recipient (delivered / deferred / failed with the remote reply) through a callback.
 */
#ifndef TERN_RELAY_H
#define TERN_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "deliver.h"

struct conf;
struct event_base;

enum relay_proto { RELAY_SMTP, RELAY_LMTP };
enum relay_tls { RELAY_TLS_NONE, RELAY_TLS_MAY, RELAY_TLS_ENCRYPT, RELAY_TLS_VERIFY };

#define RELAY_HOST_MAX 256

/* Where a recipient's mail goes. */
struct relay_nexthop {
	enum relay_proto proto;
	char host[RELAY_HOST_MAX]; /* domain, host name, IP address, or a Unix socket path */
	unsigned port;
	bool mx;	/* look up host's MX records (else its addresses, or host is an IP) */
	bool unix_path; /* LMTP over the Unix socket at host */
	bool smarthost; /* the relayhost: relayhost_auth applies */
};

/* ---- Routing (relay-route.c, pure) ---- */

/* Parses one transport: relay:[HOST]:PORT, relay:[HOST], relay:HOST[:PORT] (MX),
 * lmtp:unix:/PATH, lmtp:inet:HOST:PORT; "relay:" may be left out. 0, or -1 + err. */
int relay_parse_transport(const char *spec, unsigned default_port, struct relay_nexthop *hop,
			  struct buf *err);
/* The next hop for a recipient domain: transport_map ("DOMAIN TRANSPORT, ...", exact
 * domain, or ".parent" for subdomains), else relayhost, else the domain's MX on port.
 * 0, or -1 + err when a route is malformed. */
int relay_route(const char *domain, const char *transport_map, const char *relayhost, unsigned port,
		struct relay_nexthop *hop, struct buf *err);
/* The TLS policy for a next-hop name from tls_policy_map ("DOMAIN:POLICY, ..."). */
enum relay_tls relay_tls_policy(const char *name, const char *policy_map, enum relay_tls def);
/* A short text naming the destination, the key of its queue: "smtp:example.org:25". */
void relay_nexthop_key(const struct relay_nexthop *hop, char *out, size_t outlen);

/* ---- Capabilities (relay-ehlo.c, pure) ---- */

struct relay_caps {
	bool pipelining, size, eightbit, smtputf8, chunking, starttls, auth_plain, auth_login, dsn;
	uint64_t size_max; /* 0: no limit given */
};
/* Reads the keywords of an EHLO/LHLO reply's text (lines joined by '\n'; the first line
 * is the server's greeting and is skipped). */
void relay_caps_parse(const char *text, size_t len, struct relay_caps *caps);

/* ---- Message data (relay-dot.c, pure) ---- */

/* Queued data (LF line ends) to SMTP: CRLF line ends, and for DATA leading dots doubled. */
struct relay_dot {
	bool mid_line;	  /* the last byte given was not the end of a line */
	bool dot_stuff;	  /* DATA: double leading dots; BDAT: not */
	bool held_cr;	  /* the last block ended in a CR not yet written */
	size_t max_line;  /* octets a line may have before its CRLF; 0: no limit */
	size_t col;	  /* octets of the current line written so far */
	bool line_broken; /* the current line was broken */
	unsigned broken;  /* lines broken so far (for the log) */
};
void relay_dot_encode(struct relay_dot *st, const char *in, size_t n, struct buf *out);
/* Ends the data: CRLF when the last line had none, then ".\r\n" when dot is set. */
void relay_dot_finish(struct relay_dot *st, bool dot, struct buf *out);

/* ---- The client ---- */

struct relay_rcpt {
	unsigned index; /* in the envelope */
	char *addr;
	char *notify; /* DSN NOTIFY= value as received ("SUCCESS,FAILURE"), or NULL */
	char *orcpt;  /* DSN ORCPT= as received (addr-type;xtext), or NULL */
	struct delivery_result res;
	bool done;
	/* Accepted by a server that offers DSN, so the DSN request went on with the message
	 * and the next hop reports success (RFC 3461 5.2.1); else, when NOTIFY asked for
	 * SUCCESS, the caller reports "relayed" itself (5.2.2). */
	bool dsn_passed;
};

struct relay_msg {
	char queue_id[32];
	char *data_path; /* the queued data file (LF line ends) */
	uint64_t size;
	char *sender;  /* "" for <> */
	bool eightbit; /* received with BODY=8BITMIME */
	bool smtputf8; /* received with SMTPUTF8 */
	char *dsn_ret;   /* DSN RET= as received ("FULL" or "HDRS"), or NULL */
	char *dsn_envid; /* DSN ENVID= as received (xtext), or NULL */
	struct relay_nexthop hop;
	struct relay_rcpt *rcpts;
	size_t rcpt_count;
	void *owner;		/* the caller's */
	struct relay_msg *next; /* the caller's list, then the relay's queue */
};

struct relay;
/* Called in the loop once every recipient of msg has a result; msg is the caller's
 * again. */
typedef void relay_done_cb(struct relay_msg *msg, void *arg);

/* A client on base with conf's outbound options (copied: conf may be freed later).
 * NULL + err when the resolver or TLS cannot be set up. */
struct relay *relay_new(struct event_base *base, const struct conf *conf, relay_done_cb *done,
			void *arg, struct buf *err);
/* New options for the connections made from now on. 0, or -1 + err (old ones kept). */
int relay_reconfigure(struct relay *r, const struct conf *conf, struct buf *err);
void relay_submit(struct relay *r, struct relay_msg *msg);
/* Messages submitted and not yet done. */
size_t relay_pending(const struct relay *r);
/* Closes every connection; messages not done get a deferral and are handed back. */
void relay_free(struct relay **r);

/* Frees a message and its strings (for callers that built it with x_ allocators). */
void relay_msg_free(struct relay_msg **msg);
/* Sets a recipient's result from a status, code and text. */
void relay_rcpt_set(struct relay_rcpt *rc, enum delivery_status st, const char *enhanced,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same from "4.4.1 text": the first word is the enhanced code. */
void relay_rcpt_set_text(struct relay_rcpt *rc, enum delivery_status st, const char *text);

#endif
