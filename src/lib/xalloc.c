/* xalloc: allocators that end the process instead of returning NULL. */
#include "xalloc.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void x_oom(size_t n)
{
	fatal("out of memory allocating %zu bytes", n);
}

void *x_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		x_oom(n);
	return p;
}

void *x_calloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (p == NULL)
		x_oom(count * size);
	return p;
}

void *x_reallocarray(void *p, size_t count, size_t size)
{
	if (size != 0 && count > ((size_t)-1) / size)
		fatal("allocation overflow: %zu * %zu", count, size);
	size_t n = count * size;
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		x_oom(n);
	return q;
}

char *x_strdup(const char *s)
{
	return x_strndup(s, strlen(s));
}

char *x_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = x_malloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *x_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		x_oom(0);
	return s;
}

void x_free_impl(void **pp)
{
	free(*pp);
	*pp = NULL;
}
