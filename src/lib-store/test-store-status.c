/* Unit tests for store_folder_status() and store_usage() on both backends: the totals kept
 * in the index agree with the snapshot after appends, flag changes, expunges, deliveries
 * and rewrites behind the store's back, and an index made before the totals existed gets
 * them on its next open. Also the internal dates a Maildir rebuild leaves to be read on
 * demand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-store-util.h"
#include "util.h"
#include "xalloc.h"

#define MSG_A "From: a@example.org\nSubject: a\n\nbody a\n"
#define MSG_B "From: b@example.org\nSubject: b\n\nbody bb\n"

struct fixture {
	char *dir;
	char *root;
	enum store_format format;
	struct store *store;
	struct buf err;
};

static int setup_format(void **state, enum store_format format)
{
	struct fixture *fx = X_NEW(struct fixture);
	fx->dir = test_tmpdir();
	fx->format = format;
	fx->root =
	    x_asprintf("%s/%s", fx->dir, format == STORE_FORMAT_MAILDIR ? "Maildir" : "inbox");
	if (store_open(fx->root, format, &fx->store, &fx->err) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int setup_maildir(void **state)
{
	return setup_format(state, STORE_FORMAT_MAILDIR);
}

static int setup_mbox(void **state)
{
	return setup_format(state, STORE_FORMAT_MBOX);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	store_close(&fx->store);
	test_tmpdir_remove(&fx->dir);
	x_free(&fx->root);
	buf_free(&fx->err);
	x_free(&fx);
	return 0;
}

static struct store_folder_status status_of(struct fixture *fx, const char *name)
{
	struct store_folder_status st;
	if (store_folder_status(fx->store, name, &st, &fx->err) < 0)
		fail_msg("status %s: %s", name, buf_cstr(&fx->err));
	return st;
}

/* The status must say what a fresh snapshot says. */
static void check_status(struct fixture *fx, const char *name)
{
	struct store_folder_status st = status_of(fx, name);
	struct store_folder *f = NULL;
	if (store_folder_open(fx->store, name, &f, &fx->err) < 0)
		fail_msg("open %s: %s", name, buf_cstr(&fx->err));
	uint64_t unseen = 0, size = 0;
	for (size_t i = 0; i < store_folder_count(f); i++) {
		const struct store_msg *m = store_folder_msg(f, i);
		unseen += (m->flags & STORE_FLAG_SEEN) == 0;
		size += m->size;
	}
	assert_int_equal(st.messages, store_folder_count(f));
	assert_int_equal(st.unseen, unseen);
	assert_int_equal(st.size, size);
	assert_int_equal(st.uidnext, store_folder_uidnext(f));
	assert_int_equal(st.uidvalidity, store_folder_uidvalidity(f));
	assert_int_equal(st.highestmodseq, store_folder_highestmodseq(f));
	store_folder_close(&f);
}

/* Another program delivers a message (Maildir: tmp -> new; mbox: appended). */
static void deliver_behind(struct fixture *fx, int n)
{
	if (fx->format == STORE_FORMAT_MAILDIR) {
		char *tmp = x_asprintf("%s/tmp/1700000000.P9Q%d.other", fx->root, n);
		char *dst = x_asprintf("%s/new/1700000000.P9Q%d.other", fx->root, n);
		test_write_file(tmp, "Subject: other\n\nzz\n");
		assert_int_equal(rename(tmp, dst), 0);
		x_free(&tmp);
		x_free(&dst);
		return;
	}
	int fd = open(fx->root, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	const char *m = "From x@example.org Mon Jan  1 00:00:00 2024\nSubject: other\n\nzz\n\n";
	assert_int_equal(write_full(fd, m, strlen(m)), 0);
	close(fd);
}

static void test_status_follows(void **state)
{
	struct fixture *fx = *state;
	struct store_folder_status st = status_of(fx, "INBOX");
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.size, 0);
	struct store_folder *f = NULL;
	assert_int_equal(store_folder_open(fx->store, "INBOX", &f, &fx->err), 0);
	uint32_t u1 = test_append(f, MSG_A, 0);
	uint32_t u2 = test_append(f, MSG_B, STORE_FLAG_SEEN);
	test_append(f, MSG_A, STORE_FLAG_FLAGGED);
	st = status_of(fx, "INBOX");
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.unseen, 2);
	check_status(fx, "INBOX");

	assert_int_equal(store_set_flags(f, &u1, 1, STORE_FLAGS_ADD,
					 STORE_FLAG_SEEN | STORE_FLAG_DELETED, 0, &fx->err),
			 0);
	assert_int_equal(
	    store_set_flags(f, &u2, 1, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN, 0, &fx->err), 0);
	check_status(fx, "INBOX");
	assert_int_equal(status_of(fx, "INBOX").unseen, 2);

	assert_int_equal(store_expunge(f, NULL, 0, &fx->err), 0);
	check_status(fx, "INBOX");
	assert_int_equal(status_of(fx, "INBOX").messages, 2);

	deliver_behind(fx, 1);
	st = status_of(fx, "INBOX");
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.unseen, 3);
	check_status(fx, "INBOX");
	store_folder_close(&f);

	uint64_t bytes, msgs;
	assert_int_equal(store_usage(fx->store, &bytes, &msgs, &fx->err), 0);
	assert_int_equal(msgs, 3);
	assert_int_equal(bytes, status_of(fx, "INBOX").size);
	assert_int_equal(store_quota_check(fx->store, bytes, 0, 1, &fx->err), 1);
	assert_int_equal(store_quota_check(fx->store, bytes + 1, 4, 1, &fx->err), 0);
}

