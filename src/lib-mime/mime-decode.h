/* mime-decode: streaming Content-Transfer-Encoding decoders (base64, quoted-printable).
 *
 * Feed encoded bytes in chunks of any size and get the decoded bytes appended to a buf;
 * state carried between calls makes the result independent of where chunks split.
 * RFC 2045 6.7 (quoted-printable: soft line breaks, trailing whitespace removed, invalid
 * "=" sequences passed through as they are) and 6.8 (base64: characters outside the
 * alphabet ignored, decoding goes on after padding). 7bit/8bit/binary pass through.
 */
#ifndef TERN_MIME_DECODE_H
#define TERN_MIME_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum mime_cte {
	MIME_CTE_7BIT,
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_BASE64,
	MIME_CTE_QP,
	MIME_CTE_UNKNOWN, /* an x-token or garbage: the body cannot be decoded */
};

/* The encoding named by a Content-Transfer-Encoding value (NULL or empty: 7bit). */
enum mime_cte mime_cte_parse(const char *value);

#define MIME_QP_MAX_WS 256 /* trailing whitespace held back by the QP decoder */

struct mime_decoder {
	enum mime_cte cte;
	int state;
	unsigned int bits; /* base64: bits collected */
	int nbits;	   /* base64: sextets collected (0..3) */
	char hex;	   /* QP: first hex digit after "=" */
	size_t ws_len;	   /* QP: whitespace held until we know whether the line ends */
	char ws[MIME_QP_MAX_WS];
	bool error; /* the input had invalid sequences (they were passed or skipped) */
};

void mime_decoder_init(struct mime_decoder *d, enum mime_cte cte);
/* Decodes len bytes, appending the output to out. */
void mime_decoder_feed(struct mime_decoder *d, const void *in, size_t len, struct buf *out);
/* End of input: flushes what is held back. */
void mime_decoder_finish(struct mime_decoder *d, struct buf *out);

#endif
