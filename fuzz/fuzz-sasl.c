/* fuzz-sasl: libFuzzer target for src/lib-sasl: the strict base64 decoder, the stored
 * SCRAM secret parser, and each mechanism's server steps fed from the input (split into
 * client messages at '\n'), with a directory that knows one user. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sasl-base64.h"
#include "sasl.h"

static enum sasl_lookup fz_password(void *ctx, const char *user, const char *password)
{
	if (strcmp(user, "user") != 0)
		return SASL_LOOKUP_UNKNOWN;
	return strcmp(password, "pencil") == 0 ? SASL_LOOKUP_OK : SASL_LOOKUP_BAD;
}

static enum sasl_lookup fz_scram(void *ctx, const char *user, struct sasl_scram_secret *s)
{
	static const unsigned char salt[] = "0123456789abcdef";
	if (strcmp(user, "user") != 0)
		return SASL_LOOKUP_UNKNOWN;
	return sasl_scram_secret_compute("pencil", 4096, salt, 16, s) == 0 ? SASL_LOOKUP_OK
									 : SASL_LOOKUP_TEMPFAIL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sasl_callbacks cb = {fz_password, fz_scram, NULL};
	static const char *const mechs[] = {"PLAIN", "LOGIN", "SCRAM-SHA-256"};
	if (size < 1)
		return 0;
	struct buf out = BUF_INIT;
	sasl_base64_decode((const char *)data + 1, size - 1, &out);
	buf_reset(&out);
	char text[512];
	size_t n = size - 1 < sizeof(text) - 1 ? size - 1 : sizeof(text) - 1;
	memcpy(text, data + 1, n);
	text[n] = '\0';
	struct sasl_scram_secret secret;
	sasl_scram_secret_parse(text, &secret);
	struct sasl_server_settings set = {.cb = &cb, .success_data = data[0] & 4};
	struct sasl_server *s = sasl_server_new(mechs[data[0] % 3], &set);
	const uint8_t *p = data + 1, *end = data + size;
	enum sasl_result r = SASL_CONTINUE;
	for (int step = 0; s != NULL && r == SASL_CONTINUE && step < 8; step++) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		r = sasl_server_step(s, p, len, &out);
		p = nl ? nl + 1 : end;
	}
	sasl_server_free(&s);
	buf_free(&out);
	return 0;
}
