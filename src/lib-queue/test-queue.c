/* Unit tests for lib-queue: queue IDs, writing and reading envelopes, damaged envelopes,
 * state records, the group committer, cleanup of unacknowledged leftovers, and recycled
 * queue files (reuse byte for byte, the pool's bound, files that must not be taken). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"
#include "util.h"
#include "xalloc.h"

static char *test_dir(void)
{
	char tmpl[] = "/tmp/test-queue-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	return x_strdup(tmpl);
}

static void rm_rf(const char *dir)
{
	char *cmd = x_asprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	x_free(&cmd);
}

static void test_id(void **state)
{
	char a[QUEUE_ID_MAX], b[QUEUE_ID_MAX];
	queue_id_new(a);
	for (int i = 0; i < 10000; i++) {
		queue_id_new(b);
		assert_true(queue_id_valid(b));
		assert_true(strcmp(a, b) < 0); /* unique and increasing */
		memcpy(a, b, sizeof(a));
	}
	assert_int_equal(strlen(a), 19);
	time_t t = queue_id_time(a);
	/* time() reads a coarse clock that may lag gettimeofday() by a tick. */
	assert_true(t <= time(NULL) + 1 && t >= time(NULL) - 5);
	assert_false(queue_id_valid("../etc/passwd"));
	assert_false(queue_id_valid(""));
	assert_false(queue_id_valid("0123456789ABCDEFGHW"));
	assert_false(queue_id_valid("0123456789abcdefghi"));
}

/* Reads the data of queued message id (at most cap bytes) through the reader every
 * user of the queue goes through: the envelope, then queue_data_open. Returns its
 * length (env->size), checking that the file holds that many. */
static size_t read_data(const char *dir, const char *id, char *out, size_t cap)
{
	struct buf err = BUF_INIT;
	struct queue_envelope *env;
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_true(env->size <= cap);
	int fd = queue_data_open(dir, env);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, out, (size_t)env->size, 0), (ssize_t)env->size);
	close(fd);
	size_t n = (size_t)env->size;
	queue_envelope_free(&env);
	buf_free(&err);
	return n;
}

static bool path_exists(const char *dir, const char *sub, const char *name)
{
	char *p = x_asprintf("%s/%s/%s", dir, sub, name);
	bool r = access(p, F_OK) == 0;
	x_free(&p);
	return r;
}

static struct queue_writer *make_message(const char *dir, const char *body)
{
	struct buf err = BUF_INIT;
	struct queue_writer *w = queue_writer_open(dir, &err);
	assert_non_null(w);
	assert_int_equal(queue_writer_write(w, body, strlen(body)), 0);
	queue_writer_set_sender(w, "sender@example.org");
	queue_writer_add_rcpt(w, "alice@example.test", "Alice@Example.test");
	queue_writer_add_rcpt(w, "bob@example.test", NULL);
	queue_writer_set_attr(w, "helo", "client.example.org");
	queue_writer_set_attr(w, "evil", "a\nb");
	buf_free(&err);
	return w;
}

/* make_message(dir, body), committed; its ID into id. */
static void queue_one(const char *dir, const char *body, char id[QUEUE_ID_MAX])
{
	struct buf err = BUF_INIT;
	struct queue_writer *w = make_message(dir, body);
	snprintf(id, QUEUE_ID_MAX, "%s", queue_writer_id(w));
	assert_int_equal(queue_writer_commit(w, &err), 0);
	queue_writer_free(&w);
	buf_free(&err);
}

static void test_write_read(void **state)
{
	char *dir = test_dir();
	struct buf err = BUF_INIT;
	struct queue_writer *w = make_message(dir, "Subject: x\n\nhello\n");
	char id[QUEUE_ID_MAX];
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	assert_int_equal(queue_writer_size(w), 18);
	assert_int_equal(queue_writer_commit(w, &err), 0);
	queue_writer_free(&w);

	char **ids;
	size_t n;
	assert_int_equal(queue_list(dir, &ids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], id);
	queue_list_free(&ids, n);

	struct queue_envelope *env;
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_string_equal(env->sender, "sender@example.org");
	assert_int_equal(env->rcpt_count, 2);
	assert_string_equal(env->rcpts[0].addr, "alice@example.test");
	assert_string_equal(env->rcpts[0].orcpt, "Alice@Example.test");
	assert_string_equal(env->rcpts[1].orcpt, "bob@example.test");
	assert_int_equal(env->rcpts[1].state, QUEUE_RCPT_PENDING);
	assert_int_equal(env->size, 18);
	assert_string_equal(queue_envelope_attr(env, "helo"), "client.example.org");
	assert_string_equal(queue_envelope_attr(env, "evil"), "a?b");
	assert_false(env->held);
	assert_false(queue_envelope_done(env));
	/* Format 2: one file, env/ID, the data first and the envelope after it. */
	assert_int_equal(env->version, 2);
	assert_int_equal(env->env_offset, 18);
	queue_envelope_free(&env);
	assert_false(path_exists(dir, "msg", id));
	char *path = x_asprintf("%s/env/%s", dir, id);
	size_t flen;
	char *file = read_file_small(path, 1 << 20, &flen);
	assert_non_null(file);
	char *head = x_asprintf("Subject: x\n\nhello\nV 2\nI %s\nT ", id);
	assert_memory_equal(file, head, strlen(head));
	assert_memory_equal(file + flen - 2, "E\n", 2);
	x_free(&head);
	x_free(&file);
	x_free(&path);

	char data[64];
	assert_int_equal(read_data(dir, id, data, sizeof(data)), 18);
	assert_memory_equal(data, "Subject: x\n\nhello\n", 18);

	assert_int_equal(queue_remove(dir, id, &err), 0);
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_MISSING);
	assert_false(path_exists(dir, "env", id) || path_exists(dir, "msg", id));
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

