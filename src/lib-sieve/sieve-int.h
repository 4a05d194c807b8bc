/* sieve-int: the compiled tree shared by the parser, the checker, the serialiser and the
 * interpreter of lib-sieve. Not for users of the library (see sieve.h).
 *
 * The parser builds the generic tree of RFC 5228 8.2 (commands and tests with arguments);
 * the checker (sieve-check.c) resolves each node against the table of known commands and
 * tests and fills its options, so that the interpreter trusts the tree.
 */
#ifndef TERN_SIEVE_INT_H
#define TERN_SIEVE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "sieve.h"

enum sieve_arg_kind { SIEVE_ARG_NUMBER, SIEVE_ARG_STRINGS, SIEVE_ARG_TAG };

struct sieve_arg {
	enum sieve_arg_kind kind;
	int line, col;
	bool list;    /* STRINGS written in [ ] */
	uint64_t num; /* NUMBER */
	char *tag;    /* TAG, without the colon, lower case */
	char **strs;  /* STRINGS */
	size_t *lens; /* STRINGS: their lengths (strings may hold NUL) */
	size_t count; /* STRINGS */
};

enum sieve_match {
	SIEVE_MATCH_IS,
	SIEVE_MATCH_CONTAINS,
	SIEVE_MATCH_MATCHES,
	SIEVE_MATCH_REGEX,
	SIEVE_MATCH_COUNT,
	SIEVE_MATCH_VALUE
};
enum sieve_cmp { SIEVE_CMP_CASEMAP, SIEVE_CMP_OCTET, SIEVE_CMP_NUMERIC };
enum sieve_rel {
	SIEVE_REL_GT,
	SIEVE_REL_GE,
	SIEVE_REL_LT,
	SIEVE_REL_LE,
	SIEVE_REL_EQ,
	SIEVE_REL_NE
};
enum sieve_addrpart {
	SIEVE_ADDR_ALL,
	SIEVE_ADDR_LOCAL,
	SIEVE_ADDR_DOMAIN,
	SIEVE_ADDR_USER,
	SIEVE_ADDR_DETAIL
};
enum sieve_bodyxf { SIEVE_BODY_TEXT, SIEVE_BODY_RAW, SIEVE_BODY_CONTENT };

/* set modifiers (RFC 5229 4.1) */
#define SIEVE_MOD_LOWER 0x01
#define SIEVE_MOD_UPPER 0x02
#define SIEVE_MOD_LOWERFIRST 0x04
#define SIEVE_MOD_UPPERFIRST 0x08
#define SIEVE_MOD_QUOTEWILDCARD 0x10
#define SIEVE_MOD_LENGTH 0x20

/* What the checker makes of a node's arguments. Pointers point into the node's args. */
struct sieve_opts {
	enum sieve_match match;
	enum sieve_cmp cmp;
	enum sieve_rel rel;
	enum sieve_addrpart addrpart;
	enum sieve_bodyxf bodyxf;
	unsigned int mods;
	bool copy, create, mime, once, optional, global, last, originalzone, over;
	const struct sieve_arg *content, *flags, *subject, *from, *addresses, *handle;
	const struct sieve_arg *header, *uniqueid, *zone, *days, *seconds;
	const struct sieve_arg *pos[4]; /* positional arguments, in order */
	size_t npos;
};

struct sieve_spec;

struct sieve_node {
	char *name; /* lower case */
	int line, col;
	struct sieve_arg *args;
	size_t nargs;
	struct sieve_node **tests; /* a command's test, or a test list */
	size_t ntests;
	bool test_list; /* the tests were written in ( ) */
	bool has_block;
	struct sieve_node **block;
	size_t nblock;
	/* filled by the checker */
	const struct sieve_spec *spec;
	struct sieve_opts opts;
};

/* capabilities a script required (bit per extension, see sieve-check.c) */
enum sieve_ext {
	SIEVE_EXT_FILEINTO,
	SIEVE_EXT_REJECT,
	SIEVE_EXT_EREJECT,
	SIEVE_EXT_ENVELOPE,
	SIEVE_EXT_ENCODED_CHARACTER,
	SIEVE_EXT_VARIABLES,
	SIEVE_EXT_VACATION,
	SIEVE_EXT_VACATION_SECONDS,
	SIEVE_EXT_IMAP4FLAGS,
	SIEVE_EXT_BODY,
	SIEVE_EXT_SUBADDRESS,
	SIEVE_EXT_RELATIONAL,
	SIEVE_EXT_COPY,
	SIEVE_EXT_REGEX,
	SIEVE_EXT_NUMERIC,
	SIEVE_EXT_MAILBOX,
	SIEVE_EXT_DATE,
	SIEVE_EXT_DUPLICATE,
	SIEVE_EXT_INCLUDE,
	SIEVE_EXT_IHAVE,
	SIEVE_EXT_COUNT
};

