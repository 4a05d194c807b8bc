/* fuzz-smtp-parser: libFuzzer target for lib-smtp: command lines, MAIL/RCPT/BDAT/HELO
 * arguments and paths (RFC 5321 4.1), reply lines, and the DATA/BDAT decoder, which must
 * give the same output fed whole or one byte at a time.
 * Built only with -Dfuzz=true and clang (-fsanitize=fuzzer); not part of the normal build.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp-command.h"
#include "smtp-data.h"
#include "smtp-reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_commands(const char *s, size_t n)
{
	struct smtp_command cmd;
	struct smtp_error err;
	if (memchr(s, '\0', n) != NULL || smtp_command_parse(s, n, &cmd, &err) < 0)
		return;
	struct smtp_mail_args m;
	struct smtp_rcpt_args r;
	uint64_t size;
	bool last;
	char *name;
	if (smtp_mail_args_parse(cmd.args, cmd.args_len, &m, &err) == 0)
		smtp_mail_args_free(&m);
	if (smtp_rcpt_args_parse(cmd.args, cmd.args_len, n & 1, &r, &err) == 0)
		smtp_rcpt_args_free(&r);
	smtp_bdat_args_parse(cmd.args, cmd.args_len, &size, &last, &err);
	if (smtp_helo_arg_parse(cmd.args, cmd.args_len, &name, &err) == 0)
		free(name);
}

static void fuzz_decoder(const char *s, size_t n, bool bdat)
{
	char *whole = malloc(n + 2), *bytes = malloc(n + 2);
	struct smtp_data a, b;
	size_t wl = 0, bl = 0, o;
	smtp_data_init(&a, bdat);
	size_t used = smtp_data_feed(&a, s, n, whole, &wl);
	smtp_data_init(&b, bdat);
	size_t used_b = 0;
	while (used_b < n && !b.done) {
		used_b += smtp_data_feed(&b, s + used_b, 1, bytes + bl, &o);
		bl += o;
	}
	if (bdat) {
		wl += smtp_data_finish(&a, whole + wl);
		bl += smtp_data_finish(&b, bytes + bl);
	}
	assert(used == used_b && wl == bl && memcmp(whole, bytes, wl) == 0);
	assert(a.header_size == b.header_size && a.longest_line == b.longest_line);
	free(whole);
	free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	fuzz_commands(s, size);
	fuzz_decoder(s, size, false);
	fuzz_decoder(s, size, true);
	struct smtp_reply r;
	smtp_reply_init(&r);
	smtp_reply_feed_line(&r, s, size);
	smtp_reply_free(&r);
	return 0;
}
