/* imapd-int: the structures shared by the files of the imap role.
 *
 * An imapd_server holds what every session shares (configuration, user directory, event
 * base, limits); an imapd_session is one client: its bufferevent (replaceable, so that
 * STARTTLS can put TLS under it), its command parser (lib-imap), its state (RFC 9051 3:
 * not authenticated, authenticated, selected, logout), the user's store and the selected
 * folder's snapshot. Commands live in one table (imapd-session.c), one file per family.
 * A command that cannot finish at once (FETCH streaming, APPEND, IDLE) is a "job" that the
 * session pumps whenever the client has read enough of the output.
 */
#ifndef TERN_IMAPD_INT_H
#define TERN_IMAPD_INT_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "imap-arg.h"
#include "imap-fetch.h"
#include "imap-flags.h"
#include "imap-parser.h"
#include "imap-seqset.h"
#include "imap-write.h"
#include "mime-decode.h"
#include "sasl.h"
#include "server.h"
#include "userdb.h"

struct store;
struct store_folder;
struct store_msg;
struct store_append;
struct mime_part;
struct auth;
struct tls_server_ctx;
struct evconnlistener;
struct login_creds;

#define IMAPD_OUT_HIGH (128 * 1024) /* stop producing output above this */
#define IMAPD_OUT_LOW (32 * 1024)   /* ... and go on below this */
#define IMAPD_IN_HIGH (64 * 1024)   /* input read ahead */
#define IMAPD_CHUNK (16 * 1024)	    /* message bytes read at a time */
#define IMAPD_HIERARCHY_SEP '/'

enum imapd_state {
	IMAPD_S_NOAUTH = 1 << 0,
	IMAPD_S_AUTH = 1 << 1,
	IMAPD_S_SELECTED = 1 << 2,
	IMAPD_S_LOGOUT = 1 << 3,
};

enum imapd_cmd_flags {
	IMAPD_F_SEQ = 1 << 0,	   /* uses sequence numbers: no untagged EXPUNGE around it */
	IMAPD_F_PIPELINE = 1 << 1, /* may run while an earlier command's output is pending */
	IMAPD_F_UID = 1 << 2,	   /* allowed after "UID" */
};

struct imapd_settings {
	size_t max_line;
	uint64_t max_literal;
	uint64_t timeout_s;
	uint64_t login_timeout_s;
	uint64_t max_sessions_per_user;
	uint64_t max_errors;
	uint64_t idle_check_s; /* IDLE's poll where inotify watches the folder */
};

struct imapd_server {
	struct server_core core; /* configuration, login policy, listeners, sessions (lib-server) */
	struct imapd_settings set;
	struct imapd_idle_watches *idle_watches; /* the sessions in IDLE: imapd-cmd-idle.c */
};

/* The command being run. */
struct imapd_cmd {
	char *tag;
	char *name;		     /* "FETCH"; for UID FETCH also "FETCH" with uid set */
	const struct imap_arg *args; /* after the name (after the subcommand for UID) */
	size_t count;
	bool uid;
	unsigned flags; /* IMAPD_F_* of the table entry */
};

/* Bytes of a message (or part of it) copied to the client: CRLF line ends and/or a
 * transfer decoding, with a window [skip, skip + out_left) of the result. */
struct imapd_body_stream {
	int fd;
	uint64_t pos, in_left; /* raw range still to read */
	bool crlf;	       /* bare LF becomes CRLF */
	bool decode;	       /* decode with dec */
	struct mime_decoder dec;
	char prev;
	bool finished; /* the decoder was flushed */
	bool encode;   /* BODY[] of a binary part: sent as base64 (RFC 3516 4.3) */
	bool literal8; /* BINARY[] of an encoded or binary part: sent as ~{n} */
	unsigned char b64[3];
	unsigned b64_n, b64_col;
	uint64_t skip, out_left;
};

struct imapd_session;
typedef bool imapd_job_fn(struct imapd_session *s); /* true: still running */
typedef void imapd_job_free_fn(struct imapd_session *s);