struct sieve_script {
	struct sieve_node **cmds;
	size_t ncmds;
	uint32_t exts; /* bit (1 << enum sieve_ext) for each extension required */
	size_t nodes;
};

/* Parser (sieve-parse.c): the generic tree; -1 with *err_r on a syntax error. */
int sieve_parse(const char *text, size_t len, struct sieve_script *script,
		struct sieve_error *err_r);
void sieve_node_free(struct sieve_node *node);
void sieve_script_clear(struct sieve_script *script);
void sieve_set_error(struct sieve_error *err, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Checker (sieve-check.c): resolves the tree. decode: apply encoded-character (only on
 * text just parsed, not on a tree read back from its serialised form). */
int sieve_check(struct sieve_script *script, bool decode, struct sieve_error *err_r);
int sieve_ext_lookup(const char *name);

/* Which command or test a node is (the interpreter switches on it). */
enum sieve_cmd_id {
	SIEVE_CMD_REQUIRE,
	SIEVE_CMD_IF,
	SIEVE_CMD_ELSIF,
	SIEVE_CMD_ELSE,
	SIEVE_CMD_STOP,
	SIEVE_CMD_KEEP,
	SIEVE_CMD_DISCARD,
	SIEVE_CMD_FILEINTO,
	SIEVE_CMD_REDIRECT,
	SIEVE_CMD_REJECT,
	SIEVE_CMD_EREJECT,
	SIEVE_CMD_VACATION,
	SIEVE_CMD_SET,
	SIEVE_CMD_SETFLAG,
	SIEVE_CMD_ADDFLAG,
	SIEVE_CMD_REMOVEFLAG,
	SIEVE_CMD_INCLUDE,
	SIEVE_CMD_RETURN,
	SIEVE_CMD_GLOBAL,
	SIEVE_CMD_ERROR,
	SIEVE_TEST_ADDRESS,
	SIEVE_TEST_ALLOF,
	SIEVE_TEST_ANYOF,
	SIEVE_TEST_ENVELOPE,
	SIEVE_TEST_EXISTS,
	SIEVE_TEST_FALSE,
	SIEVE_TEST_TRUE,
	SIEVE_TEST_HEADER,
	SIEVE_TEST_NOT,
	SIEVE_TEST_SIZE,
	SIEVE_TEST_BODY,
	SIEVE_TEST_STRING,
	SIEVE_TEST_HASFLAG,
	SIEVE_TEST_MAILBOXEXISTS,
	SIEVE_TEST_DATE,
	SIEVE_TEST_CURRENTDATE,
	SIEVE_TEST_DUPLICATE,
	SIEVE_TEST_IHAVE,
	SIEVE_TEST_VALID_EXT,
};

struct sieve_spec {
	const char *name;
	enum sieve_cmd_id id;
	bool test;	   /* a test, not a command */
	int ext;	   /* the extension it needs, or -1 */
	const char *pos;   /* positional arguments: s string, l string list, n number */
	int optional;	   /* how many leading positionals may be left out */
	unsigned int tags; /* SIEVE_TAGS_* groups allowed */
	int tests;	   /* 0 none, 1 one test, 2 a test list */
	bool block;	   /* takes a block */
};

/* Reads message bytes through msg->read or from msg->data. */
ssize_t sieve_message_read(const struct sieve_message *msg, void *buf, size_t len, uint64_t offset);

/* Encoded-character (RFC 5228 2.4.2.4): decodes ${hex:..} and ${unicode:..} in place.
 * Returns -1 with *err_r for a malformed one that must be an error (unicode out of range). */
int sieve_decode_encoded(char **s, size_t *len, struct sieve_error *err_r);
/* Does name hold a valid variable reference syntax? (variables, RFC 5229 3) */
bool sieve_var_name_valid(const char *name, bool allow_namespace);

#endif
