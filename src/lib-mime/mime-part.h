/* mime-part: the parsed structure of a message (the part tree) and its ENVELOPE fields.
 *
 * What IMAP BODYSTRUCTURE / ENVELOPE (RFC 3501 7.4.2), SEARCH and the filters need, with
 * byte offsets into the original message so that BODY[1.2] is served by seeking. Built by
 * mime-parser.h, cached through mime-serial.h. Section numbers follow RFC 3501 6.4.5.
 */
#ifndef TERN_MIME_PART_H
#define TERN_MIME_PART_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "mime-address.h"
#include "mime-params.h"

/* The ENVELOPE fields of a message (RFC 3501 7.4.2). Strings are the unfolded field
 * values (encoded-words kept, as IMAP sends them), NULL when the field is absent; address
 * lists come from mime_address_list_parse() without decoding. IMAP itself applies the
 * rule that a missing Sender or Reply-To is the From. */
struct mime_envelope {
	char *date;
	char *subject;
	struct mime_address_list from, sender, reply_to, to, cc, bcc;
	char *in_reply_to;
	char *message_id;
};

/* mime_part.flags */
#define MIME_PART_F_MESSAGE                                                                        \
	0x0001				   /* message/rfc822 or /global: one child, the            \
					    * enclosed message (which has an envelope) */
#define MIME_PART_F_NO_CONTENT_TYPE 0x0002 /* no Content-Type: the default was used */
#define MIME_PART_F_BAD_CONTENT_TYPE                                                               \
	0x0004 /* unparsable, or multipart without boundary:                                       \
		* text/plain was used (RFC 2045 5.2) */
#define MIME_PART_F_OPAQUE                                                                         \
	0x0008				    /* a multipart or message not parsed (depth or         \
					     * part limit, encoded message): presented as          \
					     * application/octet-stream */
#define MIME_PART_F_NO_END_BOUNDARY 0x0010  /* multipart ended without its close delimiter */
#define MIME_PART_F_HEADER_TRUNCATED 0x0020 /* a header field was over the limit */
#define MIME_PART_F_NO_HEADER_END 0x0040    /* the header had no empty line */
#define MIME_PART_F_SYNTHETIC                                                                      \
	0x0080 /* empty part added to a multipart that had                                         \
		* none, so that every multipart has a child */

struct mime_part {
	struct mime_part *parent, *children, *last_child, *next;
	unsigned int flags;
	/* Absolute byte offsets in the message: the header is [hdr_offset, body_offset), with
	 * its empty line; the body is [body_offset, end_offset). A part that ends at a boundary
	 * does not include the line break before the boundary (RFC 2046 5.1.1). */
	uint64_t hdr_offset, body_offset, end_offset;
	uint64_t hdr_lines, body_lines; /* body: LFs, +1 if the last line has no LF */
	/* LFs not preceded by CR: the size with CRLF line ends is size + bare_lf */
	uint64_t hdr_bare_lf, body_bare_lf;
	char *type, *subtype;	   /* lower case, never NULL */
	struct mime_params params; /* Content-Type parameters as written */
	char *id, *description;	   /* Content-ID, Content-Description (unfolded), or NULL */
	char *encoding;		   /* Content-Transfer-Encoding, lower case, or NULL (7bit) */
	char *disposition;	   /* Content-Disposition type, lower case, or NULL */
	struct mime_params disp_params;
	char *language;			/* Content-Language tags joined by ",", or NULL */
	char *location;			/* Content-Location (whitespace removed), or NULL */
	char *md5;			/* Content-MD5, or NULL */
	struct mime_envelope *envelope; /* set on the root and on a message part's child */
};

struct mime_part *mime_part_new(struct mime_part *parent);
/* Frees a part and its subtree (not its siblings); clears the pointer. */
void mime_part_free(struct mime_part **part);
void mime_envelope_free(struct mime_envelope **env);

static inline uint64_t mime_part_body_size(const struct mime_part *p)
{
	return p->end_offset - p->body_offset;
}

static inline uint64_t mime_part_header_size(const struct mime_part *p)
{
	return p->body_offset - p->hdr_offset;
}

static inline bool mime_part_is_multipart(const struct mime_part *p)
{
	return p->children != NULL && (p->flags & MIME_PART_F_MESSAGE) == 0;
}

/* The part named by an IMAP section number such as "1.2.3" (RFC 3501 6.4.5), starting at
 * the root; "" is the root. NULL if there is no such part. For a message part, "N" is the
 * message/rfc822 part itself; its enclosed message's root is mime_part->children. */
struct mime_part *mime_part_find(struct mime_part *root, const char *section);

/* Appends a one-line-per-part description of the tree to out (tests, debugging):
 * "1.2 text/plain charset=utf-8 qp 123 bytes 4 lines h=10 b=60 e=183 [flags]", and for
 * each message root an "env" line with subject, from and to. */
void mime_part_dump(const struct mime_part *root, struct buf *out);

/* Records one header field of part p if it is a Content-* field (RFC 2045, 2183, 3066,
 * 2557, 1864) or, when p has an envelope, an ENVELOPE field; the first occurrence wins. */
struct mime_header_field;
void mime_part_apply_field(struct mime_part *p, const struct mime_header_field *f);
#endif
