/* test-store-util: see test-store-util.h. */
#include "test-store-util.h"
#include "xalloc.h"
#include "util.h"

#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *test_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *tmpl = x_asprintf("%s/tern-store-test.XXXXXX", t ? t : "/tmp");
	if (mkdtemp(tmpl) == NULL)
		abort();
	return tmpl;
}

void test_tmpdir_remove(char **dir)
{
	char *cmd = x_asprintf("rm -rf '%s'", *dir);
	if (system(cmd) != 0)
		abort();
	x_free(&cmd);
	x_free(dir);
}

void test_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert(fd >= 0);
	assert(write_full(fd, text, strlen(text)) == 0);
	close(fd);
}

uint32_t test_append(struct store_folder *f, const char *text, uint32_t flags)
{
	struct buf err = BUF_INIT;
	struct store_append *a;
	uint32_t uid = 0;
	struct store_append_opts opts = {.flags = flags};
	if (store_append_begin(f, &a, &err) < 0 ||
	    store_append_write(a, text, strlen(text), &err) < 0 ||
	    store_append_commit(&a, &opts, &uid, &err) < 0) {
		fprintf(stderr, "append: %s\n", buf_cstr(&err));
		abort();
	}
	buf_free(&err);
	return uid;
}

void test_read_msg(struct store_folder *f, uint32_t uid, struct buf *out)
{
	struct buf err = BUF_INIT;
	struct store_msg_stream s;
	if (store_msg_open(f, uid, &s, &err) < 0) {
		fprintf(stderr, "open: %s\n", buf_cstr(&err));
		abort();
	}
	buf_reset(out);
	char *p = buf_reserve(out, s.length);
	assert(pread(s.fd, p, s.length, s.offset) == (ssize_t)s.length);
	out->len = s.length;
	out->data[out->len] = '\0';
	close(s.fd);
	buf_free(&err);
}
