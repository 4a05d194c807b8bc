/* imap-search: the search-key grammar of RFC 3501 / RFC 9051 section 6.4.4 and 9, with RFC 4731
 * RETURN options, RFC 5182 "$", RFC 7162 MODSEQ and RFC 5032 OLDER/YOUNGER, into a tree.
 * Recursion (OR, NOT, lists) is bounded by IMAP_SEARCH_MAX_DEPTH.
 */
#include "imap-search.h"

#include "imap-date.h"
#include "imap-flags.h"
#include "util.h"
#include "xalloc.h"

#include <string.h>

struct search_state {
	const struct imap_arg *args;
	size_t count, pos;
	const struct imap_search_context *ctx;
	bool uses_saved, uses_modseq;
	const char *error;
};

static const struct {
	const char *name;
	unsigned flag;
	bool negate;
} flag_keys[] = {
	{"ANSWERED", IMAP_FLAG_ANSWERED, false}, {"UNANSWERED", IMAP_FLAG_ANSWERED, true},
	{"DELETED", IMAP_FLAG_DELETED, false},   {"UNDELETED", IMAP_FLAG_DELETED, true},
	{"DRAFT", IMAP_FLAG_DRAFT, false},       {"UNDRAFT", IMAP_FLAG_DRAFT, true},
	{"FLAGGED", IMAP_FLAG_FLAGGED, false},   {"UNFLAGGED", IMAP_FLAG_FLAGGED, true},
	{"SEEN", IMAP_FLAG_SEEN, false},         {"UNSEEN", IMAP_FLAG_SEEN, true},
	{"RECENT", IMAP_FLAG_RECENT, false},     {"OLD", IMAP_FLAG_RECENT, true},
};

static const struct {
	const char *name;
	enum imap_search_op op;
	const char *header;
} arg_keys[] = {
	{"BCC", IMAP_SEARCH_HEADER, "Bcc"},
	{"CC", IMAP_SEARCH_HEADER, "Cc"},
	{"FROM", IMAP_SEARCH_HEADER, "From"},
	{"SUBJECT", IMAP_SEARCH_HEADER, "Subject"},
	{"TO", IMAP_SEARCH_HEADER, "To"},
	{"BODY", IMAP_SEARCH_BODY, NULL},
	{"TEXT", IMAP_SEARCH_TEXT, NULL},
	{"BEFORE", IMAP_SEARCH_BEFORE, NULL},
	{"ON", IMAP_SEARCH_ON, NULL},
	{"SINCE", IMAP_SEARCH_SINCE, NULL},
	{"SENTBEFORE", IMAP_SEARCH_SENTBEFORE, NULL},
	{"SENTON", IMAP_SEARCH_SENTON, NULL},
	{"SENTSINCE", IMAP_SEARCH_SENTSINCE, NULL},
	{"LARGER", IMAP_SEARCH_LARGER, NULL},
	{"SMALLER", IMAP_SEARCH_SMALLER, NULL},
	{"OLDER", IMAP_SEARCH_OLDER, NULL},
	{"YOUNGER", IMAP_SEARCH_YOUNGER, NULL},
	{"KEYWORD", IMAP_SEARCH_KEYWORD, NULL},
	{"UNKEYWORD", IMAP_SEARCH_KEYWORD, NULL},
	{"HEADER", IMAP_SEARCH_HEADER, NULL},
	{"UID", IMAP_SEARCH_UID, NULL},
	{"MODSEQ", IMAP_SEARCH_MODSEQ, NULL},
};

bool imap_search_charset_ok(const char *charset)
{
	return str_ieq(charset, "UTF-8") || str_ieq(charset, "US-ASCII");
}

void imap_search_key_free(struct imap_search_key *key)
{
	for (size_t i = 0; i < key->sub_count; i++)
		imap_search_key_free(&key->sub[i]);
	x_free(&key->sub);
	x_free(&key->name);
	x_free(&key->value);
	x_free(&key->modseq_type);
	imap_seqset_free(&key->set);
	memset(key, 0, sizeof(*key));
}

static struct imap_search_key *sub_add(struct imap_search_key *parent)
{
	parent->sub = x_reallocarray(parent->sub, parent->sub_count + 1, sizeof(*parent->sub));
	struct imap_search_key *k = &parent->sub[parent->sub_count++];
	memset(k, 0, sizeof(*k));
	return k;
}

