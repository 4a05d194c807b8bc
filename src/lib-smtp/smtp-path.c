/* smtp-path: parsing mailbox paths (RFC 5321 4.1.2, 4.1.3, 4.5.3.1; RFC 6531 3.3).
 *
 * The parser walks the bytes once, left to right, with explicit bounds; it keeps a
 * canonical form of the mailbox so the rest of Tern compares addresses one way.
 */
#include "smtp-path.h"

#include <arpa/inet.h>
#include <string.h>

#include "buf.h"
#include "util.h"
#include "xalloc.h"

size_t smtp_utf8_char_len(const unsigned char *s, size_t n)
{
	if (n == 0 || s[0] < 0x80)
		return 0;
	size_t len;
	unsigned min;
	unsigned cp;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, min = 0x80, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, min = 0x800, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, min = 0x10000, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* atext of RFC 5322 3.2.3, as RFC 5321 4.1.2 uses it. */
static bool is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* One sub-domain (label) at s: Let-dig [Ldh-str], or a U-label (RFC 6531 3.3). Returns
 * its length, 0 when malformed. */
static size_t label_len(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < n && u[i] != '.') {
		size_t cl = 1;
		if (u[i] >= 0x80) {
			cl = smtp_utf8_char_len(u + i, n - i);
			if (cl == 0)
				return 0;
		} else if (!is_alpha(u[i]) && !is_digit(u[i]) && u[i] != '-') {
			break;
		}
		i += cl;
	}
	if (i == 0 || i > 63 || u[0] == '-' || u[i - 1] == '-')
		return 0;
	return i;
}

/* Length of the domain at the start of s (it ends at a byte no label may hold). */
static size_t domain_len(const char *s, size_t n)
{
	size_t i = 0;
	for (;;) {
		size_t l = label_len(s + i, n - i);
		if (l == 0)
			return 0;
		i += l;
		if (i + 1 < n && s[i] == '.' && s[i + 1] != '.' && s[i + 1] != '>') {
			i++;
			continue;
		}
		return i;
	}
}

bool smtp_domain_valid(const char *s, size_t n)
{
	return n > 0 && n <= SMTP_DOMAIN_MAX && domain_len(s, n) == n;
}

bool smtp_address_literal_valid(const char *s, size_t n)
{
	char tmp[64];
	unsigned char addr[16];
	if (n < 3 || s[0] != '[' || s[n - 1] != ']' || n - 2 >= sizeof(tmp))
		return false;
	memcpy(tmp, s + 1, n - 2);
	tmp[n - 2] = '\0';
	if (str_iprefix(tmp, "IPv6:"))
		return inet_pton(AF_INET6, tmp + 5, addr) == 1;
	if (inet_pton(AF_INET, tmp, addr) == 1)
		return true;
	/* General-address-literal = Standardized-tag ":" 1*dcontent (RFC 5321 4.1.3). A tag
	 * must be registered with IANA; none is, so a well-formed one is still refused. */
	return false;
}

/* Length of the address literal "[...]" at s, or 0. */
static size_t literal_len(const char *s, size_t n)
{
	const char *close = memchr(s, ']', n);
	if (s[0] != '[' || close == NULL)
		return 0;
	size_t l = (size_t)(close - s) + 1;
	return smtp_address_literal_valid(s, l) ? l : 0;
}

static void set_err(struct smtp_error *err, unsigned flags, int code, const char *text)
{
	err->code = code;
	err->enh = (flags & SMTP_PATH_SENDER) ? "5.1.7" : "5.1.3";
	err->text = text;
}

/* Skips a source route "@a,@b:" (RFC 5321 4.1.2 A-d-l); returns its length or 0. */
static size_t source_route_len(const char *s, size_t n)
{
	size_t i = 0;
	for (;;) {
		if (i >= n || s[i] != '@')
			return 0;
		i++;
		size_t d = domain_len(s + i, n - i);
		if (d == 0 && i < n && s[i] == '[')
			d = literal_len(s + i, n - i);
		if (d == 0)
			return 0;
		i += d;
		if (i < n && s[i] == ':')
			return i + 1;
		if (i >= n || s[i] != ',')
			return 0;
		i++;
	}
}

/* Is s[0..n) a Dot-string (atoms of atext or UTF-8 separated by single dots)? */
static bool dot_string_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	bool need_atom = true;
	for (size_t i = 0; i < n;) {
		if (u[i] == '.') {
			if (need_atom)
				return false;
			need_atom = true;
			i++;
			continue;
		}
		size_t cl = u[i] >= 0x80 ? smtp_utf8_char_len(u + i, n - i) : is_atext(u[i]);
		if (cl == 0)
			return false;
		need_atom = false;
		i += cl;
	}
	return n > 0 && !need_atom;
}

/* Parses a Quoted-string at s into its content (without quoting) in out; returns the
 * length consumed, 0 when malformed (RFC 5321 4.1.2 QcontentSMTP, RFC 6531 3.3). */
static size_t quoted_len(const char *s, size_t n, struct buf *out)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 1; i < n;) {
		if (u[i] == '"')
			return i + 1;
		if (u[i] == '\\') {
			if (i + 1 >= n || u[i + 1] < 32 || u[i + 1] > 126)
				return 0;
			buf_append_char(out, (char)u[i + 1]);
			i += 2;
		} else if (u[i] >= 0x80) {
			size_t cl = smtp_utf8_char_len(u + i, n - i);
			if (cl == 0)
				return 0;
			buf_append(out, s + i, cl);
			i += cl;
		} else if (u[i] >= 32 && u[i] <= 126) {
			buf_append_char(out, (char)u[i]);
			i++;
		} else {
			return 0;
		}
	}
	return 0;
}

