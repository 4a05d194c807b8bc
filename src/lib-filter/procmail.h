/* procmail: a procmail-compatible recipe engine (procmailrc(5), procmailsc(5)), pure.
 *
 * procmail_parse() turns the text of an rc file into statements (assignments and recipes,
 * with nested blocks); procmail_run() evaluates them against one message and an initial
 * environment. The engine never touches files or runs programs itself: every side effect
 * (delivering to a folder, forwarding, piping, running a program for a condition, a filter
 * or a backquote, reading an INCLUDERC, taking a lock, writing a log line) is a call into
 * struct procmail_ops, which the delivery agent provides; the results of those calls feed
 * procmail's a/e chaining. Limits on every size are the PROCMAIL_MAX_* constants.
 */
/* Differences from procmail 3.22, and what is left out:
 * - An rc file with a syntax error (missing action, unclosed block, unknown flag, open quote)
 *   is rejected whole by procmail_parse(); the agent should then deliver to $DEFAULT. An
 *   INCLUDERC/SWITCHRC with an error is logged and skipped. procmail instead skips pieces.
 * - Not done: HOST (stop when not this host), DELIVERED, TRAP, COMSAT, DROPPRIVS, LINEBUF
 *   (fixed limits instead), TIMEOUT/LOCKSLEEP/LOCKTIMEOUT/NORESRETRY/SUSPEND (the agent's
 *   business), MAILDIR chdir checks (paths are joined to $MAILDIR instead), implicit local
 *   lockfiles of pipes from ">>", "|" with no program (passed with an empty argv), "$@"
 *   beyond simple use. Several directory folders get one delivery each (no hardlinks).
 * - Messages bigger than the agent's in-memory limit are matched on their first bytes
 *   (partial); `<`/`>` use the real size; a filter on such a message is the agent's call.
 * - A "c" block clone runs to completion before the parent goes on (procmail runs both at
 *   once); the set of deliveries is the same.
 * - \/ : the left part ends as early as possible (as procmail); MATCH is cut at
 *   PROCMAIL_MAX_LINE and searched within 64 KiB of the match start.
 */
#ifndef TERN_PROCMAIL_H
#define TERN_PROCMAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define PROCMAIL_MAX_RC_SIZE (1024 * 1024)  /* bytes in one rc file */
#define PROCMAIL_MAX_LINE 8192		     /* one logical line, before and after expansion */
#define PROCMAIL_MAX_DEPTH 32		     /* nested blocks in a file; also INCLUDERC depth */
#define PROCMAIL_MAX_REGEX 4096		     /* a regex after macro expansion */
#define PROCMAIL_MAX_VARS 1024		     /* variables in the environment */
#define PROCMAIL_MAX_SWITCH 64		     /* SWITCHRC/INCLUDERC files read in one run */
#define PROCMAIL_MAX_OUTPUT (1024 * 1024)   /* backquote and VAR=| capture output */
#define PROCMAIL_MAX_MESSAGE (64 * 1024 * 1024) /* what an f filter may give back */

/* Recipe flags (procmailrc(5)). */
enum {
	PROCMAIL_F_HEADER_MATCH = 1 << 0, /* H */
	PROCMAIL_F_BODY_MATCH = 1 << 1,	  /* B */
	PROCMAIL_F_CASE = 1 << 2,	  /* D */
	PROCMAIL_F_AND = 1 << 3,	  /* A */
	PROCMAIL_F_AND_SUCC = 1 << 4,	  /* a */
	PROCMAIL_F_ELSE = 1 << 5,	  /* E */
	PROCMAIL_F_ERROR = 1 << 6,	  /* e */
	PROCMAIL_F_HEADER_FEED = 1 << 7,  /* h */
	PROCMAIL_F_BODY_FEED = 1 << 8,	  /* b */
	PROCMAIL_F_FILTER = 1 << 9,	  /* f */
	PROCMAIL_F_COPY = 1 << 10,	  /* c */
	PROCMAIL_F_WAIT = 1 << 11,	  /* w */
	PROCMAIL_F_WAIT_QUIET = 1 << 12,  /* W */
	PROCMAIL_F_IGNORE = 1 << 13,	  /* i */
	PROCMAIL_F_RAW = 1 << 14,	  /* r */
};

enum procmail_action_kind {
	PROCMAIL_ACT_FOLDER,  /* a mailbox file, directory, Maildir (dir/) or MH folder (dir/.) */
	PROCMAIL_ACT_FORWARD, /* ! addresses */
	PROCMAIL_ACT_PIPE,    /* | program, or VAR=| program (capture) */
	PROCMAIL_ACT_BLOCK,   /* { ... } */
};

