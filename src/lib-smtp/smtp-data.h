/* smtp-data: the streaming decoder for message bytes after DATA or BDAT.
 *
 * DATA mode (RFC 5321 4.5.2, 3.3): removes dot-stuffing, turns CRLF into LF (Tern stores
 * messages with LF line ends) and stops after the terminating CRLF "." CRLF. Only that
 * exact sequence ends the message: a bare LF "." LF, LF "." CRLF or CRLF "." LF does not
 * (SMTP smuggling); they are stored as data and reported as bare LF.
 * BDAT mode (RFC 3030): no dot handling and no end marker; CRLF to LF, with a CR at the
 * end of one chunk and its LF at the start of the next handled like one CRLF.
 * The decoder is a state machine with constant memory whatever the line length; it also
 * measures what the server's policies need (bare LF/CR, NUL, 8-bit, longest line,
 * header section size).
 */
#ifndef TERN_SMTP_DATA_H
#define TERN_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct smtp_data {
	/* private state */
	int state;
	bool bdat;
	bool line_has_colon; /* header bookkeeping for the current line */
	bool line_starts_wsp;
	uint64_t line_len;
	/* results, valid at any time */
	bool done;          /* DATA: the terminating CRLF.CRLF was consumed */
	bool bare_lf;       /* an LF without CR before it */
	bool bare_cr;       /* a CR without LF after it */
	bool nul;           /* a NUL byte */
	bool eight_bit;     /* a byte >= 0x80 */
	bool in_header;     /* still inside the header section */
	uint64_t longest_line;  /* bytes, line end excluded */
	uint64_t header_size;   /* bytes of the header section as stored (LF ends) */
	uint64_t bytes_out;     /* bytes produced so far */
};

/* bdat: BDAT mode (see above). */
void smtp_data_init(struct smtp_data *d, bool bdat);
/* Decodes n bytes of in into out, which must have room for n + 1 bytes (a CR held back
 * from the previous call may come out). Returns the bytes of in consumed: all of them,
 * except in DATA mode when the end is found: then done is set and the bytes after the
 * end (pipelined commands) are left. *out_len_r is set to the bytes written. */
size_t smtp_data_feed(struct smtp_data *d, const char *in, size_t n, char *out,
		      size_t *out_len_r);
/* BDAT LAST: ends the message; a CR held back is written to out (room for 1 byte).
 * Returns the bytes written (0 or 1). */
size_t smtp_data_finish(struct smtp_data *d, char *out);

#endif