struct imapd_session {
	/* the connection, its output (replies are built in conn.out), its state of reading
	   and closing (lib-server); conn.local: a pipe or Unix socket, as private as TLS */
	struct server_conn conn;
	struct imapd_server *server;
	bool starttls_pending;		 /* STARTTLS answered: switch once its line is consumed */
	bool compress_pending, compressed; /* COMPRESS DEFLATE (RFC 4978) */
	struct tls_server_ctx *stls_ctx; /* STARTTLS is offered with it (NULL: not offered) */
	enum imapd_state state;
	struct imap_parser *parser;
	struct imapd_cmd cmd; /* the current command */
	struct event *delay;
	struct auth_job *auth_job; /* a LOGIN password check in the auth thread pool */
	/* system users (imapd-syslogin.c): the attempt at the auth process, then the proxy */
	struct server_syslogin syslogin;
	const char *login_method; /* "LOGIN" or "AUTHENTICATE" */
	struct login_creds *creds; /* what AUTHENTICATE PLAIN/LOGIN captured */
	char *auth_user;	   /* the user of that check */
	/* a command running in steps */
	imapd_job_fn *job;
	imapd_job_free_fn *job_free;
	void *job_ctx;
	/* enabled extensions (RFC 5161) */
	bool utf8, condstore, qresync, rev2;
	/* logged in */
	struct user_info user;
	struct store *store;
	/* selected */
	struct store_folder *folder;
	char *folder_name; /* stored (mUTF-7) name */
	bool readonly;
	struct imap_seqset saved; /* SEARCHRES "$", as UIDs */
	struct imap_seqset shown; /* UIDs whose new flags this session already reported */
	struct imap_seqset recent; /* UIDs that are \Recent in this session */
	struct imapd_context *contexts; /* SEARCH RETURN (UPDATE) contexts (RFC 5267) */
	struct imapd_notify *notify;	/* NOTIFY SET (RFC 5465), or NULL */
	uint32_t recent_seen;	   /* the highest UID looked at for \Recent */
	struct sasl_server *sasl; /* AUTHENTICATE in progress */
	/* IDLE */
	bool idling;
	bool idle_woken;		  /* a change was seen: idle_timer set to sync soon */
	struct idle_folder *idle_folder; /* the watch shared with the worker's other sessions */
	struct event *idle_timer;	  /* the sync after a change, or the poll */
	/* APPEND of a streamed literal */
	struct imapd_append *append;
};

struct imapd_command {
	const char *name;
	unsigned states; /* imapd_state bits in which it is allowed */
	unsigned flags;	 /* IMAPD_F_* */
	void (*handler)(struct imapd_session *s, struct imapd_cmd *cmd);
};

/* imapd-server.c */
int imapd_server_init(struct imapd_server *srv, const char *conf_path);
void imapd_server_deinit(struct imapd_server *srv);

/* imapd-tls.c: STARTTLS (RFC 9051 6.2.1, RFC 2595) on lib-server's switch */
void imapd_tls_connected(struct imapd_session *s);
/* After the STARTTLS line was consumed: discards what followed it and starts TLS. */
void imapd_tls_switch(struct imapd_session *s);

/* imapd-session.c */
struct imapd_session *imapd_session_new(struct imapd_server *srv, struct bufferevent *bev,
					const struct net_peer *peer);
/* Sets the session's callbacks and watermarks on s->conn.bev (again after STARTTLS). */
void imapd_session_setup_bev(struct imapd_session *s);
/* May a clear-text password be used on this session? (lib-auth's policy) */
bool imapd_plaintext_ok(const struct imapd_session *s);
void imapd_session_free(struct imapd_session *s);
void imapd_session_start(struct imapd_session *s, bool preauth);
void imapd_session_flush(struct imapd_session *s);
void imapd_session_close(struct imapd_session *s);
/* Output: "* " + printf + CRLF. */
void imapd_untagged(struct imapd_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Ends the current command: untagged updates when allowed, then "tag STATUS [code] text". */
void imapd_reply(struct imapd_session *s, const char *status, const char *code, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));
void imapd_bad(struct imapd_session *s, const char *text);
/* Makes the current command a job (busy until fn returns false). */
void imapd_job_start(struct imapd_session *s, imapd_job_fn *fn, imapd_job_free_fn *free_fn,
		     void *ctx);
