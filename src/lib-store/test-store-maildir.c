/* Unit tests for the Maildir store: folders, append, UIDs, catching up with changes made
 * behind the store's back (deliveries, mutt renames, rm), index loss, flags, expunge,
 * copy/move, cache blobs. Each test works in a fresh temporary folder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-store-util.h"
#include "util.h"
#include "xalloc.h"

#define MSG "From: a@example.org\nSubject: hi\n\nbody\n"

struct fixture {
	char *dir;
	char *root;
	struct store *store;
	struct buf err;
};

static int setup(void **state)
{
	struct fixture *fx = X_NEW(struct fixture);
	fx->dir = test_tmpdir();
	fx->root = x_asprintf("%s/Maildir", fx->dir);
	if (store_open(fx->root, STORE_FORMAT_MAILDIR, &fx->store, &fx->err) < 0)
		return -1;
	*state = fx;
	return 0;
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

static struct store_folder *open_folder(struct fixture *fx, const char *name)
{
	struct store_folder *f = NULL;
	if (store_folder_open(fx->store, name, &f, &fx->err) < 0)
		fail_msg("open %s: %s", name, buf_cstr(&fx->err));
	return f;
}

static void sync_ok(struct fixture *fx, struct store_folder *f, struct store_changes *ch)
{
	if (store_folder_sync(f, ch, &fx->err) < 0)
		fail_msg("sync: %s", buf_cstr(&fx->err));
}

/* The one file name in ROOT/sub (new or cur); fails unless exactly one. */
static char *only_file(struct fixture *fx, const char *sub)
{
	char *path = x_asprintf("%s/Maildir/%s", fx->dir, sub);
	DIR *d = opendir(path);
	assert_non_null(d);
	char *found = NULL;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		assert_null(found);
		found = x_strdup(de->d_name);
	}
	closedir(d);
	x_free(&path);
	assert_non_null(found);
	return found;
}

