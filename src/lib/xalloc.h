/* xalloc: allocators that never return NULL.
 *
 * On exhaustion they log and end the process (the master restarts a worker), so callers
 * never test for NULL. x_free() takes the address of the pointer and clears it.
 */
#ifndef TERN_XALLOC_H
#define TERN_XALLOC_H

#include <stddef.h>

void *x_malloc(size_t n);
void *x_calloc(size_t count, size_t size);
/* Grows or shrinks; count * size is overflow-checked. */
void *x_reallocarray(void *p, size_t count, size_t size);
char *x_strdup(const char *s);
char *x_strndup(const char *s, size_t n);
/* printf into a fresh string. */
char *x_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void x_free_impl(void **pp);
#define x_free(pp) x_free_impl((void **)(pp))

#define X_NEW(type) ((type *)x_calloc(1, sizeof(type)))

#endif
