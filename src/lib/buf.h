/* buf: the one growable byte-string type used everywhere in Tern.
 *
 * Binary-safe and length-carrying; always NUL-terminated as a safety net (data[len] == 0);
 * growth is overflow-checked and never fails (see xalloc.h). A buf may carry a limit:
 * appends beyond it set `overflow` and are dropped, so parsers of untrusted input can
 * bound memory and report the error once, where it makes sense.
 */
#ifndef TERN_BUF_H
#define TERN_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit; /* 0: unlimited */
	bool overflow;
};

#define BUF_INIT {NULL, 0, 0, 0, false}

void buf_init(struct buf *b, size_t limit);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Makes room for n more bytes; returns a pointer to the free space (does not change len). */
char *buf_reserve(struct buf *b, size_t n);
/* Append functions return false (and set overflow) when the limit would be passed. */
bool buf_append(struct buf *b, const void *p, size_t n);
bool buf_append_str(struct buf *b, const char *s);
bool buf_append_char(struct buf *b, char c);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Removes the first n bytes. */
void buf_consume(struct buf *b, size_t n);
void buf_truncate(struct buf *b, size_t len);
/* Hands over the data as a NUL-terminated string; the buf is left empty. */
char *buf_steal(struct buf *b);
const char *buf_cstr(const struct buf *b);

#endif
