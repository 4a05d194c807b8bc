/* server: the listening side shared by the line-protocol workers (imap, pop3, managesieve):
 * the listeners of TERN_LISTEN_FDS whose protocol is the worker's, accepting connections
 * within the total and per-address limits (a refused client gets the protocol's one-line
 * refusal), retiring on SIGHUP when chrooted, re-reading the configuration; the listeners'
 * TLS contexts (the server's tls_cert/tls_key, made when the first listener needs it, or a
 * listener's own) and their reload, implicit TLS on an accepted socket (RFC 8314 section
 * 3.3) and the STARTTLS switch with its injection guard (RFC 2595 section 3.1, RFC 3207
 * section 4.2, CVE-2011-0411).
 *
 * The protocol keeps its replies (OK, +OK, "OK" ...) and its sessions, and is told of each
 * accepted connection through struct server_proto; this library only logs (with the keys
 * the roles always logged) and hands bufferevents back.
 */
#ifndef TERN_SERVER_H
#define TERN_SERVER_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#include "inetd-relay.h"
#include "login.h"
#include "net.h"

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
struct server_sessions;
struct server_listener;

/* What a protocol tells the shared listening code. */
struct server_proto {
	const char *protocol;	/* "imap": the listeners whose protocol = this are served */
	const char *starttls;	/* "STARTTLS", "STLS": its name, for the log */
	const char *refuse_fmt; /* the refusal line, %s the reason: "-ERR [SYS/TEMP] %s\r\n" */
	bool nodelay;		/* TCP_NODELAY on accepted TCP sockets */
	/* A connection within the limits: bev is plain, or TLS with the handshake to come
	 * (l->tls says which). The session is the protocol's from now on. */
	void (*accepted)(void *arg, struct server_listener *l, struct bufferevent *bev,
			 const struct net_peer *peer);
	/* SIGHUP, the configuration re-read into core->conf: the protocol's settings and
	 * login policy from it (server_core_reconfigure; the TLS contexts follow). */
	void (*reconfigure)(void *arg);
};

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
	const struct server_proto *proto;
	void *arg; /* the protocol's server: proto's callbacks get it */
	struct event_base *base;
	struct server_sessions *sessions; /* counted for the connection limits */
	uint64_t max_connections, max_connections_per_ip;
	bool stopping; /* SIGTERM: every new connection is refused */
	struct tls_server_ctx *tls; /* from tls_cert/tls_key, made when a listener needs it */
	struct server_listener listeners[SERVER_LISTENERS_MAX];
	size_t count;
};

/* server-listen.c */
/* Sets p up for proto (arg: proto's callbacks get it); the limits are set by the caller. */
void server_ports_init(struct server_ports *p, const struct server_proto *proto, void *arg,
		       struct event_base *base);
/* Watches the listeners of TERN_LISTEN_FDS that c says speak p's protocol, with their TLS
 * modes and contexts from c; returns how many. A listener for implicit TLS without a
 * certificate is not served (better no service than a plaintext one where clients expect
 * TLS); one for STARTTLS is served without it. */
size_t server_listen(struct server_ports *p, const struct conf *c);
/* SIGHUP in a chrooted worker (it cannot read the new configuration; the master has
 * started a new worker): accepts no more connections and ends the loop now when no session
 * is left (else it ends with the last session). */
void server_retire(struct server_ports *p, size_t sessions);
/* Closes the listeners and frees the TLS contexts. */
void server_ports_free(struct server_ports *p);
/* SIGHUP: loads path into *conf (the old one is freed). 0, or -1 when it cannot be read
 * (logged; the old configuration stays). */
int server_conf_reload(struct conf **conf, const char *path);

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

/* server-inetd.c: one session over stdin/stdout (`tern ROLE --inetd [-u USER]`: inetd,
 * systemd Accept=yes, ssh pipes, tests, and a system user's session that the auth process
 * starts on a socketpair). */
struct server_inetd {
	struct net_peer peer; /* the client: stdin's peer, or TERN_CLIENT_IP (see open) */
	struct inetd_relay relay;
};
/* The session's bufferevent: stdin itself when it is a socket to a network client or the
 * auth process's socketpair (preauth with TERN_CLIENT_IP, which then names the client),
 * else one end of lib's inetd-relay over the pipes or files (high/low: the protocol's
 * output watermarks, so a long reply still streams with bounded memory). */
struct bufferevent *server_inetd_open(struct server_inetd *in, struct event_base *base,
				      bool preauth, size_t high, size_t low);
/* Runs the loop until the session ends, then writes what is left for stdout. */
void server_inetd_run(struct server_inetd *in, struct event_base *base);
/* The arguments of `tern ROLE --inetd [-u USER] [-c CONF]`: 0 with *conf_r (-c, else
 * TERN_CONF, else /etc/tern/tern.conf) and *user_r (NULL without -u), or 64 after the
 * usage line on stderr. */
