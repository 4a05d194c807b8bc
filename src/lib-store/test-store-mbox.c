/* Unit tests for the mbox store: append/read round trips with mboxrd quoting, flags and
 * keywords in the status headers, expunge, UIDs kept across reopening and index loss
 * (X-UID, X-IMAPbase), mail appended or flags changed by another program behind the
 * store's back, a directory store with folders, and the parser's splitting rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-store-util.h"
#include "util.h"
#include "xalloc.h"

#define MSG1 "From: a@example.org\nSubject: one\n\nbody one\nFrom the start\n>From quoted\n"
#define MSG2 "From: b@example.org\nSubject: two\n\nbody two\n"
#define MSG3 "From: c@example.org\nSubject: three\n\nbody three\n"

struct fixture {
	char *dir;
	char *path;
	struct store *store;
	struct buf err;
};

static int setup(void **state)
{
	struct fixture *fx = X_NEW(struct fixture);
	fx->dir = test_tmpdir();
	fx->path = x_asprintf("%s/inbox", fx->dir);
	if (store_open(fx->path, STORE_FORMAT_MBOX, &fx->store, &fx->err) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	store_close(&fx->store);
	test_tmpdir_remove(&fx->dir);
	x_free(&fx->path);
	buf_free(&fx->err);
	x_free(&fx);
	return 0;
}

static struct store_folder *open_inbox(struct fixture *fx)
{
	struct store_folder *f = NULL;
	if (store_folder_open(fx->store, "INBOX", &f, &fx->err) < 0)
		fail_msg("open: %s", buf_cstr(&fx->err));
	return f;
}

static void sync_ok(struct fixture *fx, struct store_folder *f, struct store_changes *ch)
{
	if (store_folder_sync(f, ch, &fx->err) < 0)
		fail_msg("sync: %s", buf_cstr(&fx->err));
}

static char *file_text(const char *path)
{
	char *t = read_file_small(path, 1 << 20, NULL);
	assert_non_null(t);
	return t;
}

static void append_raw(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_full(fd, text, strlen(text)), 0);
	close(fd);
}

static void remove_index(struct fixture *fx)
{
	static const char *const sides[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		char *p = x_asprintf("%s/.inbox.tern-index.sqlite%s", fx->dir, sides[i]);
		unlink(p);
		x_free(&p);
	}
}

static void test_append_read(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = open_inbox(fx);
	uint32_t u1 = test_append(f, MSG1, 0);
	uint32_t u2 = test_append(f, MSG2, STORE_FLAG_SEEN);
	assert_int_equal(u2, u1 + 1);
	char *text = file_text(fx->path);
	assert_non_null(strstr(text, "\n>From the start\n"));
	assert_non_null(strstr(text, "\n>>From quoted\n"));
	assert_non_null(strstr(text, "X-IMAPbase: "));
	assert_non_null(strstr(text, "Status: RO\nX-UID: 2\n\nbody two"));
	assert_true(strncmp(text, "From MAILER-DAEMON ", 19) == 0);
	x_free(&text);
	struct store_changes ch;
	sync_ok(fx, f, &ch);
	assert_int_equal(ch.new_count, 2);
	store_changes_free(&ch);
	struct buf b = BUF_INIT;
	test_read_msg(f, u1, &b);
	assert_string_equal(b.data, MSG1);
	assert_int_equal(store_folder_msg(f, 0)->size, strlen(MSG1));
	test_read_msg(f, u2, &b);
	assert_string_equal(b.data, MSG2);
	assert_int_equal(store_folder_msg(f, 1)->flags, STORE_FLAG_SEEN);
	buf_free(&b);
	store_folder_close(&f);
}

static void test_flags_keywords(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = open_inbox(fx);
	uint32_t u1 = test_append(f, MSG1, 0);
	test_append(f, MSG2, 0);
	int kw = store_keyword_lookup(f, "$Label1", true, &fx->err);
	assert_int_equal(kw, 0);
	assert_int_equal(store_set_flags(f, &u1, 1, STORE_FLAGS_ADD,
					 STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED, 1u << kw,
					 &fx->err),
			 0);
	char *text = file_text(fx->path);
	assert_non_null(strstr(text, "X-Status: AF\nX-Keywords: $Label1\nX-UID: 1\n"));
	x_free(&text);
	store_folder_close(&f);
	remove_index(fx);
	f = open_inbox(fx);
	assert_int_equal(store_folder_count(f), 2);
	const struct store_msg *m = store_folder_msg(f, 0);
	assert_int_equal(m->uid, u1);
	assert_int_equal(m->flags, STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED);
	assert_string_equal(store_keyword_name(f, 0), "$Label1");
	assert_int_equal(m->keywords, 1);
	struct buf b = BUF_INIT;
	test_read_msg(f, u1, &b);
	assert_string_equal(b.data, MSG1);
	buf_free(&b);
	store_folder_close(&f);
}

static void test_expunge(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = open_inbox(fx);
	test_append(f, MSG1, 0);
	uint32_t u2 = test_append(f, MSG2, STORE_FLAG_DELETED);
	uint32_t u3 = test_append(f, MSG3, 0);
	uint32_t validity = store_folder_uidvalidity(f);
	sync_ok(fx, f, NULL);
	assert_int_equal(store_expunge(f, NULL, 0, &fx->err), 0);
	struct store_changes ch;
	sync_ok(fx, f, &ch);
	assert_int_equal(ch.expunged_count, 1);
	assert_int_equal(ch.expunged_uids[0], u2);
	assert_int_equal(ch.expunged_seqs[0], 2);
	store_changes_free(&ch);
	char *text = file_text(fx->path);
	assert_null(strstr(text, "body two"));
	x_free(&text);
	struct buf b = BUF_INIT;
	test_read_msg(f, u3, &b);
	assert_string_equal(b.data, MSG3);
	store_folder_close(&f);
	/* index lost: UIDs and UIDVALIDITY come back from X-UID and X-IMAPbase */
	remove_index(fx);
	f = open_inbox(fx);
	assert_int_equal(store_folder_uidvalidity(f), validity);
	assert_int_equal(store_folder_count(f), 2);
	assert_int_equal(store_folder_msg(f, 1)->uid, u3);
	assert_int_equal(store_folder_uidnext(f), u3 + 1);
	uint32_t u4 = test_append(f, MSG2, 0);
	assert_int_equal(u4, u3 + 1);
	buf_free(&b);
	store_folder_close(&f);
}