/* An index written before the totals (no triggers, no total_* rows) gets them. */
static void test_status_old_index(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = NULL;
	assert_int_equal(store_folder_open(fx->store, "INBOX", &f, &fx->err), 0);
	test_append(f, MSG_A, 0);
	test_append(f, MSG_B, STORE_FLAG_SEEN);
	store_folder_close(&f);
	char *ix = fx->format == STORE_FORMAT_MAILDIR
		       ? x_asprintf("%s/tern-index.sqlite", fx->root)
		       : x_asprintf("%s/.inbox.tern-index.sqlite", fx->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(ix, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "DROP TRIGGER msgs_totals_ins; DROP TRIGGER msgs_totals_del;"
				      "DROP TRIGGER msgs_totals_upd;"
				      "DELETE FROM meta WHERE key LIKE 'total_%';",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	x_free(&ix);
	struct store_folder_status st = status_of(fx, "INBOX");
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.unseen, 1);
	deliver_behind(fx, 2);
	assert_int_equal(status_of(fx, "INBOX").messages, 3);
	check_status(fx, "INBOX");
}

static void test_status_folders(void **state)
{
	struct fixture *fx = *state;
	if (fx->format == STORE_FORMAT_MBOX)
		skip(); /* a single-file mbox store has only INBOX */
	assert_int_equal(store_folder_create(fx->store, "Lists/tern", &fx->err), 0);
	struct store_folder *f = NULL;
	assert_int_equal(store_folder_open(fx->store, "Lists/tern", &f, &fx->err), 0);
	test_append(f, MSG_B, 0);
	store_folder_close(&f);
	struct store_folder_status st = status_of(fx, "Lists/tern");
	assert_int_equal(st.messages, 1);
	assert_int_equal(st.size, strlen(MSG_B));
	check_status(fx, "Lists/tern");
	assert_int_equal(store_folder_status(fx->store, "Nope", &st, &fx->err), -1);
}

/* A rebuilt Maildir index reads a file's date when it is first asked for, and keeps it. */
static void test_idate_on_demand(void **state)
{
	struct fixture *fx = *state;
	const char *names[] = {"cur/1600000000.M1P1.h,S=19:2,S", "cur/1600000100.M2P1.h,S=19:2,",
			       "new/1600000200.M3P1.h"};
	for (int i = 0; i < 3; i++) {
		char *path = x_asprintf("%s/%s", fx->root, names[i]);
		test_write_file(path, "Subject: x\n\nbody\n");
		struct timespec t[2] = {{.tv_sec = 1500000000 + i * 86400}, {0}};
		t[1] = t[0];
		assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
		x_free(&path);
	}
	for (int round = 0; round < 2; round++) {
		struct store_folder *f = NULL;
		assert_int_equal(store_folder_open(fx->store, "INBOX", &f, &fx->err), 0);
		assert_int_equal(store_folder_count(f), 3);
		for (size_t i = 0; i < 3; i++)
			assert_int_equal(store_folder_msg_date(f, i),
					 1500000000 + (int64_t)i * 86400);
		store_folder_close(&f);
	}
	sqlite3 *db;
	char *ix = x_asprintf("%s/tern-index.sqlite", fx->root);
	assert_int_equal(sqlite3_open(ix, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM msgs WHERE idate = -1", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0); /* recorded when the folder closed */
	sqlite3_finalize(st);
	sqlite3_close(db);
	x_free(&ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_status_follows, setup_maildir, teardown),
	    cmocka_unit_test_setup_teardown(test_status_follows, setup_mbox, teardown),
	    cmocka_unit_test_setup_teardown(test_status_old_index, setup_maildir, teardown),
	    cmocka_unit_test_setup_teardown(test_status_old_index, setup_mbox, teardown),
	    cmocka_unit_test_setup_teardown(test_status_folders, setup_maildir, teardown),
	    cmocka_unit_test_setup_teardown(test_status_folders, setup_mbox, teardown),
	    cmocka_unit_test_setup_teardown(test_idate_on_demand, setup_maildir, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
