/* imap-arg: freeing and typed access to the argument tree built by imap-parser.
 *
 * The accessors encode RFC 3501 section 9 productions (atom, string, astring, nstring,
 * number, RFC 9051 number64) so command code never looks at raw types.
 */
#include "imap-arg.h"

#include "util.h"
#include "xalloc.h"

void imap_arg_free(struct imap_arg *arg)
{
	if (arg->type == IMAP_ARG_LIST) {
		for (size_t i = 0; i < arg->len; i++)
			imap_arg_free(&arg->list[i]);
		x_free(&arg->list);
	}
	x_free(&arg->str);
	arg->len = 0;
	arg->cap = 0;
}

bool imap_arg_is_atom(const struct imap_arg *arg, const char *word)
{
	return arg->type == IMAP_ARG_ATOM && str_ieq(arg->str, word);
}

bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type != IMAP_ARG_ATOM)
		return false;
	*str_r = arg->str;
	return true;
}

bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type != IMAP_ARG_QUOTED && arg->type != IMAP_ARG_LITERAL)
		return false;
	*str_r = arg->str;
	if (len_r != NULL)
		*len_r = arg->len;
	return true;
}

bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*str_r = "NIL";
		if (len_r != NULL)
			*len_r = 3;
		return true;
	}
	if (arg->type == IMAP_ARG_ATOM) {
		*str_r = arg->str;
		if (len_r != NULL)
			*len_r = arg->len;
		return true;
	}
	return imap_arg_get_string(arg, str_r, len_r);
}

bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		if (len_r != NULL)
			*len_r = 0;
		return true;
	}
	return imap_arg_get_string(arg, str_r, len_r);
}

bool imap_arg_get_list(const struct imap_arg *arg, const struct imap_arg **list_r,
		       size_t *count_r)
{
	if (arg->type != IMAP_ARG_LIST)
		return false;
	*list_r = arg->list;
	*count_r = arg->len;
	return true;
}

bool imap_mem_ieq(const char *s, size_t len, const char *word)
{
	size_t i;
	for (i = 0; i < len && word[i] != '\0'; i++) {
		char a = s[i], b = word[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (char)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return i == len && word[i] == '\0';
}

bool imap_parse_number(const char *s, size_t len, uint64_t max, uint64_t *num_r)
{
	uint64_t v = 0;
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*num_r = v;
	return true;
}

bool imap_arg_get_number(const struct imap_arg *arg, uint32_t *num_r)
{
	uint64_t v;
	if (arg->type != IMAP_ARG_ATOM || !imap_parse_number(arg->str, arg->len, UINT32_MAX, &v))
		return false;
	*num_r = (uint32_t)v;
	return true;
}

bool imap_arg_get_number64(const struct imap_arg *arg, uint64_t *num_r)
{
	/* RFC 9051 number64: 0 .. 2^63-1 */
	if (arg->type != IMAP_ARG_ATOM)
		return false;
	return imap_parse_number(arg->str, arg->len, INT64_MAX, num_r);
}