/* A job or a delayed reply finished outside the pump: go on with the input. */
void imapd_session_resume(struct imapd_session *s);
bool imapd_output_full(struct imapd_session *s);
/* The idle timeout for the state, and setting it. */
uint64_t imapd_session_timeout_s(const struct imapd_session *s);
void imapd_session_timeouts(struct imapd_session *s);

/* imapd-cmd-basic.c: CAPABILITY NOOP LOGOUT ID ENABLE CHECK STARTTLS */
void imapd_cmd_capability(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_noop(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_logout(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_id(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_enable(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_starttls(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_capability_write(struct imapd_session *s, struct buf *out);

/* imapd-cmd-login.c: LOGIN, and logging in */
void imapd_cmd_login(struct imapd_session *s, struct imapd_cmd *cmd);
/* A failed login: counted, logged, answered NO after lib-auth's delay. */
void imapd_login_failed(struct imapd_session *s, const char *mech, const char *user,
			const char *result);
/* Answers NO [AUTHENTICATIONFAILED] after ms (the session reads nothing meanwhile). */
void imapd_login_fail_after(struct imapd_session *s, uint64_t ms);
/* A locked-out address or user: NO [UNAVAILABLE] (logged). */
void imapd_login_locked(struct imapd_session *s, const char *mech, const char *user);
/* A user whose credentials were checked: session limit, store, tagged OK (info taken). */
void imapd_login_finish(struct imapd_session *s, struct user_info *info, const char *method);
/* The same for an address whose credentials were checked: looks it up first. */
void imapd_login_address(struct imapd_session *s, const char *address, const char *method);
/* imapd-cmd-auth.c: AUTHENTICATE (RFC 9051 6.2.2, SASL-IR RFC 4959) */
void imapd_cmd_authenticate(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_auth_line(struct imapd_session *s, const char *line, size_t len);
void imapd_auth_abort(struct imapd_session *s);
/* Opens the store of info (moved into s->user); 0, or -1 with a reason in err. */
int imapd_login(struct imapd_session *s, struct user_info *info, struct buf *err);
void imapd_logout(struct imapd_session *s);

/* imapd-syslogin.c: system users' logins through the auth process (lib-login) */
/* Sends the credentials; the reply comes later, from the session process when it worked. */
void imapd_syslogin(struct imapd_session *s, const char *method, const char *mech,
		    const char *user, const char *password);

/* imapd-mailbox.c: names */
/* The stored (mUTF-7) name of a client mailbox argument, INBOX normalised; NULL with the
 * reply sent when it is not valid. Free with x_free. */
char *imapd_mailbox_arg(struct imapd_session *s, const struct imap_arg *arg);
/* Writes a stored name for the client (astring, mUTF-7 or UTF-8). */
void imapd_write_mailbox(struct imapd_session *s, struct buf *out, const char *stored);
/* Special-use attribute of a folder name ("\\Sent"), or NULL. */
const char *imapd_special_use(const char *name);
void imapd_create_special(struct imapd_session *s);
/* Subscriptions (one stored name a line in MAILDIR/subscriptions). */
char **imapd_subs_read(struct imapd_session *s, size_t *count_r);
int imapd_subs_change(struct imapd_session *s, const char *name, bool add);
void imapd_cmd_create(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_delete(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_rename(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_subscribe(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_unsubscribe(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_namespace(struct imapd_session *s, struct imapd_cmd *cmd);
/* imapd-cmd-quota.c: QUOTA (RFC 9208) */
void imapd_cmd_getquotaroot(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_getquota(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_setquota(struct imapd_session *s, struct imapd_cmd *cmd);

/* imapd-cmd-list.c: LIST LSUB */
void imapd_cmd_list(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_lsub(struct imapd_session *s, struct imapd_cmd *cmd);

/* imapd-cmd-status.c */
void imapd_cmd_status(struct imapd_session *s, struct imapd_cmd *cmd);
/* Writes "* STATUS name (items)" for the parsed item list; -1 with err if no folder. */
int imapd_status_write(struct imapd_session *s, const char *name, const struct imap_arg *items,
		       size_t count, struct buf *err);
bool imapd_status_items_valid(const struct imap_arg *items, size_t count);

/* imapd-cmd-select.c: SELECT EXAMINE CLOSE UNSELECT, and the untagged updates */
void imapd_cmd_select(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_examine(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_close(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_unselect(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_check(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_unselect(struct imapd_session *s);
/* A CONDSTORE-enabling command (RFC 7162 3.1): the first one sends HIGHESTMODSEQ. */
void imapd_condstore_enable(struct imapd_session *s);
/* Brings the snapshot up to date and writes EXPUNGE/EXISTS/FETCH; expunge: EXPUNGE may be
 * sent (else nothing is synced). */
void imapd_sync(struct imapd_session *s, bool expunge);

/* imapd-qresync.c: QRESYNC (RFC 7162 3.2) */
struct imapd_qresync {
	bool active, has_known, has_match;
	uint32_t uidvalidity;
	uint64_t modseq;
	struct imap_seqset known, match_seqs, match_uids;
};
/* Parses the list after the QRESYNC SELECT parameter; -1 on a syntax error. */
int imapd_qresync_parse(const struct imap_arg *arg, struct imapd_qresync *q);
void imapd_qresync_free(struct imapd_qresync *q);
/* After SELECT's untagged responses: VANISHED (EARLIER) and the changed flags. */
void imapd_qresync_select(struct imapd_session *s, const struct imapd_qresync *q);
/* "* VANISHED (EARLIER) ..." for the UIDs of known (>= min_uid) expunged after modseq. */
void imapd_vanished_earlier(struct imapd_session *s, const struct imap_seqset *known,
			    uint64_t modseq, uint32_t min_uid);
/* Expunges as EXPUNGE responses (from the last) or, with QRESYNC, one VANISHED. */
void imapd_expunged_write(struct imapd_session *s, const uint32_t *uids, const uint32_t *seqs,
			  size_t count);

/* imapd-context.c: search contexts (RFC 5267 4.3) */
struct imap_search_key;
bool imapd_context_tag_used(struct imapd_session *s, const char *tag);
/* Keeps root (taken: *root is cleared) and the result (UIDs) under tag; -1 when there are
 * too many contexts (the caller answers NOUPDATE). */
int imapd_context_add(struct imapd_session *s, const char *tag, bool uid,
		      struct imap_search_key *root, const struct imap_seqset *uids);
bool imapd_context_cancel(struct imapd_session *s, const char *tag);
void imapd_context_clear(struct imapd_session *s);
/* REMOVEFROM for expunged messages (uids with their old sequence numbers). */
void imapd_context_expunged(struct imapd_session *s, const uint32_t *uids, const uint32_t *seqs,
			    size_t count);
/* ADDTO / REMOVEFROM for the messages changed since the last update. */
void imapd_context_update(struct imapd_session *s);
void imapd_cmd_cancelupdate(struct imapd_session *s, struct imapd_cmd *cmd);
/* " PARTIAL (lo:hi results)" of the results v[0..n) at positions lo..hi (RFC 5267 4.4). */
void imapd_partial_write(struct buf *out, uint32_t lo, uint32_t hi, const uint32_t *v, size_t n);

/* imapd-recent.c: \Recent (RFC 3501 2.3.2) */
/* The Maildir folder of a stored name. */
char *imapd_folder_dir(const struct imapd_session *s, const char *name);
/* Claims (read-write) or looks at (read-only) the new messages of the snapshot. */
void imapd_recent_update(struct imapd_session *s);
bool imapd_recent_has(const struct imapd_session *s, uint32_t uid);
size_t imapd_recent_count(const struct imapd_session *s);
/* STATUS RECENT of folder name whose snapshot is f. */
size_t imapd_recent_status(const struct imapd_session *s, const char *name,
			   const struct store_folder *f);

/* imapd-flags.c: store flags and keywords <-> IMAP */
void imapd_flags_write(struct imapd_session *s, struct buf *out, const struct store_msg *m);
void imapd_folder_flags_write(struct imapd_session *s, struct buf *out, bool permanent);
/* IMAP flags to store bits; keywords created when create. -1 with the reply sent. */
int imapd_flags_to_store(struct imapd_session *s, const struct imap_flags *f, bool create,
			 uint32_t *flags_r, uint32_t *keywords_r);
/* Resolves a sequence set (or UIDs) to snapshot indexes; "$" uses the saved result.
 * Returns 0, or -1 with BAD sent. Free *idx_r. */
int imapd_seqset_resolve(struct imapd_session *s, const struct imap_arg *arg, bool uid,
			 uint32_t **idx_r, size_t *count_r);

/* imapd-cmd-fetch.c, imapd-fetch-body.c, imapd-bodystructure.c */
void imapd_cmd_fetch(struct imapd_session *s, struct imapd_cmd *cmd);
/* The parsed structure of message uid (from the cache, or parsed and cached); NULL with
 * err set. The caller frees it with mime_part_free. */
struct mime_part *imapd_msg_parts(struct imapd_session *s, uint32_t uid, struct buf *err);
void imapd_envelope_write(struct imapd_session *s, struct buf *out, const struct mime_part *p);
/* The ENVELOPE or BODYSTRUCTURE (STORE_CACHE_*) text of message uid into out (replaced):
 * cached, or written from *tree (parsed when NULL; the caller frees it) and then cached.
 * false when the message cannot be read. */
bool imapd_msg_text(struct imapd_session *s, uint32_t uid, int kind,
		    struct mime_part **tree, struct buf *out);
void imapd_bodystructure_write(struct imapd_session *s, struct buf *out, const struct mime_part *p,
			       bool extended);
/* Writes " NAME literal-or-NIL" for one BODY[...]/BINARY[...] item of message uid, whose
 * bytes are st (fd owned by the caller); a large literal's bytes are left in *bs for
 * imapd_body_pump (*streaming_r). */
struct store_msg_stream;
void imapd_fetch_body_start(struct imapd_session *s, const struct imap_fetch_body *b, uint32_t uid,
			    struct mime_part *tree, const struct store_msg_stream *st,
			    struct imapd_body_stream *bs, bool *streaming_r);
/* Copies more of a body stream into the output; true while bytes remain. */
bool imapd_body_pump(struct imapd_session *s, struct imapd_body_stream *bs);
/* Receives bytes; 0 to go on, -1 to stop. */
typedef int imapd_sink_fn(void *ctx, const char *data, size_t len);
/* Copies a section as BODY[...] gives it (CRLF line ends, b's partial window) to sink:
 * 0, or -1 when there is no such part or sink failed. */
int imapd_section_copy(const struct imap_fetch_body *b, struct mime_part *tree,
		       const struct store_msg_stream *st, imapd_sink_fn *sink, void *ctx);
void imapd_body_close(struct imapd_body_stream *bs);

/* imapd-cmd-store.c, imapd-cmd-copy.c, imapd-cmd-expunge.c */
void imapd_cmd_store(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_copy(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_move(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_expunge(struct imapd_session *s, struct imapd_cmd *cmd);

/* imapd-cmd-search.c, imapd-search-eval.c */
void imapd_cmd_search(struct imapd_session *s, struct imapd_cmd *cmd);
struct imap_search_key;
/* What one message's evaluation has read so far (its header fields). */
struct imapd_search_cache {
	uint32_t uid;
	bool loaded;
	bool partial;		/* only the cached fields (STORE_CACHE_FIELDS) were loaded */
	char **names, **values; /* decoded, unfolded header fields */
	size_t n;
};
/* Appends field f to a STORE_CACHE_FIELDS value when it is one SEARCH and SORT read
 * (Subject, From, To, Cc, Bcc, Date, References), decoded as the search decodes it. */
struct mime_header_field;
void imapd_search_fields_add(struct buf *fields, const struct mime_header_field *f);
/* Whether a header of header_size bytes was read whole by the search (so the fields taken
 * from it are all there are). */
bool imapd_search_fields_complete(uint64_t header_size);
/* Does message idx match key? c caches the message's header between keys. */
bool imapd_search_match(struct imapd_session *s, size_t idx, const struct imap_search_key *key,
			struct imapd_search_cache *c);
void imapd_search_cache_free(struct imapd_search_cache *c);
/* The first field called name of message uid (unfolded, RFC 2047 decoded), or NULL;
 * valid until c is loaded with another message. */
const char *imapd_msg_header(struct imapd_session *s, struct imapd_search_cache *c, uint32_t uid,
			     const char *name);

/* imapd-sort-keys.c, imapd-cmd-sort.c, imapd-cmd-thread.c (RFC 5256, RFC 5957, RFC 5267) */
struct imapd_sort_msg {
	uint32_t seq, uid;
	int64_t arrival, date; /* date: the sent date, or the arrival date */
	bool has_date;	       /* the Date: field was readable */
	uint64_t size;
	char *subject; /* base subject */
	bool is_reply; /* the subject had Re:/Fwd: (RFC 5256 THREAD=REFERENCES step 4) */
	char *from, *to, *cc, *dfrom, *dto;
	char *message_id, *in_reply_to, *references; /* NULL when absent */
};
void imapd_sort_msg_load(struct imapd_session *s, size_t idx, bool references,
			 struct imapd_search_cache *c, struct imapd_sort_msg *k);
void imapd_sort_msg_free(struct imapd_sort_msg *k);
/* i;ascii-casemap comparison. */
int imapd_sort_strcmp(const char *a, const char *b);
size_t imapd_sort_search(struct imapd_session *s, const struct imap_search_key *root,
			 size_t **idx_r);
void imapd_cmd_sort(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_cmd_thread(struct imapd_session *s, struct imapd_cmd *cmd);

/* imapd-cmd-append.c */
void imapd_cmd_append(struct imapd_session *s, struct imapd_cmd *cmd);
/* The parser announced a large literal in the current command: 0 accepted (stream it to
 * imapd_append_data), -1 refused (reply sent). */
int imapd_append_literal(struct imapd_session *s, const struct imap_command *partial,
			 const struct imap_literal *lit);
void imapd_append_data(struct imapd_session *s, const char *data, size_t len, bool last);
void imapd_append_free(struct imapd_session *s);

/* imapd-catenate.c: CATENATE (RFC 4469) */
/* Appends the bytes of an IMAP URL's message or part to dst; -1 with err set. */
int imapd_catenate_url(struct imapd_session *s, const char *url, struct store_append *dst,
		       struct buf *err);

/* imapd-notify.c: NOTIFY (RFC 5465) */
void imapd_cmd_notify(struct imapd_session *s, struct imapd_cmd *cmd);
void imapd_notify_free(struct imapd_session *s);

/* imapd-compress.c: COMPRESS DEFLATE (RFC 4978) */
void imapd_cmd_compress(struct imapd_session *s, struct imapd_cmd *cmd);
/* After the COMPRESS line was consumed: puts the deflate filter under the session. */
void imapd_compress_switch(struct imapd_session *s);

/* imapd-cmd-idle.c */
void imapd_cmd_idle(struct imapd_session *s, struct imapd_cmd *cmd);
/* A line while idling: "DONE" ends it. */
void imapd_idle_line(struct imapd_session *s, const char *line);
void imapd_idle_stop(struct imapd_session *s);
/* Frees the worker's inotify instance of IDLE (at the end, no session left). */
void imapd_idle_watches_free(struct imapd_server *srv);

#endif
