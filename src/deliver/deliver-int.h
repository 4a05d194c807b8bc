/* deliver-int: what the files of the local delivery agent share (not for other folders).
 *
 * One file per delivery method: deliver-maildir.c, deliver-mbox.c, deliver-mh.c (MH and
 * plain directories), deliver-pipe.c (programs), deliver-forward.c (back into the queue),
 * deliver-comsat.c (new-mail datagrams); the filters: deliver-procmail.c, deliver-sieve.c;
 * deliver-local.c puts them together, deliver-cmd.c is `tern deliver`.
 */
#ifndef TERN_DELIVER_INT_H
#define TERN_DELIVER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "deliver.h"

/* ---- deliver-lock.c: dotlock FILE.lock (stale after 5 minutes), fcntl locks ---- */
int deliver_dotlock(const char *path);
void deliver_dotunlock(const char *path);
int deliver_fcntl_lock(int fd);

/* ---- deliver-mbox.c ---- */
/* Appends src to the mbox at path after from_line ("From SENDER  DATE", no newline), with
 * mboxrd quoting and a final empty line unless raw. take_dotlock: the caller does not hold
 * PATH.lock. The file's size before the append goes to offset_r. 0, or -1 + res. */
int deliver_mbox_append(const char *path, bool take_dotlock, const char *from_line,
			const struct deliver_src *src, bool raw, unsigned umask_bits,
			uint64_t *offset_r, struct delivery_result *res);
/* "From SENDER  Thu Nov 26 07:00:00 2026" (MAILER-DAEMON for the null sender). */
void deliver_from_line(const char *sender, time_t t, struct buf *out);

/* ---- deliver-mh.c ---- */
/* A new file in dir: the next MH number (mh), or a unique "msg." name. 0, or -1 + res. */
int deliver_dir_put(const char *dir, bool mh, const struct deliver_src *src, unsigned umask_bits,
		    struct buf *path_r, struct delivery_result *res);

/* ---- deliver-pipe.c ---- */
struct deliver_run {
	char **argv; /* argv[0] is looked up in envp's PATH */
	char **envp; /* NULL: ours */
	const char *cwd;
	const struct deliver_src *input;
	unsigned timeout; /* seconds */
	bool ignore_write_errors;
};
/* Runs a program with input on stdin; its stdout goes to out_r (up to its limit) when
 * set. Returns the exit code (128 + signal when killed, also at the time limit), -1 when
 * it could not be started, -2 when it failed without reading its whole input. */
int deliver_run_program(const struct deliver_run *run, struct buf *out_r);

/* ---- deliver-forward.c ---- */
/* Queues src (a message) for rcpts with the original envelope sender, durably, and pokes
 * the queue manager. The queue ID goes to id_r. 0, or -1 + err. */
int deliver_forward(const struct conf *c, const char *sender, char *const *rcpts, size_t n,
		    const struct deliver_src *src, struct buf *id_r, struct buf *err);

/* ---- deliver-autoreply.c ---- */
/* Sends an automatic answer (text: a whole message, LF line ends) to rcpts from the null
 * sender: into the queue when this process may write it, else through vacation_sendmail
 * (default: this binary's `tern sendmail -c conf_path`; /usr/sbin/sendmail when c is
 * NULL). 0, or -1 + err. */
int deliver_autoreply_send(const struct conf *c, const char *conf_path, char *const *rcpts,
			   size_t n, const char *text, size_t len, struct buf *err);

/* Forwards go over this socket (to the forwarding helper of a delivery child, which
 * queues them) instead of into the queue folder, when set (deliver-system.c). */
void deliver_forward_set_channel(int sock);
bool deliver_forward_has_channel(void);

/* ---- deliver-wire.c: the messages of system-user delivery ---- */
#define DELIVER_WIRE_MAX 16384	     /* one message */
#define DELIVER_WIRE_FIELDS 8	     /* fields after the magic and the kind */
#define DELIVER_WIRE_FIELD_MAX 8192   /* one field */
#define DELIVER_FORWARD_MEM_MAX (1ull << 32)
#define DELIVER_WIRE_CHUNK 8192      /* forwarded bytes per "data" message */

struct deliver_wire_req {
	const char *queue_id;
	unsigned rcpt_index;
	const char *sender;
	const char *recipient;
	const char *login; /* the account */
	time_t queue_time;
	bool recheck;
	bool message_sized; /* as in struct delivery_request */
	uint64_t message_size;
};
struct deliver_wire_fwd {
	const char *sender;
	const char *rcpt_list; /* TAB-separated */
	uint64_t mem_len;      /* bytes that follow in data messages */
	uint64_t fd_off, fd_len; /* then this range of the descriptor sent along */
};
void deliver_wire_request(const struct deliver_wire_req *r, struct buf *out);
int deliver_wire_request_parse(const char *data, size_t len, struct deliver_wire_req *r);
void deliver_wire_result(const struct delivery_result *res, int code, struct buf *out);
int deliver_wire_result_parse(const char *data, size_t len, struct delivery_result *res,
			      int *code_r);