static void test_folders(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_folder_create(fx->store, "Sent", &fx->err), 0);
	assert_int_equal(store_folder_create(fx->store, "Lists/tern", &fx->err), 0);
	assert_int_equal(store_folder_create(fx->store, "Lists/tern/dev", &fx->err), 0);
	assert_int_equal(store_folder_create(fx->store, "Sent", &fx->err), -1);
	assert_int_equal(store_folder_create(fx->store, "a.b", &fx->err), -1);
	assert_int_equal(store_folder_create(fx->store, "a//b", &fx->err), -1);
	assert_int_equal(store_folder_create(fx->store, "../x", &fx->err), -1);
	char *mf = x_asprintf("%s/Maildir/.Lists.tern/maildirfolder", fx->dir);
	assert_int_equal(access(mf, F_OK), 0);
	x_free(&mf);
	char **names;
	size_t n;
	assert_int_equal(store_list(fx->store, &names, &n, &fx->err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(names[0], "INBOX");
	assert_string_equal(names[1], "Lists/tern");
	assert_string_equal(names[2], "Lists/tern/dev");
	assert_string_equal(names[3], "Sent");
	store_list_free(&names, n);
	assert_int_equal(store_folder_rename(fx->store, "Lists/tern", "Tern", &fx->err), 0);
	assert_int_equal(store_folder_delete(fx->store, "Sent", &fx->err), 0);
	assert_int_equal(store_folder_delete(fx->store, "INBOX", &fx->err), -1);
	assert_int_equal(store_folder_delete(fx->store, "Nope", &fx->err), -1);
	assert_int_equal(store_list(fx->store, &names, &n, &fx->err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[1], "Tern");
	assert_string_equal(names[2], "Tern/dev");
	store_list_free(&names, n);
}

/* The special-use folders: made with their directories and subscribed, once; a name
 * taken by something else is left alone; subscriptions change only when asked to. */
static void test_special_folders(void **state)
{
	struct fixture *fx = *state;
	char *sub = x_asprintf("%s/Maildir/subscriptions", fx->dir);
	test_write_file(sub, "Lists\nJunk\n");
	char *junk = x_asprintf("%s/Maildir/.Junk", fx->dir);
	test_write_file(junk, "not a folder\n");
	assert_int_equal(store_special_make(fx->store, (uid_t)-1, (gid_t)-1, &fx->err), 0);
	static const char *const made[] = {"Sent", "Drafts", "Trash", "Archive"};
	for (size_t i = 0; i < 4; i++) {
		for (size_t j = 0; j < 4; j++) {
			static const char *const parts[] = {"tmp", "new", "cur", "maildirfolder"};
			char *p = x_asprintf("%s/Maildir/.%s/%s", fx->dir, made[i], parts[j]);
			struct stat st;
			assert_int_equal(stat(p, &st), 0);
			assert_true(j == 3 ? S_ISREG(st.st_mode) : S_ISDIR(st.st_mode));
			x_free(&p);
		}
		char *idx = x_asprintf("%s/Maildir/.%s/tern-index.sqlite", fx->dir, made[i]);
		assert_int_equal(access(idx, F_OK), -1); /* built on first use, not now */
		x_free(&idx);
	}
	struct stat st;
	assert_int_equal(stat(junk, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	size_t n;
	char **names = store_subs_read(fx->root, &n);
	assert_int_equal(n, 6); /* the lines there, then the folders made (Junk listed once) */
	static const char *const want[] = {"Lists", "Junk", "Sent", "Drafts", "Trash", "Archive"};
	for (size_t i = 0; i < n; i++)
		assert_string_equal(names[i], want[i]);
	store_list_free(&names, n);
	/* all there: nothing made, the file not rewritten */
	assert_int_equal(stat(sub, &st), 0);
	ino_t ino = st.st_ino;
	assert_int_equal(store_special_make(fx->store, (uid_t)-1, (gid_t)-1, &fx->err), 0);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_ino, ino);
	/* a folder deleted is made again, and subscribed again */
	const char *trash = "Trash";
	assert_int_equal(store_subs_change(fx->root, &trash, 1, false, (uid_t)-1, (gid_t)-1,
					   &fx->err),
			 0);
	assert_int_equal(store_folder_delete(fx->store, "Trash", &fx->err), 0);
	assert_int_equal(store_special_make(fx->store, (uid_t)-1, (gid_t)-1, &fx->err), 0);
	struct store_folder *f = open_folder(fx, "Trash");
	assert_int_equal(store_folder_count(f), 0);
	store_folder_close(&f);
	names = store_subs_read(fx->root, &n);
	assert_int_equal(n, 6);
	assert_string_equal(names[5], "Trash");
	store_list_free(&names, n);
	x_free(&junk);
	x_free(&sub);
}

/* Sessions subscribing at once (each its own process, as IMAP sessions of one user on
 * several workers are) lose none of each other's names, and leave no temporary file. */
static void test_subs_concurrent(void **state)
{
	struct fixture *fx = *state;
	enum { PROCS = 6, EACH = 25 };
	pid_t pids[PROCS];
	for (int k = 0; k < PROCS; k++) {
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0) {
			struct buf err = BUF_INIT;
			for (int j = 0; j < EACH; j++) {
				char name[32];
				snprintf(name, sizeof(name), "p%d/f%d", k, j);
				const char *one = name;
				if (store_subs_change(fx->root, &one, 1, true, (uid_t)-1, (gid_t)-1,
						      &err) < 0)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (int k = 0; k < PROCS; k++) {
		int st;
		assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	size_t n;
	char **names = store_subs_read(fx->root, &n);
	assert_int_equal(n, PROCS * EACH);
	for (int k = 0; k < PROCS; k++)
		for (int j = 0; j < EACH; j++) {
			char name[32];
			snprintf(name, sizeof(name), "p%d/f%d", k, j);
			size_t seen = 0;
			for (size_t i = 0; i < n; i++)
				seen += strcmp(names[i], name) == 0;
			assert_int_equal(seen, 1);
		}
	store_list_free(&names, n);
	DIR *d = opendir(fx->root);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		assert_null(strstr(e->d_name, ".tmp"));
	closedir(d);
}

static void test_append_persist(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = open_folder(fx, "INBOX");
	uint32_t validity = store_folder_uidvalidity(f);
	assert_int_not_equal(validity, 0);
	uint32_t u1 = test_append(f, MSG, 0);
	uint32_t u2 = test_append(f, "Subject: 2\n\nx\n", STORE_FLAG_SEEN);
	uint32_t u3 = test_append(f, "Subject: 3\n\ny\n", 0);
	assert_true(u1 < u2 && u2 < u3);
	struct store_changes ch;
	sync_ok(fx, f, &ch);
	assert_int_equal(ch.new_count, 3);
	store_changes_free(&ch);
	assert_int_equal(store_folder_count(f), 3);
	assert_int_equal(store_folder_msg(f, 1)->flags, STORE_FLAG_SEEN);
	assert_int_equal(store_folder_msg(f, 0)->size, strlen(MSG));
	struct buf b = BUF_INIT;
	test_read_msg(f, u1, &b);
	assert_string_equal(buf_cstr(&b), MSG);
	uint64_t vsize;
	assert_int_equal(store_msg_vsize(f, u1, &vsize, &fx->err), 0);
	assert_int_equal(vsize, strlen(MSG) + 4);
	assert_int_equal(store_msg_cache_get(f, u1, STORE_CACHE_PARTS, &b, &fx->err), 0);
	assert_int_equal(store_msg_cache_put(f, u1, STORE_CACHE_PARTS, "blob\0x", 6, &fx->err), 0);
	/* in a batch, writes wait for its end but are seen by its reads */
	store_batch_begin(f);
	assert_int_equal(store_msg_cache_get(f, u3, STORE_CACHE_ENVELOPE, &b, &fx->err), 0);
	assert_int_equal(store_msg_cache_put(f, u3, STORE_CACHE_ENVELOPE, "(env)", 5, &fx->err), 0);
	assert_int_equal(store_msg_cache_get(f, u3, STORE_CACHE_ENVELOPE, &b, &fx->err), 1);
	assert_int_equal(b.len, 5);
	assert_int_equal(store_msg_cache_get(f, u3, STORE_CACHE_FIELDS, &b, &fx->err), 0);
	store_batch_end(f);
	store_folder_close(&f);

	f = open_folder(fx, "INBOX");
	assert_int_equal(store_folder_uidvalidity(f), validity);
	assert_int_equal(store_folder_count(f), 3);
	assert_int_equal(store_folder_msg(f, 0)->uid, u1);
	assert_int_equal(store_folder_msg(f, 2)->uid, u3);
	assert_int_equal(store_folder_uidnext(f), u3 + 1);
	assert_int_equal(store_msg_cache_get(f, u1, STORE_CACHE_PARTS, &b, &fx->err), 1);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "blob\0x", 6);
	assert_int_equal(store_msg_cache_get(f, u3, STORE_CACHE_ENVELOPE, &b, &fx->err), 1);
	assert_memory_equal(b.data, "(env)", 5);
	assert_int_equal(store_msg_cache_get(f, u1, STORE_CACHE_ENVELOPE, &b, &fx->err), 0);
	/* a batch answers for the UIDs above a table's highest from that value alone; below
	   and at it, the table is searched */
	store_batch_begin(f);
	assert_int_equal(store_msg_cache_get(f, u3, STORE_CACHE_PARTS, &b, &fx->err), 0);
	assert_int_equal(store_msg_cache_get(f, u1, STORE_CACHE_PARTS, &b, &fx->err), 1);
	assert_int_equal(store_msg_cache_get(f, u2, STORE_CACHE_ENVELOPE, &b, &fx->err), 0);
	assert_int_equal(store_msg_cache_get(f, u3, STORE_CACHE_ENVELOPE, &b, &fx->err), 1);
	store_batch_end(f);
	/* another handle writes one above it: the next batch of the first sees it */
	struct store_folder *g = open_folder(fx, "INBOX");
	assert_int_equal(store_msg_cache_put(g, u3, STORE_CACHE_PARTS, "p3", 2, &fx->err), 0);
	store_folder_close(&g);
	store_batch_begin(f);
	assert_int_equal(store_msg_cache_get(f, u3, STORE_CACHE_PARTS, &b, &fx->err), 1);
	assert_memory_equal(b.data, "p3", 2);
	assert_int_equal(store_msg_cache_get(f, u2, STORE_CACHE_PARTS, &b, &fx->err), 0);
	store_batch_end(f);
	buf_free(&b);
	store_folder_close(&f);
}

/* Two folders on one index share a snapshot until one changes; the other sees the change
 * at its sync and then shares again. */
static void test_shared_snapshot(void **state)
{
	struct fixture *fx = *state;
	store_share_snapshots(true);
	struct store_folder *f = open_folder(fx, "INBOX");
	for (int i = 0; i < 100; i++)
		test_append(f, MSG, i % 2 ? STORE_FLAG_SEEN : 0);
	sync_ok(fx, f, NULL);
	struct store_folder *g = open_folder(fx, "INBOX");
	assert_int_equal(store_folder_count(g), 100);
	assert_ptr_equal(store_folder_msg(f, 0), store_folder_msg(g, 0));
	uint32_t u = store_folder_msg(f, 0)->uid;
	assert_int_equal(store_set_flags(f, &u, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, 0, &fx->err),
			 0);
	assert_ptr_not_equal(store_folder_msg(f, 0), store_folder_msg(g, 0));
	assert_int_equal(store_folder_msg(f, 0)->flags, STORE_FLAG_FLAGGED);
	assert_int_equal(store_folder_msg(g, 0)->flags, 0);
	struct store_changes ch;
	sync_ok(fx, g, &ch);
	assert_int_equal(ch.changed_count, 1);
	assert_int_equal(ch.changed_uids[0], u);
	store_changes_free(&ch);
	assert_int_equal(store_folder_msg(g, 0)->flags, STORE_FLAG_FLAGGED);
	sync_ok(fx, f, NULL);
	assert_ptr_equal(store_folder_msg(f, 0), store_folder_msg(g, 0));
	/* one leaves: the other keeps the array */
	store_folder_close(&f);
	assert_int_equal(store_folder_msg(g, 99)->flags, STORE_FLAG_SEEN);
	store_folder_close(&g);
	store_share_snapshots(false);
}

static void test_behind_back(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = open_folder(fx, "INBOX");
	uint32_t u1 = test_append(f, MSG, 0);
	sync_ok(fx, f, NULL);
	uint64_t ms = store_folder_highestmodseq(f);

	/* another deliverer: tmp -> new */
	char *tmp = x_asprintf("%s/Maildir/tmp/1700000000.P1Q1.other", fx->dir);
	char *dst = x_asprintf("%s/Maildir/new/1700000000.P1Q1.other", fx->dir);
	test_write_file(tmp, "Subject: other\n\nz\n");
	assert_int_equal(rename(tmp, dst), 0);
	struct store_changes ch;
	sync_ok(fx, f, &ch);
	assert_int_equal(ch.new_count, 1);
	assert_int_equal(ch.expunged_count, 0);
	store_changes_free(&ch);
	assert_int_equal(store_folder_count(f), 2);
	uint32_t u2 = store_folder_msg(f, 1)->uid;
	assert_true(u2 > u1);
	assert_true(store_folder_highestmodseq(f) > ms);

	/* mutt reads it: new/X -> cur/X:2,S */
	char *cur = x_asprintf("%s/Maildir/cur/1700000000.P1Q1.other:2,S", fx->dir);
	assert_int_equal(rename(dst, cur), 0);
	sync_ok(fx, f, &ch);
	assert_int_equal(ch.changed_count, 1);
	assert_int_equal(ch.changed_uids[0], u2);
	store_changes_free(&ch);
	assert_int_equal(store_folder_msg(f, 1)->flags, STORE_FLAG_SEEN);
	struct buf b = BUF_INIT;
	test_read_msg(f, u2, &b);
	assert_string_equal(buf_cstr(&b), "Subject: other\n\nz\n");

	/* rm */
	assert_int_equal(unlink(cur), 0);
	sync_ok(fx, f, &ch);
	assert_int_equal(ch.expunged_count, 1);
	assert_int_equal(ch.expunged_uids[0], u2);
	assert_int_equal(ch.expunged_seqs[0], 2);
	store_changes_free(&ch);
	assert_int_equal(store_folder_count(f), 1);
	struct store_msg_stream s;
	assert_int_equal(store_msg_open(f, u2, &s, &fx->err), -1);
	buf_free(&b);
	x_free(&tmp);
	x_free(&dst);
	x_free(&cur);
	store_folder_close(&f);
}

/* The path of a file in dir whose text starts with `start` (NULL if none). */
static char *file_starting(const char *dir, const char *start)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	char *found = NULL;
	while ((de = readdir(d)) != NULL && found == NULL) {
		char *path = x_asprintf("%s/%s", dir, de->d_name);
		size_t len;
		char *text = de->d_name[0] != '.' ? read_file_small(path, 4096, &len) : NULL;
		if (text != NULL && strncmp(text, start, strlen(start)) == 0)
			found = x_strdup(path);
		x_free(&text);
		x_free(&path);
	}
	closedir(d);
	return found;
}

/* Message opens find the file through the base-name map once it is loaded (after a
 * change); a name the map has from before a rename or removal behind the store's back
 * fails and the index is asked after a catch-up, as without the map. */
static void test_open_by_map(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = open_folder(fx, "INBOX");
	uint32_t u[3];
	for (int i = 0; i < 3; i++)
		u[i] = test_append(f, i == 0 ? "Subject: zero\n\na\n" : MSG, 0);
	sync_ok(fx, f, NULL);
	/* a change through the store loads the map, and renames the file in it too */
	assert_int_equal(store_set_flags(f, u, 3, STORE_FLAGS_ADD, STORE_FLAG_SEEN, 0, &fx->err),
			 0);
	struct buf b = BUF_INIT;
	test_read_msg(f, u[1], &b);
	assert_string_equal(buf_cstr(&b), MSG);

	/* mutt flags the first one (no sync in between): the map's name is gone */
	char *curdir = x_asprintf("%s/Maildir/cur", fx->dir);
	char *from = file_starting(curdir, "Subject: zero");
	assert_non_null(from);
	char *to = x_asprintf("%sF", from);
	assert_int_equal(rename(from, to), 0);
	buf_reset(&b);
	test_read_msg(f, u[0], &b);
	assert_string_equal(buf_cstr(&b), "Subject: zero\n\na\n");

	/* rm of another, no sync: the open fails (expunged) */
	struct store_changes ch;
	sync_ok(fx, f, &ch);
	store_changes_free(&ch);
	assert_int_equal(store_set_flags(f, u, 3, STORE_FLAGS_ADD, STORE_FLAG_ANSWERED, 0,
					 &fx->err),
			 0);
	char *victim = file_starting(curdir, MSG);
	assert_non_null(victim);
	assert_int_equal(unlink(victim), 0);
	struct store_msg_stream st;
	int opened[2] = {store_msg_open(f, u[1], &st, &fx->err), -1};
	if (opened[0] == 0)
		close(st.fd);
	opened[1] = store_msg_open(f, u[2], &st, &fx->err);
	if (opened[1] == 0)
		close(st.fd);
	assert_true((opened[0] == 0) != (opened[1] == 0)); /* exactly one of the two is gone */
	buf_free(&b);
	x_free(&victim);
	x_free(&from);
	x_free(&to);
	x_free(&curdir);
	store_folder_close(&f);
}

/* A folder handle that reads many messages one at a time loads the map on its own (and
 * gives it back at idle); a name it has from before a rename behind its back still
 * finds the message. */
static void test_open_lazy_map(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = open_folder(fx, "INBOX");
	enum { N = 200 };
	uint32_t u[N];
	char text[64];
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "Subject: m%d\n\nbody %d\n", i, i);
		u[i] = test_append(f, text, 0);
	}
	/* settled folders (their times long past, recorded): the next open reads no
	   directory, so its handle has no map */
	struct timespec old[2] = {{.tv_sec = 1700000000}, {.tv_sec = 1700000000}};
	for (int dir = 0; dir < 2; dir++) {
		char *path = x_asprintf("%s/Maildir/%s", fx->dir, dir == 0 ? "new" : "cur");
		assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
		x_free(&path);
	}
	sync_ok(fx, f, NULL);
	store_folder_close(&f);
	struct store_folder *g = open_folder(fx, "INBOX");
	struct buf b = BUF_INIT;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			buf_reset(&b);
			test_read_msg(g, u[i], &b);
			snprintf(text, sizeof(text), "Subject: m%d\n\nbody %d\n", i, i);
			assert_string_equal(buf_cstr(&b), text);
		}
		/* mutt reads one (new/ -> cur/), no sync in between */
		char *dir = x_asprintf("%s/Maildir/new", fx->dir);
		snprintf(text, sizeof(text), "Subject: m%d\n", N - 1 - round);
		char *from = file_starting(dir, text);
		assert_non_null(from);
		char *to = x_asprintf("%s/Maildir/cur/%s:2,S", fx->dir, strrchr(from, '/') + 1);
		assert_int_equal(rename(from, to), 0);
		buf_reset(&b);
		test_read_msg(g, u[N - 1 - round], &b);
		snprintf(text, sizeof(text), "Subject: m%d\n\nbody %d\n", N - 1 - round,
			 N - 1 - round);
		assert_string_equal(buf_cstr(&b), text);
		store_folder_release_memory(g); /* idle: the map is given back */
		x_free(&dir);
		x_free(&from);
		x_free(&to);
	}
	buf_free(&b);
	store_folder_close(&g);
}

