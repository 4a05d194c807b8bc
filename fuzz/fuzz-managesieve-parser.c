/* fuzz-managesieve-parser: libFuzzer target for src/lib-managesieve: the command parser fed
 * in chunks whose sizes come from the first byte (command and response mode, small limits
 * so that the over-long and skipped paths are reached), every argument read back and
 * written out again with the response writer. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "managesieve-parser.h"
#include "managesieve-reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (data[0] & 31) + 1;
	struct ms_parser p;
	ms_parser_init(&p, data[0] & 64 ? 0 : 4096, data[0] & 32 ? 64 : 100000);
	ms_parser_set_response(&p, data[0] & 128);
	struct buf out = BUF_INIT;
	const uint8_t *cur = data + 1, *end = data + size;
	while (cur < end) {
		size_t n = (size_t)(end - cur) < chunk ? (size_t)(end - cur) : chunk;
		size_t used = 0;
		enum ms_parse_result r = ms_parser_feed(&p, cur, n, &used);
		if (r == MS_PARSE_DONE) {
			const struct ms_command *c = ms_parser_command(&p);
			ms_reply_capability(&out, c->name, NULL);
			for (size_t i = 0; i < c->argc; i++)
				ms_reply_string(&out, c->args[i].data, c->args[i].len);
			if (out.len > 65536)
				buf_reset(&out);
		} else if (r == MS_PARSE_ERROR) {
			ms_reply(&out, "NO", NULL, "%s", ms_parser_error(&p, NULL));
		}
		cur += used;
		if (used == 0 && r == MS_PARSE_MORE)
			break;
	}
	(void)ms_parser_discard(&p);
	ms_parser_free(&p);
	buf_free(&out);
	return 0;
}
