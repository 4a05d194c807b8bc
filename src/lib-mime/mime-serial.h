/* mime-serial: compact byte strings for a parsed structure and for an envelope.
 *
 * The mail store caches these in its index so that IMAP can write BODYSTRUCTURE and
 * ENVELOPE without parsing the message again. The format is versioned (a 3-byte magic and
 * a version byte) and described in mime-serial.c; decoding fails closed: short data,
 * trailing data, bad counts, offsets or nesting are errors.
 */
#ifndef TERN_MIME_SERIAL_H
#define TERN_MIME_SERIAL_H

#include <stddef.h>

#include "buf.h"
#include "mime-part.h"

#define MIME_SERIAL_VERSION 1
#define MIME_SERIAL_MAX_DEPTH 64 /* nesting accepted by the decoders */

/* Appends the tree (with the envelopes of its message roots) to out. */
void mime_serialize(const struct mime_part *root, struct buf *out);
/* Rebuilds a tree from data. Returns 0 and *root_r (free with mime_part_free), or -1 with
 * *error_r. */
int mime_deserialize(const void *data, size_t len, struct mime_part **root_r, const char **error_r);

/* The same for an envelope alone. */
void mime_envelope_serialize(const struct mime_envelope *env, struct buf *out);
int mime_envelope_deserialize(const void *data, size_t len, struct mime_envelope **env_r,
			      const char **error_r);

#endif