int server_inetd_args(int argc, char **argv, const char *role, const char **conf_r,
		      const char **user_r);

/* server-syslogin.c: a system user's login through the auth process (lib-login), for a
 * pre-login worker. The protocol keeps its replies: */
struct server_conn;
struct server_core;
struct server_syslogin_ops {
	enum login_proto proto;
	size_t out_high; /* the proxy's limit on bytes waiting on either side */
	/* LOGIN_OK: line is the session process's first line (without CRLF). Queue the answer
	 * to the login command in conn.out; true when the login is done (the proxy takes the
	 * client over), false when the session refused (its process is let go, and the
	 * session reads commands again). NULL: that line itself is the answer, and the login
	 * is done when it starts with ok_prefix. */
	bool (*ready)(void *session, const char *line);
	const char *ok_prefix; /* "+OK", "OK" */
	/* Any other status: queue the protocol's answer (LOGIN_FAILED: after rep->delay_ms,
	 * and the protocol resumes the session then). LOGIN_TEMPFAIL also when the auth
	 * process could not be asked at all. */
	void (*refused)(void *session, const struct login_reply *rep);
};
struct server_syslogin {
	const struct server_syslogin_ops *ops;
	struct server_conn *conn;
	struct login_client *login; /* the attempt at the auth process */
	struct login_proxy *proxy;  /* then the proxy to the session process */
	char *user;		    /* for the logout line */
};
/* Sends the attempt for conn's session (not a pre-login worker: answered as unavailable),
 * which is busy until the answer. 0: the answer comes through ops later; -1: refused
 * (LOGIN_TEMPFAIL) was called now. When the proxy ends, a session whose client is gone is
 * freed, else closed once its last words are written. */
int server_syslogin_start(struct server_syslogin *sl, const struct server_syslogin_ops *ops,
			  struct server_conn *conn, const struct server_core *core,
			  const char *mech, const char *user, const char *password);
/* Cancels the attempt, ends the proxy (its session process sees its socket end). */
void server_syslogin_free(struct server_syslogin *sl);

/* A session that ends once its output is written: free_fn(arg) is called from the loop
 * (server-conn.c). */
struct server_close {
	struct bufferevent *bev;
	struct event *kill;
	struct evbuffer_cb_entry *drain_cb; /* closing over TLS: watches the plain output */
	void (*free_fn)(void *arg);
	void *arg;
};

/* server-conn.c: what every session of the imap, pop3 and managesieve workers has, and
 * the list of a worker's sessions. The protocol's session embeds a struct server_conn and
 * is called back through its ops (session: the protocol's session). */
struct server_conn;
struct server_sessions {
	struct event_base *base;
	struct server_conn *head; /* a doubly linked list */
	size_t count;
	bool stopping; /* SIGTERM */
	bool inetd;    /* one session: the loop ends with it */
	bool retiring; /* a chrooted worker at a reload: it ends with its last session */
};
struct server_conn_ops {
	/* Takes what it can from in (a command line, a command, a piece of a literal) and
	 * acts on it; false when in holds nothing it can use yet. */
	bool (*consume)(void *session, struct evbuffer *in);
	/* Optional: before each run of commands answered in one go; when it returns true,
	 * input_end is called after the run (a run within a run begins nothing). */
	bool (*input_begin)(void *session);
	void (*input_end)(void *session);
	/* Optional: the output drained to the low mark: true when the protocol used the
	 * event (more of a streamed message, a job's next step), false to read commands. */
	bool (*writable)(void *session);
	/* The TLS handshake ended well (implicit TLS, or after STARTTLS). */
	void (*tls_connected)(void *session);
	/* Optional: after the client's EOF, everything answered; the close follows. */
	void (*eof)(void *session);
	/* An idle timeout: log it and queue the goodbye, if the protocol has one; the close
	 * follows. */
	void (*timeout)(void *session);
	/* Optional: the connection ended (EOF with an error, or an error) while not closing;
	 * the free follows. */
	void (*broken)(void *session, short what);
	/* SIGTERM: let go of what cannot wait and queue the farewell; the close follows. */
	void (*shutdown)(void *session);
	/* Frees the session; it calls server_conn_free. */
	void (*free)(void *session);
	/* Optional: the protocol lets the session send its replies itself at the end of each
	 * read or write callback (one send(2) instead of libevent's write event; plain
	 * sockets only), unless this says no now (a switch to TLS or compression pending). */
	bool (*direct_ok)(void *session);
};
struct server_conn_limits {
	size_t in_high;	 /* read no more while this much input waits */
	size_t out_low;	 /* the write callback comes when the output drains to this */
	size_t out_high; /* no command is read while this much output waits; bytes per write */
};
struct server_conn {
	const struct server_conn_ops *ops;
	void *session;
	struct server_sessions *list;
	struct server_conn *prev, *next;
	struct bufferevent *bev;
	struct buf out; /* replies are built here, then handed to bev in one write */
	struct server_close close;
	struct server_conn_limits lim;
	char ip[NET_IP_MAX]; /* the client's address as text, "local" for pipes */
	bool loopback, local;
	bool tls;	    /* under TLS (implicit, or after STARTTLS) */
	bool tls_handshake; /* ... whose handshake has not finished yet */
	bool busy;	    /* a command is not finished: read no more commands */
	bool closing;	    /* close once the output is written */
	bool input_eof;	    /* the client has finished sending */
	unsigned turn; /* inside a read or write callback: direct output waits for its end */
	uint64_t timeout_s; /* the idle timeout last set */
	uint64_t errors;
	uint64_t in_bytes, out_bytes;
};
/* Puts c on list; call server_conn_setup_bev next. */
void server_conn_init(struct server_conn *c, struct server_sessions *list,
		      const struct server_conn_ops *ops, void *session, struct bufferevent *bev,
		      const struct net_peer *peer, const struct server_conn_limits *lim);
