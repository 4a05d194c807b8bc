/* sieved-int: the structures shared by the files of the sieve role (ManageSieve).
 *
 * A sieved_server holds what every session shares (configuration, the login policy of
 * lib-auth, the TLS contexts, the event base, the listeners, the limits); a
 * sieved_session is one client: its bufferevent (replaced by a TLS one at STARTTLS), its
 * parser (lib-managesieve), its state (RFC 5804 2: non-authenticated or authenticated), a
 * SASL exchange in progress and, once logged in, the user's script store (sieve-store.h,
 * the code `tern sieve` uses). Commands live in one table (sieved-session.c) and one file
 * per family: sieved-auth.c, sieved-tls.c, sieved-scripts.c.
 */
#ifndef TERN_SIEVED_INT_H
#define TERN_SIEVED_INT_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "deliver.h"
#include "managesieve-parser.h"
#include "managesieve-reply.h"
#include "sieve-store.h"
#include "server.h"

struct auth;
struct sasl_server;
struct tls_server_ctx;
struct evconnlistener;
struct login_creds;
struct user_info;

#define SIEVED_OUT_HIGH (64 * 1024) /* stop reading commands above this much output */
#define SIEVED_OUT_LOW (16 * 1024)

enum sieved_state {
	SIEVED_STATE_NONAUTH = 1 << 0,
	SIEVED_STATE_AUTH = 1 << 1,
};

struct sieved_settings {
	size_t max_line;
	size_t max_literal;
	size_t max_script;
	uint64_t max_scripts; /* 0: no limit */
	uint64_t timeout_s, login_timeout_s;
	uint64_t max_errors;
};

struct sieved_server {
	struct server_core core; /* configuration, login policy, listeners, sessions (lib-server) */
	struct sieved_settings set;
	bool preauth; /* a session started logged in (-u USER): no second login */
};

struct sieved_session {
	/* the connection, its output, its state of reading and closing (lib-server) */
	struct server_conn conn;
	struct sieved_server *server;
	bool starttls_done;		    /* the handshake after STARTTLS: capabilities follow */
	struct tls_server_ctx *starttls_ctx; /* STARTTLS offered with it (NULL: not offered) */
	enum sieved_state state;
	struct ms_parser parser;
	struct event *delay; /* failed-login delay */
	struct sasl_server *sasl;
	/* system users (sieved-syslogin.c): the attempt at the auth process, then the proxy */
	struct server_syslogin syslogin;
	struct login_creds *creds; /* what AUTHENTICATE PLAIN/LOGIN captured */
	char *auth_user;
	/* once logged in */
	struct deliver_user user;
	struct sieve_store store;
};

struct sieved_command {
	const char *name;
	unsigned states;
	size_t min_args, max_args;
	void (*handler)(struct sieved_session *s, const struct ms_command *cmd);
};

/* sieved-server.c */
int sieved_server_init(struct sieved_server *srv, const char *conf_path);
void sieved_server_deinit(struct sieved_server *srv);

/* sieved-session.c */
struct sieved_session *sieved_session_new(struct sieved_server *srv, struct bufferevent *bev,
					  const struct net_peer *peer);
void sieved_session_setup_bev(struct sieved_session *s);
/* Queues a response: OK/NO/BYE, an optional code, an optional text. */
void sieved_reply(struct sieved_session *s, const char *word, const char *code, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));
void sieved_session_flush(struct sieved_session *s);
void sieved_session_close(struct sieved_session *s);
void sieved_session_resume(struct sieved_session *s);
void sieved_session_free(struct sieved_session *s);
/* The greeting: the capabilities and OK (RFC 5804 1.7). */
void sieved_session_start(struct sieved_session *s);
/* The capability lines and OK (CAPABILITY, greeting, after STARTTLS). */
void sieved_capabilities(struct sieved_session *s);
/* Counts a protocol error; BYE past managesieve_max_errors. */
void sieved_session_error(struct sieved_session *s);

/* sieved-auth.c: AUTHENTICATE, UNAUTHENTICATE, logging in and out */
void sieved_cmd_authenticate(struct sieved_session *s, const struct ms_command *cmd);
void sieved_cmd_unauthenticate(struct sieved_session *s, const struct ms_command *cmd);
/* A line of an AUTHENTICATE exchange (one string, or "*" to cancel). */
void sieved_sasl_response(struct sieved_session *s, const struct ms_command *cmd);
void sieved_sasl_bad_line(struct sieved_session *s, const char *why);
void sieved_sasl_end(struct sieved_session *s);
/* The space-separated mechanisms for this session. */
const char *sieved_mechs(const struct sieved_session *s);
/* Opens address's script store and enters the authenticated state: 0, or -1 with NO
 * queued. */
int sieved_login(struct sieved_session *s, const char *address);
/* The same for a user already looked up (info is used up): a virtual user, or a system
 * user when this process is that user (the session of sieved-syslogin.c). */
int sieved_login_info(struct sieved_session *s, struct user_info *info);
/* A failed login: NO after delay_ms, on a timer (the loop goes on). */
void sieved_fail_later(struct sieved_session *s, uint64_t delay_ms);
void sieved_logout(struct sieved_session *s);

/* sieved-scripts.c: the script commands */
void sieved_cmd_havespace(struct sieved_session *s, const struct ms_command *cmd);
void sieved_cmd_putscript(struct sieved_session *s, const struct ms_command *cmd);
void sieved_cmd_checkscript(struct sieved_session *s, const struct ms_command *cmd);
void sieved_cmd_listscripts(struct sieved_session *s, const struct ms_command *cmd);
void sieved_cmd_setactive(struct sieved_session *s, const struct ms_command *cmd);
void sieved_cmd_getscript(struct sieved_session *s, const struct ms_command *cmd);
void sieved_cmd_deletescript(struct sieved_session *s, const struct ms_command *cmd);
void sieved_cmd_renamescript(struct sieved_session *s, const struct ms_command *cmd);

/* sieved-syslogin.c: system users' logins through the auth process (lib-login) */
void sieved_syslogin(struct sieved_session *s, const char *mech, const char *user,
		     const char *password);

/* sieved-tls.c: STARTTLS (RFC 5804 2.2) on lib-server's switch */
void sieved_tls_connected(struct sieved_session *s);
void sieved_cmd_starttls(struct sieved_session *s, const struct ms_command *cmd);

#endif