/* Data given in pieces of every size (small ones gathered, one larger than the
 * gathering buffer, pieces that cross its end) is stored whole and in order. */
static void test_write_pieces(void **state)
{
	char *dir = test_dir();
	struct buf err = BUF_INIT;
	struct buf want = BUF_INIT;
	struct queue_writer *w = queue_writer_open(dir, &err);
	assert_non_null(w);
	static const size_t sizes[] = {1, 1000, 7, 40000, 3, 16384, 20000, 1, 0, 32768, 5};
	unsigned seed = 1;
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			char *piece = x_malloc(sizes[i] + 1);
			for (size_t j = 0; j < sizes[i]; j++)
				piece[j] = (char)('a' + (seed = seed * 1103515245 + 12345) % 26);
			assert_int_equal(queue_writer_write(w, piece, sizes[i]), 0);
			buf_append(&want, piece, sizes[i]);
			x_free(&piece);
		}
	assert_int_equal(queue_writer_size(w), want.len);
	queue_writer_add_rcpt(w, "alice@example.test", NULL);
	char id[QUEUE_ID_MAX];
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	assert_int_equal(queue_writer_commit(w, &err), 0);
	queue_writer_free(&w);
	char *got = x_malloc(want.len + 1);
	assert_int_equal(read_data(dir, id, got, want.len + 1), want.len);
	assert_memory_equal(got, want.data, want.len);
	x_free(&got);
	buf_free(&want);
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

