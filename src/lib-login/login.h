/* login: logins of system users (user_source = system), shared by the IMAP, POP3 and
 * sieve (ManageSieve) roles and the privileged auth role. doc/system-users.md has the
 * whole picture.
 *
 * A pre-login worker (run_user, chrooted into DATA/login) parses the client's commands
 * up to the credentials, then asks the auth process (root) over the Unix SOCK_SEQPACKET
 * socket DATA/login/auth: one connection per attempt, one request, one reply
 * (login-msg.c: typed, versioned, fail closed). The auth process checks the lockout,
 * the password (sysuser_verify) and the per-user session limit, and on success starts a
 * session process as the user (`tern imap|pop3|managesieve --inetd -u USER`, the
 * preauthenticated one-session mode) on one end of a socketpair, whose other end comes
 * back with the reply (SCM_RIGHTS). The worker reads the session's first line (IMAP
 * "* PREAUTH [CAPABILITY ...]", POP3 "+OK maildrop ...", ManageSieve OK "Logged in"),
 * answers the login command from it, and from then on only copies bytes both ways
 * (login-proxy.c). The password is checked only in the auth process: a compromised
 * worker gets no session without it.
 */
#ifndef TERN_LOGIN_H
#define TERN_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "sasl.h"

struct conf;
struct event_base;
struct bufferevent;
struct user_info;
struct userdb;

#define LOGIN_SOCKET_NAME "auth"  /* in DATA/login */
#define LOGIN_FIELD_MAX 1024	  /* any one string of a request */
#define LOGIN_MSG_MAX 4200	  /* a whole request */
#define LOGIN_READY_LINE_MAX 8192 /* the session's first line */
#define LOGIN_REPLY_TIMEOUT_S 60  /* a password check and a process start */

/* SMTP: a password check only (SMTP AUTH of a system user): no session is started, and
 * LOGIN_OK comes without a descriptor. */
/* MANAGESIEVE: the session is `tern managesieve --inetd -u USER`, whose first line is
 * OK "Logged in" (the answer to AUTHENTICATE). */
enum login_proto {
	LOGIN_PROTO_IMAP = 1,
	LOGIN_PROTO_POP3 = 2,
	LOGIN_PROTO_SMTP = 3,
	LOGIN_PROTO_MANAGESIEVE = 4,
};

enum login_status {
	LOGIN_OK = 1,	    /* a session fd comes with the reply */
	LOGIN_FAILED = 2,   /* wrong password or unknown user: answer after delay_ms */
	LOGIN_LOCKED = 3,   /* the address or user is locked out: not checked at all */
	LOGIN_LIMIT = 4,    /* too many sessions for this user */
	LOGIN_TEMPFAIL = 5, /* the directory or the session could not be had */
};

struct login_request {
	enum login_proto proto;
	const char *mech; /* "LOGIN", "USER", "PLAIN": for the log */
	const char *ip;
	const char *user;
	const char *password;
};

struct login_reply {
	enum login_status status;
	uint32_t delay_ms;
};

/* login-msg.c: the wire form. marshal: 0, or -1 when a field is too long or holds NUL.
 * unmarshal: 0, or -1 for anything but exactly one well-formed message; the strings of
 * req point into a copy in store (free it after use, wiping the password). */
int login_request_marshal(const struct login_request *req, struct buf *out);
int login_request_unmarshal(const void *data, size_t len, struct login_request *req,
			    struct buf *store);
void login_reply_marshal(const struct login_reply *rep, unsigned char out[8]);
int login_reply_unmarshal(const void *data, size_t len, struct login_reply *rep);
const char *login_proto_name(enum login_proto proto);
const char *login_status_name(enum login_status status);

/* login-fd.c: one message with at most one descriptor over a SOCK_SEQPACKET socket.
 * send: 0, or -1 (errno). recv: the message length, 0 at EOF, -1 (errno); *fd_r gets the
 * descriptor (close-on-exec) or -1; a message cut short (MSG_TRUNC) is an error (EMSGSIZE). */
