/* sasl-base64: strict, canonical base64 encoding and decoding (RFC 4648 section 4) and
 * the client-line rules of RFC 4954 section 4 ("=" empty initial response, "*" cancel).
 */
#include "sasl-base64.h"

#include <string.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sasl_base64_encode(const void *p, size_t n, struct buf *out)
{
	const unsigned char *s = p;
	buf_reserve(out, (n + 2) / 3 * 4);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		char g[4] = {b64_alphabet[(v >> 18) & 63], b64_alphabet[(v >> 12) & 63],
			     i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=',
			     i + 2 < n ? b64_alphabet[v & 63] : '='};
		buf_append(out, g, 4);
	}
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes one 4-character group; last: it is the final group (padding allowed). */
static int b64_group(const unsigned char *g, bool last, struct buf *out)
{
	int v[4];
	int pad = 0;
	for (int i = 0; i < 4; i++) {
		if (g[i] == '=' && last && i >= 2) {
			pad++;
			v[i] = 0;
			continue;
		}
		if (pad > 0)
			return -1; /* data after padding: "AB=C" */
		v[i] = b64_value(g[i]);
		if (v[i] < 0)
			return -1;
	}
	unsigned bits =
	    (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
	unsigned char b[3] = {(unsigned char)(bits >> 16), (unsigned char)(bits >> 8),
			      (unsigned char)bits};
	if ((pad == 1 && (bits & 0xff) != 0) || (pad == 2 && (bits & 0xffff) != 0))
		return -1; /* non-zero unused bits: not canonical */
	return buf_append(out, b, (size_t)(3 - pad)) ? 0 : -1;
}

int sasl_base64_decode(const char *s, size_t n, struct buf *out)
{
	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		if (b64_group((const unsigned char *)s + i, i + 4 == n, out) < 0)
			return -1;
	}
	return 0;
}

enum sasl_decode_result sasl_decode_client(const char *line, size_t len, bool initial,
					   struct buf *out)
{
	buf_reset(out);
	if (initial && len == 1 && line[0] == '=')
		return SASL_DECODE_OK;
	if (!initial && len == 1 && line[0] == '*')
		return SASL_DECODE_ABORT;
	if (initial && len == 0)
		return SASL_DECODE_BAD; /* an empty initial response is written "=" */
	if (sasl_base64_decode(line, len, out) < 0) {
		buf_reset(out);
		return SASL_DECODE_BAD;
	}
	return SASL_DECODE_OK;
}