static void test_index_lost(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = open_folder(fx, "INBOX");
	uint32_t uids[5];
	for (int i = 0; i < 5; i++)
		uids[i] = test_append(f, MSG, i == 2 ? STORE_FLAG_FLAGGED : 0);
	uint32_t validity = store_folder_uidvalidity(f);
	store_folder_close(&f);
	f = open_folder(fx, "INBOX");
	assert_int_equal(store_folder_count(f), 5);
	assert_int_equal(store_expunge(f, NULL, 0, &fx->err), 0);
	uint32_t del = uids[0];
	assert_int_equal(store_set_flags(f, &del, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED, 0,
					 &fx->err), 0);
	assert_int_equal(store_expunge(f, NULL, 0, &fx->err), 0);
	store_folder_close(&f);

	char *ix = x_asprintf("%s/Maildir/tern-index.sqlite", fx->dir);
	assert_int_equal(unlink(ix), 0);
	f = open_folder(fx, "INBOX");
	assert_int_equal(store_folder_uidvalidity(f), validity);
	assert_int_equal(store_folder_count(f), 4);
	for (int i = 1; i < 5; i++)
		assert_int_equal(store_folder_msg(f, (size_t)i - 1)->uid, uids[i]);
	assert_int_equal(store_folder_msg(f, 1)->flags, STORE_FLAG_FLAGGED);
	assert_true(store_folder_uidnext(f) > uids[4]);
	uint32_t u6 = test_append(f, MSG, 0);
	assert_true(u6 > uids[4]);
	store_folder_close(&f);

	/* a damaged index is moved aside and rebuilt */
	test_write_file(ix, "this is not an sqlite database, not at all, really not......");
	f = open_folder(fx, "INBOX");
	assert_int_equal(store_folder_count(f), 5);
	assert_int_equal(store_folder_msg(f, 4)->uid, u6);
	store_folder_close(&f);
	assert_int_equal(store_reindex(fx->root, NULL, &fx->err), 0);
	f = open_folder(fx, "INBOX");
	assert_int_equal(store_folder_count(f), 5);
	assert_int_equal(store_folder_msg(f, 0)->uid, uids[1]);
	store_folder_close(&f);
	x_free(&ix);
}

