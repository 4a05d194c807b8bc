/* smtpd-private: what the files of the smtp role share: the server (listeners, sessions,
 * configuration snapshots), the session and its transaction, and the verb table.
 *
 * Files: smtpd-listen.c (worker, listeners, signals, connection limits), smtpd-inetd.c
 * (one session on stdin/stdout), smtpd-session.c (I/O, command loop, replies, timeouts),
 * smtpd-cmd-basic.c (EHLO HELO RSET NOOP QUIT HELP VRFY EXPN STARTTLS AUTH),
 * smtpd-cmd-mail.c (MAIL RCPT), smtpd-data.c (DATA BDAT, queueing), smtpd-tls.c (TLS
 * contexts, implicit TLS, STARTTLS), smtpd-auth.c (AUTH, the submission sender rule),
 * smtpd-header.c (Message-ID and Date for submitted messages), smtpd-rcpt.c (RCPT: relay
 * control, users and aliases, DSN parameters), smtpd-rcpt-net.c (trusted networks, hop count),
 * smtpd-local.c (local submission over a Unix socket: the peer's uid, the sender rule),
 * smtpd-mailq.c (the queue listing for mailq, XMAILQ on that socket).
 * Address rewriting (lib-rewrite): the envelope sender at MAIL, recipients at RCPT, header
 * addresses in smtpd-data.c for the clients of header_rewrite_clients.
 */
#ifndef TERN_SMTPD_PRIVATE_H
#define TERN_SMTPD_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "conf.h"
#include "smtp-command.h"
#include "smtp-data.h"

struct auth;
struct login_creds;
struct login_client;
struct bufferevent;
struct event_base;
struct event;
struct evconnlistener;
struct queue_committer;
struct queue_writer;
struct rewrite_header;
struct sasl_server;
struct smtpd_header_scan;
struct smtpd_policy;
struct tls_server_ctx;
struct userdb;

/* A configuration snapshot; sessions keep the one they started under (SIGHUP makes a
 * new one for new sessions). */
struct smtpd_settings {
	int refs;
	struct conf *conf;
	struct userdb *userdb;
	const char *hostname, *banner, *queue_dir; /* point into conf */
	uint64_t max_message_size, max_recipients, max_command_line, max_line_length;
	uint64_t max_header_size, max_errors, timeout, max_conns, max_conns_per_ip;
	bool vrfy, bare_lf_reject, nul_reject;
	bool auth_on_port25, sender_check;
	struct smtpd_policy *policy; /* relay control and aliases (smtpd-rcpt.c) */
	struct rewrite *rewrite;     /* canonical maps and masquerading (lib-rewrite) */
	uint64_t rewrite_max_field;
};

enum smtpd_tls_mode { SMTPD_TLS_NONE, SMTPD_TLS_STARTTLS, SMTPD_TLS_IMPLICIT };

struct smtpd_listener {
	struct smtpd_server *srv;
	struct evconnlistener *lev;
	char *name;
	bool submission;
	bool local; /* the local submission socket (smtpd-local.c) */
	enum smtpd_tls_mode tls_mode;
	struct tls_server_ctx *tls; /* NULL: TLS could not be set up (logged) */
};

/* A TLS context and the files it was made from; kept until the worker exits, since
 * handshakes in progress refer to it (tls.h). */
struct smtpd_tls {
	struct tls_server_ctx *ctx;
	char *cert, *key;
	char *listener; /* NULL: the global tls_cert/tls_key */
	bool retired;	/* replaced by a context with other files */
};

struct smtpd_server {
	struct event_base *base;
	char *conf_path;
	struct smtpd_settings *settings;
	struct queue_committer *committer;
	struct auth *auth;
	struct smtpd_tls *tls; /* every context made, in order */
	size_t ntls;
	struct smtpd_listener *listeners;
	size_t nlisteners;
	struct smtpd_session *sessions; /* doubly linked */
	unsigned nsessions;
	bool stopping;
	bool inetd;
	struct event *ev_term, *ev_hup, *ev_stop_timer;
};

enum smtpd_state {
	SMTPD_GREET = 1 << 0,	  /* before HELO/EHLO */
	SMTPD_READY = 1 << 1,	  /* no transaction */
	SMTPD_MAIL = 1 << 2,	  /* MAIL accepted, no recipient yet */
	SMTPD_RCPT = 1 << 3,	  /* at least one recipient */
	SMTPD_DATA = 1 << 4,	  /* reading the message after 354 */
	SMTPD_BDAT = 1 << 5,	  /* reading a BDAT chunk */
	SMTPD_COMMIT = 1 << 6,	  /* waiting for the queue's group commit */
	SMTPD_CLOSING = 1 << 7,	  /* flushing the last reply */
	SMTPD_AUTH = 1 << 8,	  /* reading a SASL response line after 334 */
	SMTPD_AUTH_WAIT = 1 << 9, /* the delay before a failed AUTH's reply */
	SMTPD_MAILQ = 1 << 10,	  /* sending the queue listing (XMAILQ, smtpd-mailq.c) */
};
#define SMTPD_ANY_COMMAND (SMTPD_GREET | SMTPD_READY | SMTPD_MAIL | SMTPD_RCPT)

