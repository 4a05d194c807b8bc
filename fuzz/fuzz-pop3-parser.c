/* fuzz-pop3-parser: libFuzzer target for src/lib-pop3: the command parser fed in chunks
 * whose sizes come from the first byte (normal and raw mode), and the multi-line body
 * writer (dot-stuffing, CRLF, TOP) over the same input. */
#include <stddef.h>
#include <stdint.h>

#include "pop3-body.h"
#include "pop3-parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (data[0] & 31) + 1;
	struct pop3_parser p;
	pop3_parser_init(&p, 255 + (data[0] & 64 ? 1000 : 0), 0);
	pop3_parser_set_raw(&p, data[0] & 128);
	const uint8_t *cur = data + 1, *end = data + size;
	while (cur < end) {
		size_t n = (size_t)(end - cur) < chunk ? (size_t)(end - cur) : chunk;
		size_t used = 0;
		enum pop3_parse_result r = pop3_parser_feed(&p, cur, n, &used);
		if (r == POP3_PARSE_LINE)
			(void)pop3_parser_command(&p);
		else if (r == POP3_PARSE_ERROR)
			(void)pop3_parser_error(&p);
		cur += used;
		if (used == 0 && r == POP3_PARSE_MORE)
			break;
	}
	pop3_parser_free(&p);
	struct pop3_body b;
	struct buf out = BUF_INIT;
	pop3_body_init(&b, (data[0] & 8) ? (int64_t)(data[0] & 7) : -1);
	for (cur = data + 1; cur < end; cur += chunk) {
		size_t n = (size_t)(end - cur) < chunk ? (size_t)(end - cur) : chunk;
		if (!pop3_body_write(&b, cur, n, &out))
			break;
		buf_reset(&out);
	}
	pop3_body_finish(&b, &out);
	buf_free(&out);
	return 0;
}