static void test_flags(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = open_folder(fx, "INBOX");
	uint32_t u = test_append(f, MSG, 0);
	sync_ok(fx, f, NULL);
	char *n = only_file(fx, "new");
	x_free(&n);
	int kw = store_keyword_lookup(f, "$Label1", true, &fx->err);
	assert_int_equal(kw, 0);
	assert_int_equal(store_keyword_lookup(f, "$label1", false, &fx->err), 0);
	assert_int_equal(store_keyword_lookup(f, "Other", false, &fx->err), -1);
	assert_int_equal(store_set_flags(f, &u, 1, STORE_FLAGS_ADD,
					 STORE_FLAG_SEEN | STORE_FLAG_ANSWERED, 1u << kw, &fx->err),
			 0);
	n = only_file(fx, "cur");
	assert_non_null(strstr(n, ":2,RSa"));
	x_free(&n);
	assert_int_equal(store_set_flags(f, &u, 1, STORE_FLAGS_REMOVE, STORE_FLAG_ANSWERED, 0,
					 &fx->err), 0);
	assert_int_equal(store_folder_msg(f, 0)->flags, STORE_FLAG_SEEN);
	store_folder_close(&f);

	/* another handle sees the change, keyword names included */
	f = open_folder(fx, "INBOX");
	struct store_folder *g = open_folder(fx, "INBOX");
	assert_int_equal(store_folder_msg(g, 0)->flags, STORE_FLAG_SEEN);
	assert_int_equal(store_folder_msg(g, 0)->keywords, 1);
	assert_string_equal(store_keyword_name(g, 0), "$Label1");
	assert_int_equal(store_set_flags(f, &u, 1, STORE_FLAGS_REPLACE, STORE_FLAG_DRAFT, 0,
					 &fx->err), 0);
	struct store_changes ch;
	sync_ok(fx, g, &ch);
	assert_int_equal(ch.changed_count, 1);
	store_changes_free(&ch);
	assert_int_equal(store_folder_msg(g, 0)->flags, STORE_FLAG_DRAFT);
	assert_int_equal(store_folder_msg(g, 0)->keywords, 0);
	n = only_file(fx, "cur");
	assert_non_null(strstr(n, ":2,D"));
	x_free(&n);
	store_folder_close(&g);
	store_folder_close(&f);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The number of files in ROOT/sub whose name has the flag letter after ":2,". */
static size_t files_with_flag(struct fixture *fx, const char *sub, char letter, size_t *all_r)
{
	char *path = x_asprintf("%s/Maildir/%s", fx->dir, sub);
	DIR *d = opendir(path);
	assert_non_null(d);
	size_t n = 0, all = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		const char *info = strstr(de->d_name, ":2,");
		all++;
		n += info != NULL && strchr(info + 3, letter) != NULL;
	}
	closedir(d);
	x_free(&path);
	if (all_r != NULL)
		*all_r = all;
	return n;
}