struct smtpd_rcpt {
	char *addr;  /* where to deliver (canonical, from the user directory or an alias) */
	char *given; /* as the client wrote it */
	char *dsn;   /* RFC 3461 parameters to keep ("NOTIFY=... ORCPT=..."), or NULL */
	int kind;    /* enum lookup_kind: an address, or a |pipe or /file from an alias */
};

/* The Received: fields of a message's header section, counted as it streams. */
struct smtpd_hops {
	unsigned count;
	unsigned col;  /* bytes into the current line */
	bool matching; /* the line so far could be "Received:" */
	bool body;     /* the header section has ended */
};

struct smtpd_session {
	struct smtpd_server *srv;
	struct smtpd_settings *set;
	struct smtpd_session *prev, *next;
	struct bufferevent *bev; /* input, and output unless out differs */
	struct bufferevent *out;
	char ip[64];	 /* text form, "" when not on a network socket */
	char client[80]; /* "[ip]:port" or "local" for logs */
	bool submission;
	char *local_user; /* trusted local submission (inetd, or the local socket) */
	bool local_socket;  /* came through the local submission socket: */
	bool local_trusted; /* its uid may use any envelope sender */
	uid_t local_uid;    /* the peer's uid (SO_PEERCRED) */
	struct mailq_list *mailq;      /* XMAILQ: the listing being sent */
	enum smtpd_state mailq_state; /* the state to go back to after it */
	bool loopback;	  /* the client is on 127.0.0.0/8 or ::1 */
	/* TLS */
	enum smtpd_tls_mode tls_mode;
	struct tls_server_ctx *tls_ctx; /* for STARTTLS; NULL: not offered */
	bool tls;			/* TLS is on (handshake started) */
	bool tls_done;			/* handshake finished: tls_info is valid */
	char tls_info[96];		/* "TLS1.3 TLS_AES_256_GCM_SHA384" */
	/* AUTH */
	bool auth_offered;
	char *auth_user; /* canonical address of the authenticated user */
	struct sasl_server *sasl;
	/* System users (user_source = system): the credentials go to the auth worker. */
	struct login_creds *creds;
	struct login_client *login;
	char *login_user; /* the name given, while the auth worker checks it */
	struct event *auth_timer;
	int auth_fail_code; /* the reply waiting for auth_timer */
	const char *auth_fail_enh, *auth_fail_text;
	enum smtpd_state state;
	bool esmtp;
	char *helo;
	struct buf line; /* the command being parsed */
	bool skipping;	 /* discarding an over-long command line */
	unsigned errors;
	unsigned counts[SMTP_VERB_COUNT + 1];
	bool processing; /* inside smtpd_session_process (no re-entry) */
	bool gone;	 /* the connection broke while a commit was pending: free after it */
	bool eof;	 /* the client closed its side */
	/* transaction */
	struct smtp_mail_args mail;
	struct smtpd_rcpt *rcpts;
	size_t nrcpt, rcpt_cap;
	struct queue_writer *qw;
	struct smtp_data dec;
	bool bdat_active;   /* a BDAT chunk was received for this transaction */
	bool bdat_last;	    /* the chunk being read is the last */
	uint64_t bdat_left; /* bytes of the chunk still to read */
	int fail_code;	    /* the transaction failed; reply after the data (0: none) */
	const char *fail_enh, *fail_text;
	struct smtpd_header_scan *hs; /* holds the header section to add fields to it */
	struct rewrite_header *rwh;   /* rewrites header addresses (local/authenticated) */
	struct smtpd_hops hops;
};

/* The verb table (STYLE.md 3): which states allow the verb; others get 503. */
struct smtpd_command {
	enum smtp_verb verb;
	unsigned states;
	bool pipelining; /* may be followed by more commands in one batch (RFC 2920 3.1) */
	void (*handler)(struct smtpd_session *s, const struct smtp_command *cmd);
};
const struct smtpd_command *smtpd_command_find(enum smtp_verb verb);

