/* pop3d-int: the structures shared by the files of the pop3 role.
 *
 * A pop3d_server holds what every session shares (configuration, the login policy of
 * lib-auth, the TLS contexts, the event base, the listeners, the limits); a pop3d_session
 * is one client: its bufferevent (replaced by a TLS one at STLS), its parser, its state
 * (RFC 1939 section 3: AUTHORIZATION, TRANSACTION, UPDATE), a SASL exchange in progress
 * (RFC 5034) and, once logged in, the maildrop snapshot.
 * Commands live in one table (pop3d-session.c) and one file per family.
 */
#ifndef TERN_POP3D_INT_H
#define TERN_POP3D_INT_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "pop3-body.h"
#include "pop3-parser.h"
#include "pop3-reply.h"
#include "server.h"
#include "userdb.h"

struct auth;
struct sasl_server;
struct store;
struct store_folder;
struct tls_server_ctx;
struct evconnlistener;
struct login_creds;

#define POP3D_OUT_HIGH (64 * 1024) /* stop reading commands / message bytes above this */
#define POP3D_OUT_LOW (16 * 1024)  /* ... and go on below this */
/* message bytes read at a time (their output, at most twice that, is one evbuffer chain
   below malloc's mmap threshold) */
#define POP3D_CHUNK (32 * 1024)

enum pop3d_state {
	POP3D_STATE_AUTH = 1 << 0,  /* AUTHORIZATION */
	POP3D_STATE_TRANS = 1 << 1, /* TRANSACTION */
	POP3D_STATE_UPDATE = 1 << 2,
};

struct pop3d_settings {
	size_t max_line;
	size_t max_arg;
	uint64_t timeout_s;
	uint64_t max_errors;
};

struct pop3d_server {
	struct server_core core; /* configuration, login policy, listeners, sessions (lib-server) */
	struct pop3d_settings set;
};

/* One message of the snapshot taken at login (its number is its index + 1). */
struct pop3d_msg {
	uint32_t uid;
	bool deleted;
	bool retrieved;
	bool seen; /* \Seen already at login: nothing to write for it at QUIT */
	bool vsize_known;
	uint64_t vsize;
};

/* A RETR/TOP in progress: message bytes copied as fast as the client reads them. */
struct pop3d_stream {
	int fd;
	off_t offset;
	uint64_t remaining;
	struct pop3_body body;
	struct pop3d_msg *msg;
	bool read_off; /* commands are not read until it ends */
};

struct pop3d_session {
	/* the connection, its output, its state of reading and closing (lib-server); busy: a
	   command is not finished (streaming, login delay) */
	struct server_conn conn;
	struct pop3d_server *server;
	struct tls_server_ctx *stls_ctx; /* STLS is offered with it (NULL: not offered) */
	enum pop3d_state state;
	struct pop3_parser parser;
	struct event *delay;		    /* failed-login delay */
	struct auth_job *auth_job;	    /* a password check in the auth thread pool */
	char *auth_user;		    /* the user of that check */
	const char *delay_msg;		    /* ... and the -ERR [AUTH] text it ends with */
	char *user_arg;			    /* the USER argument, until PASS */
	/* system users (pop3d-syslogin.c): the attempt at the auth process, then the proxy */
	struct server_syslogin syslogin;
	struct login_creds *creds; /* what AUTH PLAIN/LOGIN captured */
	struct sasl_server *sasl; /* an AUTH exchange in progress: lines are raw responses */
	/* once logged in */
	struct user_info user;
	int lock_fd;
	struct store *store;
	struct store_folder *folder;
	bool batch; /* a store batch is open on folder (session_input) */
	uint32_t uidvalidity;
	struct pop3d_msg *msgs;
	size_t msg_count;
	unsigned retr_count, dele_count;
	struct pop3d_stream stream;
};

struct pop3d_command {
	const char *name;
	unsigned states; /* pop3d_state bits in which it is allowed */
	size_t min_args, max_args;
	void (*handler)(struct pop3d_session *s, const struct pop3_command *cmd);
};

/* pop3d-server.c */
int pop3d_server_init(struct pop3d_server *srv, const char *conf_path);
void pop3d_server_deinit(struct pop3d_server *srv);

/* pop3d-session.c */
struct pop3d_session *pop3d_session_new(struct pop3d_server *srv, struct bufferevent *bev,
					const struct net_peer *peer);