struct procmail_cond {
	int line;
	double weight, exponent;
	bool weighted;
	char *text; /* after `*`, the weight and surrounding blanks; prefixes (! $ ? < > VAR ??)
		       are interpreted when evaluated, since `$` re-parses its expansion */
};

struct procmail_stmt;

struct procmail_recipe {
	unsigned flags;
	bool local_lock;    /* a second ':' on the recipe line */
	char *lockfile;	    /* the lockfile named after it, or NULL */
	struct procmail_cond *conds;
	size_t nconds;
	enum procmail_action_kind action;
	char *action_text;  /* unexpanded, without the leading ! or | */
	char *capture_var;  /* VAR of `VAR=| program`, or NULL */
	struct procmail_stmt *block;
	size_t nblock;
};

struct procmail_stmt {
	int line;
	bool is_recipe;
	char *name;  /* assignment: variable; value NULL means `VAR` alone (unset) */
	char *value; /* raw text after '=', quotes and expansions kept for run time */
	struct procmail_recipe recipe;
};

struct procmail_rc {
	char *name;
	struct procmail_stmt *stmts;
	size_t nstmts;
};

/* Parses an rc file. Returns the statements, or NULL with "name:line: reason" in err_r.
 * Unknown lines are not errors: like procmail, they are kept as assignments with no '='
 * only when they look like a variable name, and skipped with a log line otherwise. */
struct procmail_rc *procmail_parse(const char *name, const char *text, size_t len,
				   struct buf *err_r);
void procmail_rc_free(struct procmail_rc **rc);

/* ---- running ---- */

/* A program to run: argv (already split as procmail does, or {SHELL, SHELLFLAGS, line} when
 * the line holds $SHELLMETAS), its environment, its working directory, and its stdin. */
struct procmail_cmd {
	char **argv;
	char **envp;
	const char *cwd;
	const char *input;
	size_t input_len;
	bool wait; /* w or W: the exit code counts */
	bool quiet;
	bool ignore_write_errors;
};

enum procmail_folder_kind {
	PROCMAIL_FOLDER_FILE,	 /* mbox file, or an existing plain directory (msg.XXX files) */
	PROCMAIL_FOLDER_MAILDIR, /* name ended in '/' (the '/' is removed from path) */
	PROCMAIL_FOLDER_MH,	 /* name ended in "/." (removed from path) */
};

struct procmail_folder {
	enum procmail_folder_kind kind;
	const char *path;     /* absolute, or relative to the agent's cwd when MAILDIR is */
	const char *lockfile; /* local lockfile to hold while writing, or NULL */
	const char *text;     /* what to write: header and/or body as h/b select */
	size_t text_len;
	bool raw;    /* r: write as is; otherwise make sure it ends with an empty line */
	bool partial; /* the message was bigger than the in-memory limit: text is a prefix */
	unsigned umask;
};

/* Every callback returns 0 on success, -1 on failure (the run/pipe/forward ones return
 * the program's exit code, or -1 when it could not be started). */
struct procmail_ops {
	int (*deliver)(void *ctx, const struct procmail_folder *folder, struct buf *name_r);
	int (*forward)(void *ctx, const struct procmail_cmd *sendmail);
	int (*pipe)(void *ctx, const struct procmail_cmd *cmd);
	/* Runs a program and captures its stdout (up to out_r's limit) when out_r is set:
	 * `* ? program`, `f` filters, `VAR=| program` and backquotes. */
	int (*run)(void *ctx, const struct procmail_cmd *cmd, struct buf *out_r);
	int (*read_file)(void *ctx, const char *path, struct buf *out_r);
	int (*lock)(void *ctx, const char *path);
	void (*unlock)(void *ctx, const char *path);
	/* A line (or LOG text) for $LOGFILE (NULL when unset: the agent picks stderr). */
	void (*log)(void *ctx, const char *logfile, const char *text);
};

struct procmail_env_init {
	const char *const *vars; /* "NAME=value" strings: HOME, LOGNAME, MAILDIR, DEFAULT... */
	const char *const *args; /* $1... (procmail -a / -m arguments) */
	size_t nargs;
	long pid;		 /* $$ */
};

enum procmail_result {
	PROCMAIL_DELIVERED, /* a delivering recipe (or DEFAULT) took the message */
	PROCMAIL_FAILED,    /* nothing took it, not even DEFAULT: the agent must tempfail */
};

/* Runs rc over the message. msg holds the whole message (from the "From " line if any)
 * or, when partial, its first bytes; total_len is its real size (for `<` and `>`).
 * exitcode_r, when set, receives EXITCODE if the rc file set it, or -1. */
enum procmail_result procmail_run(const struct procmail_rc *rc, const struct procmail_ops *ops,
				  void *ctx, const struct procmail_env_init *env,
				  const char *msg, size_t msg_len, size_t total_len, bool partial,
				  int *exitcode_r);

#endif