static uint64_t status_unseen(struct fixture *fx)
{
	struct store_folder_status st;
	assert_int_equal(store_folder_status(fx->store, "INBOX", &st, &fx->err), 0);
	return st.unseen;
}

/* A flag change of many messages (the bulk path: names from the map, one index update,
 * the totals counted in C): files renamed, totals right, the changer's snapshot at the new
 * state without reading it back, another handle told exactly the changed messages; and a
 * file renamed by another program after the last catch-up is found again. */
static void test_flags_bulk(void **state)
{
	struct fixture *fx = *state;
	enum { N = 100 };
	struct store_folder *f = open_folder(fx, "INBOX");
	uint32_t uids[N];
	for (int i = 0; i < N; i++)
		uids[i] = test_append(f, MSG, i % 2 ? STORE_FLAG_SEEN : 0);
	sync_ok(fx, f, NULL);
	struct store_folder *g = open_folder(fx, "INBOX");
	assert_int_equal(status_unseen(fx), N / 2);
	uint64_t before = store_folder_highestmodseq(f);

	assert_int_equal(store_set_flags(f, uids, N, STORE_FLAGS_ADD, STORE_FLAG_SEEN, 0, &fx->err),
			 0);
	size_t all;
	assert_int_equal(files_with_flag(fx, "cur", 'S', &all), N);
	assert_int_equal(all, N);
	assert_int_equal(status_unseen(fx), 0);
	assert_true(store_folder_highestmodseq(f) > before);
	struct store_changes ch;
	sync_ok(fx, f, &ch); /* our own change: nothing to report, nothing read back */
	assert_int_equal(ch.changed_count, 0);
	store_changes_free(&ch);
	for (int i = 0; i < N; i++) {
		const struct store_msg *m = store_folder_msg(f, (size_t)i);
		assert_int_equal(m->flags, STORE_FLAG_SEEN);
		assert_int_equal(m->modseq > before, i % 2 == 0);
	}
	sync_ok(fx, g, &ch);
	assert_int_equal(ch.changed_count, N / 2);
	for (size_t i = 0; i < ch.changed_count; i++)
		assert_int_equal(ch.changed_uids[i], uids[2 * i]);
	store_changes_free(&ch);
	assert_int_equal(store_folder_highestmodseq(g), store_folder_highestmodseq(f));
	for (int i = 0; i < N; i++)
		assert_int_equal(store_folder_msg(g, (size_t)i)->flags, STORE_FLAG_SEEN);

	/* \Seen off 40 of them */
	assert_int_equal(store_set_flags(f, uids + 10, 40, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN, 0,
					 &fx->err), 0);
	assert_int_equal(status_unseen(fx), 40);
	assert_int_equal(files_with_flag(fx, "cur", 'S', NULL), N - 40);

	/* mutt flags a message after our last look at cur/ (its time put back, so the next
	   catch-up does not read it): the rename finds no file and looks again */
	sync_ok(fx, f, NULL);
	char *curdir = x_asprintf("%s/Maildir/cur", fx->dir);
	struct timespec old[2] = {{.tv_sec = 1700000000}, {.tv_sec = 1700000000}};
	assert_int_equal(utimensat(AT_FDCWD, curdir, old, 0), 0);
	sync_ok(fx, f, NULL); /* records that time (long settled) */
	DIR *d = opendir(curdir);
	struct dirent *de;
	char *from = NULL, *to = NULL;
	/* one of the files (which message it is does not matter) */
	size_t count = 0;
	char **names = NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = x_reallocarray(names, count + 1, sizeof(char *));
		names[count++] = x_strdup(de->d_name);
	}
	closedir(d);
	qsort(names, count, sizeof(char *), cmp_str);
	from = x_asprintf("%s/%s", curdir, names[60]);
	to = x_asprintf("%s/%.*sF%s", curdir, (int)(strstr(names[60], ":2,") + 3 - names[60]),
			names[60], strstr(names[60], ":2,") + 3);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(utimensat(AT_FDCWD, curdir, old, 0), 0);
	assert_int_equal(store_set_flags(f, uids, N, STORE_FLAGS_ADD, STORE_FLAG_ANSWERED, 0,
					 &fx->err), 0);
	assert_int_equal(files_with_flag(fx, "cur", 'R', &all), N);
	assert_int_equal(all, N);
	assert_int_equal(files_with_flag(fx, "cur", 'F', NULL), 1);
	sync_ok(fx, f, NULL);
	sync_ok(fx, g, &ch);
	store_changes_free(&ch);
	size_t flagged = 0;
	for (int i = 0; i < N; i++) {
		uint32_t fl = store_folder_msg(f, (size_t)i)->flags;
		uint32_t seen = i >= 10 && i < 50 ? 0 : STORE_FLAG_SEEN;
		assert_true(fl == (seen | STORE_FLAG_ANSWERED) ||
			    fl == (seen | STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED));
		flagged += (fl & STORE_FLAG_FLAGGED) != 0;
		assert_int_equal(store_folder_msg(g, (size_t)i)->flags, fl);
	}
	assert_int_equal(flagged, 1);
	assert_int_equal(status_unseen(fx), 40);
	for (size_t i = 0; i < count; i++)
		x_free(&names[i]);
	x_free(&names);
	x_free(&from);
	x_free(&to);
	x_free(&curdir);
	store_folder_close(&g);
	store_folder_close(&f);
}

