/* sieve-run: the state of one run of a script (and the scripts it includes), shared by
 * the interpreter files: sieve-run.c (commands), sieve-tests.c (tests), sieve-match.c
 * (comparators and match types), sieve-message.c (header and body access),
 * sieve-result.c (the action list), sieve-strings.c (variables), sieve-vacation.c and
 * sieve-date.c. Internal to lib-sieve.
 */
#ifndef TERN_SIEVE_RUN_H
#define TERN_SIEVE_RUN_H

#include "sieve-int.h"

struct mime_part;

struct sieve_var {
	char *name;
	struct buf value;
};

struct sieve_scope {
	struct sieve_var *v;
	size_t count;
};

struct sieve_hdr {
	char *name;
	char *value; /* unfolded, leading/trailing blanks removed, encoded-words kept */
};

/* A list of strings to match (values taken from the message or the envelope). */
struct sieve_strs {
	char **v;
	size_t count;
};

struct sieve_run {
	const struct sieve_message *msg;
	const struct sieve_envelope *env;
	const struct sieve_ops *ops;
	struct sieve_result *res;
	struct sieve_error *err;
	uint32_t exts; /* of the script being run */
	/* the message, read on demand */
	bool hdrs_loaded, body_loaded;
	struct sieve_hdr *hdrs;
	size_t nhdrs;
	struct buf data; /* the message up to max_body bytes (body test) */
	struct mime_part *tree;
	/* variables */
	struct sieve_scope *local, global;
	struct buf match[SIEVE_MAX_MATCH_VARS];
	size_t nmatch;
	struct sieve_strs flags; /* the imap4flags internal variable */
	/* control */
	bool implicit_keep, stopped, returned, failed, vacation_done;
	int include_depth;
	const struct sieve_script *once[SIEVE_MAX_INCLUDES];
	size_t nonce, nincludes;
	unsigned int redirects;
	time_t now;
};

static inline bool sieve_run_has(const struct sieve_run *r, enum sieve_ext e)
{
	return (r->exts & (1u << e)) != 0;
}

/* Sets a runtime error (the first one wins); returns -1. */
int sieve_runtime_error(struct sieve_run *r, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* sieve-strings.c */
void sieve_expand(struct sieve_run *r, const char *s, size_t len, struct buf *out);
char *sieve_expand_str(struct sieve_run *r, const char *s);
void sieve_var_set(struct sieve_run *r, struct sieve_scope *scope, const char *name,
		   const char *value, size_t len);
struct sieve_var *sieve_var_find(struct sieve_scope *scope, const char *name);
void sieve_scope_free(struct sieve_scope *scope);
void sieve_apply_modifiers(unsigned int mods, struct buf *value);
void sieve_strs_add(struct sieve_strs *l, const char *s, size_t len);
void sieve_strs_free(struct sieve_strs *l);

/* sieve-match.c: does any value match any key (or, for :count, the count)? Sets the match
 * variables on success for :matches and :regex. */
bool sieve_match(struct sieve_run *r, const struct sieve_opts *o, const struct sieve_strs *vals,
		 const struct sieve_arg *keys);
/* Comparator order: <0, 0, >0. */
int sieve_cmp_order(enum sieve_cmp cmp, const char *a, const char *b);

/* sieve-message.c */
int sieve_load_headers(struct sieve_run *r);
/* Appends the values of the header fields named (decode: RFC 2047). */
void sieve_header_values(struct sieve_run *r, const char *name, bool decode,
			 struct sieve_strs *out);
const char *sieve_header_first(struct sieve_run *r, const char *name);
/* Body test texts (RFC 5173): the raw body, or decoded parts. */
int sieve_body_texts(struct sieve_run *r, const struct sieve_opts *o, struct sieve_strs *out);
/* Address parts of an address (RFC 5228 2.7.4, RFC 5233); false if the part is absent. */
bool sieve_address_part(const char *addr, enum sieve_addrpart part, struct buf *out);

/* sieve-tests.c */
int sieve_eval_test(struct sieve_run *r, const struct sieve_node *t, bool *result_r);

/* sieve-date.c (RFC 5260) */
int sieve_test_date(struct sieve_run *r, const struct sieve_node *t, bool *result_r);

/* sieve-result.c */
int sieve_result_add(struct sieve_run *r, struct sieve_action *a);
void sieve_result_finish(struct sieve_run *r);
void sieve_action_clear(struct sieve_action *a);

/* sieve-vacation.c (RFC 5230) */
int sieve_cmd_vacation(struct sieve_run *r, const struct sieve_node *n);

/* sieve-run.c */
char **sieve_flags_copy(const struct sieve_strs *flags);
int sieve_run_block(struct sieve_run *r, struct sieve_node *const *cmds, size_t n);

#endif