/* Callbacks, watermarks and timeouts on s->bev (after it was replaced by STLS). */
void pop3d_session_setup_bev(struct pop3d_session *s);
void pop3d_session_ok(struct pop3d_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pop3d_session_err(struct pop3d_session *s, enum pop3_resp_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Moves s->out to the bufferevent. */
void pop3d_session_flush(struct pop3d_session *s);
/* Ends the session once what is queued is written. */
void pop3d_session_close(struct pop3d_session *s);
/* A busy command finished: go on with pipelined input. */
void pop3d_session_resume(struct pop3d_session *s);
void pop3d_session_free(struct pop3d_session *s);
/* Sends the greeting. */
void pop3d_session_start(struct pop3d_session *s);
/* Counts a protocol error; closes the session past pop3_max_errors. */
void pop3d_session_error(struct pop3d_session *s);

/* pop3d-auth.c: USER PASS APOP CAPA, and logging in */
void pop3d_cmd_user(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_pass(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_apop(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_capa(struct pop3d_session *s, const struct pop3_command *cmd);
/* May this session send a password in clear (USER/PASS, PLAIN, LOGIN)? */
bool pop3d_plaintext_ok(const struct pop3d_session *s);
/* A failed login: answers "-ERR [AUTH] msg" after delay_ms, on a timer (the loop goes on). */
void pop3d_auth_fail_later(struct pop3d_session *s, uint64_t delay_ms, const char *msg);
/* Refuses a login of a locked-out address or user with -ERR [LOGIN-DELAY] (and logs it). */
void pop3d_auth_locked(struct pop3d_session *s, const char *mech, const char *user);
/* Looks address up and logs in (pop3d_login); 0, or -1 with the -ERR queued. */
int pop3d_auth_login(struct pop3d_session *s, const char *address);
/* Locks and opens the maildrop of info (moved into s->user) and enters TRANSACTION,
 * answering +OK: 0; or -1 with the -ERR queued (info freed). */
int pop3d_login(struct pop3d_session *s, struct user_info *info);
/* Releases the maildrop (no changes made). */
void pop3d_logout(struct pop3d_session *s);
/* Ends the store batch session_input opened (before the folder closes). */
void pop3d_batch_end(struct pop3d_session *s);

/* pop3d-mail.c: STAT LIST UIDL DELE NOOP RSET QUIT */
void pop3d_cmd_stat(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_list(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_uidl(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_dele(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_noop(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_rset(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_quit(struct pop3d_session *s, const struct pop3_command *cmd);
/* The message numbered by arg (1-based, not deleted), or NULL with the -ERR sent. */
struct pop3d_msg *pop3d_msg_arg(struct pop3d_session *s, const char *arg);
/* The CRLF size of m (computed once). */
uint64_t pop3d_msg_vsize(struct pop3d_session *s, struct pop3d_msg *m);

/* pop3d-retr.c: RETR TOP */
void pop3d_cmd_retr(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_top(struct pop3d_session *s, const struct pop3_command *cmd);
/* Copies more message bytes while the output is short; true while a stream goes on. */
bool pop3d_stream_pump(struct pop3d_session *s);
void pop3d_stream_abort(struct pop3d_session *s);

/* pop3d-sasl.c: AUTH (RFC 5034) */
void pop3d_cmd_auth(struct pop3d_session *s, const struct pop3_command *cmd);
/* A raw line while an exchange is in progress (a response, or "*" to cancel). */
void pop3d_sasl_response(struct pop3d_session *s, const struct pop3_command *cmd);
/* A bad raw line (too long): the exchange fails. */
void pop3d_sasl_bad_line(struct pop3d_session *s);
/* Ends an exchange without a reply (session end). */
void pop3d_sasl_end(struct pop3d_session *s);

/* pop3d-syslogin.c: system users' logins through the auth process (lib-login) */
/* Sends the credentials; the answer comes later, from the session process when it worked. */
void pop3d_syslogin(struct pop3d_session *s, const char *mech, const char *user,
		    const char *password);

/* pop3d-tls.c: STLS (RFC 2595) on lib-server's switch */
/* BEV_EVENT_CONNECTED: the handshake finished. */
void pop3d_tls_connected(struct pop3d_session *s);
void pop3d_cmd_stls(struct pop3d_session *s, const struct pop3_command *cmd);

#endif