static void test_records(void **state)
{
	char *dir = test_dir();
	struct buf err = BUF_INIT, recs = BUF_INIT;
	struct queue_writer *w = make_message(dir, "x\n");
	char id[QUEUE_ID_MAX];
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	assert_int_equal(queue_writer_commit(w, &err), 0);
	queue_writer_free(&w);

	queue_rec_attempt(&recs, 0);
	queue_rec_attempt(&recs, 1);
	queue_rec_delivered(&recs, 0, "2.0.0 ok");
	queue_rec_deferred(&recs, 1, "4.2.2 mailbox full");
	queue_rec_retry(&recs, 12345, 1);
	queue_rec_hold(&recs, true);
	buf_append_str(&recs, "d 1 777 4.4.1 down\n");
	queue_rec_warned(&recs, 1);
	assert_int_equal(queue_append_records(dir, id, &recs, &err), 0);

	struct queue_envelope *env;
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_int_equal(env->rcpts[0].state, QUEUE_RCPT_DELIVERED);
	assert_false(env->rcpts[0].attempting);
	assert_int_equal(env->rcpts[1].state, QUEUE_RCPT_PENDING);
	assert_true(env->rcpts[1].attempting); /* a deferral keeps it */
	assert_string_equal(env->rcpts[1].last_error, "4.4.1 down");
	assert_false(env->rcpts[0].warned);
	assert_true(env->rcpts[1].warned);
	assert_int_equal(env->rcpts[1].changed, 777); /* a warning is not an attempt */
	assert_int_equal(env->next_try, 12345);
	assert_int_equal(env->attempts, 1);
	assert_true(env->held);
	queue_envelope_free(&env);

	/* A torn record (crash in the middle of an append) is ignored and cut off. */
	buf_reset(&recs);
	queue_rec_hold(&recs, false);
	queue_rec_attempt(&recs, 1);
	buf_append_str(&recs, "f 1 1234 5.1.1 no su");
	assert_int_equal(queue_append_records(dir, id, &recs, &err), 0);
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_false(env->held);
	assert_true(env->rcpts[1].attempting);
	assert_int_equal(env->rcpts[1].state, QUEUE_RCPT_PENDING);
	queue_envelope_free(&env);
	buf_reset(&recs);
	queue_rec_failed(&recs, 1, "5.1.1 no such user");
	assert_int_equal(queue_append_records(dir, id, &recs, &err), 0);
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_int_equal(env->rcpts[1].state, QUEUE_RCPT_FAILED);
	assert_true(queue_envelope_done(env));
	queue_envelope_free(&env);

	buf_free(&recs);
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

/* A notification names its original's records in its own envelope ("dsn_of"): written
 * in pieces when the list is long, read back whole; malformed ones refused; the records
 * the original lacks are the ones added (pending recipients only, w once), and once
 * appended nothing more is missing. */
static void test_reports(void **state)
{
	char *dir = test_dir();
	struct buf err = BUF_INIT, recs = BUF_INIT;
	struct queue_writer *o = make_message(dir, "original\n");
	for (int i = 2; i < 1500; i++) {
		char *a = x_asprintf("r%d@example.test", i);
		queue_writer_add_rcpt(o, a, a);
		x_free(&a);
	}
	char oid[QUEUE_ID_MAX];
	snprintf(oid, sizeof(oid), "%s", queue_writer_id(o));
	assert_int_equal(queue_writer_commit(o, &err), 0);
	queue_writer_free(&o);
	/* Recipient 0 delivered, 1 failed, 2 warned, the rest pending. */
	queue_rec_delivered(&recs, 0, "2.0.0 ok");
	queue_rec_failed(&recs, 1, "5.1.1 gone");
	queue_rec_warned(&recs, 2);
	assert_int_equal(queue_append_records(dir, oid, &recs, &err), 0);

	/* The notification: failures of 0..1499 (digits enough for several attributes),
	 * a warning for 2 and 3, a success for 4, and an index the original lacks. */
	struct queue_writer *n = make_message(dir, "report\n");
	size_t all[1501], warn[] = {2, 3}, ok[] = {4};
	for (size_t i = 0; i < 1500; i++)
		all[i] = i;
	all[1500] = 999999;
	queue_writer_add_report(n, oid, QUEUE_REPORT_FAILED, all, 1501);
	queue_writer_add_report(n, oid, QUEUE_REPORT_WARNED, warn, 2);
	queue_writer_add_report(n, oid, QUEUE_REPORT_DELIVERED, ok, 1);
	queue_writer_add_report(n, oid, QUEUE_REPORT_DELIVERED, ok, 0); /* none: no attribute */
	char nid[QUEUE_ID_MAX];
	snprintf(nid, sizeof(nid), "%s", queue_writer_id(n));
	assert_int_equal(queue_writer_commit(n, &err), 0);
	queue_writer_free(&n);

	struct queue_envelope *nenv, *oenv;
	assert_int_equal(queue_envelope_load(dir, nid, &nenv, &err), QUEUE_LOAD_OK);
	struct queue_report *r;
	size_t nr;
	assert_int_equal(queue_envelope_reports(nenv, &r, &nr, &err), 0);
	assert_true(nr >= 4); /* the failures in two attributes at least, then w, then o */
	size_t nf = 0;
	for (size_t i = 0; i < nr; i++) {
		assert_string_equal(r[i].origin, oid);
		for (size_t k = 0; r[i].key == 'f' && k < r[i].count; k++)
			assert_int_equal(r[i].idx[k], all[nf++]);
	}
	assert_int_equal(nf, 1501);
	assert_int_equal(r[nr - 2].key, 'w');
	assert_int_equal(r[nr - 2].count, 2);
	assert_int_equal(r[nr - 1].key, 'o');
	assert_int_equal(r[nr - 1].count, 1);
	assert_int_equal(r[nr - 1].idx[0], 4);

	assert_int_equal(queue_envelope_load(dir, oid, &oenv, &err), QUEUE_LOAD_OK);
	buf_reset(&recs);
	/* A report about another message adds nothing to this one. */
	struct queue_report other = r[0];
	snprintf(other.origin, sizeof(other.origin), "%s", nid);
	assert_int_equal(queue_report_missing(oenv, &other, nid, &recs), 0);
	assert_int_equal(recs.len, 0);
	size_t added = 0;
	for (size_t i = 0; i < nr; i++)
		added += queue_report_missing(oenv, &r[i], nid, &recs);
	/* f for 2..1499 (0 delivered, 1 failed, 999999 not a recipient), w for 3 (2 was
	 * warned), o for 4. */
	assert_int_equal(added, 1498 + 1 + 1);
	char *want = x_asprintf("f 2 %lld 5.0.0 failed, reported to the sender by %s\n",
				(long long)time(NULL), nid);
	if (strstr(buf_cstr(&recs), want) == NULL) /* the clock may have ticked meanwhile */
		assert_non_null(strstr(buf_cstr(&recs), "5.0.0 failed, reported to the sender by"));
	x_free(&want);
	assert_int_equal(queue_append_records(dir, oid, &recs, &err), 0);
	queue_envelope_free(&oenv);
	assert_int_equal(queue_envelope_load(dir, oid, &oenv, &err), QUEUE_LOAD_OK);
	assert_int_equal(oenv->rcpts[0].state, QUEUE_RCPT_DELIVERED);
	assert_int_equal(oenv->rcpts[2].state, QUEUE_RCPT_FAILED);
	assert_int_equal(oenv->rcpts[3].state, QUEUE_RCPT_FAILED);
	assert_true(oenv->rcpts[3].warned);
	assert_int_equal(oenv->rcpts[1499].state, QUEUE_RCPT_FAILED);
	assert_true(queue_envelope_done(oenv));
	buf_reset(&recs);
	for (size_t i = 0; i < nr; i++)
		assert_int_equal(queue_report_missing(oenv, &r[i], nid, &recs), 0);
	assert_int_equal(recs.len, 0);
	queue_reports_free(&r, nr);
	queue_envelope_free(&oenv);
	queue_envelope_free(&nenv);

	/* Malformed attributes: refused whole, with the reason. */
	static const char *const bad[] = {
	    "dsn_of %s f", "dsn_of %s f ", "dsn_of %s x 1", "dsn_of %s f 1,", "dsn_of %s f ,1",
	    "dsn_of %s f 1;2", "dsn_of %s f -1", "dsn_of %s f 1000000", "dsn_of %s ff 1",
	    "dsn_of ../etc/passwd f 1", "dsn_of %s", "dsn_of %s f 99999999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *attr = x_asprintf(bad[i], oid);
		const char *id = "0123456789ABCDEFGHI";
		char *text = x_asprintf("V 2\nI %s\nT 1\nZ 0\nF \nR a@b\ta@b\nA ok 1\nA %s\nE\n",
					id, attr);
		struct queue_envelope *env = queue_envelope_parse(id, text, strlen(text), &err);
		assert_non_null(env); /* the envelope itself is fine */
		buf_reset(&err);
		r = (struct queue_report *)1;
		assert_int_equal(queue_envelope_reports(env, &r, &nr, &err), -1);
		assert_null(r);
		assert_int_equal(nr, 0);
		assert_non_null(strstr(buf_cstr(&err), "bad attribute dsn_of"));
		queue_envelope_free(&env);
		x_free(&text);
		x_free(&attr);
	}
	buf_free(&recs);
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

/* A record seen without its LF while another process appends it is not cut: the cut
 * of a torn record is made under the appenders' lock, and only when the file still
 * ends without its LF (a crash's leftover). */
static void test_torn_cut_under_lock(void **state)
{
	char *dir = test_dir();
	struct buf err = BUF_INIT, recs = BUF_INIT;
	char id[QUEUE_ID_MAX];
	queue_one(dir, "x\n", id);
	char *path = x_asprintf("%s/env/%s", dir, id);
	/* An appender holds the lock and has written half its record. */
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(write(fd, "f 1 1234 5.1.", 13), 13);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A reader meanwhile: it sees the half record and waits for the lock (the
		 * parent's, not this copy of its descriptor). */
		close(fd);
		struct queue_envelope *env;
		_exit(queue_envelope_load(dir, id, &env, &err) == QUEUE_LOAD_OK ? 0 : 1);
	}
	usleep(100000);
	assert_int_equal(write(fd, "1 no such user\n", 15), 15);
	close(fd); /* the lock goes with it */
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct queue_envelope *env;
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_int_equal(env->rcpts[1].state, QUEUE_RCPT_FAILED); /* whole, not cut */
	queue_envelope_free(&env);
	/* A real leftover (nobody holds the lock) is cut. */
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "h 1", 3), 3);
	close(fd);
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_false(env->held);
	queue_envelope_free(&env);
	size_t flen;
	char *file = read_file_small(path, 1 << 20, &flen);
	assert_memory_equal(file + flen - 15, "1 no such user\n", 15);
	x_free(&file);
	queue_rec_hold(&recs, true);
	assert_int_equal(queue_append_records(dir, id, &recs, &err), 0);
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_true(env->held);
	queue_envelope_free(&env);
	x_free(&path);
	buf_free(&recs);
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

static void expect_damaged(const char *text, const char *reason)
{
	struct buf err = BUF_INIT;
	const char *id = "0123456789ABCDEFGHI";
	struct queue_envelope *env = queue_envelope_parse(id, text, strlen(text), &err);
	assert_null(env);
	if (strstr(buf_cstr(&err), reason) == NULL)
		fail_msg("'%s' does not contain '%s'", buf_cstr(&err), reason);
	buf_free(&err);
}

/* A "Key:   N kB" line of /proc/self/status, in KB (-1 when missing). */
static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f != NULL && kb < 0 && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0)
			kb = strtol(line + strlen(key), NULL, 10);
	if (f != NULL)
		fclose(f);
	return kb;
}

