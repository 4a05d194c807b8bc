/* store-tool: a small driver of the store API and the store commands for the
 * interoperability tests (tests/test_store*.py), until the commands are in `tern`:
 *   store-tool reindex|repair|convert ARGS...     the tern commands (src/tools/store-cmds.c)
 *   store-tool append STORE FOLDER [FLAGS] < MSG  prints the new UID
 *   store-tool list STORE FOLDER                  "UID FLAGS SIZE KEYWORDS" per message
 *   store-tool cat STORE FOLDER UID               the message as readers see it
 *   store-tool flag STORE FOLDER UID +FLAGS|-FLAGS
 *   store-tool expunge STORE FOLDER [UID...]      \Deleted then expunge (all: no UID)
 *   store-tool usage STORE                        "MESSAGES BYTES"
 * STORE is mbox:PATH or maildir:PATH. FLAGS are Maildir letters (S seen, F flagged, R
 * answered, T deleted, D draft). Exit 0, or 1 with the error on stderr.
 */
#include "store.h"
#include "store-cmds.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct buf err = BUF_INIT;

static void die(const char *what)
{
	fprintf(stderr, "store-tool: %s: %s\n", what, buf_cstr(&err));
	exit(1);
}

static struct store *open_store(const char *spec)
{
	struct store *s;
	enum store_format f =
	    strncmp(spec, "mbox:", 5) == 0 ? STORE_FORMAT_MBOX : STORE_FORMAT_MAILDIR;
	const char *colon = strchr(spec, ':');
	if (store_open(colon ? colon + 1 : spec, f, &s, &err) < 0)
		die("open store");
	return s;
}

static uint32_t parse_flags(const char *s)
{
	uint32_t f = 0;
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			f |= STORE_FLAG_LETTER(*s);
	return f;
}

static void print_msg(struct store_folder *f, const struct store_msg *m)
{
	char letters[27];
	size_t n = 0;
	for (int i = 0; i < 26; i++)
		if (m->flags & (1u << i))
			letters[n++] = (char)('A' + i);
	letters[n] = '\0';
	printf("%u %s %llu", m->uid, n ? letters : "-", (unsigned long long)m->size);
	for (unsigned k = 0; k < STORE_KEYWORDS_MAX; k++)
		if ((m->keywords & (1u << k)) && store_keyword_name(f, k) != NULL)
			printf(" %s", store_keyword_name(f, k));
	printf("\n");
}

static int folder_cmd(const char *cmd, struct store_folder *f, int argc, char **argv)
{
	uint32_t uid = 0;
	if (strcmp(cmd, "append") == 0) {
		struct store_append_opts o = {.flags = argc > 0 ? parse_flags(argv[0]) : 0};
		if (store_append_fd(f, STDIN_FILENO, &o, &uid, &err) < 0)
			die("append");
		printf("%u\n", uid);
	} else if (strcmp(cmd, "list") == 0) {
		for (size_t i = 0; i < store_folder_count(f); i++)
			print_msg(f, store_folder_msg(f, i));
	} else if (strcmp(cmd, "cat") == 0 && argc == 1) {
		struct store_msg_stream st;
		if (store_msg_open(f, (uint32_t)atol(argv[0]), &st, &err) < 0)
			die("open message");
		char *b = x_malloc(65536);
		ssize_t n;
		off_t off = st.offset;
		uint64_t left = st.length;
		while (left > 0 && (n = pread(st.fd, b, left < 65536 ? left : 65536, off)) > 0) {
			fwrite(b, 1, (size_t)n, stdout);
			off += n;
			left -= (uint64_t)n;
		}
		x_free(&b);
		close(st.fd);
	} else if (strcmp(cmd, "flag") == 0 && argc == 2) {
		uid = (uint32_t)atol(argv[0]);
		enum store_flags_op op = argv[1][0] == '-' ? STORE_FLAGS_REMOVE : STORE_FLAGS_ADD;
		if (store_set_flags(f, &uid, 1, op, parse_flags(argv[1]), 0, &err) < 0)
			die("flag");
	} else if (strcmp(cmd, "expunge") == 0) {
		uint32_t *uids = x_calloc((size_t)argc + 1, sizeof(uint32_t));
		for (int i = 0; i < argc; i++)
			uids[i] = (uint32_t)atol(argv[i]);
		if (argc > 0 && store_set_flags(f, uids, (size_t)argc, STORE_FLAGS_ADD,
						STORE_FLAG_DELETED, 0, &err) < 0)
			die("flag");
		if (store_expunge(f, argc > 0 ? uids : NULL, (size_t)argc, &err) < 0)
			die("expunge");
		x_free(&uids);
	} else {
		return 64;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 64;
	const char *cmd = argv[1];
	if (strcmp(cmd, "reindex") == 0)
		return cmd_reindex(argc - 1, argv + 1);
	if (strcmp(cmd, "repair") == 0)
		return cmd_repair(argc - 1, argv + 1);
	if (strcmp(cmd, "convert") == 0)
		return cmd_convert(argc - 1, argv + 1);
	if (argc < 3)
		return 64;
	struct store *s = open_store(argv[2]);
	int ret = 0;
	if (strcmp(cmd, "usage") == 0) {
		uint64_t bytes, msgs;
		if (store_usage(s, &bytes, &msgs, &err) < 0)
			die("usage");
		printf("%llu %llu\n", (unsigned long long)msgs, (unsigned long long)bytes);
	} else if (argc >= 4) {
		struct store_folder *f;
		if (store_folder_open(s, argv[3], &f, &err) < 0)
			die("open folder");
		ret = folder_cmd(cmd, f, argc - 4, argv + 4);
		store_folder_close(&f);
	} else {
		ret = 64;
	}
	store_close(&s);
	buf_free(&err);
	return ret;
}
