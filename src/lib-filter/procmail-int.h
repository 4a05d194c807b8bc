/* procmail-int: what the parts of the procmail engine share (not for users of the library).
 *
 * The interpreter state (struct pm_vm): the environment, the message, the stack of
 * statement lists being run (rc files, INCLUDERCs, nested blocks), and the chaining state
 * of each level. procmail-env.c holds the variables and sh-like expansion, procmail-regex.c
 * the regex dialect, procmail-run.c the evaluation of recipes.
 */
#ifndef TERN_PROCMAIL_INT_H
#define TERN_PROCMAIL_INT_H

#include <regex.h>

#include "procmail.h"

#define PM_MAX_FRAMES (PROCMAIL_MAX_DEPTH * 2 + 2)
#define PM_MAX_CLONES 16
#define PM_MAX_WORDS 256

struct pm_frame {
	const struct procmail_stmt *stmts;
	size_t n, idx;
	bool file_base;	 /* the frame of an rc file (SWITCHRC ends up to here) */
	bool lastcond;	 /* the last recipe without A/a matched (A, a) */
	bool prev_exec;	 /* the immediately preceding recipe ran its action (E, e) */
	bool lastsucc;	 /* that action succeeded (a, e) */
};

struct pm_vm {
	const struct procmail_ops *ops;
	void *ctx;
	char **vars; /* "NAME=value" */
	size_t nvars;
	const char *const *args;
	size_t nargs;
	long pid;
	struct buf msg;
	size_t hdr_len; /* header length, its empty line included */
	size_t total_len;
	bool partial;
	struct pm_frame frames[PM_MAX_FRAMES];
	size_t nframes;
	struct procmail_rc **loaded; /* INCLUDERC/SWITCHRC files, freed at the end */
	size_t nloaded;
	size_t *clones;		     /* shared by a run and its clones */
	bool delivered;
	bool stop;		     /* a delivering recipe ended processing */
	char *global_lock;
	int last_exit;
	long score;
	char *rcname;
};

/* procmail-env.c */
const char *pm_get(const struct pm_vm *vm, const char *name);
void pm_set(struct pm_vm *vm, const char *name, const char *value);
void pm_unset(struct pm_vm *vm, const char *name);
void pm_vars_copy(struct pm_vm *dst, const struct pm_vm *src);
void pm_vars_free(struct pm_vm *vm);
bool pm_is_name_char(char c, bool first);

enum pm_expand_mode {
	PM_EXP_WORD,	/* one sh word: quotes removed, expansions not split (assignments) */
	PM_EXP_WORDS,	/* split into words as procmail does for action lines */
	PM_EXP_DQUOTE,	/* as inside double quotes (`* $` conditions, lockfiles) */
};
struct pm_words {
	char **v; /* NULL-terminated */
	size_t n;
};
/* Expands text; WORD and DQUOTE modes write into out, WORDS mode fills words.
 * Returns -1 when the result passes PROCMAIL_MAX_LINE. */
int pm_expand(struct pm_vm *vm, const char *text, enum pm_expand_mode mode, struct buf *out,
	      struct pm_words *words);
void pm_words_free(struct pm_words *w);
/* The argv for a program line: {SHELL, SHELLFLAGS, line} when it holds $SHELLMETAS, else
 * the line expanded into words. */
int pm_command_argv(struct pm_vm *vm, const char *line, struct pm_words *argv);
char **pm_envp(const struct pm_vm *vm);
void pm_envp_free(char ***envp);
/* Runs a program with the message (or part of it) on stdin; captures into out (may be NULL). */
int pm_run_program(struct pm_vm *vm, const char *line, const char *in, size_t in_len,
		   bool wait, struct buf *out);
bool pm_bool(const char *value, bool dflt);
void pm_logf(struct pm_vm *vm, bool verbose_only, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* procmail-cond.c: evaluates the conditions of r; sets vm->score ($=). */
bool pm_conditions(struct pm_vm *vm, const struct procmail_recipe *r);

/* procmail-regex.c */
struct pm_regex {
	regex_t full;
	regex_t left;  /* with \/: the part before it, anchored at its end */
	regex_t right; /* the part after it, anchored at its start */
	bool split, anchor_start, anchor_end, compiled;
};
/* Compiles procmail's dialect; returns -1 with a reason in err. */
int pm_regex_compile(struct pm_regex *re, const char *pattern, bool icase, struct buf *err);
void pm_regex_free(struct pm_regex *re);
/* pattern compiled, from this thread's cache of compiled expressions when it was compiled
 * before (see the .c file); NULL with a reason in err. Valid until the thread's next call. */
const struct pm_regex *pm_regex_get(const char *pattern, bool icase, struct buf *err);
/* Finds the first match; when the regex has \/ and match is set, MATCH's text goes there. */
bool pm_regex_search(const struct pm_regex *re, const char *text, size_t len, struct buf *match);
/* Counts matches (up to max), for weighted conditions. */
size_t pm_regex_count(const struct pm_regex *re, const char *text, size_t len, size_t max);
/* Is it certain, without compiling pattern, that it matches nowhere in text? True when
 * text lacks a run of plain characters that every match must contain (see the .c file).
 * *split_r tells whether pattern has a \/ (MATCH is then set) when true. */
bool pm_regex_cannot_match(const char *pattern, bool icase, const char *text, size_t len,
			   bool *split_r);

#endif
