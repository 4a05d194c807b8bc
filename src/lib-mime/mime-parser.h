/* mime-parser: streaming parser of a whole message into its part tree (mime-part.h).
 *
 * Feed the message in chunks of any size, then finish to get the tree; memory is bounded
 * by the limits (header field size, nesting depth, number of parts), never by the message
 * size. RFC 5322 (header), RFC 2045 (Content-* fields), RFC 2046 5.1 (multipart), 5.2.1
 * (message/rfc822), RFC 6532 3.7 (message/global). The tolerant rules are listed at the
 * top of mime-parser.c.
 */
#ifndef TERN_MIME_PARSER_H
#define TERN_MIME_PARSER_H

#include <stddef.h>

#include "mime-header.h"
#include "mime-part.h"

struct mime_parser_limits {
	unsigned int max_depth; /* parts nested deeper are opaque (0: 20) */
	size_t max_field;	/* bytes kept per header field (0: 64 KiB) */
	size_t max_parts;	/* parts in the tree (0: 5000) */
};

struct mime_parser;

/* Called for every header field of every part (including invalid ones), in order. */
typedef void mime_parser_field_cb(void *ctx, struct mime_part *part,
				  const struct mime_header_field *field);

/* limits: NULL for the defaults. */
struct mime_parser *mime_parser_new(const struct mime_parser_limits *limits);
void mime_parser_set_field_cb(struct mime_parser *parser, mime_parser_field_cb *cb, void *ctx);
void mime_parser_feed(struct mime_parser *parser, const void *data, size_t len);
/* End of the message: returns the root of the tree, which the caller then owns (free it
 * with mime_part_free). The parser can then only be freed. */
struct mime_part *mime_parser_finish(struct mime_parser *parser);
void mime_parser_free(struct mime_parser **parser);

/* Parses a message held in memory (tests, small messages). */
struct mime_part *mime_parse(const void *data, size_t len, const struct mime_parser_limits *l);

#endif
