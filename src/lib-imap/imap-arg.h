/* imap-arg: the argument tree of a parsed IMAP command, and typed accessors.
 *
 * An argument is an atom, a quoted string, a literal (literal8 marked), NIL, a parenthesised
 * list of arguments, or a streamed literal (its bytes were handed to the caller, only the size
 * is kept; see imap-parser.h). RFC 3501 section 4 and 9 (RFC 9051 section 4 and 9).
 * Strings are binary-safe: str[len] is always NUL, but str may contain NUL for literal8.
 */
#ifndef TERN_IMAP_ARG_H
#define TERN_IMAP_ARG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,
	IMAP_ARG_STREAM, /* a literal whose bytes went to the caller; size in stream_size */
};

struct imap_arg {
	enum imap_arg_type type;
	bool literal8;        /* LITERAL or STREAM sent as ~{n} (RFC 3516) */
	char *str;            /* ATOM, QUOTED, LITERAL: NUL-terminated copy */
	size_t len;           /* string length, or number of list items */
	struct imap_arg *list; /* LIST items */
	size_t cap;           /* allocated list items (private to the parser) */
	uint64_t stream_size; /* STREAM */
};

/* Frees what arg owns (strings, lists), not arg itself. */
void imap_arg_free(struct imap_arg *arg);

bool imap_arg_is_atom(const struct imap_arg *arg, const char *word); /* case-insensitive */
/* An atom (not NIL). */
bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r);
/* A quoted string or literal (RFC 3501 "string"). */
bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* An atom (NIL included, as the text "NIL"), quoted string or literal: "astring". */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* A string or NIL (str_r NULL): "nstring". */
bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
bool imap_arg_get_list(const struct imap_arg *arg, const struct imap_arg **list_r,
		       size_t *count_r);
/* An atom of digits: number (RFC 3501 "number", 32 bit) and number64 (RFC 9051). */
bool imap_arg_get_number(const struct imap_arg *arg, uint32_t *num_r);
bool imap_arg_get_number64(const struct imap_arg *arg, uint64_t *num_r);
/* ASCII case-insensitive: s[0..len) equals the NUL-terminated word. */
bool imap_mem_ieq(const char *s, size_t len, const char *word);
/* Parses decimal digits of s[0..len) into a value no larger than max; false on anything else. */
bool imap_parse_number(const char *s, size_t len, uint64_t max, uint64_t *num_r);

#endif
