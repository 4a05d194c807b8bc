/* Unit tests for the delivery methods: mboxrd quoting (against a line-by-line reference,
 * across the writer's buffer boundaries and the memory/file seam), the final empty line,
 * raw writes, stale dotlocks, MH numbering, and exactly-once Maildir names. */
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
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "deliver-int.h"
#include "mbox-split.h"
#include "util.h"
#include "xalloc.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test-deliver-mbox-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char *cmd = x_asprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	x_free(&cmd);
	return 0;
}

/* The reference: every line matching >*From gets one more '>'. */
static void quote_ref(const char *in, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n) {
		const char *nl = memchr(in + i, '\n', n - i);
		size_t len = nl != NULL ? (size_t)(nl - (in + i)) + 1 : n - i;
		size_t k = 0;
		while (k < len && in[i + k] == '>')
			k++;
		if (len - k >= 5 && memcmp(in + i + k, "From ", 5) == 0)
			buf_append_char(out, '>');
		buf_append(out, in + i, len);
		i += len;
	}
}

/* Appends text (split: the first mem_len bytes from memory, the rest from a file). */
static char *append_split(const char *text, size_t len, size_t mem_len, bool raw, size_t *out_len)
{
	char *file = x_asprintf("%s/src", dir), *box = x_asprintf("%s/box", dir);
	unlink(box);
	int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_full(fd, text + mem_len, len - mem_len), 0);
	struct deliver_src src = {
	    .mem = text, .mem_len = mem_len, .fd = fd, .fd_len = len - mem_len};
	struct delivery_result res;
	uint64_t off = 1;
	assert_int_equal(deliver_mbox_append(box, true, "From a@b  Thu Nov 26 07:00:00 2026", &src,
					     raw, 077, &off, &res),
			 0);
	assert_int_equal(off, 0);
	close(fd);
	char *data = read_file_small(box, 1 << 24, out_len);
	assert_non_null(data);
	x_free(&file);
	x_free(&box);
	return data;
}

static void check_quoting(const char *text, size_t len)
{
	static const char head[] = "From a@b  Thu Nov 26 07:00:00 2026\n";
	struct buf want = BUF_INIT;
	buf_append_str(&want, head);
	quote_ref(text, len, &want);
	if (want.len == 0 || want.data[want.len - 1] != '\n')
		buf_append_char(&want, '\n');
	buf_append_char(&want, '\n');
	size_t seams[] = {0, len / 2, len > 3 ? 3 : 0, len};
	for (size_t i = 0; i < 4; i++) {
		size_t n;
		char *got = append_split(text, len, seams[i], false, &n);
		assert_int_equal(n, want.len);
		assert_memory_equal(got, want.data, n);
		x_free(&got);
	}
	buf_free(&want);
}

static void test_mboxrd_quoting(void **state)
{
	static const char t[] = "Subject: x\n\nFrom a\n>From b\n>>From c\nFromage\n>Fro\n"
				" From d\n>\n\nFrom ";
	check_quoting(t, strlen(t));
	check_quoting("From", 4);
	check_quoting("x\n", 2);
}

static void test_mboxrd_buffer_boundaries(void **state)
{
	/* ">From " lines laid across the 64 KiB boundaries of the writer and the reader */
	size_t len = 3 * 65536 + 100;
	char *t = x_malloc(len);
	memset(t, 'a', len);
	size_t marks[] = {65530, 65533, 65535, 131069, 131072, 196600};
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		t[marks[i] - 1] = '\n';
		memcpy(t + marks[i], ">>From ", 7);
	}
	t[len - 1] = '\n';
	check_quoting(t, len);
	x_free(&t);
}