/* Callbacks, watermarks and timeouts on c->bev (again after STARTTLS replaced it). */
void server_conn_setup_bev(struct server_conn *c, uint64_t timeout_s);
void server_conn_timeouts(struct server_conn *c, uint64_t timeout_s);
/* Takes c off its list and frees its bufferevent and output; the loop ends with the last
 * session when the worker stops, retires, or serves one session. */
void server_conn_free(struct server_conn *c);
/* Hands the replies built in c->out to the bufferevent. */
void server_conn_flush(struct server_conn *c);
bool server_conn_output_full(const struct server_conn *c);
/* Closes once (reads no more; freed from the loop once the output is written). */
void server_conn_close(struct server_conn *c);
/* Answers every complete command in the input, in order, while the output is short. */
void server_conn_input(struct server_conn *c);
/* A command that made the session busy is done: read commands again. */
void server_conn_resume(struct server_conn *c);
/* The first contiguous piece of in; false when in is empty. */
bool server_conn_peek(struct evbuffer *in, const char **p_r, size_t *len_r);
/* The sessions open, and in *same_r those from ip (the connection limits). */
size_t server_sessions_from(const struct server_sessions *list, const char *ip, size_t *same_r);
/* Frees every session (at the worker's end). */
void server_sessions_free(struct server_sessions *list);

/* server-main.c: the worker's start and stop. */
#define SERVER_STOP_WAIT_S 10 /* SIGTERM: how long the last sessions may take */
/* Logging as c says (log, log_level), as name. */
void server_log_init(const struct conf *c, const char *name);
/* `--inetd -u USER`: looks the user up (lib-login's login_user_info); 1 with *info, else 0
 * (unknown) or -1 (error), logged as "preauth: user=<USER>: ...". */
struct user_info;
struct userdb;
int server_preauth_lookup(const struct conf *c, struct userdb *db, const char *user,
			  struct user_info *info);
/* What every worker of a line protocol has: its configuration and event base, the login
 * policy, the listeners and the sessions. */
struct auth;
struct server_core {
	struct event_base *base;
	struct conf *conf;
	char *conf_path;
	struct auth *auth;	    /* the login policy and user directory (lib-auth) */
	struct server_ports ports;  /* the listeners and their TLS contexts */
	struct server_sessions sessions;
	bool chrooted;	    /* system mode, in DATA/login: the configuration cannot be re-read */
	char *login_socket; /* system mode: the auth process's socket (login.h) */
};
/* The configuration (errors on stderr as "tern ROLE: ..."; -1), the event base, the
 * listeners' state for proto (arg: the protocol's server, which proto's callbacks get) and
 * the login policy. The protocol reads its settings next. */
int server_core_init(struct server_core *core, const char *role, const char *conf_path,
		     const struct server_proto *proto, void *arg);
/* Frees the sessions left, the listeners, the login policy and the configuration. */
void server_core_deinit(struct server_core *core);
/* For the protocol's reconfigure: the login policy from the configuration read again. */
void server_core_reconfigure(struct server_core *core);
/* The worker's life after init: logging as the configuration says (name: "imap", "pop3",
 * "sieve"), the listeners, in system mode the chroot and the drop (lib-login), "NAME
 * started", and the loop until it ends: SIGTERM gives every session its farewell
 * (server_conn_ops.shutdown) and ends the loop with the last one or after
 * SERVER_STOP_WAIT_S; SIGHUP re-reads the configuration (proto->reconfigure, then the TLS
 * contexts), or in a chrooted worker, which cannot, stops taking connections and ends
 * with its last session (the master has started a new worker). 0, or 71 when the worker
 * cannot be confined. */
int server_core_run(struct server_core *core, const char *name);

#endif
