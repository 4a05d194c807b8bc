/* Unit tests for util: file_replace in each of its flush modes (the whole new text, the
 * mode asked for, no temporary file left, a symbolic link replaced and not followed, a
 * failure that leaves the old file as it was) and read_file_small's bound. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "xalloc.h"

/* The names in dir, but "." and "..". */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void expect_text(const char *path, const char *text)
{
	size_t len = 0;
	char *got = read_file_small(path, 1 << 20, &len);
	assert_non_null(got);
	assert_int_equal(len, strlen(text));
	assert_string_equal(got, text);
	x_free(&got);
}

static void test_file_replace(void **state)
{
	(void)state;
	char dir[] = "/tmp/tern-util-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = x_asprintf("%s/f", dir);
	const enum file_sync modes[] = {FILE_SYNC_NONE, FILE_SYNC_DATA, FILE_SYNC_ALL};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "version %zu\nsecond line\n", i);
		assert_int_equal(file_replace(path, text, strlen(text), i == 1 ? 0640 : 0600,
					      (uid_t)-1, (gid_t)-1, modes[i]),
				 0);
		expect_text(path, text);
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, i == 1 ? 0640 : 0600);
		assert_int_equal(count_entries(dir), 1); /* no temporary file left */
	}
	/* Empty text: an empty file, not a failure. */
	assert_int_equal(file_replace(path, "", 0, 0600, (uid_t)-1, (gid_t)-1, FILE_SYNC_ALL), 0);
	expect_text(path, "");

	/* A symbolic link at path is replaced; its target is left alone. */
	char *target = x_asprintf("%s/target", dir);
	char *link = x_asprintf("%s/link", dir);
	assert_int_equal(file_replace(target, "keep\n", 5, 0600, (uid_t)-1, (gid_t)-1,
				      FILE_SYNC_DATA),
			 0);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(file_replace(link, "new\n", 4, 0600, (uid_t)-1, (gid_t)-1, FILE_SYNC_ALL),
			 0);
	struct stat lst;
	assert_int_equal(lstat(link, &lst), 0);
	assert_true(S_ISREG(lst.st_mode));
	expect_text(link, "new\n");
	expect_text(target, "keep\n");

	/* A folder that is not there: -1 with ENOENT, nothing made. */
	char *missing = x_asprintf("%s/no/f", dir);
	errno = 0;
	assert_int_equal(file_replace(missing, "x", 1, 0600, (uid_t)-1, (gid_t)-1, FILE_SYNC_ALL),
			 -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_entries(dir), 3);

	/* read_file_small refuses a file over its bound with EFBIG. */
	errno = 0;
	assert_null(read_file_small(link, 3, NULL));
	assert_int_equal(errno, EFBIG);

	unlink(path);
	unlink(target);
	unlink(link);
	assert_int_equal(rmdir(dir), 0);
	x_free(&missing);
	x_free(&link);
	x_free(&target);
	x_free(&path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_replace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