/* smtpd-listen.c */
struct smtpd_settings *smtpd_settings_new(struct conf *conf);
void smtpd_settings_ref(struct smtpd_settings *set);
void smtpd_settings_unref(struct smtpd_settings **set);
struct smtpd_server *smtpd_server_new(const char *conf_path, struct conf *conf, bool inetd);
void smtpd_server_free(struct smtpd_server **srv);
/* SIGTERM and SIGHUP handlers in the loop; SIGPIPE ignored. */
void smtpd_server_signals(struct smtpd_server *srv);
/* Loads tern.conf and starts logging (to stderr unless told or configured otherwise). */
struct conf *smtpd_conf_load(const char *conf_path, bool use_stderr);
/* Called when a session ends; exits the loop when stopping and none is left. */
void smtpd_server_session_gone(struct smtpd_server *srv);
/* Refuses a connection over a limit with one 421 line (none on implicit TLS), and logs. */
void smtpd_refuse(int fd, const char *who, const char *why, bool tls);

/* smtpd-local.c */
/* A connection on the local submission socket: a session for the peer's uid. */
void smtpd_local_accept(struct smtpd_listener *l, int fd);
/* May this local session use sender (its own address, <>, or any when trusted)? */
bool smtpd_local_sender_ok(const struct smtpd_session *s, const struct smtp_path *sender);
/* The attributes `tern sendmail` gives a message it queues itself (origin, uid). */
void smtpd_local_queue_attrs(const struct smtpd_session *s, struct queue_writer *w);

/* smtpd-mailq.c */
/* XMAILQ on the local socket: the queue listing as 211 lines (500 elsewhere). */
void smtpd_cmd_xmailq(struct smtpd_session *s, const struct smtp_command *cmd);
/* State SMTPD_MAILQ: sends the next message of the listing, or its end. */
void smtpd_mailq_step(struct smtpd_session *s);

/* smtpd-session.c */
/* Starts a session on a connected fd (out_fd: -1 or a separate output fd). l: the
 * listener it came from, NULL for inetd sessions. */
struct smtpd_session *smtpd_session_new(struct smtpd_server *srv, int fd, int out_fd,
					const char *ip, int port, const struct smtpd_listener *l,
					const char *local_user);
/* Puts bev in place as the session's connection (after STARTTLS), with callbacks,
 * watermarks and timeouts. */
void smtpd_session_set_bev(struct smtpd_session *s, struct bufferevent *bev);
/* Forgets what EHLO and AUTH told (RFC 3207 4.2), back to before EHLO. */
void smtpd_session_reset_greeting(struct smtpd_session *s);
/* Runs the commands and data waiting in the input buffer. -1 when the session was freed
 * (the client had closed its side and everything was answered). */
