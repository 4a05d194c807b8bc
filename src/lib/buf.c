/* buf: growable, binary-safe, NUL-terminated byte strings with an optional limit. */
#include "buf.h"
#include "xalloc.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

void buf_init(struct buf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

void buf_free(struct buf *b)
{
	x_free(&b->data);
	b->len = b->cap = 0;
	b->overflow = false;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->overflow = false;
	if (b->data != NULL)
		b->data[0] = '\0';
}

char *buf_reserve(struct buf *b, size_t n)
{
	if (n > ((size_t)-1) / 2 - b->len)
		fatal("buf overflow");
	size_t need = b->len + n + 1;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < need)
			cap *= 2;
		b->data = x_reallocarray(b->data, cap, 1);
		b->cap = cap;
		b->data[b->len] = '\0'; /* the safety net holds even before any append */
	}
	return b->data + b->len;
}

static bool buf_room(struct buf *b, size_t n)
{
	if (b->limit != 0 && (n > b->limit || b->len > b->limit - n)) {
		b->overflow = true;
		return false;
	}
	return true;
}

bool buf_append(struct buf *b, const void *p, size_t n)
{
	if (!buf_room(b, n))
		return false;
	char *dst = buf_reserve(b, n);
	if (n != 0)
		memcpy(dst, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

bool buf_append_char(struct buf *b, char c)
{
	/* the common case (room, no limit) without the general path's checks and memcpy:
	   response writers and parsers append one byte at a time */
	if (b->limit == 0 && b->len + 1 < b->cap) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return true;
	}
	return buf_append(b, &c, 1);
}

bool buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || !buf_room(b, (size_t)n))
		return false;
	char *dst = buf_reserve(b, (size_t)n);
	vsnprintf(dst, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return true;
}

bool buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool ok = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return ok;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

char *buf_steal(struct buf *b)
{
	if (b->data == NULL)
		return x_strdup("");
	char *s = b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

const char *buf_cstr(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}
