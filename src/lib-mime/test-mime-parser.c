/* Unit tests for mime-parser: the corpus (corpus/NN-name.eml with its .expected dump),
 * each message parsed at once, one byte at a time and in random chunks with identical
 * results; hand-checked offsets; section lookup; the field callback; limits.
 * Set MIME_CORPUS_REGEN=1 to rewrite the .expected files (then review them by hand).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime-parser.h"
#include "mime-serial.h"
#include "util.h"
#include "xalloc.h"

/* Parses data in chunks: chunk 0 = all at once, SIZE_MAX = random sizes from seed. */
static struct mime_part *parse_chunked(const char *data, size_t len, size_t chunk,
				       unsigned int seed, const struct mime_parser_limits *l)
{
	struct mime_parser *p = mime_parser_new(l);
	size_t pos = 0;
	while (pos < len) {
		size_t n = chunk == 0 ? len : chunk;
		if (chunk == SIZE_MAX) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 97;
		}
		if (n > len - pos)
			n = len - pos;
		mime_parser_feed(p, data + pos, n);
		pos += n;
	}
	struct mime_part *root = mime_parser_finish(p);
	mime_parser_free(&p);
	return root;
}

static char *dump_of(const struct mime_part *root)
{
	struct buf b = BUF_INIT;
	mime_part_dump(root, &b);
	return buf_steal(&b);
}

static void check_message(const char *path)
{
	size_t len;
	char *data = read_file_small(path, 10 * 1024 * 1024, &len);
	assert_non_null(data);
	struct mime_part *root = parse_chunked(data, len, 0, 0, NULL);
	char *dump = dump_of(root);

	/* byte at a time and random chunks give the same tree */
	size_t chunks[] = {1, 2, 3, SIZE_MAX, SIZE_MAX, SIZE_MAX};
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct mime_part *r2 = parse_chunked(data, len, chunks[i], (unsigned int)i, NULL);
		char *d2 = dump_of(r2);
		if (strcmp(dump, d2) != 0)
			fail_msg("%s: chunk %zu differs:\n%s\n---\n%s", path, chunks[i], dump, d2);
		x_free(&d2);
		mime_part_free(&r2);
	}
	/* the serialised form gives the same tree */
	struct buf ser = BUF_INIT;
	struct mime_part *r3;
	const char *err;
	mime_serialize(root, &ser);
	assert_int_equal(mime_deserialize(ser.data, ser.len, &r3, &err), 0);
	char *d3 = dump_of(r3);
	assert_string_equal(dump, d3);
	x_free(&d3);
	mime_part_free(&r3);
	buf_free(&ser);

	char *exp_path = x_asprintf("%.*s.expected", (int)(strlen(path) - 4), path);
	if (getenv("MIME_CORPUS_REGEN") != NULL) {
		FILE *f = fopen(exp_path, "w");
		assert_non_null(f);
		fputs(dump, f);
		fclose(f);
	}
	size_t elen;
	char *expected = read_file_small(exp_path, 1024 * 1024, &elen);
	if (expected == NULL)
		fail_msg("%s: missing", exp_path);
	if (strcmp(expected, dump) != 0)
		fail_msg("%s: got\n%s\nexpected\n%s", path, dump, expected);
	x_free(&expected);
	x_free(&exp_path);
	x_free(&dump);
	mime_part_free(&root);
	x_free(&data);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_corpus(void **state)
{
	DIR *dir = opendir(MIME_CORPUS_DIR);
	assert_non_null(dir);
	char *names[256];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL && n < 256) {
		size_t l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".eml") == 0)
			names[n++] = x_asprintf("%s/%s", MIME_CORPUS_DIR, de->d_name);
	}
	closedir(dir);
	assert_true(n >= 15);
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (size_t i = 0; i < n; i++) {
		check_message(names[i]);
		x_free(&names[i]);
	}
}

static void test_offsets(void **state)
{
	const char *msg = "Content-Type: multipart/mixed; boundary=b\r\n" /* 0..43 */
			  "\r\n"					  /* 43..45 */
			  "pre\r\n"					  /* 45..50 */
			  "--b\r\n"					  /* 50..55 */
			  "X: y\r\n"					  /* 55..61 */
			  "\r\n"					  /* 61..63 */
			  "one\r\ntwo\r\n"				  /* 63..73 */
			  "--b--\r\n";					  /* 73..80 */
	struct mime_part *root = mime_parse(msg, strlen(msg), NULL);
	assert_int_equal(root->hdr_offset, 0);
	assert_int_equal(root->body_offset, 45);
	assert_int_equal(root->end_offset, 80);
	assert_int_equal(root->hdr_lines, 2);
	assert_int_equal(root->body_lines, 7);
	struct mime_part *c = root->children;
	assert_non_null(c);
	assert_null(c->next);
	assert_int_equal(c->hdr_offset, 55);
	assert_int_equal(c->body_offset, 63);
	assert_int_equal(c->end_offset, 71); /* "one\r\ntwo": the CRLF goes with the boundary */
	assert_int_equal(c->body_lines, 2);
	assert_int_equal(c->body_bare_lf, 0);
	assert_string_equal(c->type, "text");
	assert_true(c->flags & MIME_PART_F_NO_CONTENT_TYPE);
	mime_part_free(&root);

	/* bare LF counts: the CRLF size of a body is its size plus its bare LFs */
	root = mime_parse("A: b\n\nx\ny\n", 10, NULL);
	assert_int_equal(root->body_offset, 6);
	assert_int_equal(root->end_offset, 10);
	assert_int_equal(root->body_lines, 2);
	assert_int_equal(root->body_bare_lf, 2);
	assert_int_equal(root->hdr_bare_lf, 2);
	mime_part_free(&root);
}