static void test_copy_move(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_folder_create(fx->store, "Archive", &fx->err), 0);
	struct store_folder *in = open_folder(fx, "INBOX");
	struct store_folder *ar = open_folder(fx, "Archive");
	uint32_t u1 = test_append(in, MSG, STORE_FLAG_FLAGGED);
	uint32_t u2 = test_append(in, "Subject: two\n\n2\n", 0);
	uint32_t c1, c2;
	sync_ok(fx, in, NULL);
	assert_int_equal(store_copy(in, u1, ar, &c1, &fx->err), 0);
	assert_int_equal(store_move(in, u2, ar, &c2, &fx->err), 0);
	assert_true(c1 < c2);
	struct store_changes ch;
	sync_ok(fx, in, &ch);
	assert_int_equal(ch.expunged_count, 1);
	assert_int_equal(ch.expunged_uids[0], u2);
	store_changes_free(&ch);
	sync_ok(fx, ar, NULL);
	assert_int_equal(store_folder_count(ar), 2);
	assert_int_equal(store_folder_msg(ar, 0)->flags, STORE_FLAG_FLAGGED);
	struct buf b = BUF_INIT;
	test_read_msg(ar, c2, &b);
	assert_string_equal(buf_cstr(&b), "Subject: two\n\n2\n");
	buf_free(&b);
	store_folder_close(&in);
	store_folder_close(&ar);
}

