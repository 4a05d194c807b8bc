/* mime-rfc2047: RFC 2047 encoded-word decoding and charset conversion (see mime-rfc2047.h).
 *
 * Decoded bytes of adjacent encoded-words in the same charset are converted together, so a
 * multi-byte character split across two words (common, though RFC 2047 5 forbids it) comes
 * out whole. UTF-8 and US-ASCII are validated here without iconv; other charsets go through
 * iconv(3), invalid sequences becoming U+FFFD.
 */
#include "mime-rfc2047.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <string.h>

#include "mime-decode.h"
#include "util.h"
#include "xalloc.h"

#define CHARSET_MAX 64

static const char replacement[] = "\xef\xbf\xbd";

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	size_t need;
	unsigned int min;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 2, min = 0x80;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		need = 3, min = 0x800;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		need = 4, min = 0x10000;
	else
		return 0;
	if (n < need)
		return 0;
	unsigned int cp = p[0] & (0x7f >> need);
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

static void utf8_copy_valid(const unsigned char *p, size_t len, bool ascii, struct buf *out)
{
	size_t i = 0;
	while (i < len) {
		size_t n = utf8_seq_len(p + i, len - i);
		if (n == 0 || (ascii && n > 1)) {
			buf_append_str(out, replacement);
			i++;
			continue;
		}
		buf_append(out, p + i, n);
		i += n;
	}
}

static int iconv_to_utf8(const char *charset, const char *in, size_t len, struct buf *out)
{
	iconv_t cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return -1;
	char *src = (char *)in;
	size_t left = len;
	while (left > 0) {
		char tmp[1024];
		char *dst = tmp;
		size_t room = sizeof(tmp);
		size_t r = iconv(cd, &src, &left, &dst, &room);
		buf_append(out, tmp, (size_t)(dst - tmp));
		if (r == (size_t)-1 && errno != E2BIG) {
			/* EILSEQ or EINVAL: skip one byte */
			buf_append_str(out, replacement);
			src++;
			left--;
			iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	iconv_close(cd);
	return 0;
}

int mime_charset_to_utf8(const char *charset, const void *in, size_t len, struct buf *out)
{
	char cs[CHARSET_MAX];
	size_t n = strcspn(charset, "*"); /* RFC 2231 5: charset*language */
	if (n == 0 || n >= sizeof(cs))
		return -1;
	memcpy(cs, charset, n);
	cs[n] = '\0';
	if (str_ieq(cs, "utf-8") || str_ieq(cs, "utf8")) {
		utf8_copy_valid(in, len, false, out);
		return 0;
	}
	if (str_ieq(cs, "us-ascii") || str_ieq(cs, "ascii")) {
		utf8_copy_valid(in, len, true, out);
		return 0;
	}
	return iconv_to_utf8(cs, in, len, out);
}

/* An encoded-word found in the input. */
struct eword {
	char charset[CHARSET_MAX];
	char enc; /* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	size_t len; /* of the whole word */
};

/* Parses "=?charset?X?text?=" at p (RFC 2047 2); returns false if it is not one. */
static bool eword_parse(const char *p, size_t n, struct eword *w)
{
	if (n < 8 || p[0] != '=' || p[1] != '?')
		return false;
	size_t i = 2;
	while (i < n && p[i] != '?' && p[i] > ' ' && p[i] < 127)
		i++;
	size_t cslen = i - 2;
	if (i + 2 >= n || p[i] != '?' || cslen == 0 || cslen >= CHARSET_MAX || p[i + 2] != '?')
		return false;
	char enc = p[i + 1] & ~0x20;
	if (enc != 'B' && enc != 'Q')
		return false;
	size_t t = i + 3;
	size_t e = t;
	while (e + 1 < n && !(p[e] == '?' && p[e + 1] == '=')) {
		if (p[e] == ' ' || p[e] == '\t' || p[e] == '\r' || p[e] == '\n')
			return false;
		e++;
	}
	if (e + 1 >= n)
		return false;
	memcpy(w->charset, p + 2, cslen);
	w->charset[cslen] = '\0';
	w->enc = enc;
	w->text = p + t;
	w->text_len = e - t;
	w->len = e + 2;
	return true;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c & ~0x20);
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* RFC 2047 4.2: "_" is a space, "=XX" an octet; a bad "=" is kept as it is. */
static void q_decode(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			buf_append_char(out, ' ');
		} else if (s[i] == '=' && i + 2 < n && hex_digit(s[i + 1]) >= 0 &&
			   hex_digit(s[i + 2]) >= 0) {
			buf_append_char(out,
					(char)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2])));
			i += 2;
		} else {
			buf_append_char(out, s[i]);
		}
	}
}

static bool charset_known(const char *charset)
{
	struct buf probe = BUF_INIT;
	bool ok = mime_charset_to_utf8(charset, "", 0, &probe) == 0;
	buf_free(&probe);
	return ok;
}

/* The state of one decoding run: decoded bytes not yet converted, in acc_charset. */
struct run {
	struct buf acc;
	char acc_charset[CHARSET_MAX];
};

static void run_flush(struct run *r, struct buf *out)
{
	if (r->acc.len > 0)
		mime_charset_to_utf8(r->acc_charset, r->acc.data, r->acc.len, out);
	buf_reset(&r->acc);
}

/* Decodes w into r; returns false (nothing changed) if its charset is unknown. */
static bool run_add(struct run *r, const struct eword *w, struct buf *out)
{
	if (r->acc.len > 0 && !str_ieq(r->acc_charset, w->charset))
		run_flush(r, out);
	if (!charset_known(w->charset))
		return false;
	memcpy(r->acc_charset, w->charset, sizeof(r->acc_charset));
	if (w->enc == 'Q') {
		q_decode(w->text, w->text_len, &r->acc);
	} else {
		struct mime_decoder d;
		mime_decoder_init(&d, MIME_CTE_BASE64);
		mime_decoder_feed(&d, w->text, w->text_len, &r->acc);
		mime_decoder_finish(&d, &r->acc);
	}
	return true;
}

void mime_rfc2047_decode(const char *in, size_t len, struct buf *out)
{
	struct run r = {BUF_INIT, ""};
	size_t i = 0;
	bool after_word = false;
	while (i < len) {
		struct eword w;
		if (in[i] == '=' && eword_parse(in + i, len - i, &w) && run_add(&r, &w, out)) {
			i += w.len;
			after_word = true;
			continue;
		}
		if (after_word) {
			/* RFC 2047 6.2: whitespace between adjacent encoded-words is dropped */
			size_t j = i;
			while (j < len &&
			       (in[j] == ' ' || in[j] == '\t' || in[j] == '\r' || in[j] == '\n'))
				j++;
			if (j > i && j < len && in[j] == '=' && eword_parse(in + j, len - j, &w) &&
			    charset_known(w.charset)) {
				i = j;
				continue;
			}
		}
		run_flush(&r, out);
		after_word = false;
		size_t j = i + 1;
		while (j < len && in[j] != '=')
			j++;
		buf_append(out, in + i, j - i);
		i = j;
	}
	run_flush(&r, out);
	buf_free(&r.acc);
}

char *mime_rfc2047_decode_str(const char *in)
{
	struct buf b = BUF_INIT;
	mime_rfc2047_decode(in, strlen(in), &b);
	return buf_steal(&b);
}