/* Length of the dot-string local part at s (it stops at '@' or '>'), or 0. */
static size_t dot_local_len(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] != '@' && s[i] != '>')
		i++;
	return dot_string_valid(s, i) ? i : 0;
}

/* The canonical local part: the content itself when it is a Dot-string, else quoted
 * with the fewest escapes (RFC 5321 4.1.2 asks to prefer the unquoted form). */
static char *canonical_local(const char *content, size_t n)
{
	if (dot_string_valid(content, n))
		return x_strndup(content, n);
	struct buf b = BUF_INIT;
	buf_append_char(&b, '"');
	for (size_t i = 0; i < n; i++) {
		if (content[i] == '"' || content[i] == '\\')
			buf_append_char(&b, '\\');
		buf_append_char(&b, content[i]);
	}
	buf_append_char(&b, '"');
	return buf_steal(&b);
}

static bool has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* Local part at s into *local_r; returns bytes consumed or 0 with err set. */
static size_t parse_local(const char *s, size_t n, unsigned flags, char **local_r,
			  struct smtp_error *err)
{
	size_t used;
	if (n > 0 && s[0] == '"') {
		struct buf content = BUF_INIT;
		used = quoted_len(s, n, &content);
		if (used > 0)
			*local_r = canonical_local(content.data ? content.data : "", content.len);
		buf_free(&content);
	} else {
		used = dot_local_len(s, n);
		if (used > 0)
			*local_r = x_strndup(s, used);
	}
	if (used == 0) {
		set_err(err, flags, 501, (flags & SMTP_PATH_SENDER) ? "Bad sender address syntax"
								     : "Bad recipient address syntax");
		return 0;
	}
	if (strlen(*local_r) > SMTP_LOCAL_PART_MAX) {
		x_free(local_r);
		set_err(err, flags, 553, "Local part too long");
		return 0;
	}
	return used;
}

static int path_fail(struct smtp_path *path, struct smtp_error *err, unsigned flags, int code,
		     const char *text)
{
	smtp_path_free(path);
	set_err(err, flags, code, text);
	return -1;
}

int smtp_path_parse(const char *s, size_t len, unsigned flags, struct smtp_path *path,
		    size_t *used_r, struct smtp_error *err)
{
	const char *bad = (flags & SMTP_PATH_SENDER) ? "Bad sender address syntax"
						      : "Bad recipient address syntax";
	memset(path, 0, sizeof(*path));
	if (len < 2 || s[0] != '<')
		return path_fail(path, err, flags, 501, bad);
	const char *close = memchr(s, '>', len);
	/* A '>' may sit inside a quoted local part; then the real end is further on, which
	 * the walk below finds. The first '>' only bounds the length check. */
	if (close == NULL)
		return path_fail(path, err, flags, 501, bad);
	size_t i = 1;
	if (s[1] == '>') {
		if (!(flags & SMTP_PATH_ALLOW_NULL))
			return path_fail(path, err, flags, 501, bad);
		path->mailbox = x_strdup("");
		path->local = x_strdup("");
		path->domain = x_strdup("");
		*used_r = 2;
		return 0;
	}
	if (s[1] == '@') {
		size_t r = source_route_len(s + 1, len - 1);
		if (r == 0)
			return path_fail(path, err, flags, 501, bad);
		i += r;
	}
	size_t l = parse_local(s + i, len - i, flags, &path->local, err);
	if (l == 0)
		return -1;
	i += l;
	if (i < len && s[i] == '>' && (flags & SMTP_PATH_ALLOW_POSTMASTER) &&
	    str_ieq(path->local, "postmaster")) {
		/* RFC 5321 4.1.1.3: RCPT TO:<Postmaster> must be accepted. */
		path->mailbox = x_strdup(path->local);
		path->domain = x_strdup("");
		*used_r = i + 1;
		return 0;
	}
	if (i >= len || s[i] != '@')
		return path_fail(path, err, flags, 501, bad);
	i++;
	size_t d = i < len && s[i] == '[' ? literal_len(s + i, len - i)
					  : domain_len(s + i, len - i);
	if (d == 0 && i < len && s[i] == '[')
		return path_fail(path, err, flags, 553, "Bad address literal");
	if (d == 0)
		return path_fail(path, err, flags, 501, bad);
	if (d > SMTP_DOMAIN_MAX)
		return path_fail(path, err, flags, 553, "Domain name too long");
	path->literal = s[i] == '[';
	path->domain = x_strndup(s + i, d);
	i += d;
	if (i >= len || s[i] != '>')
		return path_fail(path, err, flags, 501, bad);
	i++;
	if (i > SMTP_PATH_MAX)
		return path_fail(path, err, flags, 553, "Path too long");
	path->mailbox = x_asprintf("%s@%s", path->local, path->domain);
	path->utf8 = has_8bit(path->mailbox);
	*used_r = i;
	return 0;
}

void smtp_path_free(struct smtp_path *path)
{
	x_free(&path->mailbox);
	x_free(&path->local);
	x_free(&path->domain);
	path->utf8 = false;
	path->literal = false;
}
