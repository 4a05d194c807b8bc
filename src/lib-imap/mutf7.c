/* mutf7: modified UTF-7 (RFC 3501 section 5.1.3) and a strict UTF-8 decoder.
 *
 * Printable US-ASCII (0x20-0x7e) stands for itself, "&" is "&-"; everything else is UTF-16BE
 * in modified base64 ("," for "/", no padding) between "&" and "-". Decoding rejects every
 * non-canonical form so that one mailbox has exactly one name on the wire.
 */
#include "mutf7.h"

#include <stdint.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

long utf8_decode_char(const char *s, size_t len, size_t *pos)
{
	const unsigned char *u = (const unsigned char *)s + *pos;
	size_t avail = len - *pos;
	long cp;
	size_t n;
	if (u[0] < 0x80) {
		(*pos)++;
		return u[0];
	}
	if (u[0] >= 0xc2 && u[0] <= 0xdf) {
		n = 2;
		cp = u[0] & 0x1f;
	} else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		n = 3;
		cp = u[0] & 0x0f;
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		n = 4;
		cp = u[0] & 0x07;
	} else {
		return -1;
	}
	if (avail < n)
		return -1;
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (u[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*pos += n;
	return cp;
}

bool utf8_is_valid(const char *s, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		if (utf8_decode_char(s, len, &pos) < 0)
			return false;
	}
	return true;
}

static void utf8_put(struct buf *out, long cp)
{
	char t[4];
	size_t n;
	if (cp < 0x80) {
		t[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		t[0] = (char)(0xc0 | (cp >> 6));
		t[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		t[0] = (char)(0xe0 | (cp >> 12));
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		t[0] = (char)(0xf0 | (cp >> 18));
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(out, t, n);
}

static bool is_direct(long cp)
{
	return cp >= 0x20 && cp <= 0x7e;
}

/* Encodes the non-direct run s[*pos..] as "&...-". */
static int encode_run(const char *s, size_t len, size_t *pos, struct buf *out)
{
	uint32_t bits = 0;
	unsigned nbits = 0;
	buf_append_char(out, '&');
	while (*pos < len) {
		size_t save = *pos;
		long cp = utf8_decode_char(s, len, pos);
		if (cp <= 0)
			return -1;
		if (is_direct(cp)) {
			*pos = save;
			break;
		}
		uint16_t units[2];
		int nu = 1;
		if (cp >= 0x10000) {
			units[0] = (uint16_t)(0xd800 + ((cp - 0x10000) >> 10));
			units[1] = (uint16_t)(0xdc00 + ((cp - 0x10000) & 0x3ff));
			nu = 2;
		} else {
			units[0] = (uint16_t)cp;
		}
		for (int i = 0; i < nu; i++) {
			bits = (bits << 16) | units[i];
			nbits += 16;
			while (nbits >= 6) {
				nbits -= 6;
				buf_append_char(out, b64[(bits >> nbits) & 0x3f]);
			}
		}
	}
	if (nbits > 0)
		buf_append_char(out, b64[(bits << (6 - nbits)) & 0x3f]);
	buf_append_char(out, '-');
	return 0;
}

int mutf7_encode(const char *s, size_t len, struct buf *out)
{
	size_t pos = 0;
	while (pos < len) {
		unsigned char c = (unsigned char)s[pos];
		if (c == '&') {
			buf_append_str(out, "&-");
			pos++;
		} else if (c >= 0x20 && c <= 0x7e) {
			buf_append_char(out, (char)c);
			pos++;
		} else if (encode_run(s, len, &pos, out) < 0) {
			return -1;
		}
	}
	return 0;
}

static int b64_value(char c)
{
	for (int i = 0; i < 64; i++) {
		if (b64[i] == c)
			return i;
	}
	return -1;
}

/* Decodes the base64 run after "&" up to its "-"; *pos is at the first base64 char. */
static int decode_run(const char *s, size_t len, size_t *pos, struct buf *out,
		      const char **error_r)
{
	uint32_t bits = 0;
	unsigned nbits = 0;
	long high = 0; /* pending high surrogate */
	for (;; (*pos)++) {
		if (*pos >= len) {
			*error_r = "Unterminated modified base64";
			return -1;
		}
		if (s[*pos] == '-')
			break;
		int v = b64_value(s[*pos]);
		if (v < 0) {
			*error_r = "Invalid character in modified base64";
			return -1;
		}
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		long u = (long)((bits >> nbits) & 0xffff);
		if (high != 0) {
			if (u < 0xdc00 || u > 0xdfff) {
				*error_r = "Unpaired UTF-16 surrogate";
				return -1;
			}
			utf8_put(out, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
			high = 0;
		} else if (u >= 0xd800 && u <= 0xdbff) {
			high = u;
		} else if (u >= 0xdc00 && u <= 0xdfff) {
			*error_r = "Unpaired UTF-16 surrogate";
			return -1;
		} else if (is_direct(u) || u == 0) {
			*error_r = "Needlessly encoded character";
			return -1;
		} else {
			utf8_put(out, u);
		}
	}
	if (high != 0 || nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0) {
		*error_r = "Incomplete modified base64";
		return -1;
	}
	(*pos)++; /* the '-' */
	return 0;
}

int mutf7_decode(const char *s, size_t len, struct buf *out, const char **error_r)
{
	size_t pos = 0;
	bool after_run = false;
	while (pos < len) {
		unsigned char c = (unsigned char)s[pos];
		if (c < 0x20 || c > 0x7e) {
			*error_r = "Invalid character in mailbox name";
			return -1;
		}
		if (c != '&') {
			buf_append_char(out, (char)c);
			pos++;
			after_run = false;
			continue;
		}
		if (pos + 1 < len && s[pos + 1] == '-') {
			buf_append_char(out, '&');
			pos += 2;
			after_run = false;
			continue;
		}
		if (after_run) {
			*error_r = "Adjacent modified base64 runs";
			return -1;
		}
		pos++;
		if (decode_run(s, len, &pos, out, error_r) < 0)
			return -1;
		after_run = true;
	}
	return 0;
}

bool mutf7_is_valid(const char *s, size_t len)
{
	struct buf tmp = BUF_INIT;
	const char *error;
	int r = mutf7_decode(s, len, &tmp, &error);
	buf_free(&tmp);
	return r == 0;
}
