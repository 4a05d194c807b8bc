/* pop3-body: the streaming writer of a message as a POP3 multi-line response body
 * (RETR and TOP, RFC 1939 sections 3, 7 and "Optional POP3 commands": TOP).
 *
 * Fed the message's bytes in chunks of any size, it appends them to an output buf with
 * every line end as CRLF (a bare LF gets its CR), every line starting with "." stuffed
 * with a second ".", and, for TOP, only the header, the empty line and the first n body
 * lines. Memory is constant: the state between chunks is a few flags and counters, and
 * the output of one chunk is at most twice its size.
 */
#ifndef TERN_POP3_BODY_H
#define TERN_POP3_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct pop3_body {
	int64_t body_lines; /* TOP: body lines still to send; -1: all (RETR) */
	bool in_header;
	bool line_start;   /* the next byte starts a line */
	bool after_cr;	   /* the last byte written was CR */
	size_t line_bytes; /* bytes of the current line so far (counts to 2 only) */
	bool done;	   /* TOP's cut is reached: further input is ignored */
};

/* top_lines: -1 for the whole message, else the body lines to send after the header. */
void pop3_body_init(struct pop3_body *b, int64_t top_lines);
/* The most bytes pop3_body_convert writes for len input bytes: each input byte makes at
 * most two (a LF becomes CRLF, a "." starting a line becomes ".."); nothing is carried
 * from one chunk to the next. */
#define POP3_BODY_OUT_MAX(len) ((len) * 2)
/* Converts len bytes of the message into out, which has room for POP3_BODY_OUT_MAX(len)
 * bytes; returns the bytes written. Once b->done (TOP's cut) the rest is ignored. */
size_t pop3_body_convert(struct pop3_body *b, const void *data, size_t len, char *out);
/* Converts len bytes of the message onto out. Returns true while more input is wanted,
 * false once the TOP cut is reached (the caller may stop reading). */
bool pop3_body_write(struct pop3_body *b, const void *data, size_t len, struct buf *out);
/* Ends the body: completes a last line that lacks its line end, then ".\r\n". */
void pop3_body_finish(struct pop3_body *b, struct buf *out);

#endif