static void test_unique_name(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = open_folder(fx, "INBOX");
	struct store_append_opts opts = {.unique_name = "Q1234.rcpt1", .internal_date = 1000000};
	uint32_t u1, u2;
	for (int i = 0; i < 2; i++) {
		struct store_append *a;
		assert_int_equal(store_append_begin(f, &a, &fx->err), 0);
		assert_int_equal(store_append_write(a, MSG, strlen(MSG), &fx->err), 0);
		assert_int_equal(store_append_commit(&a, &opts, i ? &u2 : &u1, &fx->err), 0);
	}
	assert_int_equal(u1, u2);
	sync_ok(fx, f, NULL);
	assert_int_equal(store_folder_count(f), 1);
	assert_int_equal(store_folder_msg_date(f, 0), 1000000);
	char *t = x_asprintf("%s/Maildir/tmp", fx->dir);
	DIR *d = opendir(t);
	int files = 0;
	for (struct dirent *de; (de = readdir(d)) != NULL;)
		files += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 0);
	x_free(&t);
	store_folder_close(&f);
}


/* The UID of the message whose text is want (each test file holds its base name). */
static uint32_t uid_of_text(struct store_folder *f, const char *want)
{
	struct buf text = BUF_INIT;
	uint32_t found = 0;
	for (size_t i = 0; i < store_folder_count(f) && found == 0; i++) {
		uint32_t uid = store_folder_msg(f, i)->uid;
		test_read_msg(f, uid, &text);
		if (strcmp(text.data, want) == 0)
			found = uid;
	}
	buf_free(&text);
	return found;
}

/* A build from nothing over more files than one insert chunk: UIDs follow the base names'
 * byte order (names sharing their first 8 bytes, shorter than 8, one a prefix of another,
 * 9 and 10 digit seconds); a base in both new/ and cur/ is one message (it was a UNIQUE
 * conflict that failed the build);
 * a uidlist that gives one UID to two names still gives every message its own. */
