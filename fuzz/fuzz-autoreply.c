/* fuzz-autoreply: libFuzzer target for src/lib-autoreply (the RFC 3834 rules of Sieve
 * vacation and `tern vacation`).
 *
 * The input is split at NUL bytes into a field name, a value, an address and a name; each
 * rule runs on them, and the header of an answer built from them must hold no line break
 * but the one after each field (a value from a message cannot add a field of its own).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autoreply.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool any(void *ctx, const char *addr)
{
	return autoreply_address_is(addr, ctx, "+-");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = x_malloc(size + 1); /* NULs kept: they separate the parts */
	memcpy(text, data, size);
	text[size] = '\0';
	const char *part[4] = {"", "", "", ""};
	const char *p = text;
	for (size_t i = 0; i < 4 && p < text + size; i++) {
		part[i] = p;
		p += strlen(p) + 1;
	}
	(void)autoreply_sender_refused(part[2]);
	(void)autoreply_field_refused(part[0], part[1]);
	(void)autoreply_is_recipient_field(part[0]);
	(void)autoreply_value_has(part[1], any, (void *)part[3]);
	char *refs = autoreply_references(part[1], part[2], part[3]);
	char *subject = autoreply_subject(part[1]);
	struct buf out = BUF_INIT;
	struct autoreply_head h = {.from = part[0], .to = part[2], .subject = subject,
				   .in_reply_to = part[1], .references = refs,
				   .auto_submitted = true};
	autoreply_head_write(&h, &out);
	size_t lines = 0;
	for (size_t i = 0; i < out.len; i++)
		lines += out.data[i] == '\n' || out.data[i] == '\r';
	assert(lines <= 6);
	buf_free(&out);
	free(refs);
	free(subject);
	free(text);
	return 0;
}
