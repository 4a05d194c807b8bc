/* Unit tests for deliver_maildir: content byte for byte, idempotence in new/ and cur/,
 * and deferral when the Maildir cannot be written. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver.h"
#include "util.h"
#include "xalloc.h"

static const char body[] = "Subject: test\nFrom: a@b\n\nline 1\n.\nline 3\n";

struct fixture {
	char dir[64];
	char *maildir;
	int fd;
	struct delivery_request req;
};

static int setup(void **state)
{
	struct fixture *f = X_NEW(struct fixture);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-deliver-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->maildir = x_asprintf("%s/mail/alice", f->dir);
	char *msg = x_asprintf("%s/message", f->dir);
	f->fd = open(msg, O_RDWR | O_CREAT, 0600);
	assert_true(f->fd >= 0);
	assert_int_equal(write_full(f->fd, body, strlen(body)), 0);
	x_free(&msg);
	f->req = (struct delivery_request){
		.queue_id = "0123456789ABCDEFGHI", .rcpt_index = 2, .sender = "bob@example.org",
		.recipient = "alice@example.test", .maildir = f->maildir, .message_fd = f->fd,
		.hostname = "mx:1/a", .queue_time = 1700000000};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = x_asprintf("chmod -R u+rwx '%s'; rm -rf '%s'", f->dir, f->dir);
	assert_int_equal(system(cmd), 0);
	x_free(&cmd);
	close(f->fd);
	x_free(&f->maildir);
	x_free(&f);
	return 0;
}

/* Number of files in maildir/sub; the name of the last one into name. */
static int count_files(const char *maildir, const char *sub, char *name, size_t len)
{
	char *p = x_asprintf("%s/%s", maildir, sub);
	DIR *d = opendir(p);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			n++;
			snprintf(name, len, "%s", de->d_name);
		}
	closedir(d);
	x_free(&p);
	return n;
}

static void test_deliver(void **state)
{
	struct fixture *f = *state;
	struct delivery_result res;
	deliver_maildir(&f->req, &res);
	assert_int_equal(res.status, DELIVERY_OK);
	assert_string_equal(res.enhanced, "2.0.0");

	char name[256];
	assert_int_equal(count_files(f->maildir, "new", name, sizeof(name)), 1);
	assert_int_equal(count_files(f->maildir, "tmp", name + 100, 10), 0);
	const char *head = "Return-Path: <bob@example.org>\nDelivered-To: alice@example.test\n";
	char *want_name = x_asprintf("1700000000.0123456789ABCDEFGHI_2.mx\\0721\\057a,S=%zu",
				     strlen(head) + strlen(body));
	assert_string_equal(name, want_name);
	x_free(&want_name);

	char *path = x_asprintf("%s/new/%s", f->maildir, name);
	size_t len;
	char *got = read_file_small(path, 1 << 20, &len);
	char *want = x_asprintf("%s%s", head, body);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	x_free(&got);
	x_free(&want);
	struct stat st;
	char *newdir = x_asprintf("%s/new", f->maildir);
	assert_int_equal(stat(newdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	x_free(&newdir);

	/* Second delivery: found in new/, no second copy. */
	deliver_maildir(&f->req, &res);
	assert_int_equal(res.status, DELIVERY_OK);
	assert_int_equal(count_files(f->maildir, "new", name, sizeof(name)), 1);

	/* A reader moved it to cur/ with flags: with recheck, still no second copy. */
	char *cur = x_asprintf("%s/cur/%s:2,S", f->maildir, name);
	assert_int_equal(rename(path, cur), 0);
	f->req.recheck = true;
	deliver_maildir(&f->req, &res);
	assert_int_equal(res.status, DELIVERY_OK);
	assert_int_equal(count_files(f->maildir, "new", name, sizeof(name)), 0);
	assert_int_equal(count_files(f->maildir, "cur", name, sizeof(name)), 1);
	/* Another recipient of the same message is a different file. */
	f->req.rcpt_index = 3;
	deliver_maildir(&f->req, &res);
	assert_int_equal(res.status, DELIVERY_OK);
	assert_int_equal(count_files(f->maildir, "new", name, sizeof(name)), 1);

	/* new/ removed behind our back (the folders are made only when found missing). */
	char *gone = x_asprintf("%s/new/%s", f->maildir, name);
	assert_int_equal(unlink(gone), 0);
	x_free(&gone);
	gone = x_asprintf("%s/new", f->maildir);
	assert_int_equal(rmdir(gone), 0);
	f->req.rcpt_index = 4;
	deliver_maildir(&f->req, &res);
	assert_int_equal(res.status, DELIVERY_OK);
	assert_int_equal(count_files(f->maildir, "new", name, sizeof(name)), 1);
	assert_int_equal(count_files(f->maildir, "tmp", name + 100, 10), 0);
	x_free(&gone);
	x_free(&cur);
	x_free(&path);
}

/* The same through tmp/, as on a file system without O_TMPFILE. */
static void test_deliver_via_tmp(void **state)
{
	deliver_maildir_unnamed = false;
	test_deliver(state);
	deliver_maildir_unnamed = true;
}

static void test_defer(void **state)
{
	struct fixture *f = *state;
	struct delivery_result res;
	/* The Maildir's parent is a file: nothing can be created. */
	char *file = x_asprintf("%s/mail", f->dir);
	int fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	deliver_maildir(&f->req, &res);
	assert_int_equal(res.status, DELIVERY_DEFER);
	assert_int_equal(res.enhanced[0], '4');
	assert_non_null(strstr(res.text, "cannot create"));
	unlink(file);
	x_free(&file);

	/* new/ is not a folder. */
	char *p = x_asprintf("%s/tmp", f->maildir);
	assert_int_equal(mkdir_p(p, 0700), 0);
	x_free(&p);
	p = x_asprintf("%s/new", f->maildir);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	close(fd);
	deliver_maildir(&f->req, &res);
	assert_int_equal(res.status, DELIVERY_DEFER);
	x_free(&p);

	/* An unreadable queue file. */
	f->req.message_fd = -1;
	deliver_maildir(&f->req, &res);
	assert_int_equal(res.status, DELIVERY_DEFER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deliver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_via_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