static void test_build_order(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = open_folder(fx, "INBOX");
	store_folder_close(&f);
	char *ix = x_asprintf("%s/Maildir/tern-index.sqlite", fx->dir);
	char *uidlist = x_asprintf("%s/Maildir/tern-uidlist", fx->dir);
	assert_int_equal(unlink(ix), 0);
	assert_int_equal(unlink(uidlist), 0);
	enum { N = 4500 };
	char **bases = x_reallocarray(NULL, N + 1, sizeof(*bases));
	for (int i = 0; i < N; i++) {
		if (i < 20)
			bases[i] = x_asprintf(i % 2 ? "m%d" : "m%d,S=3", i / 2);
		else if (i % 7 == 0)
			bases[i] = x_asprintf("%d.M%dP1.host", 999999000 + i % 50, i);
		else
			bases[i] = x_asprintf("%d.M%dP1.host", 1700000000 + i % 300, i);
		char *path = x_asprintf("%s/Maildir/%s", fx->dir,
					i % 5 == 0 ? "new/" : "cur/");
		char *full = x_asprintf("%s%s%s", path, bases[i], i % 5 == 0 ? "" : ":2,S");
		test_write_file(full, bases[i]);
		x_free(&full);
		x_free(&path);
	}
	bases[N] = x_strdup("1700000000.dup");
	char *dup = x_asprintf("%s/Maildir/new/1700000000.dup", fx->dir);
	test_write_file(dup, bases[N]);
	x_free(&dup);
	dup = x_asprintf("%s/Maildir/cur/1700000000.dup:2,F", fx->dir);
	test_write_file(dup, bases[N]);
	x_free(&dup);
	qsort(bases, N + 1, sizeof(*bases), cmp_str);

	f = open_folder(fx, "INBOX");
	assert_int_equal(store_folder_count(f), N + 1);
	struct buf text = BUF_INIT;
	for (size_t i = 0; i < N + 1; i++) {
		const struct store_msg *m = store_folder_msg(f, i);
		assert_int_equal(m->uid, i + 1);
		test_read_msg(f, m->uid, &text);
		assert_string_equal(text.data, bases[i]);
	}
	store_folder_close(&f);

	/* a damaged uidlist: UID 1 for two names */
	char *lines = x_asprintf("1 V4242 N10\n1 %s\n1 %s\n", bases[0], bases[1]);
	test_write_file(uidlist, lines);
	assert_int_equal(unlink(ix), 0);
	f = open_folder(fx, "INBOX");
	assert_int_equal(store_folder_uidvalidity(f), 4242);
	assert_int_equal(store_folder_count(f), N + 1);
	for (size_t i = 1; i < N + 1; i++)
		assert_true(store_folder_msg(f, i)->uid > store_folder_msg(f, i - 1)->uid);
	assert_int_equal(uid_of_text(f, bases[0]), 1);
	assert_true(uid_of_text(f, bases[1]) >= 10);
	store_folder_close(&f);
	for (size_t i = 0; i < N + 1; i++)
		x_free(&bases[i]);
	x_free(&bases);
	x_free(&lines);
	buf_free(&text);
	x_free(&uidlist);
	x_free(&ix);
}

/* Runs one SQL text on the folder's index file (as an older Tern left it). */
static void index_sql_run(struct fixture *fx, const char *sql)
{
	char *path = x_asprintf("%s/Maildir/tern-index.sqlite", fx->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	x_free(&path);
}

/* Whether the folder's msgs_modseq is partial (has a WHERE). */
static bool modseq_index_partial(struct fixture *fx)
{
	char *path = x_asprintf("%s/Maildir/tern-index.sqlite", fx->dir);
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name = "
						"'msgs_modseq'", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	bool partial = strstr((const char *)sqlite3_column_text(st, 0), "WHERE modseq > 2") != NULL;
	sqlite3_finalize(st);
	sqlite3_close(db);
	x_free(&path);
	return partial;
}

/* A version 2 index is migrated when opened: its full modseq index stays (an older Tern
 * that has it open still uses it) and changes since a modseq are found through it. */
static void test_migrate_v2(void **state)
{
	struct fixture *fx = *state;
	struct store_folder *f = open_folder(fx, "INBOX");
	for (int i = 0; i < 20; i++)
		test_append(f, MSG, 0);
	store_folder_close(&f);
	assert_true(modseq_index_partial(fx));
	index_sql_run(fx, "DROP INDEX msgs_modseq; CREATE INDEX msgs_modseq ON msgs (modseq);"
			  "PRAGMA user_version = 2");
	f = open_folder(fx, "INBOX");
	struct store_folder *g = open_folder(fx, "INBOX");
	uint32_t u = store_folder_msg(f, 3)->uid;
	assert_int_equal(store_set_flags(f, &u, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, 0, &fx->err),
			 0);
	struct store_changes ch;
	sync_ok(fx, g, &ch);
	assert_int_equal(ch.changed_count, 1);
	assert_int_equal(ch.changed_uids[0], u);
	store_changes_free(&ch);
	store_folder_close(&g);
	store_folder_close(&f);
	assert_false(modseq_index_partial(fx));
	char *path = x_asprintf("%s/Maildir/tern-index.sqlite", fx->dir);
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 3);
	sqlite3_finalize(st);
	sqlite3_close(db);
	x_free(&path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_folders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_folders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subs_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_behind_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_by_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_lazy_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags_bulk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unique_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_build_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v2, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
