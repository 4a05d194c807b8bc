/* bench/store-index: how fast the Maildir index is built and caught up.
 *
 * Builds a 100,000-message Maildir in a temporary folder (files written straight into
 * cur/, as an old mailbox would be), then times: the first open (index built from
 * nothing), a reopen (index read), a sync with nothing changed, and a sync after one new
 * message delivered behind the store's back (tmp/ -> new/). Prints the times; not a test.
 * Build: ninja -C build bench-store-index; run: build/bench-store-index [COUNT]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "util.h"
#include "xalloc.h"

static void die(const char *what, struct buf *err)
{
	fprintf(stderr, "%s: %s\n", what, buf_cstr(err));
	exit(1);
}

static void make_maildir(const char *root, int count)
{
	char path[4096];
	char body[256];
	for (int i = 0; i < count; i++) {
		int n = snprintf(body, sizeof(body), "From: a@example.org\nSubject: message %d\n\n"
						     "body of message %d\n", i, i);
		snprintf(path, sizeof(path), "%s/cur/%d.M%dP1.bench,S=%d:2,%s", root,
			 1700000000 + i / 10, i, n, i % 2 ? "S" : "");
		FILE *fp = fopen(path, "w");
		if (fp == NULL || fwrite(body, 1, (size_t)n, fp) != (size_t)n || fclose(fp) != 0) {
			perror(path);
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	int count = argc > 1 ? atoi(argv[1]) : 100000;
	char tmpl[] = "/tmp/tern-bench-store.XXXXXX";
	if (mkdtemp(tmpl) == NULL)
		return 1;
	char *root = x_asprintf("%s/Maildir", tmpl);
	struct buf err = BUF_INIT;
	struct store *s;
	struct store_folder *f;
	if (store_open(root, STORE_FORMAT_MAILDIR, &s, &err) < 0)
		die("open", &err);
	uint64_t t0 = now_ms();
	make_maildir(root, count);
	printf("wrote %d messages in %llu ms\n", count, (unsigned long long)(now_ms() - t0));
	sleep(2); /* let cur/'s modification time settle, as on a mailbox at rest */

	t0 = now_ms();
	if (store_folder_open(s, "INBOX", &f, &err) < 0)
		die("first open", &err);
	printf("first open (index built): %llu ms, %zu messages\n",
	       (unsigned long long)(now_ms() - t0), store_folder_count(f));
	store_folder_close(&f);

	t0 = now_ms();
	if (store_folder_open(s, "INBOX", &f, &err) < 0)
		die("reopen", &err);
	printf("reopen (index read): %llu ms\n", (unsigned long long)(now_ms() - t0));

	t0 = now_ms();
	if (store_folder_sync(f, NULL, &err) < 0)
		die("sync", &err);
	printf("sync, nothing changed: %.3f ms\n", (double)(now_ms() - t0));

	for (int round = 1; round <= 3; round++) {
		char *tmp = x_asprintf("%s/tmp/1800000000.P2Q%d.bench", root, round);
		char *dst = x_asprintf("%s/new/1800000000.P2Q%d.bench", root, round);
		FILE *fp = fopen(tmp, "w");
		fputs("Subject: one more\n\nhello\n", fp);
		fclose(fp);
		if (rename(tmp, dst) < 0)
			return 1;
		struct store_changes ch;
		t0 = now_ms();
		if (store_folder_sync(f, &ch, &err) < 0)
			die("sync", &err);
		printf("sync after one new message (round %d): %llu ms (%zu new)\n", round,
		       (unsigned long long)(now_ms() - t0), ch.new_count);
		store_changes_free(&ch);
		x_free(&tmp);
		x_free(&dst);
	}
	store_folder_close(&f);
	store_close(&s);
	char *cmd = x_asprintf("rm -rf '%s'", tmpl);
	if (system(cmd) != 0)
		return 1;
	x_free(&cmd);
	x_free(&root);
	buf_free(&err);
	return 0;
}