void deliver_wire_forward(const char *sender, char *const *rcpts, size_t n, uint64_t mem_len,
			  uint64_t fd_off, uint64_t fd_len, struct buf *out);
int deliver_wire_forward_parse(const char *data, size_t len, struct deliver_wire_fwd *fw);
/* The helper's answer to a forward: ok and the new queue ID, or the error. */
void deliver_wire_forwarded(bool ok, const char *text, struct buf *out);
int deliver_wire_forwarded_parse(const char *data, size_t len, bool *ok_r, const char **text_r);
/* One message with at most one descriptor (fd < 0: none). 0, or -1 + errno. */
int deliver_wire_send(int sock, const struct buf *msg, int fd);
/* Receives one message into data; *fd_r (when not NULL) gets a descriptor or -1.
 * Returns the length, 0 at end of stream, -1 + errno (EMSGSIZE: cut short). */
ssize_t deliver_wire_recv(int sock, char *data, size_t size, int *fd_r);

/* ---- deliver-dotforward.c: ~/.forward of a system user ---- */
struct deliver_msg;
/* Carries out the user's .forward when it has entries: 1 done (res and *code_r set), 0
 * no .forward (deliver as usual). */
int deliver_dotforward(struct deliver_msg *m, struct delivery_result *res, int *code_r);

/* ---- deliver-comsat.c ---- */
/* Sends "login@offset:path" to host:port (biff/comsat); errors are logged only. */
void deliver_comsat_send(const char *address, const char *login, uint64_t offset, const char *path);

/* ---- the message being delivered (deliver-local.c) ---- */
struct deliver_msg {
	const struct deliver_ctx *ctx;
	const struct deliver_user *user;
	const struct delivery_request *req;
	char *head;	 /* "Return-Path: <...>\nDelivered-To: ...\n" */
	char *from_line; /* "From SENDER  DATE" */
	int fd;		 /* the message, from offset 0 */
	uint64_t size;
	unsigned seq; /* Maildir deliveries so far (exactly-once names) */
	/* Where the INBOX copy went, for comsat (path empty: not delivered there). */
	struct buf inbox_path;
	uint64_t inbox_offset;
};

/* The exactly-once name of the next Maildir copy (m->seq): the queue's own name for the
 * first, "TIME.QUEUEID_RCPT-N.HOST" for the next ones. */
void deliver_msg_unique_name(const struct deliver_msg *m, struct buf *out);
/* A Maildir delivery of src for this message: the INBOX-style unique name when the ctx
 * asks for exactly-once, a fresh one otherwise; notes the INBOX for comsat. */
int deliver_msg_maildir(struct deliver_msg *m, const char *maildir, const struct deliver_src *src,
			struct buf *path_r, struct delivery_result *res);
/* The whole message with the header lines added (src for a plain delivery). */
void deliver_msg_src(const struct deliver_msg *m, struct deliver_src *src);

/* Delivers the message into the INBOX, no filter. Returns the sysexits code. */
int deliver_plain(struct deliver_msg *m, struct delivery_result *res);
/* The user's filters (procmail rc, else Sieve), else the INBOX: what follows .forward. */
int deliver_filtered(struct deliver_msg *m, struct delivery_result *res);
/* The sysexits code of a result (0, 75 for deferrals, 65/67/69 for failures). */
int deliver_exit_code(const struct delivery_result *res);

/* ---- vacation.c ---- */
/* After a delivery: when the user's folder holds .vacation.msg and a .vacation.db (made
 * by `tern vacation -i`), answers as vacation(1) would. Failures are logged only: the
 * message is delivered whatever happens here. */
void deliver_vacation(struct deliver_msg *m);
/* A .forward's "|tern vacation ARGS" (vacation-cmd.c): run in this process (the delivery
 * child, which can queue the answer), not through the shell. 1 when cmd was that and res
 * is set (always OK: a failure is logged, the mail is delivered by the other entries),
 * 0 when cmd is another command. */
int deliver_vacation_command(struct deliver_msg *m, const char *cmd, struct delivery_result *res);

/* ---- filters ---- */
/* Runs the user's procmail rc file. Returns the sysexits code and fills res. */
int deliver_procmail(struct deliver_msg *m, struct delivery_result *res);
#ifdef TERN_HAVE_SIEVE
/* The compiled form of the active script is cached beside it, in SCRIPT.tern-bin. */
#define SIEVE_CACHE_SUFFIX ".tern-bin"
int deliver_sieve(struct deliver_msg *m, struct delivery_result *res);
/* The folder of a user's Sieve scripts (NAME.sieve: `tern sieve`, include :personal): the
 * active script's folder for virtual users, its sieve/ subfolder for system users (the
 * active script being ~/.dovecot.sieve, as Dovecot lays them out). */
char *deliver_sieve_dir(const struct deliver_user *u);
#endif

#endif