int login_send_fd(int sock, const void *data, size_t len, int fd);
ssize_t login_recv_fd(int sock, void *data, size_t len, int *fd_r);

/* login-dir.c: DATA/login, the chroot of the pre-login workers. Makes it (root-owned,
 * 0755, nothing but the auth socket in it) and checks that nobody else may write there;
 * 0, or -1 with err. */
char *login_dir(const struct conf *c);
int login_dir_prepare(const char *dir, struct buf *err);
/* In a pre-login worker of system mode, once its configuration, TLS certificates and
 * listeners are ready: when started as root, chroot into DATA/login and become run_user
 * (*chrooted_r). *socket_r: the auth socket's path as seen from where the worker now is
 * (x_free it). 0, or -1 when that failed (logged; fatal for the worker). */
int login_confine(const struct conf *c, bool *chrooted_r, char **socket_r);

/* login-client.c: one attempt from a pre-login worker. done is called once, later, from
 * base's loop: status and delay from the auth process; on LOGIN_OK also the session's
 * bufferevent (yours, holding what came after the first line) and that line without its
 * CRLF. Returns the attempt, or NULL (then nothing was sent: answer a temporary failure). */
struct login_client;
typedef void login_client_done_cb(void *arg, const struct login_reply *rep,
				  struct bufferevent *session, const char *ready_line);
struct login_client *login_client_start(struct event_base *base, const char *socket_path,
					const struct login_request *req, login_client_done_cb *done,
					void *arg);
/* The client went away first: done will not be called, the session (if any) is closed. */
void login_client_cancel(struct login_client **lc);

/* login-proxy.c: copies bytes between the client's bufferevent and the session's, at most
 * high bytes waiting on either side (then the reading side pauses). When either side
 * ends, what the other still has to send is written (to the client only), and done(arg,
 * client_gone) is called: client_gone when the client's side failed or closed (free it
 * at once), else the session ended (close the client once its output is written). The
 * client's bufferevent callbacks are the proxy's until then. */
struct login_proxy;
typedef void login_proxy_done_cb(void *arg, bool client_gone);
struct login_proxy *login_proxy_start(struct bufferevent *client, struct bufferevent *session,
				      size_t high, login_proxy_done_cb *done, void *arg);
/* Ends the proxy at once (server stop): closes the session side, done is not called. */
void login_proxy_free(struct login_proxy **p);

/* login-sasl.c: SASL in a pre-login worker: only PLAIN and LOGIN (shadow holds crypt(3)
 * hashes, so SCRAM cannot be offered), and the password is not checked here: the
 * exchange "succeeds" with the credentials it captured, which go to the auth process. */
struct login_creds {
	struct sasl_callbacks cb; /* the exchange's callbacks, pointing here */
	char user[SASL_FIELD_MAX + 1];
	char password[SASL_FIELD_MAX + 1];
	bool set;
};
/* NULL for a mechanism other than PLAIN and LOGIN. creds must outlive the exchange. */
struct sasl_server *login_sasl_start(const char *mech, bool success_data,
				     struct login_creds *creds);
void login_creds_wipe(struct login_creds *creds);

/* login-user.c: the configuration of a session process: from the descriptor in
 * TERN_CONF_FD when the auth process set one (the user may not read tern.conf; the
 * descriptor is closed and the variable removed after), else conf_load(path). */
struct conf *login_conf_load(const char *path, struct buf *err);
#define LOGIN_CONF_FD 3

/* login-user.c: the user of a preauthenticated session (`--inetd -u USER`): userdb's
 * entry; for a system user, when running as root the process becomes that user first,
 * as anyone but that user it refuses, and a missing mbox INBOX is made empty (so that it
 * is not taken for a new Maildir). 1 found (info filled), 0 unknown, -1 error (err). */
int login_user_info(const struct conf *c, struct userdb *db, const char *user,
		    struct user_info *info, struct buf *err);
/* Becomes the system user of u (its groups, plus system_mail_group). 0, or -1 with err. */
int login_become(const struct conf *c, const struct user_info *u, struct buf *err);

#endif
