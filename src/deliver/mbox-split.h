/* mbox-split: an mbox stream cut into its messages (see mbox-split.c for the rules). */
#ifndef TERN_MBOX_SPLIT_H
#define TERN_MBOX_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MBOX_SPLIT_MAX_FROM 1000 /* a From_ line is kept up to this many bytes */
#define MBOX_SPLIT_MAX_GT 1000	 /* '>'s before "From " that are still unquoted */

struct mbox_split {
	int state;
	unsigned gt;	      /* '>'s at the start of the line */
	unsigned k;	      /* bytes of "From " matched after them */
	bool held_nl;	      /* an empty line not written yet: a separator if From_ follows */
	bool prev_empty;      /* the line before is empty, or this is the input's start */
	bool saw_from;	      /* the input had a From_ line */
	uint64_t offset;      /* input bytes read */
	uint64_t line_offset; /* where the current line began */
	uint64_t from_offset; /* where the last From_ line began */
};

void mbox_split_init(struct mbox_split *s);
/* Reads from in[0..n): a message's bytes are appended to out. Stops after a From_ line
 * (*next_r true: the message before it, if any, is whole; from_r holds the line without
 * its newline, cut at MBOX_SPLIT_MAX_FROM) or at the end of in. Returns the bytes read. */
size_t mbox_split_feed(struct mbox_split *s, const char *in, size_t n, struct buf *out,
		       struct buf *from_r, bool *next_r);
/* The end of the input: what was held back goes to out. True when a From_ line without
 * a newline was the last thing read (it began an empty message). */
bool mbox_split_end(struct mbox_split *s, struct buf *out);

#endif
