/* sieve: a Sieve mail filtering interpreter (RFC 5228) that decides and never acts.
 *
 * sieve_compile() turns script text into a checked tree (errors carry line and column);
 * sieve_script_serialize()/_deserialize() cache it as versioned bytes. sieve_execute()
 * runs it against one message, its envelope and struct sieve_ops (state kept by the
 * delivery agent: vacation and duplicate records, mailbox existence, included scripts),
 * and returns the actions to carry out in RFC order with the implicit keep resolved
 * (RFC 5228 2.10.2). The agent carries them out, then calls sieve_result_commit() so
 * that vacation and duplicate state is recorded only for mail that was really handled.
 * Extensions: see sieve_capabilities(). Every size is bounded by the SIEVE_MAX_* limits.
 */
#ifndef TERN_SIEVE_H
#define TERN_SIEVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"

#define SIEVE_MAX_SCRIPT_SIZE (1024 * 1024) /* bytes of script text */
#define SIEVE_MAX_NESTING 32		    /* nested blocks and tests */
#define SIEVE_MAX_NODES 20000		    /* commands and tests in one script */
#define SIEVE_MAX_ARGS 32		    /* arguments of one command or test */
#define SIEVE_MAX_LIST 1024		    /* strings in one string list */
#define SIEVE_MAX_ACTIONS 64		    /* actions in one result */
#define SIEVE_MAX_REDIRECTS 4		    /* default when sieve_ops.max_redirects is 0 */
#define SIEVE_MAX_VARIABLES 256		    /* variables in one scope (RFC 5229 5) */
#define SIEVE_MAX_VARIABLE_NAME 64	    /* bytes of a variable name */
#define SIEVE_MAX_VARIABLE_SIZE 4096	    /* bytes of a variable value (truncated) */
#define SIEVE_MAX_MATCH_VARS 10		    /* ${0} .. ${9} */
#define SIEVE_MAX_INCLUDE_DEPTH 10	    /* RFC 6609 include nesting */
#define SIEVE_MAX_INCLUDES 32		    /* scripts included in one run */
#define SIEVE_MAX_HEADER (1024 * 1024)	    /* bytes of header section read */
#define SIEVE_MAX_BODY (1024 * 1024)	    /* default when sieve_ops.max_body is 0 */

struct sieve_script;

/* A compile or run error: where it is (line and column from 1; 0 when not known). */
struct sieve_error {
	int line, col;
	char msg[256];
};

/* Compiles len bytes of script text. Returns NULL
 * with *err_r filled on any syntax or semantic error: such a script must not be run. */
struct sieve_script *sieve_compile(const char *text, size_t len, struct sieve_error *err_r);
void sieve_script_free(struct sieve_script **script);
/* Appends the compiled form (versioned) to out. */
void sieve_script_serialize(const struct sieve_script *script, struct buf *out);
/* Reads a compiled form back; NULL with *err_r on a bad version, short or trailing data. */
struct sieve_script *sieve_script_deserialize(const void *data, size_t len,
					      struct sieve_error *err_r);
/* The extensions this interpreter knows, space-separated (for ManageSieve SIEVE). */
const char *sieve_capabilities(void);

/* The message: its size, and a pread-like reader over its bytes (header and body, as
 * stored; LF or CRLF line ends). read returns bytes read, 0 at the end, -1 on error.
 * When read is NULL, the message is the size bytes at data. */
struct sieve_message {
	uint64_t size;
	ssize_t (*read)(void *ctx, void *buf, size_t len, uint64_t offset);
	void *ctx;
	const void *data;
};

/* A message held in memory (tests, small messages): fills msg to read from data. */
void sieve_message_from_memory(struct sieve_message *msg, const void *data, size_t len);

struct sieve_envelope {
	const char *from;    /* MAIL FROM address without <>; "" for the null sender */
	const char *to;	     /* the recipient this delivery is for (RCPT TO) */
	const char *orig_to; /* original recipient (ORCPT), or NULL */
	const char *user;    /* the user's own address (vacation :from default), or NULL: to */
	const char *const *user_aliases; /* NULL-terminated list of more of the user's
					  * addresses (vacation 4.5), or NULL */
};

