/* pop3d-int: the structures shared by the files of the pop3 role.
 *
 * A pop3d_server holds what every session shares (configuration, user directory, the
 * event base, the limits); a pop3d_session is one client: its bufferevent (replaceable,
 * so that STLS can put TLS under it), its parser, its state (RFC 1939 section 3:
 * AUTHORIZATION, TRANSACTION, UPDATE) and, once logged in, the maildrop snapshot.
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
#include "userdb.h"

struct store;
struct store_folder;

#define POP3D_OUT_HIGH (64 * 1024) /* stop reading commands / message bytes above this */
#define POP3D_OUT_LOW (16 * 1024)  /* ... and go on below this */
#define POP3D_CHUNK (16 * 1024)	   /* message bytes read at a time */
#define POP3D_IP_MAX 64

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
	uint64_t max_connections;
	uint64_t max_connections_per_ip;
	uint64_t auth_fail_delay_ms;
	uint64_t auth_max_failures;
	uint64_t auth_lockout_s;
};

struct pop3d_limit;

struct pop3d_server {
	struct event_base *base;
	struct conf *conf;
	char *conf_path;
	struct userdb *userdb;
	struct pop3d_settings set;
	struct pop3d_limit *limit;
	struct pop3d_session *sessions; /* a doubly linked list */
	size_t session_count;
	bool stopping;
	bool inetd;	/* one session: the loop ends with it */
};

/* One message of the snapshot taken at login (its number is its index + 1). */
struct pop3d_msg {
	uint32_t uid;
	bool deleted;
	bool retrieved;
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
};

struct pop3d_session {
	struct pop3d_server *server;
	struct pop3d_session *prev, *next;
	struct bufferevent *bev;
	char ip[POP3D_IP_MAX]; /* the client's address as text, "local" for pipes */
	bool secure;	       /* loopback, a local pipe, or (later) TLS: plaintext login allowed */
	enum pop3d_state state;
	struct pop3_parser parser;
	struct buf out;	       /* replies are built here, then added to bev */
	uint64_t errors;
	bool busy;	       /* a command is not finished (streaming, login delay) */
	bool closing;	       /* close once the output is written */
	bool input_eof;	       /* the client has finished sending */
	struct event *delay;   /* failed-login delay */
	struct event *kill;    /* frees the session from the loop */
	char *user_arg;	       /* the USER argument, until PASS */
	/* once logged in */
	struct user_info user;
	int lock_fd;
	struct store *store;
	struct store_folder *folder;
	uint32_t uidvalidity;
	struct pop3d_msg *msgs;
	size_t msg_count;
	unsigned retr_count, dele_count;
	struct pop3d_stream stream;
};

struct pop3d_command {
	const char *name;
	unsigned states;  /* pop3d_state bits in which it is allowed */
	size_t min_args, max_args;
	void (*handler)(struct pop3d_session *s, const struct pop3_command *cmd);
};

/* pop3d-server.c */
int pop3d_server_init(struct pop3d_server *srv, const char *conf_path);
void pop3d_server_deinit(struct pop3d_server *srv);
/* The peer of a connected fd as text; *secure_r: loopback, a Unix socket or a pipe. */
void pop3d_peer_of_fd(int fd, char *ip, size_t iplen, bool *secure_r);

/* pop3d-session.c */
struct pop3d_session *pop3d_session_new(struct pop3d_server *srv, struct bufferevent *bev,
					const char *ip, bool secure);
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

/* pop3d-auth.c: USER PASS APOP AUTH STLS CAPA, and logging in */
void pop3d_cmd_user(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_pass(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_apop(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_auth(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_stls(struct pop3d_session *s, const struct pop3_command *cmd);
void pop3d_cmd_capa(struct pop3d_session *s, const struct pop3_command *cmd);
/* Locks and opens the maildrop of info (moved into s->user) and enters TRANSACTION,
 * answering +OK: 0; or -1 with the -ERR queued (info freed). */
int pop3d_login(struct pop3d_session *s, struct user_info *info);
/* Releases the maildrop (no changes made). */
void pop3d_logout(struct pop3d_session *s);

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

/* pop3d-limit.c: failed logins per client address */
struct pop3d_limit *pop3d_limit_new(void);
void pop3d_limit_free(struct pop3d_limit **l);
/* Is ip locked out (max failures within window seconds)? */
bool pop3d_limit_locked(struct pop3d_limit *l, const char *ip, uint64_t max, uint64_t window_s);
void pop3d_limit_fail(struct pop3d_limit *l, const char *ip);
void pop3d_limit_clear(struct pop3d_limit *l, const char *ip);

#endif