/* Turns key into NOT(key). */
static void negate(struct imap_search_key *key)
{
	struct imap_search_key inner = *key;
	memset(key, 0, sizeof(*key));
	key->op = IMAP_SEARCH_NOT;
	*sub_add(key) = inner;
}

static const struct imap_arg *next_arg(struct search_state *st)
{
	if (st->pos >= st->count) {
		st->error = "Missing search key argument";
		return NULL;
	}
	return &st->args[st->pos++];
}

static bool next_astring(struct search_state *st, const char **s_r, size_t *len_r)
{
	const struct imap_arg *arg = next_arg(st);
	if (arg == NULL)
		return false;
	if (!imap_arg_get_astring(arg, s_r, len_r)) {
		st->error = "Invalid search string";
		return false;
	}
	return true;
}

static int parse_set(struct search_state *st, struct imap_search_key *key, const char *s,
		     uint32_t star)
{
	if (imap_seqset_parse(&key->set, s, strlen(s), star, &st->error) < 0)
		return -1;
	if (key->set.saved)
		st->uses_saved = true;
	return 0;
}

/* MODSEQ [entry-name entry-type-req] mod-sequence-valzer (RFC 7162 section 3.1.5) */
static int parse_modseq(struct search_state *st, struct imap_search_key *key)
{
	const struct imap_arg *arg = next_arg(st);
	const char *s, *type;
	size_t len;
	st->uses_modseq = true;
	if (arg != NULL && imap_arg_get_string(arg, &s, &len)) {
		if (!str_iprefix(s, "/flags/") || len > 200 || !next_astring(st, &type, NULL) ||
		    !(str_ieq(type, "priv") || str_ieq(type, "shared") || str_ieq(type, "all"))) {
			st->error = "Invalid MODSEQ entry";
			return -1;
		}
		key->name = x_strndup(s, len);
		key->modseq_type = str_lower(x_strdup(type));
		arg = next_arg(st);
	}
	if (arg == NULL || !imap_arg_get_number64(arg, &key->number)) {
		st->error = "Invalid MODSEQ value";
		return -1;
	}
	return 0;
}

static int parse_value_key(struct search_state *st, struct imap_search_key *key, size_t i)
{
	const char *s, *word = arg_keys[i].name;
	size_t len;
	uint64_t n;
	key->op = arg_keys[i].op;
	switch (key->op) {
	case IMAP_SEARCH_UID:
		if (!next_astring(st, &s, NULL))
			return -1;
		return parse_set(st, key, s, st->ctx->max_uid);
	case IMAP_SEARCH_MODSEQ:
		return parse_modseq(st, key);
	case IMAP_SEARCH_KEYWORD:
		if (!next_astring(st, &s, NULL))
			return -1;
		if (!imap_keyword_is_valid(s) && imap_flag_from_name(s) == 0) {
			st->error = "Invalid keyword";
			return -1;
		}
		key->name = x_strdup(s);
		if (word[0] == 'U')
			negate(key);
		return 0;
	case IMAP_SEARCH_HEADER:
		if (arg_keys[i].header != NULL) {
			key->name = x_strdup(arg_keys[i].header);
		} else {
			if (!next_astring(st, &s, &len))
				return -1;
			key->name = x_strndup(s, len);
		}
		if (!next_astring(st, &s, &len))
			return -1;
		key->value = x_strndup(s, len);
		key->value_len = len;
		return 0;
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		if (!next_astring(st, &s, &len))
			return -1;
		key->value = x_strndup(s, len);
		key->value_len = len;
		return 0;
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
	case IMAP_SEARCH_OLDER:
	case IMAP_SEARCH_YOUNGER:
		if (!next_astring(st, &s, &len) || !imap_parse_number(s, len, INT64_MAX, &n) ||
		    (n == 0 && (key->op == IMAP_SEARCH_OLDER || key->op == IMAP_SEARCH_YOUNGER))) {
			st->error = "Invalid number in search key";
			return -1;
		}
		key->number = n;
		return 0;
	default: /* dates */
		if (!next_astring(st, &s, &len) || imap_date_parse(s, len, &key->date) < 0) {
			st->error = "Invalid date in search key";
			return -1;
		}
		return 0;
	}
}