static void test_damaged(void **state)
{
	const char *id = "0123456789ABCDEFGHI";
	const char *good = "V 1\nI 0123456789ABCDEFGHI\nT 5\nZ 10\nF a@b\nR c@d\tc@d\nE\n";
	struct buf err = BUF_INIT;
	struct queue_envelope *env = queue_envelope_parse(id, good, strlen(good), &err);
	assert_non_null(env);
	queue_envelope_free(&env);
	buf_free(&err);

	expect_damaged("", "no end record");
	expect_damaged("V 3\nI 0123456789ABCDEFGHI\n", "unsupported version 3");
	expect_damaged("V 1\nI 0123456789ABCDEFGHJ\nT 5\nZ 1\nF \nR c\tc\nE\n", "line 2");
	expect_damaged("V 1\nI 0123456789ABCDEFGHI\nT 5\nZ 1\nF \nR c\tc\n", "no end record");
	expect_damaged("V 1\nI 0123456789ABCDEFGHI\nT 5\nZ 1\nF \nR c\tc\nE", "truncated");
	expect_damaged("V 1\nI 0123456789ABCDEFGHI\nT 5\nZ 1\nF \nE\n", "line 6");
	expect_damaged("V 1\nI 0123456789ABCDEFGHI\nT x\nZ 1\nF \nR c\tc\nE\n", "line 3");
	expect_damaged("V 1\nI 0123456789ABCDEFGHI\nT 5\nZ 1\nF \nR c\tc\nE\no 1 5 x\n",
		       "line 8");
	expect_damaged("V 1\nI 0123456789ABCDEFGHI\nT 5\nZ 1\nF \nR c\tc\nE\nq 0\n", "line 8");
	expect_damaged("V 1\nI 0123456789ABCDEFGHI\nT 5\nZ 1\nF \nR c\tc\nE\nE\n", "line 8");
	expect_damaged("V 1\nI 0123456789ABCDEFGHI\nT 5\nZ 1\nF \nR c\x00\tc\nE\n", "line 6");

	/* Damaged files are moved to corrupt/, data included. */
	char *dir = test_dir();
	struct queue_writer *w = make_message(dir, "x\n");
	char eid[QUEUE_ID_MAX];
	snprintf(eid, sizeof(eid), "%s", queue_writer_id(w));
	assert_int_equal(queue_writer_commit(w, &err), 0);
	queue_writer_free(&w);
	char *path = x_asprintf("%s/env/%s", dir, eid);
	int fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "V 1\ngarbage\n", 12), 12);
	close(fd);
	assert_int_equal(queue_envelope_load(dir, eid, &env, &err), QUEUE_LOAD_DAMAGED);
	assert_int_equal(queue_move_corrupt(dir, eid, &err), 0);
	x_free(&path);
	/* Format 2: one file, which holds the data and the envelope. */
	assert_false(path_exists(dir, "corrupt", eid));
	path = x_asprintf("%s.env", eid);
	assert_true(path_exists(dir, "corrupt", path));
	x_free(&path);
	assert_false(path_exists(dir, "env", eid));

	/* Format 2 whose Z does not say where the envelope starts: damaged. */
	w = make_message(dir, "abc\n");
	snprintf(eid, sizeof(eid), "%s", queue_writer_id(w));
	assert_int_equal(queue_writer_commit(w, &err), 0);
	queue_writer_free(&w);
	path = x_asprintf("%s/env/%s", dir, eid);
	size_t flen;
	char *file = read_file_small(path, 1 << 20, &flen);
	char *z = strstr(file, "\nZ 4\n");
	assert_non_null(z);
	z[3] = '5';
	fd = open(path, O_WRONLY);
	assert_int_equal(write(fd, file, flen), (ssize_t)flen);
	close(fd);
	buf_reset(&err);
	assert_int_equal(queue_envelope_load(dir, eid, &env, &err), QUEUE_LOAD_DAMAGED);
	assert_non_null(strstr(buf_cstr(&err), "Z says 5"));
	/* No envelope at all (cut off): damaged, never taken for format 1. */
	assert_int_equal(truncate(path, 4), 0);
	assert_int_equal(queue_envelope_load(dir, eid, &env, &err), QUEUE_LOAD_DAMAGED);
	/* A large file with no envelope (sparse: 100 MB of NULs): damaged, and the search from
	   the end stops at the largest envelope there can be (it read 64 MB before; 17 MB now,
	   44 MB under ASan, whose quarantine keeps the smaller windows). In a
	   child, whose peak resident size (VmHWM) starts at what it shares with this process. */
	assert_int_equal(truncate(path, 100 << 20), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		long rss0 = status_kb("VmRSS:");
		buf_reset(&err);
		enum queue_load r = queue_envelope_load(dir, eid, &env, &err);
		long grown = status_kb("VmHWM:") - rss0;
		int code = 0;
		if (rss0 < 0 || r != QUEUE_LOAD_DAMAGED)
			code = 2;
		else if (strstr(buf_cstr(&err), strerror(EFBIG)) == NULL)
			code = 3;
		else if (grown > 56 * 1024)
			code = 4;
		_exit(code);
	}
	int wst = 0;
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFEXITED(wst));
	assert_int_equal(WEXITSTATUS(wst), 0);
	x_free(&file);
	x_free(&path);
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

