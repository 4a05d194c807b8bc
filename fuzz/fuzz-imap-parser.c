/* libFuzzer target for lib-imap: the command parser fed in input-chosen chunk sizes, then
 * every complete command's arguments given to the FETCH, STORE, SEARCH and sequence-set
 * parsers, and mailbox-like strings to the modified UTF-7 decoder.
 * Build: clang -fsanitize=fuzzer,address -I src/lib -I src/lib-imap ... */
#include <stddef.h>
#include <stdint.h>

#include "imap-fetch.h"
#include "imap-parser.h"
#include "imap-search.h"
#include "imap-seqset.h"
#include "mutf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct imap_command *cmd)
{
	const struct imap_arg *args = cmd->args.list;
	size_t n = cmd->args.len;
	const char *error, *s;
	size_t len;
	struct imap_fetch fetch;
	struct imap_store store;
	struct imap_search_program prog;
	struct imap_search_context ctx = {100, 1000};
	if (n > 1 && imap_fetch_parse(args + 1, n - 1, true, &fetch, &error) == 0)
		imap_fetch_free(&fetch);
	if (n > 1 && imap_store_parse(args + 1, n - 1, &store, &error) == 0)
		imap_store_free(&store);
	if (imap_search_parse(args, n, &ctx, &prog, &error) == IMAP_SEARCH_OK)
		imap_search_program_free(&prog);
	if (n > 0 && imap_arg_get_astring(&args[0], &s, &len)) {
		struct imap_seqset set = IMAP_SEQSET_INIT;
		struct buf out = BUF_INIT;
		if (imap_seqset_parse(&set, s, len, 7, &error) == 0)
			imap_seqset_write(&set, &out);
		imap_seqset_free(&set);
		(void)mutf7_decode(s, len, &out, &error);
		buf_free(&out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits limits;
	if (size < 1)
		return 0;
	imap_parser_limits_default(&limits);
	limits.max_line = 512;
	limits.max_args = 64;
	limits.max_depth = 8;
	limits.max_literal = 4096;
	limits.inline_literal = 64;
	limits.literal_minus = (data[0] & 0x80) != 0;
	size_t chunk = (data[0] & 0x0f) + 1;
	struct imap_parser *p = imap_parser_new(&limits);
	const char *in = (const char *)data + 1;
	size_t len = size - 1, pos = 0;
	while (pos < len) {
		size_t end = pos + chunk < len ? pos + chunk : len;
		while (pos < end) {
			size_t used, chunk_len;
			const char *chunk_data;
			enum imap_parse_result r =
				imap_parser_feed(p, in + pos, end - pos, &used, &chunk_data, &chunk_len);
			pos += used;
			if (r == IMAP_PARSE_DONE)
				exercise(imap_parser_command(p));
			else if (r == IMAP_PARSE_LITERAL && (data[0] & 0x40) != 0)
				imap_parser_literal_refuse(p);
			else if (r == IMAP_PARSE_LITERAL)
				imap_parser_literal_accept(p);
		}
	}
	imap_parser_free(&p);
	return 0;
}
