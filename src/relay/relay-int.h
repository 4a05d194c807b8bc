/* relay-int: the relay's internals, shared by the scheduler (relay.c), the session
 * engine (relay-session.c, relay-conn.c) and client TLS (relay-tls.c).
 */
#ifndef TERN_RELAY_INT_H
#define TERN_RELAY_INT_H

#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include "dns.h"
#include "relay.h"
#include "smtp-reply.h"

/* Options copied from the configuration (relay_reconfigure replaces them). */
struct relay_conf {
	char *hostname;
	char *tls_policy_map;
	enum relay_tls tls_policy;
	char *auth_user, *auth_pass; /* NULL: no AUTH */
	size_t max_conns, max_per_dest, max_msgs_per_conn;
	bool bounce_8bit;
	size_t max_line; /* relay_max_line_length; 0: lines sent as they are */
	unsigned cache_time;
	unsigned t_connect, t_initial, t_mail, t_rcpt, t_data, t_block, t_final;
};

/* One destination (next hop) and its queue of messages. */
struct relay_dest {
	struct relay *relay;
	char key[RELAY_HOST_MAX + 32];
	struct relay_nexthop hop;
	struct relay_msg *head, *tail;
	size_t queued;
	size_t conns;	 /* connections open or being made */
	size_t starting; /* of those, not yet ready for a message */
	size_t idle;	 /* of those, waiting for a message (RS_IDLE) */
	struct relay_dest *next;
};

struct relay {
	struct event_base *base;
	struct relay_conf conf;
	struct dns *dns;
	SSL_CTX *ssl_ctx;
	relay_done_cb *done;
	void *done_arg;
	struct relay_dest *dests;
	struct relay_conn *conns; /* every connection, linked through next */
	size_t conn_count;
	size_t pending; /* messages submitted and not done */
	struct event *ev_kick;
};

enum relay_state {
	RS_RESOLVE_MX,
	RS_RESOLVE_ADDR,
	RS_CONNECT,
	RS_GREETING,
	RS_EHLO,
	RS_HELO,
	RS_STARTTLS,
	RS_TLS_HANDSHAKE,
	RS_AUTH,
	RS_AUTH_USER,
	RS_AUTH_PASS,
	RS_READY,
	RS_TRANSACTION,
	RS_IDLE,
	RS_DATA_STREAM,
	RS_FINAL,
	RS_BDAT,
	RS_RSET,
	RS_QUIT,
	RS_DUMMY_DOT,
};

/* What a reply in a transaction answers. */
enum relay_cmd { RC_MAIL, RC_RCPT, RC_DATA };

struct relay_conn {
	struct relay *relay;
	struct relay_dest *dest;
	struct relay_conn *next;
	enum relay_state state;
	struct bufferevent *bev;
	struct dns_query *query;
	struct event *ev_idle;
	struct dns_mx_result *mx;
	size_t mx_idx;
	struct dns_addr_result *addrs;
	size_t addr_idx;
	char host[DNS_NAME_MAX];      /* the MX host (or next hop) being tried */
	char peer[DNS_NAME_MAX + 64]; /* "host[address]" for logs and texts */
	bool loopback;
	enum relay_tls tls_policy;
	bool tls_on;
	bool lmtp;
	struct relay_caps caps;
	struct smtp_reply reply;
	char last_error[256]; /* "4.4.1 ..." when the next hop cannot be reached */
	/* The message in flight. */
	struct relay_msg *msg;
	unsigned msgs_done;
	size_t cmd_sent, cmd_replied; /* commands of the transaction: MAIL, RCPTs, DATA */
	size_t cmd_total;
	bool mail_failed;
	size_t accepted;      /* recipients accepted by RCPT */
	size_t *accepted_idx; /* their indexes in msg->rcpts (LMTP replies) */
	size_t lmtp_replies;
	int data_fd;
	uint64_t data_left;
	struct relay_dot dot;
	bool data_last; /* BDAT: the LAST chunk was sent */
	bool was_ready; /* reached RS_READY once (no longer counted as starting) */
	bool dead;	/* closed: freed from a zero timer */
};

/* relay.c */
void relay_conn_finished(struct relay_conn *c);
/* The next message for a ready connection, or NULL. */
struct relay_msg *relay_dest_take(struct relay_dest *d);
void relay_msg_complete(struct relay *r, struct relay_msg *m);
/* Every queued message of d gets the result (the destination cannot be reached). */
void relay_dest_fail_all(struct relay_dest *d, enum delivery_status st, const char *text);

/* relay-conn.c: connecting and the byte stream. */
struct relay_conn *relay_conn_start(struct relay *r, struct relay_dest *d);
void relay_conn_send(struct relay_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void relay_conn_timeout(struct relay_conn *c, unsigned read_secs);
/* The current host failed (text: "4.x.x why"): try the next address or host. */
void relay_conn_next_host(struct relay_conn *c, const char *text);
/* Ends the connection: a message in flight gets `text` (a deferral) for its open
 * recipients. */
void relay_conn_close(struct relay_conn *c, const char *text);
void relay_conn_free(struct relay_conn *c);

/* relay-session.c: the protocol. */
void relay_session_reply(struct relay_conn *c);
void relay_session_connected(struct relay_conn *c);
void relay_session_next(struct relay_conn *c);
/* A message was queued for an idle connection's destination: take it. */
void relay_session_wake(struct relay_conn *c);
void relay_session_stream(struct relay_conn *c);
/* The text for a reply: "host[addr] said: 550 5.1.1 text". */
void relay_reply_result(struct relay_conn *c, const struct smtp_reply *rp, const char *cmd,
			struct relay_rcpt *rc);

/* relay-tls.c */
SSL_CTX *relay_tls_ctx_new(struct buf *err);
/* Wraps c->bev into a client TLS bufferevent (SNI and, for verify, the host name check). */
int relay_tls_start(struct relay_conn *c);
/* After the handshake: describes the session for the log. */
void relay_tls_describe(struct relay_conn *c, char *out, size_t n);
/* Why the handshake failed ("4.7.5 ..."), certificate verification first. */
void relay_tls_failure(struct relay_conn *c, char *out, size_t n);

#endif
