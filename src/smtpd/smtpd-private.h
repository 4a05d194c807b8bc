/* smtpd-private: what the files of the smtp role share: the server (listeners, sessions,
 * configuration snapshots), the session and its transaction, and the verb table.
 *
 * Files: smtpd-listen.c (worker, listeners, signals, connection limits), smtpd-inetd.c
 * (one session on stdin/stdout), smtpd-session.c (I/O, command loop, replies, timeouts),
 * smtpd-cmd-basic.c (EHLO HELO RSET NOOP QUIT HELP VRFY EXPN STARTTLS AUTH),
 * smtpd-cmd-mail.c (MAIL RCPT), smtpd-data.c (DATA BDAT, queueing).
 */
#ifndef TERN_SMTPD_PRIVATE_H
#define TERN_SMTPD_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "smtp-command.h"
#include "smtp-data.h"

struct bufferevent;
struct event_base;
struct event;
struct evconnlistener;
struct queue_committer;
struct queue_writer;
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
};

struct smtpd_listener {
	struct smtpd_server *srv;
	struct evconnlistener *lev;
	char *name;
	bool submission;
};

struct smtpd_server {
	struct event_base *base;
	char *conf_path;
	struct smtpd_settings *settings;
	struct queue_committer *committer;
	struct smtpd_listener *listeners;
	size_t nlisteners;
	struct smtpd_session *sessions; /* doubly linked */
	unsigned nsessions;
	bool stopping;
	bool inetd;
	struct event *ev_term, *ev_hup, *ev_stop_timer;
};

enum smtpd_state {
	SMTPD_GREET = 1 << 0,  /* before HELO/EHLO */
	SMTPD_READY = 1 << 1,  /* no transaction */
	SMTPD_MAIL = 1 << 2,   /* MAIL accepted, no recipient yet */
	SMTPD_RCPT = 1 << 3,   /* at least one recipient */
	SMTPD_DATA = 1 << 4,   /* reading the message after 354 */
	SMTPD_BDAT = 1 << 5,   /* reading a BDAT chunk */
	SMTPD_COMMIT = 1 << 6, /* waiting for the queue's group commit */
	SMTPD_CLOSING = 1 << 7, /* flushing the last reply */
};
#define SMTPD_ANY_COMMAND (SMTPD_GREET | SMTPD_READY | SMTPD_MAIL | SMTPD_RCPT)

struct smtpd_rcpt {
	char *addr;  /* where to deliver (canonical, from the user directory) */
	char *given; /* as the client wrote it */
};

struct smtpd_session {
	struct smtpd_server *srv;
	struct smtpd_settings *set;
	struct smtpd_session *prev, *next;
	struct bufferevent *bev; /* input, and output unless out differs */
	struct bufferevent *out;
	char ip[64];     /* text form, "" when not on a network socket */
	char client[80]; /* "[ip]:port" or "local" for logs */
	bool submission;
	char *local_user; /* trusted local submission (inetd) */
	enum smtpd_state state;
	bool esmtp;
	char *helo;
	struct buf line; /* the command being parsed */
	bool skipping;   /* discarding an over-long command line */
	unsigned errors;
	unsigned counts[SMTP_VERB_COUNT + 1];
	bool processing; /* inside smtpd_session_process (no re-entry) */
	bool gone;       /* the connection broke while a commit was pending: free after it */
	bool eof;        /* the client closed its side */
	/* transaction */
	struct smtp_mail_args mail;
	struct smtpd_rcpt *rcpts;
	size_t nrcpt, rcpt_cap;
	struct queue_writer *qw;
	struct smtp_data dec;
	bool bdat_active;     /* a BDAT chunk was received for this transaction */
	bool bdat_last;       /* the chunk being read is the last */
	uint64_t bdat_left;   /* bytes of the chunk still to read */
	int fail_code;        /* the transaction failed; reply after the data (0: none) */
	const char *fail_enh, *fail_text;
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

/* smtpd-session.c */
/* Starts a session on a connected fd (out_fd: -1 or a separate output fd). */
struct smtpd_session *smtpd_session_new(struct smtpd_server *srv, int fd, int out_fd,
					const char *ip, int port, bool submission,
					const char *local_user);
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

/* smtpd-cmd-mail.c */
void smtpd_cmd_mail(struct smtpd_session *s, const struct smtp_command *cmd);
void smtpd_cmd_rcpt(struct smtpd_session *s, const struct smtp_command *cmd);

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
