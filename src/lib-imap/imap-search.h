/* imap-search: SEARCH arguments parsed into a search program tree.
 *
 * RFC 3501 / RFC 9051 section 6.4.4 (search keys, CHARSET), RFC 4731 and RFC 9051 (RETURN
 * options MIN MAX ALL COUNT SAVE), RFC 5182 ("$" and SAVE), RFC 7162 section 3.1.5 (MODSEQ),
 * RFC 5032 (OLDER, YOUNGER). Keys are normalised to few node types: UNSEEN is NOT SEEN, FROM
 * is HEADER From, NEW is AND(RECENT, NOT SEEN), and so on. The tree is evaluated by the store.
 */
#ifndef TERN_IMAP_SEARCH_H
#define TERN_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap-arg.h"
#include "imap-seqset.h"

#define IMAP_SEARCH_MAX_DEPTH 64
#define IMAP_SEARCH_BADCHARSET_CODE "BADCHARSET (UTF-8 US-ASCII)"

enum imap_search_op {
	IMAP_SEARCH_ALL,
	IMAP_SEARCH_AND, /* sub[0..sub_count) */
	IMAP_SEARCH_OR,  /* sub[0], sub[1] */
	IMAP_SEARCH_NOT, /* sub[0] */
	IMAP_SEARCH_FLAG,    /* flag: an IMAP_FLAG_* bit, \Recent included */
	IMAP_SEARCH_KEYWORD, /* name */
	IMAP_SEARCH_SEQSET,  /* set (set.saved: the "$" result) */
	IMAP_SEARCH_UID,     /* set */
	IMAP_SEARCH_BEFORE,  /* date: days since 1970-01-01, INTERNALDATE */
	IMAP_SEARCH_ON,
	IMAP_SEARCH_SINCE,
	IMAP_SEARCH_SENTBEFORE, /* date of the Date: header */
	IMAP_SEARCH_SENTON,
	IMAP_SEARCH_SENTSINCE,
	IMAP_SEARCH_LARGER, /* number: RFC822.SIZE */
	IMAP_SEARCH_SMALLER,
	IMAP_SEARCH_HEADER, /* name contains value (BCC CC FROM SUBJECT TO map here) */
	IMAP_SEARCH_BODY,   /* value */
	IMAP_SEARCH_TEXT,   /* value */
	IMAP_SEARCH_MODSEQ, /* number; name/modseq_type when an entry was given */
	IMAP_SEARCH_OLDER,  /* number: seconds */
	IMAP_SEARCH_YOUNGER,
};

struct imap_search_key {
	enum imap_search_op op;
	struct imap_search_key *sub;
	size_t sub_count;
	unsigned flag;
	char *name;
	char *value;
	size_t value_len;
	int64_t date;
	uint64_t number;
	struct imap_seqset set;
	char *modseq_type; /* "priv", "shared" or "all" */
};

enum imap_search_return {
	IMAP_SEARCH_RETURN_MIN = 1 << 0,
	IMAP_SEARCH_RETURN_MAX = 1 << 1,
	IMAP_SEARCH_RETURN_ALL = 1 << 2,
	IMAP_SEARCH_RETURN_COUNT = 1 << 3,
	IMAP_SEARCH_RETURN_SAVE = 1 << 4,
	IMAP_SEARCH_RETURN_CONTEXT = 1 << 5, /* RFC 5267 4.2: a hint, no result of its own */
	IMAP_SEARCH_RETURN_UPDATE = 1 << 6,  /* RFC 5267 4.3: ADDTO/REMOVEFROM later */
	IMAP_SEARCH_RETURN_PARTIAL = 1 << 7, /* RFC 5267 4.4: results partial_lo..partial_hi */
};

struct imap_search_program {
	struct imap_search_key root; /* an AND of the top-level keys */
	bool esearch;                /* RETURN was given: answer with ESEARCH */
	unsigned return_opts;        /* RETURN () means ALL (RFC 4731 section 3.1) */
	bool uses_saved;             /* "$" appears */
	bool uses_modseq;            /* MODSEQ appears: the reply carries (MODSEQ n) */
	uint32_t partial_lo, partial_hi; /* RETURN (PARTIAL lo:hi), lo <= hi */
};

/* What "*" means: the message count and the highest UID of the selected mailbox. */
struct imap_search_context {
	uint32_t msg_count;
	uint32_t max_uid;
};

enum imap_search_result {
	IMAP_SEARCH_OK = 0,
	IMAP_SEARCH_ERR_BAD = -1,        /* reply BAD with error */
	IMAP_SEARCH_ERR_BADCHARSET = -2, /* reply NO [IMAP_SEARCH_BADCHARSET_CODE] error */
};

/* Parses the SEARCH (or UID SEARCH) arguments. */
enum imap_search_result imap_search_parse(const struct imap_arg *args, size_t count,
					  const struct imap_search_context *ctx,
					  struct imap_search_program *prog_r, const char **error_r);
void imap_search_program_free(struct imap_search_program *prog);
/* The return options of SEARCH or SORT (RFC 4731, RFC 5182 SAVE, RFC 5267 CONTEXT, UPDATE,
 * PARTIAL); allowed: the IMAP_SEARCH_RETURN_* bits accepted. An empty list is ALL. Fills
 * return_opts and partial_lo/hi of prog. Returns 0, or -1 with a reason. */
int imap_search_parse_return(const struct imap_arg *arg, unsigned allowed,
			     struct imap_search_program *prog, const char **error_r);
/* Parses search keys only (no RETURN or CHARSET), e.g. for SORT/THREAD (RFC 5256) which give
 * the charset separately; *root_r is an AND. Returns 0 or -1 with a reason. */
int imap_search_parse_keys(const struct imap_arg *args, size_t count,
			   const struct imap_search_context *ctx, struct imap_search_key *root_r,
			   bool *uses_saved_r, const char **error_r);
void imap_search_key_free(struct imap_search_key *key);
/* True for the charsets every server must accept: UTF-8 and US-ASCII (case-insensitive). */
bool imap_search_charset_ok(const char *charset);

#endif
