/* fuzz-mime: libFuzzer target for src/lib-mime.
 *
 * Parses the input as a message in chunks whose size comes from the first byte, checks
 * that the serialised tree decodes to the same dump, and runs the field parsers (address
 * lists, dates, RFC 2047, Content-Type with RFC 2231) and the body decoders on it. The
 * position-keeping address-list parser must give ordered spans inside the input, and its
 * rewrite must give the input back when nothing is replaced.
 * Build: clang -fsanitize=fuzzer,address,undefined -Isrc/lib -Isrc/lib-mime ... (see
 * the fuzz option of the root meson.build).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "mime-address.h"
#include "mime-addrlist.h"
#include "mime-date.h"
#include "mime-decode.h"
#include "mime-params.h"
#include "mime-parser.h"
#include "mime-rfc2047.h"
#include "mime-serial.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_structure(const char *s, size_t len, size_t chunk)
{
	struct mime_parser_limits lim = {.max_depth = 8, .max_field = 4096, .max_parts = 200};
	struct mime_parser *p = mime_parser_new(&lim);
	for (size_t pos = 0; pos < len; pos += chunk)
		mime_parser_feed(p, s + pos, len - pos < chunk ? len - pos : chunk);
	struct mime_part *root = mime_parser_finish(p);
	mime_parser_free(&p);

	struct buf d1 = BUF_INIT, d2 = BUF_INIT, ser = BUF_INIT;
	struct mime_part *back;
	const char *err;
	mime_part_dump(root, &d1);
	mime_serialize(root, &ser);
	if (mime_deserialize(ser.data, ser.len, &back, &err) != 0)
		assert(!"serialised tree does not decode");
	mime_part_dump(back, &d2);
	assert(d1.len == d2.len && memcmp(d1.data, d2.data, d1.len) == 0);
	mime_part_free(&back);
	mime_part_free(&root);
	/* the raw input as a serialised form must never crash the decoder */
	if (mime_deserialize(s, len, &back, &err) == 0)
		mime_part_free(&back);
	buf_free(&d1);
	buf_free(&d2);
	buf_free(&ser);
}

static bool fuzz_keep(void *arg, const struct mime_addrlist_spec *spec, struct buf *rep)
{
	return false;
}

static void fuzz_addrlist(const char *s, size_t len)
{
	struct mime_addrlist l = {NULL, 0, 0};
	mime_addrlist_parse(s, len, &l);
	for (size_t i = 0; i < l.count; i++) {
		assert(l.v[i].start < l.v[i].end && l.v[i].end <= len);
		assert(i == 0 || l.v[i - 1].end <= l.v[i].start);
	}
	mime_addrlist_free(&l);
	struct buf out = BUF_INIT;
	assert(mime_addrlist_rewrite(s, len, fuzz_keep, NULL, &out) == 0);
	assert(out.len == len && (len == 0 || memcmp(out.data, s, len) == 0));
	buf_free(&out);
}

static void fuzz_fields(const char *s, size_t len)
{
	fuzz_addrlist(s, len);
	struct mime_address_list l = {NULL, 0};
	mime_address_list_parse(s, len, MIME_ADDRESS_DECODE_2047, &l);
	mime_address_list_free(&l);
	time_t t;
	int tz;
	const char *err;
	(void)mime_date_parse(s, len, &t, &tz, &err);
	struct buf b = BUF_INIT;
	mime_rfc2047_decode(s, len, &b);
	buf_free(&b);
	struct mime_params raw = {NULL, 0}, dec = {NULL, 0};
	char *type = NULL, *subtype = NULL;
	if (mime_content_type_parse(s, len, &type, &subtype, &raw, &err) == 0) {
		x_free(&type);
		x_free(&subtype);
	}
	mime_params_decode(&raw, &dec);
	mime_params_free(&raw);
	mime_params_free(&dec);
}

static void fuzz_decoders(const char *s, size_t len, size_t chunk)
{
	static const enum mime_cte ctes[] = {MIME_CTE_BASE64, MIME_CTE_QP};
	for (size_t i = 0; i < 2; i++) {
		struct mime_decoder d1, d2;
		struct buf o1 = BUF_INIT, o2 = BUF_INIT;
		mime_decoder_init(&d1, ctes[i]);
		mime_decoder_init(&d2, ctes[i]);
		mime_decoder_feed(&d1, s, len, &o1);
		mime_decoder_finish(&d1, &o1);
		for (size_t pos = 0; pos < len; pos += chunk)
			mime_decoder_feed(&d2, s + pos, len - pos < chunk ? len - pos : chunk, &o2);
		mime_decoder_finish(&d2, &o2);
		assert(o1.len == o2.len && memcmp(buf_cstr(&o1), buf_cstr(&o2), o1.len) == 0);
		buf_free(&o1);
		buf_free(&o2);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 256 * 1024)
		return 0;
	size_t chunk = (size_t)data[0] % 64 + 1;
	const char *s = (const char *)data + 1;
	size_t len = size - 1;
	fuzz_structure(s, len, chunk);
	fuzz_fields(s, len);
	fuzz_decoders(s, len, chunk);
	return 0;
}
