/* server: the listening side shared by the line-protocol workers (imap, pop3, managesieve):
 * the listeners a worker serves and their TLS contexts (the server's tls_cert/tls_key,
 * made when the first listener needs it, or a listener's own), their reload on SIGHUP,
 * implicit TLS on an accepted socket (RFC 8314 section 3.3) and the STARTTLS switch with
 * its injection guard (RFC 2595 section 3.1, RFC 3207 section 4.2, CVE-2011-0411).
 *
 * The protocol keeps its replies (OK, +OK, "OK" ...) and its sessions; this library only
 * logs (keys as the roles always logged them) and hands bufferevents back.
 */
#ifndef TERN_SERVER_H
#define TERN_SERVER_H

#include <event2/bufferevent.h>
#include <stdbool.h>
#include <stddef.h>

struct conf;
struct conf_listener;
struct event_base;
struct evconnlistener;
struct tls_server_ctx;

#define SERVER_LISTENERS_MAX 16

enum server_tls_mode {
	SERVER_TLS_NONE,
	SERVER_TLS_STARTTLS, /* STARTTLS / STLS offered (RFC 9051 6.2.1, RFC 2595, RFC 5804 2.2) */
	SERVER_TLS_IMPLICIT, /* TLS from the first byte (RFC 8314 section 3.3) */
};

struct server_ports;

/* One listener of tern.conf that this worker serves. */
struct server_listener {
	struct server_ports *ports;
	char *name;
	enum server_tls_mode tls;
	struct tls_server_ctx *ctx; /* its own (tls_cert in the block) or ports->tls; or NULL */
	bool own_ctx;
	struct evconnlistener *evl;
};

/* The listeners of one worker and the TLS context they share. */
struct server_ports {
	struct event_base *base;
	void *arg; /* the protocol's server */
	struct tls_server_ctx *tls; /* from tls_cert/tls_key, made when a listener needs it */
	struct server_listener listeners[SERVER_LISTENERS_MAX];
	size_t count;
};

/* server-tls.c */
/* The context for listener l: its own tls_cert (and tls_key) when it names one, else the
 * server's from tls_cert/tls_key (made now if it is not yet). NULL when it cannot be had
 * (logged). */
struct tls_server_ctx *server_tls_ctx(struct server_ports *p, const struct conf *c,
				      const struct conf_listener *l);
/* Re-reads every context's certificate and settings from c (SIGHUP); errors are logged
 * and the old ones stay in use. */
void server_tls_reload(struct server_ports *p, const struct conf *c);
/* Frees every context (at exit: sessions may still be using them until then). */
void server_tls_free(struct server_ports *p);
/* Wraps an accepted socket of an implicit-TLS listener; NULL (fd closed, logged) on error. */
struct bufferevent *server_tls_accept(struct server_listener *l, int fd);
/* Logs the end of a handshake: "tls: ip=[IP] TLS1.3 CIPHER sni=NAME". */
void server_tls_log_connected(struct bufferevent *bev, const char *ip);
/* Logs why a handshake failed: "tls: ip=[IP] handshake failed: REASON". */
void server_tls_log_failed(struct bufferevent *bev, const char *ip);
/* STARTTLS: call once the protocol's "go ahead" reply is queued on plain and flushed into
 * its output, with held the count of bytes the protocol's own parser had beyond the
 * command line (already thrown away). Discards what plain still holds, logs the total
 * ("VERB: ip=[IP] discarded N octets ..."), and returns the TLS bufferevent over plain
 * (which it owns from now on; set the session's callbacks on it). out_high > 0: plain's
 * write watermarks, so that the filter encrypts only that far ahead. NULL on error
 * (logged; plain is still the session's: close it). */
struct bufferevent *server_starttls(struct tls_server_ctx *ctx, struct bufferevent *plain,
				    size_t held, const char *verb, const char *ip, size_t out_low,
				    size_t out_high);

#endif
