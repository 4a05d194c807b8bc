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
	for (size_t i = 0; i + 2 < baselen; i++) {
		if (fname[i] != ',' || fname[i + 1] != 'S' || fname[i + 2] != '=')
			continue;
		uint64_t v = 0;
		size_t j = i + 3, digits = 0;
		for (; j < baselen && fname[j] >= '0' && fname[j] <= '9' && digits < 19; j++) {
			v = v * 10 + (uint64_t)(fname[j] - '0');
			digits++;
		}
		if (digits > 0 && (j == baselen || fname[j] == ',')) {
			n->size = v;
			n->has_size = true;
			return;
		}
	}
}

bool maildir_name_parse(const char *fname, struct maildir_name *n_r)
{
	memset(n_r, 0, sizeof(*n_r));
	size_t len = strnlen(fname, MAILDIR_NAME_MAX + 1);
	if (len == 0 || len > MAILDIR_NAME_MAX || fname[0] == '.')
		return false;
	const char *colon = memchr(fname, ':', len);
	n_r->baselen = colon != NULL ? (size_t)(colon - fname) : len;
	if (n_r->baselen == 0)
		return false;
	maildir_name_size(fname, n_r->baselen, n_r);
	if (colon == NULL || strncmp(colon, ":2,", 3) != 0)
		return true;
	for (const char *p = colon + 3; *p != '\0'; p++) {
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
