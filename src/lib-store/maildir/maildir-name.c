/* maildir-name: Maildir file names (maildir.txt): the unique part, ":2," info with flag
 * letters in ASCII order (upper case: system flags; a-z: keywords, as Dovecot does), and
 * the Maildir++ ",S=<size>" field. Names come from the directory, so parsing trusts
 * nothing and bounds everything.
 */
#include "maildir-private.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

/* The ,S=<digits> field of the unique part, when there is one. */
static void maildir_name_size(const char *fname, size_t baselen, struct maildir_name *n)
{
	for (const char *p = fname, *end = fname + baselen;
	     (p = memchr(p, ',', (size_t)(end - p))) != NULL; p++) {
		if (end - p < 3 || p[1] != 'S' || p[2] != '=')
			continue;
		uint64_t v = 0;
		const char *q = p + 3;
		size_t digits = 0;
		for (; q < end && *q >= '0' && *q <= '9' && digits < 19; q++) {
			v = v * 10 + (uint64_t)(*q - '0');
			digits++;
		}
		if (digits > 0 && (q == end || *q == ',')) {
			n->size = v;
			n->has_size = true;
			return;
		}
	}
}

bool maildir_name_base(const char *fname, size_t *baselen_r)
{
	size_t len = strnlen(fname, MAILDIR_NAME_MAX + 1);
	if (len == 0 || len > MAILDIR_NAME_MAX || fname[0] == '.')
		return false;
	const char *colon = memchr(fname, ':', len);
	*baselen_r = colon != NULL ? (size_t)(colon - fname) : len;
	return *baselen_r > 0;
}

bool maildir_name_parse(const char *fname, struct maildir_name *n_r)
{
	memset(n_r, 0, sizeof(*n_r));
	if (!maildir_name_base(fname, &n_r->baselen))
		return false;
	maildir_name_size(fname, n_r->baselen, n_r);
	const char *info = fname + n_r->baselen;
	if (info[0] != ':' || info[1] != '2' || info[2] != ',')
		return true;
	for (const char *p = info + 3; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			n_r->flags |= 1u << (*p - 'A');
		else if (*p >= 'a' && *p <= 'z')
			n_r->keywords |= 1u << (*p - 'a');
	}
	return true;
}

void maildir_name_format(struct buf *out, const char *base, size_t baselen, uint32_t flags,
			 uint32_t keywords)
{
	buf_append(out, base, baselen);
	buf_append_str(out, ":2,");
	for (int i = 0; i < 26; i++)
		if (flags & (1u << i))
			buf_append_char(out, (char)('A' + i));
	for (int i = 0; i < 26; i++)
		if (keywords & (1u << i))
			buf_append_char(out, (char)('a' + i));
}

void maildir_name_unique(struct buf *out)
{
	static unsigned deliveries;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint32_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint32_t)tv.tv_usec ^ ((uint32_t)getpid() << 16);
	buf_printf(out, "%lld.M%ldP%dQ%uR%08x.", (long long)tv.tv_sec, (long)tv.tv_usec,
		   (int)getpid(), ++deliveries, rnd);
	/* maildir.txt: / becomes \057 and : becomes \072 in the host name. */
	for (const char *h = host_name(); *h != '\0'; h++) {
		if (*h == '/')
			buf_append_str(out, "\\057");
		else if (*h == ':')
			buf_append_str(out, "\\072");
		else
			buf_append_char(out, *h);
	}
}

bool maildir_name_valid_unique(const char *s)
{
	size_t len = strnlen(s, MAILDIR_NAME_MAX);
	if (len == 0 || len >= MAILDIR_NAME_MAX - 60 || s[0] == '.')
		return false;
	return strpbrk(s, "/:") == NULL;
}