/* A body with no boundary to look for is only counted (mime-parser's body run): the same
 * line counts, bare LFs and end for every way of cutting the input, with or without a last
 * LF, after a CRLF or a bare-LF header, and in a multipart's epilogue. */
static void check_body(const char *msg, uint64_t body_offset, uint64_t end, uint64_t lines,
		       uint64_t bare)
{
	size_t len = strlen(msg);
	for (size_t chunk = 0; chunk <= 13; chunk++) {
		for (unsigned seed = 0; seed < (chunk == 13 ? 8u : 1u); seed++) {
			struct mime_part *root =
			    parse_chunked(msg, len, chunk == 13 ? SIZE_MAX : chunk, seed, NULL);
			assert_int_equal(root->body_offset, body_offset);
			assert_int_equal(root->end_offset, end);
			assert_int_equal(root->body_lines, lines);
			assert_int_equal(root->body_bare_lf, bare);
			mime_part_free(&root);
		}
	}
}

static void test_body_run(void **state)
{
	check_body("A: b\n\nl1\r\nl2\nl3\r\n\nlast", 6, 22, 5, 2);
	check_body("A: b\n\nl1\r\nl2\nl3\r\n\n", 6, 18, 4, 2);
	check_body("A: b\r\n\r\n\r\n\r\n", 8, 12, 2, 0);
	check_body("A: b\r\n\r\n\rx\r", 8, 11, 1, 0);
	check_body("A: b\n\n", 6, 6, 0, 0);
	check_body("A: b\n\nno line end", 6, 17, 1, 0);
	/* the epilogue after "--b--" is the multipart's: counted with its body */
	const char *mp = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n"
			 "epi\r\nlogue\n";
	check_body(mp, 43, strlen(mp), 6, 5);
}

static void test_find(void **state)
{
	size_t len;
	char *data = read_file_small(MIME_CORPUS_DIR "/05-rfc822-inside.eml", 100000, &len);
	assert_non_null(data);
	struct mime_part *root = mime_parse(data, len, NULL);
	assert_ptr_equal(mime_part_find(root, ""), root);
	assert_ptr_equal(mime_part_find(root, "1"), root->children);
	struct mime_part *m = mime_part_find(root, "2");
	assert_non_null(m);
	assert_true(m->flags & MIME_PART_F_MESSAGE);
	assert_string_equal(m->description, "forwarded");
	struct mime_part *img = mime_part_find(root, "2.2");
	assert_non_null(img);
	assert_string_equal(img->subtype, "png");
	assert_string_equal(img->id, "<img1@example.org>");
	assert_string_equal(m->children->envelope->subject, "original");
	assert_null(mime_part_find(root, "3"));
	assert_null(mime_part_find(root, "2.3"));
	assert_null(mime_part_find(root, "1.1"));
	assert_null(mime_part_find(root, "2.2.1"));
	assert_null(mime_part_find(root, "0"));
	assert_null(mime_part_find(root, "1."));
	assert_null(mime_part_find(root, "x"));
	mime_part_free(&root);
	x_free(&data);

	/* a single-part message: part 1 is the message itself */
	root = mime_parse("Subject: x\n\nbody\n", 17, NULL);
	assert_ptr_equal(mime_part_find(root, "1"), root);
	assert_null(mime_part_find(root, "2"));
	assert_null(mime_part_find(root, "1.1"));
	mime_part_free(&root);
}

static void count_field(void *ctx, struct mime_part *part, const struct mime_header_field *f)
{
	struct buf *b = ctx;
	buf_append(b, f->name, f->name_len);
	buf_append_char(b, part->parent == NULL ? '0' : '1');
	buf_append_char(b, ' ');
}

static void test_field_cb_and_limits(void **state)
{
	const char *msg = "Subject: a\nContent-Type: multipart/mixed; boundary=z\n\n"
			  "--z\nX-One: 1\n\nbody\n--z--\n";
	struct buf seen = BUF_INIT;
	struct mime_parser *p = mime_parser_new(NULL);
	mime_parser_set_field_cb(p, count_field, &seen);
	mime_parser_feed(p, msg, strlen(msg));
	struct mime_part *root = mime_parser_finish(p);
	mime_parser_free(&p);
	assert_string_equal(buf_cstr(&seen), "Subject0 Content-Type0 X-One1 ");
	buf_free(&seen);
	mime_part_free(&root);

	/* depth 1: the root's multipart is parsed, nested ones are opaque */
	struct mime_parser_limits l = {.max_depth = 1};
	size_t len;
	char *data = read_file_small(MIME_CORPUS_DIR "/04-nested.eml", 100000, &len);
	root = mime_parse(data, len, &l);
	assert_string_equal(root->children->type, "application");
	assert_true(root->children->flags & MIME_PART_F_OPAQUE);
	assert_null(root->children->children);
	mime_part_free(&root);
	/* part limit */
	struct mime_parser_limits l2 = {.max_parts = 2};
	root = mime_parse(data, len, &l2);
	assert_non_null(root->children);
	assert_null(root->children->next);
	assert_true(root->children->flags & MIME_PART_F_OPAQUE);
	mime_part_free(&root);
	x_free(&data);
	/* an unfinished parser is freed cleanly */
	p = mime_parser_new(NULL);
	mime_parser_feed(p, msg, 30);
	mime_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_corpus),
	    cmocka_unit_test(test_offsets),
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_body_run),
	    cmocka_unit_test(test_field_cb_and_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