/* What the agent provides. Every callback may be NULL (see each for what then happens). */
struct sieve_ops {
	void *ctx;
	/* vacation (RFC 5230): was a reply for handle sent to sender less than seconds ago?
	 * NULL: never. */
	bool (*vacation_seen)(void *ctx, const char *handle, const char *sender, uint64_t seconds);
	/* Called by sieve_result_commit() for each vacation reply that was decided. */
	void (*vacation_record)(void *ctx, const char *handle, const char *sender,
				uint64_t seconds);
	/* duplicate (RFC 7352): was id seen for handle in the last seconds? NULL: never. */
	bool (*duplicate_seen)(void *ctx, const char *handle, const char *id, uint64_t seconds);
	void (*duplicate_record)(void *ctx, const char *handle, const char *id, uint64_t seconds);
	/* mailbox (RFC 5490): does the mailbox exist? NULL: only INBOX exists. */
	bool (*mailbox_exists)(void *ctx, const char *mailbox);
	/* include (RFC 6609): the compiled script named name, personal or global, owned by
	 * the agent (it stays valid for the run); NULL if it does not exist (an error unless
	 * :optional) or does not compile (then *err_r says why). NULL callback: no scripts. */
	const struct sieve_script *(*include)(void *ctx, bool global, const char *name,
					      struct sieve_error *err_r);
	time_t now;		       /* currentdate and date (0: time(NULL)) */
	int now_zone;		       /* the local zone, minutes east of UTC */
	uint64_t max_body;	       /* body test: bytes of message read (0: SIEVE_MAX_BODY) */
	unsigned int max_redirects;    /* per run (0: SIEVE_MAX_REDIRECTS) */
	uint64_t vacation_min_seconds; /* shortest interval (0: 1 day) */
	uint64_t vacation_max_seconds; /* longest interval (0: 90 days) */
	uint64_t vacation_default_seconds; /* (0: 7 days) */
};

enum sieve_action_type {
	SIEVE_ACT_KEEP,	    /* store in INBOX (implicit or explicit) */
	SIEVE_ACT_FILEINTO, /* store in mailbox */
	SIEVE_ACT_REDIRECT, /* send to address */
	SIEVE_ACT_DISCARD,  /* nothing (listed so that logs can say why) */
	SIEVE_ACT_REJECT,   /* refuse with reason: a DSN/MDN, or at the protocol level */
	SIEVE_ACT_EREJECT,  /* refuse, preferring the protocol level (RFC 5429 2.1) */
	SIEVE_ACT_VACATION, /* send the auto-reply described (it was decided to be sent) */
};

struct sieve_action {
	enum sieve_action_type type;
	char *mailbox;	   /* KEEP: "INBOX"; FILEINTO: the mailbox (UTF-8 name) */
	char *address;	   /* REDIRECT: the address; VACATION: who the reply goes to */
	char *text;	   /* REJECT/EREJECT: reason; VACATION: the reply body (or MIME entity) */
	char **flags;	   /* KEEP/FILEINTO: IMAP flags to set (imap4flags), NULL-terminated */
	bool copy;	   /* FILEINTO/REDIRECT used :copy */
	bool create;	   /* FILEINTO :create (RFC 5490) */
	bool implicit;	   /* KEEP: the implicit keep */
	char *subject;	   /* VACATION: Subject of the reply */
	char *from;	   /* VACATION: From of the reply */
	char *handle;	   /* VACATION: the handle (given or derived) */
	char *in_reply_to; /* VACATION: Message-ID of the original, or NULL */
	char *references;  /* VACATION: References of the reply (autoreply_references) */
	bool mime;	   /* VACATION: text is a MIME entity (:mime) */
	uint64_t seconds;  /* VACATION: the interval */
	int line;	   /* where in the script (0: implicit) */
};

enum sieve_status {
	SIEVE_OK = 0,
	SIEVE_RUNTIME_ERROR = -1, /* actions hold only the implicit keep; error says why */
};

struct sieve_dup_record {
	char *handle, *id;
	uint64_t seconds;
};

struct sieve_result {
	enum sieve_status status;
	struct sieve_error error;
	struct sieve_action *actions;
	size_t count;
	struct sieve_dup_record *dups; /* duplicate ids to record on commit */
	size_t dup_count;
};

/* Runs script on the message. Always fills *result_r (free it with sieve_result_free);
 * returns its status. On a runtime error the result is a single implicit keep. */
enum sieve_status sieve_execute(const struct sieve_script *script, const struct sieve_message *msg,
				const struct sieve_envelope *env, const struct sieve_ops *ops,
				struct sieve_result *result_r);
/* After the actions were carried out: records vacation replies and duplicate ids. */
void sieve_result_commit(const struct sieve_result *result, const struct sieve_ops *ops);
void sieve_result_free(struct sieve_result *result);
/* One line per action, e.g. `fileinto "Junk" flags="\\Seen" copy` (tests and logs). */
void sieve_result_format(const struct sieve_result *result, struct buf *out);

#endif
