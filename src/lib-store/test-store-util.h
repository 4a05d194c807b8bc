/* test-store-util: helpers shared by the store unit tests: a fresh temporary folder per
 * test, removing it, and writing files the way other programs would.
 */
#ifndef TERN_TEST_STORE_UTIL_H
#define TERN_TEST_STORE_UTIL_H

#include "store.h"

/* A new empty directory under $TMPDIR (or /tmp); free with test_tmpdir_remove. */
char *test_tmpdir(void);
void test_tmpdir_remove(char **dir);
/* Writes text to path (whole file). */
void test_write_file(const char *path, const char *text);
/* Appends a message with the store; returns its UID. */
uint32_t test_append(struct store_folder *f, const char *text, uint32_t flags);
/* Reads a message through store_msg_open into out. */
void test_read_msg(struct store_folder *f, uint32_t uid, struct buf *out);

#endif
