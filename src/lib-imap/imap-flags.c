/* imap-flags: parsing, validating and writing flag lists (RFC 3501 section 9: flag,
 * flag-keyword = atom, flag-extension = "\" atom, which servers may refuse; RFC 9051
 * section 2.3.2). \Recent cannot be stored (RFC 3501 section 6.4.6).
 */
#include "imap-flags.h"

#include "util.h"
#include "xalloc.h"

#include <string.h>

static const char *const system_names[] = {
	"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "\\Recent",
};

unsigned imap_flag_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(system_names) / sizeof(system_names[0]); i++) {
		if (str_ieq(name, system_names[i]))
			return 1u << i;
	}
	return 0;
}

const char *imap_flag_name(unsigned bit)
{
	for (size_t i = 0; i < sizeof(system_names) / sizeof(system_names[0]); i++) {
		if (bit == 1u << i)
			return system_names[i];
	}
	return NULL;
}

bool imap_keyword_is_valid(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > IMAP_KEYWORD_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		/* ATOM-CHAR: no atom-specials, no quoted-specials, no resp-specials */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

bool imap_flags_add_keyword(struct imap_flags *flags, const char *keyword)
{
	for (size_t i = 0; i < flags->keyword_count; i++) {
		if (str_ieq(flags->keywords[i], keyword))
			return true;
	}
	if (flags->keyword_count >= IMAP_KEYWORDS_MAX)
		return false;
	flags->keywords = x_reallocarray(flags->keywords, flags->keyword_count + 1,
					 sizeof(*flags->keywords));
	flags->keywords[flags->keyword_count++] = x_strdup(keyword);
	return true;
}

int imap_flags_parse(const struct imap_arg *args, size_t count, struct imap_flags *flags_r,
		     const char **error_r)
{
	memset(flags_r, 0, sizeof(*flags_r));
	for (size_t i = 0; i < count; i++) {
		const char *s = "NIL"; /* NIL is an atom here: the keyword "NIL" */
		if (args[i].type != IMAP_ARG_NIL && !imap_arg_get_atom(&args[i], &s)) {
			*error_r = "Flags must be atoms";
			goto fail;
		}
		if (s[0] == '\\') {
			unsigned bit = imap_flag_from_name(s);
			if (bit == 0 || bit == IMAP_FLAG_RECENT) {
				*error_r = "Invalid system flag";
				goto fail;
			}
			flags_r->system |= bit;
		} else if (!imap_keyword_is_valid(s)) {
			*error_r = "Invalid keyword";
			goto fail;
		} else if (!imap_flags_add_keyword(flags_r, s)) {
			*error_r = "Too many keywords";
			goto fail;
		}
	}
	return 0;
fail:
	imap_flags_free(flags_r);
	return -1;
}

void imap_flags_free(struct imap_flags *flags)
{
	for (size_t i = 0; i < flags->keyword_count; i++)
		x_free(&flags->keywords[i]);
	x_free(&flags->keywords);
	flags->keyword_count = 0;
	flags->system = 0;
}

void imap_flags_write(struct buf *out, const struct imap_flags *flags)
{
	bool first = true;
	buf_append_char(out, '(');
	for (unsigned bit = 1; bit <= IMAP_FLAG_RECENT; bit <<= 1) {
		if ((flags->system & bit) == 0)
			continue;
		if (!first)
			buf_append_char(out, ' ');
		buf_append_str(out, imap_flag_name(bit));
		first = false;
	}
	for (size_t i = 0; i < flags->keyword_count; i++) {
		if (!first)
			buf_append_char(out, ' ');
		buf_append_str(out, flags->keywords[i]);
		first = false;
	}
	buf_append_char(out, ')');
}