static int parse_key(struct search_state *st, struct imap_search_key *key, unsigned depth);

static int parse_list_key(struct search_state *st, struct imap_search_key *key,
			  const struct imap_arg *arg, unsigned depth)
{
	struct search_state inner = *st;
	inner.args = arg->list;
	inner.count = arg->len;
	inner.pos = 0;
	key->op = IMAP_SEARCH_AND;
	if (arg->len == 0) {
		st->error = "Empty search key list";
		return -1;
	}
	while (inner.pos < inner.count) {
		if (parse_key(&inner, sub_add(key), depth + 1) < 0) {
			st->error = inner.error;
			return -1;
		}
	}
	st->uses_saved = inner.uses_saved;
	st->uses_modseq = inner.uses_modseq;
	return 0;
}

static int parse_key(struct search_state *st, struct imap_search_key *key, unsigned depth)
{
	const struct imap_arg *arg = next_arg(st);
	const char *s;
	if (arg == NULL)
		return -1;
	if (depth > IMAP_SEARCH_MAX_DEPTH) {
		st->error = "Search program nested too deep";
		return -1;
	}
	if (arg->type == IMAP_ARG_LIST)
		return parse_list_key(st, key, arg, depth);
	if (!imap_arg_get_atom(arg, &s)) {
		st->error = "Invalid search key";
		return -1;
	}
	if ((s[0] >= '0' && s[0] <= '9') || s[0] == '*' || s[0] == '$') {
		key->op = IMAP_SEARCH_SEQSET;
		return parse_set(st, key, s, st->ctx->msg_count);
	}
	if (str_ieq(s, "ALL")) {
		key->op = IMAP_SEARCH_ALL;
		return 0;
	}
	if (str_ieq(s, "NOT") || str_ieq(s, "OR")) {
		key->op = str_ieq(s, "OR") ? IMAP_SEARCH_OR : IMAP_SEARCH_NOT;
		if (parse_key(st, sub_add(key), depth + 1) < 0)
			return -1;
		return key->op == IMAP_SEARCH_OR ? parse_key(st, sub_add(key), depth + 1) : 0;
	}
	if (str_ieq(s, "NEW")) {
		/* RFC 3501: NEW is "(RECENT UNSEEN)" */
		key->op = IMAP_SEARCH_AND;
		sub_add(key)->op = IMAP_SEARCH_FLAG;
		key->sub[0].flag = IMAP_FLAG_RECENT;
		struct imap_search_key *unseen = sub_add(key);
		unseen->op = IMAP_SEARCH_FLAG;
		unseen->flag = IMAP_FLAG_SEEN;
		negate(unseen);
		return 0;
	}
	for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++) {
		if (str_ieq(s, flag_keys[i].name)) {
			key->op = IMAP_SEARCH_FLAG;
			key->flag = flag_keys[i].flag;
			if (flag_keys[i].negate)
				negate(key);
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(arg_keys) / sizeof(arg_keys[0]); i++) {
		if (str_ieq(s, arg_keys[i].name))
			return parse_value_key(st, key, i);
	}
	st->error = "Unknown search key";
	return -1;
}

int imap_search_parse_keys(const struct imap_arg *args, size_t count,
			   const struct imap_search_context *ctx, struct imap_search_key *root_r,
			   bool *uses_saved_r, const char **error_r)
{
	struct search_state st = {args, count, 0, ctx, false, false, NULL};
	memset(root_r, 0, sizeof(*root_r));
	root_r->op = IMAP_SEARCH_AND;
	if (count == 0) {
		*error_r = "Missing search keys";
		return -1;
	}
	while (st.pos < st.count) {
		if (parse_key(&st, sub_add(root_r), 0) < 0) {
			*error_r = st.error;
			imap_search_key_free(root_r);
			return -1;
		}
	}
	if (uses_saved_r != NULL)
		*uses_saved_r = st.uses_saved;
	return 0;
}