static void test_raw_and_append(void **state)
{
	size_t n;
	char *got = append_split("From x\nno newline", 17, 5, true, &n);
	assert_string_equal(got, "From a@b  Thu Nov 26 07:00:00 2026\nFrom x\nno newline");
	x_free(&got);
	/* a second message goes after the first; its offset is the old size */
	char *box = x_asprintf("%s/box", dir);
	struct deliver_src src = {.mem = "b\n", .mem_len = 2, .fd = -1};
	struct delivery_result res;
	uint64_t off = 0;
	assert_int_equal(
	    deliver_mbox_append(box, true, "From c@d  x", &src, false, 077, &off, &res), 0);
	assert_int_equal(off, n);
	struct stat st;
	assert_int_equal(stat(box, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	x_free(&box);
}

static void test_stale_dotlock(void **state)
{
	char *lock = x_asprintf("%s/box.lock", dir);
	int fd = open(lock, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	struct utimbuf old = {.actime = time(NULL) - 600, .modtime = time(NULL) - 600};
	assert_int_equal(utime(lock, &old), 0);
	assert_int_equal(deliver_dotlock(lock), 0); /* the stale one was removed */
	struct stat st;
	assert_int_equal(stat(lock, &st), 0);
	assert_true(st.st_mtime > time(NULL) - 60);
	deliver_dotunlock(lock);
	assert_int_equal(stat(lock, &st), -1);
	x_free(&lock);
}

static void test_mh_numbers(void **state)
{
	char *mh = x_asprintf("%s/mh", dir);
	assert_int_equal(mkdir(mh, 0700), 0);
	static const char *const existing[] = {"5", "12x", ".mh_sequences", "3"};
	for (size_t i = 0; i < 4; i++) {
		char *p = x_asprintf("%s/%s", mh, existing[i]);
		close(open(p, O_WRONLY | O_CREAT, 0600));
		x_free(&p);
	}
	struct deliver_src src = {.mem = "Subject: x\n\nb\n", .mem_len = 14, .fd = -1};
	struct delivery_result res;
	struct buf path = BUF_INIT;
	assert_int_equal(deliver_dir_put(mh, true, &src, 077, &path, &res), 0);
	char *want = x_asprintf("%s/6", mh);
	assert_string_equal(buf_cstr(&path), want);
	x_free(&want);
	buf_free(&path);
	x_free(&mh);
}

static size_t count_files(const char *path)
{
	DIR *d = opendir(path);
	size_t n = 0;
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n;
}

static void test_maildir_exactly_once(void **state)
{
	char *md = x_asprintf("%s/md", dir), *new_dir = x_asprintf("%s/md/new", dir);
	struct deliver_src src = {.mem = "Subject: x\n\nb\n", .mem_len = 14, .fd = -1};
	struct delivery_result res;
	assert_int_equal(deliver_maildir_put(md, "1.Q_0-1.h", false, "h", &src, NULL, &res), 0);
	assert_string_equal(res.text, "delivered");
	assert_int_equal(deliver_maildir_put(md, "1.Q_0-1.h", false, "h", &src, NULL, &res), 0);
	assert_string_equal(res.text, "delivered before");
	/* read by a client: in cur/ with an info; a recheck finds it there */
	char *a = x_asprintf("%s/new/1.Q_0-1.h,S=14", md),
	     *b = x_asprintf("%s/cur/1.Q_0-1.h,S=14:2,S", md);
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(deliver_maildir_put(md, "1.Q_0-1.h", true, "h", &src, NULL, &res), 0);
	assert_string_equal(res.text, "delivered before");
	assert_int_equal(count_files(new_dir), 0);
	/* fresh names never collide */
	assert_int_equal(deliver_maildir_put(md, NULL, false, "h", &src, NULL, &res), 0);
	assert_int_equal(deliver_maildir_put(md, NULL, false, "h", &src, NULL, &res), 0);
	assert_int_equal(count_files(new_dir), 2);
	x_free(&a);
	x_free(&b);
	x_free(&md);
	x_free(&new_dir);
}

/* Splits in with feeds of `chunk` bytes; each message as "[FROM_LINE]" + its bytes + "|". */
static char *split_all(const char *in, size_t chunk)
{
	struct mbox_split s;
	mbox_split_init(&s);
	struct buf res = BUF_INIT, out = BUF_INIT, from = BUF_INIT;
	size_t len = strlen(in), pos = 0;
	bool open = false, next;
	while (pos < len) {
		size_t n = len - pos < chunk ? len - pos : chunk;
		size_t used = mbox_split_feed(&s, in + pos, n, &out, &from, &next);
		assert_true(used > 0 && used <= n);
		pos += used;
		if (out.len > 0 && !open) {
			buf_append_str(&res, "[]");
			open = true;
		}
		buf_append(&res, out.data, out.len);
		buf_reset(&out);
		if (next) {
			if (open)
				buf_append_char(&res, '|');
			buf_printf(&res, "[%s]", buf_cstr(&from));
			open = true;
		}
	}
	next = mbox_split_end(&s, &out);
	if (out.len > 0 && !open) {
		buf_append_str(&res, "[]");
		open = true;
	}
	buf_append(&res, out.data, out.len);
	if (open)
		buf_append_char(&res, '|');
	if (next)
		buf_printf(&res, "[%s]|", buf_cstr(&from));
	buf_free(&out);
	buf_free(&from);
	return buf_steal(&res);
}

static void test_mbox_split(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
	    {"", ""},
	    {"Subject: a\n\nbody\n", "[]Subject: a\n\nbody\n|"},
	    {"Subject: a\n\nbody\n\n", "[]Subject: a\n\nbody\n\n|"},
	    {"From a@b  Thu Nov 26 07:00:00 2026\nS: 1\n\nx\n\nFrom c@d  Fri\nS: 2\n\ny\n\n",
	     "[From a@b  Thu Nov 26 07:00:00 2026]S: 1\n\nx\n|[From c@d  Fri]S: 2\n\ny\n|"},
	    /* a message's own final empty line, then the separator */
	    {"From a\nS: 1\n\nx\n\n\nFrom b\nS: 2\n\ny\n", "[From a]S: 1\n\nx\n\n|[From b]S: 2\n\ny\n|"},
	    /* mboxrd: one '>' less; "From " not after an empty line is text */
	    {"From a\nS: 1\n\n>From x\n>>From y\n>Fro\n>\nFrom z\n\n>>>From w\n",
	     "[From a]S: 1\n\nFrom x\n>From y\n>Fro\n>\nFrom z\n\n>>From w\n|"},
	    {"From a\n\nFro", "[From a]\nFro|"},
	    {"From a\nS: 1\n\n>", "[From a]S: 1\n\n>|"},
	    {"From a\nx\n\nFrom b", "[From a]x\n|[From b]|"},
	    {"From a\n\n\nFrom b\n", "[From a]\n|[From b]|"},
	    {"From a\nFrom b\n", "[From a]From b\n|"},
	    {"text first\n\nFrom b\nS\n", "[]text first\n|[From b]S\n|"},
	    {"\nFrom a\nx\n", "[From a]x\n|"},
	};
	/* Random inputs from the characters that matter: the same messages whatever the
	 * feeds, and every byte either kept, a separator, a From_ line or a quoting '>'. */
	static const char alphabet[] = "From >\nx";
	srand(7);
	for (int round = 0; round < 3000; round++) {
		char in[80];
		size_t len = (size_t)(rand() % 79);
		for (size_t j = 0; j < len; j++)
			in[j] = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
		in[len] = 0;
		char *whole = split_all(in, 4096);
		for (size_t chunk = 1; chunk <= 3; chunk++) {
			char *got = split_all(in, chunk);
			if (strcmp(got, whole) != 0)
				fail_msg("\"%s\": chunks of %zu give \"%s\", whole \"%s\"", in, chunk,
					 got, whole);
			x_free(&got);
		}
		x_free(&whole);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static const size_t chunks[] = {1, 2, 3, 5, 7, 4096};
		for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			char *got = split_all(cases[i][0], chunks[k]);
			if (strcmp(got, cases[i][1]) != 0)
				fail_msg("case %zu, chunks of %zu: got \"%s\"", i, chunks[k], got);
			x_free(&got);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_mboxrd_quoting, setup, teardown),
	    cmocka_unit_test(test_mbox_split),
	    cmocka_unit_test_setup_teardown(test_mboxrd_buffer_boundaries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_raw_and_append, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_dotlock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mh_numbers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maildir_exactly_once, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