static void test_abort_and_cleanup(void **state)
{
	char *dir = test_dir();
	struct buf err = BUF_INIT;
	struct queue_writer *w = make_message(dir, "x\n");
	/* the data goes straight into msg/ (no envelope yet: not queued) */
	char *tmp = x_asprintf("%s/msg/%s", dir, queue_writer_id(w));
	assert_int_equal(access(tmp, F_OK), 0);
	queue_writer_abort(&w);
	assert_null(w);
	assert_true(access(tmp, F_OK) < 0);
	x_free(&tmp);

	/* A data file in msg/ without an envelope: left by a crash before the ack. */
	w = make_message(dir, "y\n");
	char id[QUEUE_ID_MAX];
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	assert_int_equal(queue_writer_commit(w, &err), 0);
	queue_writer_free(&w);
	w = make_message(dir, "z\n"); /* in progress: must stay */
	char *orphan = x_asprintf("%s/msg/ORPHAN", dir);
	int fd = open(orphan, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(queue_cleanup(dir, 3600), 0); /* too young */
	assert_int_equal(queue_cleanup(dir, 0), 2);    /* the orphan and the open one's data */
	assert_true(access(orphan, F_OK) < 0);
	char data[8];
	assert_int_equal(read_data(dir, id, data, sizeof(data)), 2);
	assert_memory_equal(data, "y\n", 2);
	queue_writer_abort(&w);
	x_free(&orphan);
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

struct commit_state {
	int done;
	int ok;
	struct event_base *base;
};

static void commit_done(void *arg, bool ok, const char *err)
{
	struct commit_state *cs = arg;
	cs->done++;
	cs->ok += ok;
	if (cs->done == 20)
		event_base_loopbreak(cs->base);
}

static void test_group_commit(void **state)
{
	char *dir = test_dir();
	struct commit_state cs = {.base = event_base_new()};
	struct queue_committer *qc = queue_committer_new(cs.base);
	struct queue_writer *ws[20];
	for (int i = 0; i < 20; i++) {
		ws[i] = make_message(dir, "group\n");
		queue_commit_async(qc, ws[i], commit_done, &cs);
	}
	event_base_dispatch(cs.base);
	assert_int_equal(cs.done, 20);
	assert_int_equal(cs.ok, 20);
	for (int i = 0; i < 20; i++)
		queue_writer_free(&ws[i]);
	char **ids;
	size_t n;
	struct buf err = BUF_INIT;
	assert_int_equal(queue_list(dir, &ids, &n, &err), 0);
	assert_int_equal(n, 20);
	/* The oldest few, in order, whatever the directory order; and the total. */
	char **first;
	size_t nf, total;
	for (size_t max = 0; max <= 21; max += 3) {
		assert_int_equal(queue_list_oldest(dir, max, &first, &nf, &total, &err), 0);
		assert_int_equal(total, 20);
		assert_int_equal(nf, max < 20 ? max : 20);
		for (size_t i = 0; i < nf; i++)
			assert_string_equal(first[i], ids[i]);
		queue_list_free(&first, nf);
	}
	queue_list_free(&ids, n);
	/* Pending work is finished when the committer is freed. */
	struct queue_writer *w = make_message(dir, "last\n");
	cs.done = 0;
	queue_commit_async(qc, w, commit_done, &cs);
	queue_committer_free(&qc);
	assert_int_equal(cs.done, 1);
	queue_writer_free(&w);
	event_base_free(cs.base);
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

/* Files in dir/sub (not . and ..). */
static int count_files(const char *dir, const char *sub)
{
	char *p = x_asprintf("%s/%s", dir, sub);
	DIR *d = opendir(p);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	x_free(&p);
	return n;
}

static ino_t inode_of(const char *dir, const char *sub, const char *name)
{
	char *p = x_asprintf("%s/%s/%s", dir, sub, name);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	x_free(&p);
	return st.st_ino;
}

/* Commits a message with body and nrcpt recipients; its ID into id. */
static void commit_message(const char *dir, const char *body, size_t len, int nrcpt,
			   char id[QUEUE_ID_MAX])
{
	struct buf err = BUF_INIT;
	struct queue_writer *w = queue_writer_open(dir, &err);
	assert_non_null(w);
	assert_int_equal(queue_writer_write(w, body, len), 0);
	queue_writer_set_sender(w, "sender@example.org");
	for (int i = 0; i < nrcpt; i++) {
		char *r = x_asprintf("rcpt%d-with-a-long-local-part@example.test", i);
		queue_writer_add_rcpt(w, r, NULL);
		x_free(&r);
	}
	snprintf(id, QUEUE_ID_MAX, "%s", queue_writer_id(w));
	assert_int_equal(queue_writer_commit(w, &err), 0);
	queue_writer_free(&w);
	buf_free(&err);
}

/* Loads id and removes it through the recycler, as the manager does. */
static int remove_loaded(const char *dir, struct queue_recycler *r, const char *id)
{
	struct buf err = BUF_INIT;
	struct queue_envelope *env;
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	int ret = queue_remove_recycle(dir, r, env, &err);
	queue_envelope_free(&env);
	buf_free(&err);
	return ret;
}

/* The pool's readers read free/ again at most every 10 ms (queue-recycle.c). */
static void after_pool_interval(void)
{
	usleep(20 * 1000);
}

static void test_recycle_reuse(void **state)
{
	char *dir = test_dir();
	struct buf err = BUF_INIT;
	assert_int_equal(queue_dirs_create(dir, &err), 0);
	struct queue_recycler *r = queue_recycler_new(dir, 8, 1024 * 1024, false);
	/* A long message with a long envelope, delivered and recycled. */
	size_t long_len = 200 * 1024;
	char *big = x_malloc(long_len);
	for (size_t i = 0; i < long_len; i++)
		big[i] = i % 64 == 63 ? '\n' : (char)('A' + i % 26);
	char old_id[QUEUE_ID_MAX], id[QUEUE_ID_MAX];
	commit_message(dir, big, long_len, 40, old_id);
	ino_t old_ino = inode_of(dir, "env", old_id);
	assert_int_equal(remove_loaded(dir, r, old_id), 0);
	assert_int_equal(count_files(dir, "free"), 1);
	assert_int_equal(count_files(dir, "env") + count_files(dir, "msg"), 0);

	/* A short one takes the file and reads back exactly, envelope and data (the
	 * old message's bytes after them are cut off). */
	after_pool_interval();
	const char *body = "Subject: short\n\nshort\n";
	commit_message(dir, body, strlen(body), 1, id);
	assert_int_equal(count_files(dir, "free"), 0);
	assert_true(inode_of(dir, "env", id) == old_ino);
	struct queue_envelope *env;
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_int_equal(env->rcpt_count, 1);
	assert_int_equal(env->size, strlen(body));
	queue_envelope_free(&env);
	char data[256];
	assert_int_equal(read_data(dir, id, data, sizeof(data)), strlen(body));
	assert_memory_equal(data, body, strlen(body));
	char *path = x_asprintf("%s/env/%s", dir, id);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size < 300);
	x_free(&path);
	/* A state record still goes at the end of the (cut) envelope. */
	struct buf recs = BUF_INIT;
	queue_rec_hold(&recs, true);
	assert_int_equal(queue_append_records(dir, id, &recs, &err), 0);
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_true(env->held);
	queue_envelope_free(&env);
	/* The old message's name is gone for good: no record lands in its old file. */
	assert_int_equal(queue_append_records(dir, old_id, &recs, &err), -1);
	assert_int_equal(errno, ENOENT);
	buf_free(&recs);
	queue_recycler_free(&r);
	x_free(&big);
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

static void test_recycle_bound(void **state)
{
	char *dir = test_dir();
	struct buf err = BUF_INIT;
	assert_int_equal(queue_dirs_create(dir, &err), 0);
	struct queue_recycler *r = queue_recycler_new(dir, 3, 100, false);
	char ids[5][QUEUE_ID_MAX];
	for (int i = 0; i < 5; i++)
		commit_message(dir, "x\n", 2, 1, ids[i]);
	/* Five messages, five files: three go to the pool, the others are unlinked. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(remove_loaded(dir, r, ids[i]), 0);
	assert_int_equal(count_files(dir, "free"), 3);
	assert_int_equal(count_files(dir, "env") + count_files(dir, "msg"), 0);

	/* A lower bound on reload trims the pool; a data file over max_size is unlinked
	 * even with room for it. */
	queue_recycler_set(r, 2, 100);
	assert_int_equal(count_files(dir, "free"), 2);
	queue_recycler_set(r, 10, 100);
	char big_id[QUEUE_ID_MAX];
	char big[101];
	memset(big, 'b', sizeof(big));
	after_pool_interval();
	commit_message(dir, big, sizeof(big), 1, big_id); /* takes one pool file */
	assert_int_equal(count_files(dir, "free"), 1);
	assert_int_equal(remove_loaded(dir, r, big_id), 0);
	assert_int_equal(count_files(dir, "free"), 1); /* too large: unlinked */
	assert_int_equal(count_files(dir, "env"), 0);
	queue_recycler_free(&r);

	/* 0: no recycling; a start after an unclean stop empties the pool. */
	r = queue_recycler_new(dir, 0, 100, false);
	assert_int_equal(count_files(dir, "free"), 0);
	char id[QUEUE_ID_MAX];
	commit_message(dir, "y\n", 2, 1, id);
	assert_int_equal(remove_loaded(dir, r, id), 0);
	assert_int_equal(count_files(dir, "free"), 0);
	queue_recycler_free(&r);
	r = queue_recycler_new(dir, 10, 100, false);
	commit_message(dir, "z\n", 2, 1, id);
	assert_int_equal(remove_loaded(dir, r, id), 0);
	commit_message(dir, "z\n", 2, 1, id);
	assert_int_equal(remove_loaded(dir, r, id), 0);
	assert_int_equal(count_files(dir, "free"), 2);
	queue_recycler_free(&r);
	r = queue_recycler_new(dir, 10, 100, true);
	assert_int_equal(count_files(dir, "free"), 0);
	queue_recycler_free(&r);
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

/* A pool file that is locked (a state record being appended through a descriptor
 * opened before the envelope was recycled), or is not a plain file with one link, is
 * not taken: it is unlinked and a new file is made. */
static void test_recycle_refused(void **state)
{
	char *dir = test_dir();
	struct buf err = BUF_INIT;
	assert_int_equal(queue_dirs_create(dir, &err), 0);
	char *locked = x_asprintf("%s/free/LOCKED.e", dir);
	char *linked = x_asprintf("%s/free/LINKED.d", dir);
	char *other = x_asprintf("%s/corrupt/OTHER", dir);
	int lfd = open(locked, O_WRONLY | O_CREAT, 0600);
	assert_true(lfd >= 0);
	assert_int_equal(write(lfd, "old\n", 4), 4);
	assert_int_equal(flock(lfd, LOCK_EX), 0);
	int fd = open(linked, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(link(linked, other), 0);
	struct stat lst, ost;
	assert_int_equal(fstat(lfd, &lst), 0);
	assert_int_equal(stat(other, &ost), 0);

	char id[QUEUE_ID_MAX];
	commit_message(dir, "new\n", 4, 1, id);
	assert_int_equal(count_files(dir, "free"), 0);
	ino_t got = inode_of(dir, "env", id);
	assert_true(got != lst.st_ino && got != ost.st_ino);
	/* The second name of the linked file was left alone, and so were the locked
	 * file's bytes. */
	assert_int_equal(stat(other, &ost), 0);
	assert_int_equal(ost.st_nlink, 1);
	assert_int_equal(fstat(lfd, &lst), 0);
	assert_int_equal(lst.st_size, 4);
	close(lfd);
	x_free(&locked);
	x_free(&linked);
	x_free(&other);
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

/* A writer takes a pool file of its own kind when there is one: the data file an old
 * data file (free/ID.d), the envelope an old envelope (free/ID.e), whatever the order
 * of the names in the folder; with none of its kind left, any. */
/* Format 2 writers take data files ('d') first, then what is left of format 1
 * envelopes ('e'): every pool file is used. */
static void test_recycle_kind(void **state)
{
	char *dir = test_dir();
	struct buf err = BUF_INIT;
	assert_int_equal(queue_dirs_create(dir, &err), 0);
	enum { PAIRS = 4 };
	ino_t env_ino[PAIRS], data_ino[PAIRS];
	for (int i = 0; i < PAIRS; i++)
		for (int k = 0; k < 2; k++) {
			char *p = x_asprintf("%s/free/P%d.%c", dir, i, k ? 'd' : 'e');
			int fd = open(p, O_WRONLY | O_CREAT, 0600);
			assert_true(fd >= 0);
			struct stat st;
			assert_int_equal(fstat(fd, &st), 0);
			(k ? data_ino : env_ino)[i] = st.st_ino;
			close(fd);
			x_free(&p);
		}
	after_pool_interval();
	for (int m = 0; m < 2 * PAIRS; m++) {
		char id[QUEUE_ID_MAX];
		commit_message(dir, "kind\n", 5, 1, id);
		ino_t e = inode_of(dir, "env", id);
		bool ok = false;
		for (int i = 0; i < PAIRS; i++)
			ok = ok || e == (m < PAIRS ? data_ino : env_ino)[i];
		assert_true(ok);
	}
	assert_int_equal(count_files(dir, "free"), 0);
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

/* Writes a format 1 message by hand (doc/queue-format.md, version 1): data in msg/ID,
 * envelope "V 1" in env/ID. */
static void write_format1(const char *dir, const char *id, const char *body)
{
	char *msg = x_asprintf("%s/msg/%s", dir, id), *env = x_asprintf("%s/env/%s", dir, id);
	int fd = open(msg, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
	close(fd);
	char *text = x_asprintf("V 1\nI %s\nT %lld\nZ %zu\nF old@example.org\n"
				"R alice@example.test\talice@example.test\nA helo old\nE\n",
				id, (long long)queue_id_time(id), strlen(body));
	fd = open(env, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	x_free(&text);
	x_free(&msg);
	x_free(&env);
}

/* A queue written by the previous version is read, held, released, listed and removed
 * (both its files, recycled) beside format 2 messages. */
static void test_format1(void **state)
{
	char *dir = test_dir();
	struct buf err = BUF_INIT, recs = BUF_INIT;
	assert_int_equal(queue_dirs_create(dir, &err), 0);
	char id[QUEUE_ID_MAX], id2[QUEUE_ID_MAX];
	queue_id_new(id);
	write_format1(dir, id, "Subject: old\n\nV 2\nold body\n");
	commit_message(dir, "new\n", 4, 1, id2);
	char **ids;
	size_t n;
	assert_int_equal(queue_list(dir, &ids, &n, &err), 0);
	assert_int_equal(n, 2);
	queue_list_free(&ids, n);

	struct queue_envelope *env;
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_int_equal(env->version, 1);
	assert_int_equal(env->size, 27);
	assert_string_equal(env->sender, "old@example.org");
	queue_envelope_free(&env);
	char data[64];
	assert_int_equal(read_data(dir, id, data, sizeof(data)), 27);
	assert_memory_equal(data, "Subject: old\n\nV 2\nold body\n", 27);
	queue_rec_hold(&recs, true);
	assert_int_equal(queue_append_records(dir, id, &recs, &err), 0);
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_true(env->held);
	assert_int_equal(env->version, 1);
	queue_envelope_free(&env);

	struct queue_recycler *r = queue_recycler_new(dir, 8, 1024 * 1024, false);
	assert_int_equal(remove_loaded(dir, r, id), 0);
	assert_false(path_exists(dir, "env", id) || path_exists(dir, "msg", id));
	assert_int_equal(count_files(dir, "free"), 2);
	assert_int_equal(remove_loaded(dir, r, id2), 0);
	assert_int_equal(count_files(dir, "free"), 3);
	/* queue_remove (tern queue delete) takes both names of format 1. */
	queue_id_new(id);
	write_format1(dir, id, "x\n");
	assert_int_equal(queue_remove(dir, id, &err), 0);
	assert_false(path_exists(dir, "env", id) || path_exists(dir, "msg", id));
	queue_recycler_free(&r);
	buf_free(&recs);
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

/* Format 2: the envelope is the last "V 2 / I ID" in the file, whatever the data holds
 * (here a fake envelope of the same ID); a torn state record at the end is ignored and
 * cut off; a tail of state records longer than the first read is found. */
static void test_format2_tail(void **state)
{
	char *dir = test_dir();
	struct buf err = BUF_INIT, recs = BUF_INIT, body = BUF_INIT;
	struct queue_writer *w = queue_writer_open(dir, &err);
	assert_non_null(w);
	char id[QUEUE_ID_MAX];
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	buf_printf(&body, "Subject: tricky\n\nV 2\nI %s\nT 1\nZ 0\nF evil@x\nR x@y\tx@y\nE\nh 1\n"
			  "no LF at the end", id);
	assert_int_equal(queue_writer_write(w, body.data, body.len), 0);
	queue_writer_set_sender(w, "good@example.org");
	queue_writer_add_rcpt(w, "alice@example.test", NULL);
	assert_int_equal(queue_writer_commit(w, &err), 0);
	queue_writer_free(&w);
	struct queue_envelope *env;
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_string_equal(env->sender, "good@example.org");
	assert_int_equal(env->size, body.len);
	assert_false(env->held);
	queue_envelope_free(&env);
	char data[512];
	assert_int_equal(read_data(dir, id, data, sizeof(data)), body.len);
	assert_memory_equal(data, body.data, body.len);

	char *path = x_asprintf("%s/env/%s", dir, id);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	off_t whole = st.st_size;
	buf_append_str(&recs, "d 0 5 4.4.1 down\nh 1\nf 0 6 5.1.");
	assert_int_equal(queue_append_records(dir, id, &recs, &err), 0);
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_true(env->held);
	assert_int_equal(env->rcpts[0].state, QUEUE_RCPT_PENDING);
	assert_string_equal(env->rcpts[0].last_error, "4.4.1 down");
	queue_envelope_free(&env);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, whole + 21); /* the torn record is gone */

	/* 2000 deferrals (about 40 KB of records) after the envelope. */
	buf_reset(&recs);
	for (int i = 0; i < 2000; i++)
		buf_printf(&recs, "d 0 %d 4.4.1 connection refused by the host\n", i);
	assert_int_equal(queue_append_records(dir, id, &recs, &err), 0);
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	assert_int_equal(env->rcpts[0].changed, 1999);
	assert_int_equal(env->size, body.len);
	queue_envelope_free(&env);
	x_free(&path);
	buf_free(&body);
	buf_free(&recs);
	buf_free(&err);
	rm_rf(dir);
	x_free(&dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_write_read),
		cmocka_unit_test(test_write_pieces),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_reports),
		cmocka_unit_test(test_torn_cut_under_lock),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_abort_and_cleanup),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_recycle_reuse),
		cmocka_unit_test(test_recycle_bound),
		cmocka_unit_test(test_recycle_refused),
		cmocka_unit_test(test_recycle_kind),
		cmocka_unit_test(test_format1),
		cmocka_unit_test(test_format2_tail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
