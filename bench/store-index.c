/* bench/store-index: how fast the store's index is built and caught up.
 *
 * Two uses:
 *   bench-store-index [COUNT]      builds a COUNT-message Maildir (default 100,000) in a
 *                                  temporary folder and prints the times of the first open
 *                                  (index built), a reopen, an idle sync, and a sync after
 *                                  one message delivered behind the store's back.
 *   bench-store-index build PATH   opens INBOX of the store at PATH (Maildir or mbox):
 *                                  prints "open_ms MS messages N"
 *   bench-store-index status PATH  store_folder_status of INBOX: "status_ms MS messages N ..."
 *   bench-store-index session PATH opens INBOX, prints "ready MS N", then serves lines on
 *                                  stdin: "sync" -> "synced MS NEW", "status" -> as above,
 *                                  "quit". bench/store-bench.py drives it and times the
 *                                  round trips, as it does for a Dovecot IMAP session.
 * Build: ninja -C build src/lib-store/bench-store-index. Not a test: prints times.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "util.h"
#include "xalloc.h"

static void die(const char *what, struct buf *err)
{
	fprintf(stderr, "%s: %s\n", what, buf_cstr(err));
	exit(1);
}

static double now_msf(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void make_maildir(const char *root, int count)
{
	char path[4096];
	char body[256];
	for (int i = 0; i < count; i++) {
		int n = snprintf(body, sizeof(body),
				 "From: a@example.org\nSubject: message %d\n\n"
				 "body of message %d\n",
				 i, i);
		snprintf(path, sizeof(path), "%s/cur/%d.M%dP1.bench,S=%d:2,%s", root,
			 1700000000 + i / 10, i, n, i % 2 ? "S" : "");
		FILE *fp = fopen(path, "w");
		if (fp == NULL || fwrite(body, 1, (size_t)n, fp) != (size_t)n || fclose(fp) != 0) {
			perror(path);
			exit(1);
		}
	}
}

static struct store *open_store(const char *path)
{
	struct buf err = BUF_INIT;
	struct store *s;
	if (store_open(path, store_detect_format(path), &s, &err) < 0)
		die(path, &err);
	buf_free(&err);
	return s;
}

static void print_status(struct store *s)
{
	struct buf err = BUF_INIT;
	struct store_folder_status st;
	double t0 = now_msf();
	if (store_folder_status(s, "INBOX", &st, &err) < 0)
		die("status", &err);
	printf("status_ms %.3f messages %" PRIu64 " unseen %" PRIu64 " size %" PRIu64
	       " uidnext %" PRIu32 "\n",
	       now_msf() - t0, st.messages, st.unseen, st.size, st.uidnext);
	fflush(stdout);
	buf_free(&err);
}

static int serve_session(struct store *s)
{
	struct buf err = BUF_INIT;
	struct store_folder *f;
	double t0 = now_msf();
	if (store_folder_open(s, "INBOX", &f, &err) < 0)
		die("open", &err);
	printf("ready %.3f %zu\n", now_msf() - t0, store_folder_count(f));
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strncmp(line, "sync", 4) == 0) {
			struct store_changes ch;
			t0 = now_msf();
			if (store_folder_sync(f, &ch, &err) < 0)
				die("sync", &err);
			printf("synced %.3f %zu\n", now_msf() - t0, ch.new_count);
			fflush(stdout);
			store_changes_free(&ch);
		} else if (strncmp(line, "status", 6) == 0) {
			print_status(s);
		} else {
			break;
		}
	}
	store_folder_close(&f);
	buf_free(&err);
	return 0;
}

static int on_path(const char *mode, const char *path)
{
	struct store *s = open_store(path);
	struct buf err = BUF_INIT;
	int ret = 0;
	if (strcmp(mode, "build") == 0) {
		struct store_folder *f;
		double t0 = now_msf();
		if (store_folder_open(s, "INBOX", &f, &err) < 0)
			die("open", &err);
		printf("open_ms %.3f messages %zu\n", now_msf() - t0, store_folder_count(f));
		store_folder_close(&f);
	} else if (strcmp(mode, "status") == 0) {
		print_status(s);
	} else if (strcmp(mode, "session") == 0) {
		ret = serve_session(s);
	} else {
		fprintf(stderr, "usage: bench-store-index [COUNT] | build|status|session PATH\n");
		ret = 2;
	}
	store_close(&s);
	buf_free(&err);
	return ret;
}

static void deliver_one(const char *root, int round)
{
	char *tmp = x_asprintf("%s/tmp/1800000000.P2Q%d.bench", root, round);
	char *dst = x_asprintf("%s/new/1800000000.P2Q%d.bench", root, round);
	FILE *fp = fopen(tmp, "w");
	if (fp == NULL || fputs("Subject: one more\n\nhello\n", fp) < 0 || fclose(fp) != 0 ||
	    rename(tmp, dst) < 0) {
		perror(tmp);
		exit(1);
	}
	x_free(&tmp);
	x_free(&dst);
}

static void self_contained(int count, const char *root)
{
	struct buf err = BUF_INIT;
	struct store *s;
	struct store_folder *f;
	if (store_open(root, STORE_FORMAT_MAILDIR, &s, &err) < 0)
		die("open", &err);
	double t0 = now_msf();
	make_maildir(root, count);
	printf("wrote %d messages in %.0f ms\n", count, now_msf() - t0);
	sleep(2); /* let cur/'s modification time settle, as on a mailbox at rest */
	t0 = now_msf();
	if (store_folder_open(s, "INBOX", &f, &err) < 0)
		die("first open", &err);
	printf("first open (index built): %.1f ms, %zu messages\n", now_msf() - t0,
	       store_folder_count(f));
	store_folder_close(&f);
	t0 = now_msf();
	if (store_folder_open(s, "INBOX", &f, &err) < 0)
		die("reopen", &err);
	printf("reopen (index read): %.1f ms\n", now_msf() - t0);
	t0 = now_msf();
	if (store_folder_sync(f, NULL, &err) < 0)
		die("sync", &err);
	printf("sync, nothing changed: %.3f ms\n", now_msf() - t0);
	for (int round = 1; round <= 3; round++) {
		deliver_one(root, round);
		struct store_changes ch;
		t0 = now_msf();
		if (store_folder_sync(f, &ch, &err) < 0)
			die("sync", &err);
		printf("sync after one new message (round %d): %.3f ms (%zu new)\n", round,
		       now_msf() - t0, ch.new_count);
		store_changes_free(&ch);
	}
	store_folder_close(&f);
	store_close(&s);
	buf_free(&err);
}

int main(int argc, char **argv)
{
	if (argc == 3)
		return on_path(argv[1], argv[2]);
	int count = argc > 1 ? atoi(argv[1]) : 100000;
	char tmpl[] = "/tmp/tern-bench-store.XXXXXX";
	if (mkdtemp(tmpl) == NULL)
		return 1;
	char *root = x_asprintf("%s/Maildir", tmpl);
	self_contained(count, root);
	char *cmd = x_asprintf("rm -rf '%s'", tmpl);
	int r = system(cmd);
	x_free(&cmd);
	x_free(&root);
	return r != 0;
}