int smtpd_session_process(struct smtpd_session *s);
/* Sends a reply. Replies of class 4 and 5 count as errors. */
void smtpd_reply(struct smtpd_session *s, int code, const char *enh, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void smtpd_reply_error(struct smtpd_session *s, const struct smtp_error *err);
/* Sends a final reply (421, 221) and closes once it is written. */
void smtpd_session_close(struct smtpd_session *s, int code, const char *enh, const char *text);
/* Logs a refusal with the reply sent. */
void smtpd_log_reject(struct smtpd_session *s, const char *verb, int code, const char *enh,
		      const char *text, const char *to);
/* Forgets the transaction (RSET, after DATA, EHLO). */
void smtpd_transaction_reset(struct smtpd_session *s);
/* SIGTERM: 421 now, or after the commit in progress. */
void smtpd_session_shutdown(struct smtpd_session *s);
void smtpd_session_free(struct smtpd_session *s);

/* smtpd-data.c */
/* Consumes message bytes from the input buffer (DATA or BDAT states). */
void smtpd_data_input(struct smtpd_session *s);
void smtpd_cmd_data(struct smtpd_session *s, const struct smtp_command *cmd);
void smtpd_cmd_bdat(struct smtpd_session *s, const struct smtp_command *cmd);

/* smtpd-tls.c */
/* Makes or refreshes (reload) the TLS contexts the listeners need. */
void smtpd_tls_setup(struct smtpd_server *srv);
/* The context for a listener (NULL: none could be made). */
struct tls_server_ctx *smtpd_tls_for_listener(struct smtpd_server *srv, const char *name);
void smtpd_tls_free_all(struct smtpd_server *srv);
/* Implicit TLS: a server bufferevent on fd, or NULL. */
struct bufferevent *smtpd_tls_accept(struct smtpd_session *s, int fd);
/* The handshake finished: keep and log the version and cipher. */
void smtpd_tls_connected(struct smtpd_session *s);
/* The handshake failed: log why. */
void smtpd_tls_failed(struct smtpd_session *s);
/* RFC 3848 with-protocol: ESMTP, ESMTPS, ESMTPA, ESMTPSA (UTF8SMTP... with SMTPUTF8). */
void smtpd_protocol_name(const struct smtpd_session *s, struct buf *out);

/* smtpd-auth.c */
/* The AUTH line for EHLO ("AUTH SCRAM-SHA-256 PLAIN LOGIN"), or NULL when not offered. */
const char *smtpd_auth_ehlo(struct smtpd_session *s);
/* A SASL response line in s->line (state SMTPD_AUTH). */
void smtpd_auth_input(struct smtpd_session *s);
/* Ends an exchange in progress and its timer (session end, STARTTLS). */
void smtpd_auth_abort(struct smtpd_session *s);
/* The longest line to read now (RFC 4954 4: 12288 octets for SASL responses). */
size_t smtpd_auth_line_max(const struct smtpd_session *s);
/* May the authenticated user send as sender (RFC 6409 6.1)? */
bool smtpd_auth_sender_ok(struct smtpd_session *s, const struct smtp_path *sender);

/* smtpd-header.c: the header scan of submitted messages (RFC 6409 8.2, 8.3). */
struct smtpd_header_scan *smtpd_header_scan_new(uint64_t max_header);
void smtpd_header_scan_free(struct smtpd_header_scan **hs);
/* Takes decoded message bytes. Returns 1 while it holds them (nothing to write yet), 0
 * when the header section is complete: then *out_r points to what to write instead
 * (added fields, then every byte held), valid until the next call or free; afterwards
 * the caller writes the message bytes itself. */
int smtpd_header_scan_feed(struct smtpd_header_scan *hs, const char *p, size_t n,
			   const char *hostname, const char *queue_id, struct buf **out_r);
/* End of the message while the scan still held bytes: like feed's 0. */
void smtpd_header_scan_finish(struct smtpd_header_scan *hs, const char *hostname,
			      const char *queue_id, struct buf **out_r);

/* smtpd-cmd-mail.c */
void smtpd_cmd_mail(struct smtpd_session *s, const struct smtp_command *cmd);
void smtpd_cmd_rcpt(struct smtpd_session *s, const struct smtp_command *cmd);

/* smtpd-rcpt.c */
struct smtpd_policy *smtpd_policy_new(const struct conf *conf, struct userdb *udb);
void smtpd_policy_free(struct smtpd_policy **p);
/* Did the message come through more than max_hops servers (its Received: fields and ours)? */
bool smtpd_hops_exceeded(const struct smtpd_session *s);
/* Is the client's address in mynetworks? */
bool smtpd_client_in_mynetworks(const struct smtpd_session *s);
/* Puts the transaction's recipients, their DSN parameters (attributes dsn_rcpt_N) and
 * alias marks (alias_rcpt_N = pipe|file) into the queue writer. */
void smtpd_rcpt_queue(struct smtpd_session *s, struct queue_writer *w);

/* smtpd-rcpt-net.c */
struct smtpd_net {
	int family; /* AF_INET, AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
};
/* "a.b.c.d/len", "x::y/len" or a host address: 0, or -1 when malformed. */
int smtpd_net_parse(const char *text, struct smtpd_net *net);
/* Is ip (text form) in one of the networks? */
bool smtpd_net_match(const struct smtpd_net *nets, size_t n, const char *ip);
/* Counts "Received:" fields in decoded message bytes (LF or CRLF lines). Start with
 * {0, 0, true, false}. */
void smtpd_hops_feed(struct smtpd_hops *h, const char *p, size_t n);

/* smtpd-cmd-basic.c */
void smtpd_cmd_ehlo(struct smtpd_session *s, const struct smtp_command *cmd);
void smtpd_cmd_helo(struct smtpd_session *s, const struct smtp_command *cmd);
void smtpd_cmd_rset(struct smtpd_session *s, const struct smtp_command *cmd);
void smtpd_cmd_noop(struct smtpd_session *s, const struct smtp_command *cmd);
void smtpd_cmd_quit(struct smtpd_session *s, const struct smtp_command *cmd);
void smtpd_cmd_help(struct smtpd_session *s, const struct smtp_command *cmd);
void smtpd_cmd_vrfy(struct smtpd_session *s, const struct smtp_command *cmd);
void smtpd_cmd_expn(struct smtpd_session *s, const struct smtp_command *cmd);
void smtpd_cmd_starttls(struct smtpd_session *s, const struct smtp_command *cmd);
void smtpd_cmd_auth(struct smtpd_session *s, const struct smtp_command *cmd);

#endif