static void test_behind_back(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = open_inbox(fx);
	uint32_t u1 = test_append(f, MSG1, 0);
	sync_ok(fx, f, NULL);
	/* procmail appends */
	append_raw(fx->path, "From someone@example.org Mon Jan  6 10:00:00 2025\n" MSG2 "\n");
	struct store_changes ch;
	sync_ok(fx, f, &ch);
	assert_int_equal(ch.new_count, 1);
	store_changes_free(&ch);
	uint32_t u2 = store_folder_msg(f, 1)->uid;
	assert_int_equal(u2, u1 + 1);
	assert_int_equal(store_folder_msg_date(f, 1), 1736157600);
	struct buf b = BUF_INIT;
	test_read_msg(f, u2, &b);
	assert_string_equal(b.data, MSG2);
	/* mutt marks the first one read: Status changes in place */
	char *text = file_text(fx->path);
	char *p = strstr(text, "X-UID: 1\n");
	assert_non_null(p);
	struct buf nt = BUF_INIT;
	buf_append(&nt, text, (size_t)(p - text));
	buf_append_str(&nt, "Status: RO\n");
	buf_append_str(&nt, p);
	test_write_file(fx->path, nt.data);
	sync_ok(fx, f, &ch);
	assert_int_equal(ch.new_count, 0);
	assert_int_equal(ch.expunged_count, 0);
	assert_int_equal(ch.changed_count, 1);
	assert_int_equal(ch.changed_uids[0], u1);
	assert_int_equal(store_folder_msg(f, 0)->flags, STORE_FLAG_SEEN);
	store_changes_free(&ch);
	/* a message without X-UID keeps its UID across index loss */
	store_folder_close(&f);
	remove_index(fx);
	f = open_inbox(fx);
	assert_int_equal(store_folder_count(f), 2);
	assert_int_equal(store_folder_msg(f, 1)->uid, u2);
	test_read_msg(f, u2, &b);
	assert_string_equal(b.data, MSG2);
	buf_free(&b);
	buf_free(&nt);
	x_free(&text);
	store_folder_close(&f);
}

