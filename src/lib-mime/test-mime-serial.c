/* Unit tests for mime-serial: round trips, and the decoder failing closed on every
 * truncation, on trailing data and on bad versions, counts and nesting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mime-parser.h"
#include "mime-serial.h"
#include "util.h"
#include "xalloc.h"

static char *dump_of(const struct mime_part *root)
{
	struct buf b = BUF_INIT;
	mime_part_dump(root, &b);
	return buf_steal(&b);
}

static void test_tree_roundtrip(void **state)
{
	size_t len;
	char *data = read_file_small(MIME_CORPUS_DIR "/05-rfc822-inside.eml", 100000, &len);
	assert_non_null(data);
	struct mime_part *root = mime_parse(data, len, NULL), *back;
	struct buf ser = BUF_INIT;
	const char *err;
	mime_serialize(root, &ser);
	assert_int_equal(mime_deserialize(ser.data, ser.len, &back, &err), 0);
	char *d1 = dump_of(root), *d2 = dump_of(back);
	assert_string_equal(d1, d2);
	assert_string_equal(back->envelope->from.v[0].host, "example.com");
	mime_part_free(&back);

	/* every truncation fails, and so does trailing data */
	for (size_t n = 0; n < ser.len; n++) {
		back = (struct mime_part *)1;
		assert_int_equal(mime_deserialize(ser.data, n, &back, &err), -1);
		assert_null(back);
	}
	buf_append_char(&ser, 0);
	assert_int_equal(mime_deserialize(ser.data, ser.len, &back, &err), -1);
	assert_string_equal(err, "trailing data");
	ser.data[3] = 2;
	assert_int_equal(mime_deserialize(ser.data, ser.len, &back, &err), -1);
	assert_string_equal(err, "unsupported version");
	/* every single-byte corruption either fails or decodes to something sane */
	ser.data[3] = MIME_SERIAL_VERSION;
	buf_truncate(&ser, ser.len - 1);
	for (size_t i = 4; i < ser.len; i++) {
		char saved = ser.data[i];
		ser.data[i] = (char)0xff;
		if (mime_deserialize(ser.data, ser.len, &back, &err) == 0)
			mime_part_free(&back);
		ser.data[i] = saved;
	}
	x_free(&d1);
	x_free(&d2);
	buf_free(&ser);
	mime_part_free(&root);
	x_free(&data);
}

static void test_envelope_roundtrip(void **state)
{
	const char *msg = "Date: Mon, 1 Jan 2001 10:00:00 +0100\nSubject: =?utf-8?Q?x?=\n"
			  "From: A <a@x.test>\nTo: g: b@y.test;, c@z.test\nBcc: d@w\n"
			  "In-Reply-To: <p@x>\nMessage-ID: <m@x>\n\nbody\n";
	struct mime_part *root = mime_parse(msg, strlen(msg), NULL);
	struct buf ser = BUF_INIT;
	struct mime_envelope *e;
	const char *err;
	mime_envelope_serialize(root->envelope, &ser);
	assert_int_equal(mime_envelope_deserialize(ser.data, ser.len, &e, &err), 0);
	assert_string_equal(e->subject, "=?utf-8?Q?x?=");
	assert_string_equal(e->date, "Mon, 1 Jan 2001 10:00:00 +0100");
	assert_int_equal(e->to.count, 4);
	assert_null(e->to.v[0].host);
	assert_string_equal(e->to.v[0].mailbox, "g");
	assert_null(e->to.v[2].mailbox);
	assert_string_equal(e->bcc.v[0].mailbox, "d");
	assert_int_equal(e->sender.count, 0);
	assert_string_equal(e->in_reply_to, "<p@x>");
	assert_string_equal(e->message_id, "<m@x>");
	mime_envelope_free(&e);
	for (size_t n = 0; n < ser.len; n++)
		assert_int_equal(mime_envelope_deserialize(ser.data, n, &e, &err), -1);
	assert_int_equal(mime_deserialize(ser.data, ser.len, &root->children, &err), -1);
	assert_string_equal(err, "bad magic");
	buf_free(&ser);
	mime_part_free(&root);
}

static void test_hostile(void **state)
{
	struct mime_part *root;
	const char *err;
	/* a huge count with no data behind it */
	const char big[] = "TME\x01\x00\x00\xff\xff\xff\xff\x0f";
	struct mime_envelope *e;
	assert_int_equal(mime_envelope_deserialize(big, sizeof(big) - 1, &e, &err), -1);
	/* an over-long varint */
	const char vlong[] = "TMS\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
	assert_int_equal(mime_deserialize(vlong, sizeof(vlong) - 1, &root, &err), -1);
	/* nesting deeper than the decoder accepts */
	struct buf b = BUF_INIT;
	buf_append(&b, "TMS\x01", 4);
	for (int i = 0; i < MIME_SERIAL_MAX_DEPTH + 5; i++)
		buf_append(&b, "\0\0\0\0\0\0\0\0\x02t\x02s\0\0\0\0\0\0\0\0\0\0\0\x01", 24);
	assert_int_equal(mime_deserialize(b.data, b.len, &root, &err), -1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tree_roundtrip),
	    cmocka_unit_test(test_envelope_roundtrip),
	    cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
