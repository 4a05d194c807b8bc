/* mime-header: a streaming reader of an RFC 5322 header section.
 *
 * Feed bytes in chunks of any size; the reader returns each complete header field (name, raw
 * value with its folding kept, unfolded value) and then the end of the header section with
 * its size in bytes. RFC 5322 2.2 and 2.2.3 (folding), 3.6.8 (field names), 4.5 (obs WSP
 * before the colon). Tolerant: bare LF or CRLF, 8-bit and NUL bytes, a missing empty line
 * (call finish at end of input), lines without a colon (returned flagged `invalid`), and
 * over-long fields (only max_field bytes are kept, the field is flagged `truncated`).
 * Memory is bounded by max_field. Pure: no I/O, no globals.
 */
#ifndef TERN_MIME_HEADER_H
#define TERN_MIME_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

#define MIME_HEADER_DEFAULT_MAX_FIELD (64 * 1024)

enum mime_header_result {
	MIME_HEADER_MORE = 0,  /* all input consumed, no field complete yet */
	MIME_HEADER_FIELD = 1, /* *field_r is filled; the rest of the input was not consumed */
	MIME_HEADER_END = 2,   /* end of the header section (the empty line was consumed) */
};

/* One header field. Pointers stay valid until the next call on the parser. */
struct mime_header_field {
	const char *name; /* field name, without the colon and without trailing WSP */
	size_t name_len;
	const char *raw; /* bytes after the colon up to the final line break, folding kept */
	size_t raw_len;
	const char *value; /* unfolded (RFC 5322 2.2.3), leading/trailing WSP removed; NUL-ended */
	size_t value_len;
	uint64_t offset; /* offset of the field from the start of the header section */
	uint64_t size;	 /* size of the field in the input, line breaks included */
	bool truncated;	 /* longer than max_field: name/raw/value hold only the start */
	bool invalid;	 /* no colon or a bad name: name is empty, raw holds the line */
};

struct mime_header_parser {
	size_t max_field;
	int state;
	bool pending; /* a field has started and is not yet returned */
	bool emitted; /* the last call returned a field: reset buffers on the next call */
	bool ended;
	uint64_t offset; /* bytes consumed since the start of the header section */
	uint64_t field_start;
	struct buf raw; /* the field's bytes as read, up to max_field */
	struct buf value;
};

/* max_field: bytes kept per field (0: MIME_HEADER_DEFAULT_MAX_FIELD). */
void mime_header_parser_init(struct mime_header_parser *hp, size_t max_field);
void mime_header_parser_deinit(struct mime_header_parser *hp);
/* Starts a new header section (keeps max_field and the buffers' memory). */
void mime_header_parser_reset(struct mime_header_parser *hp);
/* Consumes input up to the end of the next field or of the header section. Returns a
 * mime_header_result; *consumed_r says how many bytes of data were used. After END the
 * parser consumes nothing more until reset. */
int mime_header_parser_feed(struct mime_header_parser *hp, const void *data, size_t len,
			    size_t *consumed_r, struct mime_header_field *field_r);
/* End of input: returns FIELD for a pending last field (call again), then END. */
int mime_header_parser_finish(struct mime_header_parser *hp, struct mime_header_field *field_r);
/* Bytes consumed so far; after END, the size of the header section with its empty line. */
uint64_t mime_header_parser_offset(const struct mime_header_parser *hp);

/* True if the field's name is `name` (ASCII case-insensitive). Inline: with a literal
 * name the length is a constant, so a field of another length costs one comparison (every
 * field of every parsed header goes past a dozen of these). */
static inline bool mime_header_field_is(const struct mime_header_field *f, const char *name)
{
	size_t n = strlen(name);
	return f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

#endif