static void test_foreign_mbox(void **state)
{
	struct fixture *fx = *state;
	/* no trailing blank line, a Content-Length that lies, an unquoted From in a body
	   not after a blank line */
	test_write_file(fx->path, "From x Mon Jan  6 10:00:00 2025\nSubject: a\nContent-Length: 5\n"
				  "\nline\nFrom inside body\n\nFrom y Tue Jan  7 10:00:00 2025\n"
				  "Subject: b\n\nlast");
	struct store_folder *f = open_inbox(fx);
	assert_int_equal(store_folder_count(f), 2);
	struct buf b = BUF_INIT;
	test_read_msg(f, store_folder_msg(f, 0)->uid, &b);
	assert_string_equal(b.data, "Subject: a\n\nline\nFrom inside body\n");
	test_read_msg(f, store_folder_msg(f, 1)->uid, &b);
	assert_string_equal(b.data, "Subject: b\n\nlast");
	uint32_t u3 = test_append(f, MSG3, 0);
	test_read_msg(f, store_folder_msg(f, 1)->uid, &b);
	assert_string_equal(b.data, "Subject: b\n\nlast\n");
	sync_ok(fx, f, NULL);
	assert_int_equal(store_folder_count(f), 3);
	test_read_msg(f, u3, &b);
	assert_string_equal(b.data, MSG3);
	buf_free(&b);
	store_folder_close(&f);
}

static void test_dir_store(void **state)
{
	struct fixture *fx = *state;
	char *root = x_asprintf("%s/mail", fx->dir);
	assert_int_equal(mkdir(root, 0700), 0);
	struct store *s;
	assert_int_equal(store_open(root, STORE_FORMAT_MBOX, &s, &fx->err), 0);
	assert_int_equal(store_folder_create(s, "Lists/tern", &fx->err), 0);
	assert_int_equal(store_folder_create(s, "Sent", &fx->err), 0);
	struct store_folder *f;
	if (store_folder_open(s, "INBOX", &f, &fx->err) < 0)
		fail_msg("%s", buf_cstr(&fx->err));
	uint32_t uid = test_append(f, MSG1, 0);
	struct store_folder *g;
	assert_int_equal(store_folder_open(s, "Lists/tern", &g, &fx->err), 0);
	uint32_t nuid;
	sync_ok(fx, f, NULL);
	assert_int_equal(store_move(f, uid, g, &nuid, &fx->err), 0);
	struct buf b = BUF_INIT;
	test_read_msg(g, nuid, &b);
	assert_string_equal(b.data, MSG1);
	char **names;
	size_t n;
	assert_int_equal(store_list(s, &names, &n, &fx->err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "INBOX");
	assert_string_equal(names[1], "Lists/tern");
	assert_string_equal(names[2], "Sent");
	store_list_free(&names, n);
	assert_int_equal(store_detect_format(root), STORE_FORMAT_MBOX);
	buf_free(&b);
	store_folder_close(&f);
	store_folder_close(&g);
	store_close(&s);
	x_free(&root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_append_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flags_keywords, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expunge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_behind_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_mbox, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_store, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