/* PARTIAL lo:hi (RFC 5267 4.4): two non-zero numbers in either order, no "*". */
static bool parse_partial(const struct imap_arg *arg, uint32_t *lo_r, uint32_t *hi_r)
{
	const char *s, *colon;
	uint64_t a, b;
	if (!imap_arg_get_atom(arg, &s) || (colon = strchr(s, ':')) == NULL ||
	    !imap_parse_number(s, (size_t)(colon - s), UINT32_MAX, &a) ||
	    !imap_parse_number(colon + 1, strlen(colon + 1), UINT32_MAX, &b) || a == 0 || b == 0)
		return false;
	*lo_r = (uint32_t)(a < b ? a : b);
	*hi_r = (uint32_t)(a < b ? b : a);
	return true;
}

int imap_search_parse_return(const struct imap_arg *arg, unsigned allowed,
			     struct imap_search_program *prog, const char **error_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {{"MIN", IMAP_SEARCH_RETURN_MIN},	     {"MAX", IMAP_SEARCH_RETURN_MAX},
		    {"ALL", IMAP_SEARCH_RETURN_ALL},	     {"COUNT", IMAP_SEARCH_RETURN_COUNT},
		    {"SAVE", IMAP_SEARCH_RETURN_SAVE},	     {"CONTEXT", IMAP_SEARCH_RETURN_CONTEXT},
		    {"UPDATE", IMAP_SEARCH_RETURN_UPDATE}, {"PARTIAL", IMAP_SEARCH_RETURN_PARTIAL}};
	const struct imap_arg *list;
	size_t n;
	if (!imap_arg_get_list(arg, &list, &n)) {
		*error_r = "Invalid RETURN options";
		return -1;
	}
	prog->esearch = true;
	for (size_t i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++) {
			if (imap_arg_is_atom(&list[i], opts[j].name))
				break;
		}
		if (j == sizeof(opts) / sizeof(opts[0]) || (opts[j].bit & allowed) == 0) {
			*error_r = "Unknown RETURN option";
			return -1;
		}
		if (opts[j].bit == IMAP_SEARCH_RETURN_PARTIAL &&
		    (i + 1 >= n || !parse_partial(&list[++i], &prog->partial_lo, &prog->partial_hi))) {
			*error_r = "PARTIAL takes a range of two numbers";
			return -1;
		}
		prog->return_opts |= opts[j].bit;
	}
	if (n == 0)
		prog->return_opts = IMAP_SEARCH_RETURN_ALL;
	return 0;
}

enum imap_search_result imap_search_parse(const struct imap_arg *args, size_t count,
					  const struct imap_search_context *ctx,
					  struct imap_search_program *prog_r, const char **error_r)
{
	const char *charset;
	size_t i = 0;
	memset(prog_r, 0, sizeof(*prog_r));
	if (count >= 2 && imap_arg_is_atom(&args[0], "RETURN")) {
		if (imap_search_parse_return(&args[1], ~0u, prog_r, error_r) < 0)
			return IMAP_SEARCH_ERR_BAD;
		i = 2;
	}
	if (count >= i + 2 && imap_arg_is_atom(&args[i], "CHARSET")) {
		if (!imap_arg_get_astring(&args[i + 1], &charset, NULL)) {
			*error_r = "Invalid charset";
			return IMAP_SEARCH_ERR_BAD;
		}
		if (!imap_search_charset_ok(charset)) {
			*error_r = "Unsupported charset";
			return IMAP_SEARCH_ERR_BADCHARSET;
		}
		i += 2;
	}
	struct search_state st = {count > i ? args + i : NULL, count - i, 0, ctx, false, false, NULL};
	prog_r->root.op = IMAP_SEARCH_AND;
	if (st.count == 0) {
		*error_r = "Missing search keys";
		return IMAP_SEARCH_ERR_BAD;
	}
	while (st.pos < st.count) {
		if (parse_key(&st, sub_add(&prog_r->root), 0) < 0) {
			*error_r = st.error;
			imap_search_program_free(prog_r);
			return IMAP_SEARCH_ERR_BAD;
		}
	}
	prog_r->uses_saved = st.uses_saved;
	prog_r->uses_modseq = st.uses_modseq;
	return IMAP_SEARCH_OK;
}

void imap_search_program_free(struct imap_search_program *prog)
{
	imap_search_key_free(&prog->root);
	memset(prog, 0, sizeof(*prog));
}
