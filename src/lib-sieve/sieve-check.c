/* sieve-check: resolves the parsed tree against the known commands, tests and tags.
 *
 * RFC 5228 2.10.5 (require), 3 (control commands: if/elsif/else order, require first),
 * 2.6/2.7 (tagged and positional arguments, comparators, match types, address parts),
 * 2.4.2.4 (encoded-character, decoded here once), and the argument rules of each
 * extension (see the table). What passes here is trusted by the interpreter.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve-int.h"
#include "xalloc.h"

static const char *const ext_names[SIEVE_EXT_COUNT] = {
    "fileinto",
    "reject",
    "ereject",
    "envelope",
    "encoded-character",
    "variables",
    "vacation",
    "vacation-seconds",
    "imap4flags",
    "body",
    "subaddress",
    "relational",
    "copy",
    "regex",
    "comparator-i;ascii-numeric",
    "mailbox",
    "date",
    "duplicate",
    "include",
    "ihave",
};

const char *sieve_capabilities(void)
{
	return "fileinto reject ereject envelope encoded-character variables vacation "
	       "vacation-seconds imap4flags body subaddress relational copy regex "
	       "comparator-i;ascii-numeric comparator-i;ascii-casemap comparator-i;octet "
	       "mailbox date duplicate include ihave";
}

/* The extension number, -2 for a built-in comparator, -1 if unknown. */
int sieve_ext_lookup(const char *name)
{
	for (int i = 0; i < SIEVE_EXT_COUNT; i++)
		if (strcmp(ext_names[i], name) == 0)
			return i;
	if (strcmp(name, "comparator-i;octet") == 0 ||
	    strcmp(name, "comparator-i;ascii-casemap") == 0)
		return -2;
	return -1;
}

/* tag groups */
#define TG_MATCH 0x001
#define TG_CMP 0x002
#define TG_ADDR 0x004
#define TG_BODY 0x008
#define TG_COPY 0x010
#define TG_CREATE 0x020
#define TG_FLAGS 0x040
#define TG_VAC 0x080
#define TG_SIZE 0x100
#define TG_DATE 0x200
#define TG_ZONE 0x400
#define TG_INC 0x800
#define TG_DUP 0x1000
#define TG_MODS 0x2000
#define TG_TEST (TG_MATCH | TG_CMP)

enum { E_NONE = -1 };

static const struct sieve_spec specs[] = {
    {"require", SIEVE_CMD_REQUIRE, false, E_NONE, "l", 0, 0, 0, false},
    {"if", SIEVE_CMD_IF, false, E_NONE, "", 0, 0, 1, true},
    {"elsif", SIEVE_CMD_ELSIF, false, E_NONE, "", 0, 0, 1, true},
    {"else", SIEVE_CMD_ELSE, false, E_NONE, "", 0, 0, 0, true},
    {"stop", SIEVE_CMD_STOP, false, E_NONE, "", 0, 0, 0, false},
    {"keep", SIEVE_CMD_KEEP, false, E_NONE, "", 0, TG_FLAGS, 0, false},
    {"discard", SIEVE_CMD_DISCARD, false, E_NONE, "", 0, 0, 0, false},
    {"fileinto", SIEVE_CMD_FILEINTO, false, SIEVE_EXT_FILEINTO, "s", 0,
     TG_COPY | TG_CREATE | TG_FLAGS, 0, false},
    {"redirect", SIEVE_CMD_REDIRECT, false, E_NONE, "s", 0, TG_COPY, 0, false},
    {"reject", SIEVE_CMD_REJECT, false, SIEVE_EXT_REJECT, "s", 0, 0, 0, false},
    {"ereject", SIEVE_CMD_EREJECT, false, SIEVE_EXT_EREJECT, "s", 0, 0, 0, false},
    {"vacation", SIEVE_CMD_VACATION, false, SIEVE_EXT_VACATION, "s", 0, TG_VAC, 0, false},
    {"set", SIEVE_CMD_SET, false, SIEVE_EXT_VARIABLES, "ss", 0, TG_MODS, 0, false},
    {"setflag", SIEVE_CMD_SETFLAG, false, SIEVE_EXT_IMAP4FLAGS, "sl", 1, 0, 0, false},
    {"addflag", SIEVE_CMD_ADDFLAG, false, SIEVE_EXT_IMAP4FLAGS, "sl", 1, 0, 0, false},
    {"removeflag", SIEVE_CMD_REMOVEFLAG, false, SIEVE_EXT_IMAP4FLAGS, "sl", 1, 0, 0, false},
    {"include", SIEVE_CMD_INCLUDE, false, SIEVE_EXT_INCLUDE, "s", 0, TG_INC, 0, false},
    {"return", SIEVE_CMD_RETURN, false, SIEVE_EXT_INCLUDE, "", 0, 0, 0, false},
    {"global", SIEVE_CMD_GLOBAL, false, SIEVE_EXT_INCLUDE, "l", 0, 0, 0, false},
    {"error", SIEVE_CMD_ERROR, false, SIEVE_EXT_IHAVE, "s", 0, 0, 0, false},
    {"address", SIEVE_TEST_ADDRESS, true, E_NONE, "ll", 0, TG_TEST | TG_ADDR, 0, false},
    {"allof", SIEVE_TEST_ALLOF, true, E_NONE, "", 0, 0, 2, false},
    {"anyof", SIEVE_TEST_ANYOF, true, E_NONE, "", 0, 0, 2, false},
    {"envelope", SIEVE_TEST_ENVELOPE, true, SIEVE_EXT_ENVELOPE, "ll", 0, TG_TEST | TG_ADDR, 0,
     false},
    {"exists", SIEVE_TEST_EXISTS, true, E_NONE, "l", 0, 0, 0, false},
    {"false", SIEVE_TEST_FALSE, true, E_NONE, "", 0, 0, 0, false},
    {"true", SIEVE_TEST_TRUE, true, E_NONE, "", 0, 0, 0, false},
    {"header", SIEVE_TEST_HEADER, true, E_NONE, "ll", 0, TG_TEST, 0, false},
    {"not", SIEVE_TEST_NOT, true, E_NONE, "", 0, 0, 1, false},
    {"size", SIEVE_TEST_SIZE, true, E_NONE, "n", 0, TG_SIZE, 0, false},
    {"body", SIEVE_TEST_BODY, true, SIEVE_EXT_BODY, "l", 0, TG_TEST | TG_BODY, 0, false},
    {"string", SIEVE_TEST_STRING, true, SIEVE_EXT_VARIABLES, "ll", 0, TG_TEST, 0, false},
    {"hasflag", SIEVE_TEST_HASFLAG, true, SIEVE_EXT_IMAP4FLAGS, "ll", 1, TG_TEST, 0, false},
    {"mailboxexists", SIEVE_TEST_MAILBOXEXISTS, true, SIEVE_EXT_MAILBOX, "l", 0, 0, 0, false},
    {"date", SIEVE_TEST_DATE, true, SIEVE_EXT_DATE, "ssl", 0, TG_TEST | TG_DATE, 0, false},
    {"currentdate", SIEVE_TEST_CURRENTDATE, true, SIEVE_EXT_DATE, "sl", 0, TG_TEST | TG_ZONE, 0,
     false},
    {"duplicate", SIEVE_TEST_DUPLICATE, true, SIEVE_EXT_DUPLICATE, "", 0, TG_DUP, 0, false},
    {"ihave", SIEVE_TEST_IHAVE, true, SIEVE_EXT_IHAVE, "l", 0, 0, 0, false},
};

struct tag_spec {
	const char *tag;
	unsigned int group;
	char param; /* 0, 's', 'l' or 'n' */
	int ext;
	int slot; /* tags in one slot exclude each other */
};

enum { SL_MATCH = 1, SL_CMP, SL_ADDR, SL_BODY, SL_INTERVAL, SL_SIZE, SL_LOC, SL_DUPID };

static const struct tag_spec tags[] = {
    {"is", TG_MATCH, 0, E_NONE, SL_MATCH},
    {"contains", TG_MATCH, 0, E_NONE, SL_MATCH},
    {"matches", TG_MATCH, 0, E_NONE, SL_MATCH},
    {"regex", TG_MATCH, 0, SIEVE_EXT_REGEX, SL_MATCH},
    {"count", TG_MATCH, 's', SIEVE_EXT_RELATIONAL, SL_MATCH},
    {"value", TG_MATCH, 's', SIEVE_EXT_RELATIONAL, SL_MATCH},
    {"comparator", TG_CMP, 's', E_NONE, SL_CMP},
    {"all", TG_ADDR, 0, E_NONE, SL_ADDR},
    {"localpart", TG_ADDR, 0, E_NONE, SL_ADDR},
    {"domain", TG_ADDR, 0, E_NONE, SL_ADDR},
    {"user", TG_ADDR, 0, SIEVE_EXT_SUBADDRESS, SL_ADDR},
    {"detail", TG_ADDR, 0, SIEVE_EXT_SUBADDRESS, SL_ADDR},
    {"raw", TG_BODY, 0, E_NONE, SL_BODY},
    {"content", TG_BODY, 'l', E_NONE, SL_BODY},
    {"text", TG_BODY, 0, E_NONE, SL_BODY},
    {"copy", TG_COPY, 0, SIEVE_EXT_COPY, 0},
    {"create", TG_CREATE, 0, SIEVE_EXT_MAILBOX, 0},
    {"flags", TG_FLAGS, 'l', SIEVE_EXT_IMAP4FLAGS, 0},
    {"days", TG_VAC, 'n', E_NONE, SL_INTERVAL},
    {"seconds", TG_VAC, 'n', SIEVE_EXT_VACATION_SECONDS, SL_INTERVAL},
    {"subject", TG_VAC, 's', E_NONE, 0},
    {"from", TG_VAC, 's', E_NONE, 0},
    {"addresses", TG_VAC, 'l', E_NONE, 0},
    {"mime", TG_VAC, 0, E_NONE, 0},
    {"handle", TG_VAC | TG_DUP, 's', E_NONE, 0},
    {"over", TG_SIZE, 0, E_NONE, SL_SIZE},
    {"under", TG_SIZE, 0, E_NONE, SL_SIZE},
    {"zone", TG_DATE | TG_ZONE, 's', E_NONE, SL_LOC},
    {"originalzone", TG_DATE, 0, E_NONE, SL_LOC},
    {"personal", TG_INC, 0, E_NONE, SL_LOC},
    {"global", TG_INC, 0, E_NONE, SL_LOC},
    {"once", TG_INC, 0, E_NONE, 0},
    {"optional", TG_INC, 0, E_NONE, 0},
    {"header", TG_DUP, 's', E_NONE, SL_DUPID},
    {"uniqueid", TG_DUP, 's', E_NONE, SL_DUPID},
    {"seconds", TG_DUP, 'n', E_NONE, 0},
    {"last", TG_DUP, 0, E_NONE, 0},
    {"lower", TG_MODS, 0, E_NONE, 0},
    {"upper", TG_MODS, 0, E_NONE, 0},
    {"lowerfirst", TG_MODS, 0, E_NONE, 0},
    {"upperfirst", TG_MODS, 0, E_NONE, 0},
    {"quotewildcard", TG_MODS, 0, E_NONE, 0},
    {"length", TG_MODS, 0, E_NONE, 0},
};

struct checker {
	struct sieve_script *script;
	struct sieve_error *err;
	bool decode;
};

static bool has_ext(const struct checker *ck, int ext)
{
	return ext < 0 || (ck->script->exts & (1u << ext)) != 0;
}

static int fail(struct checker *ck, int line, int col, const char *fmt, const char *a,
		const char *b)
{
	sieve_set_error(ck->err, line, col, fmt, a, b);
	return -1;
}

static int set_relation(struct checker *ck, struct sieve_opts *o, const struct sieve_arg *a)
{
	static const char *const rels[] = {"gt", "ge", "lt", "le", "eq", "ne"};
	for (int i = 0; i < 6; i++) {
		if (strcasecmp(a->strs[0], rels[i]) == 0) {
			o->rel = (enum sieve_rel)i;
			return 0;
		}
	}
	return fail(ck, a->line, a->col, "unknown relation '%s'%s", a->strs[0], "");
}

static int set_comparator(struct checker *ck, struct sieve_opts *o, const struct sieve_arg *a)
{
	const char *c = a->strs[0];
	if (strcasecmp(c, "i;ascii-casemap") == 0)
		o->cmp = SIEVE_CMP_CASEMAP;
	else if (strcasecmp(c, "i;octet") == 0)
		o->cmp = SIEVE_CMP_OCTET;
	else if (strcasecmp(c, "i;ascii-numeric") == 0 && has_ext(ck, SIEVE_EXT_NUMERIC))
		o->cmp = SIEVE_CMP_NUMERIC;
	else
		return fail(ck, a->line, a->col, "unknown comparator '%s'%s", c, "");
	return 0;
}

static int set_modifier(struct checker *ck, struct sieve_opts *o, const char *tag,
			const struct sieve_arg *a)
{
	static const char *const mods[] = {"lower",	 "upper",	  "lowerfirst",
					   "upperfirst", "quotewildcard", "length"};
	unsigned int bit = 0;
	for (int i = 0; i < 6; i++)
		if (strcmp(tag, mods[i]) == 0)
			bit = 1u << i;
	/* RFC 5229 4.1: one modifier per precedence level */
	unsigned int level = bit & (SIEVE_MOD_LOWER | SIEVE_MOD_UPPER)
				 ? (SIEVE_MOD_LOWER | SIEVE_MOD_UPPER)
			     : bit & (SIEVE_MOD_LOWERFIRST | SIEVE_MOD_UPPERFIRST)
				 ? (SIEVE_MOD_LOWERFIRST | SIEVE_MOD_UPPERFIRST)
				 : bit;
	if (o->mods & level)
		return fail(ck, a->line, a->col, "modifier :%s conflicts with another%s", tag, "");
	o->mods |= bit;
	return 0;
}

/* Records a tag (and its parameter p) in the node's options. */
static int apply_tag(struct checker *ck, struct sieve_node *n, const struct tag_spec *t,
		     const struct sieve_arg *a, const struct sieve_arg *p)
{
	struct sieve_opts *o = &n->opts;
	const char *s = t->tag;
	if (t->group == TG_MATCH) {
		static const char *const m[] = {"is",	 "contains", "matches",
						"regex", "count",    "value"};
		for (int i = 0; i < 6; i++)
			if (strcmp(s, m[i]) == 0)
				o->match = (enum sieve_match)i;
		return p != NULL ? set_relation(ck, o, p) : 0;
	}
	if (t->group == TG_CMP)
		return set_comparator(ck, o, p);
	if (t->group == TG_ADDR) {
		static const char *const m[] = {"all", "localpart", "domain", "user", "detail"};
		for (int i = 0; i < 5; i++)
			if (strcmp(s, m[i]) == 0)
				o->addrpart = (enum sieve_addrpart)i;
		return 0;
	}
	if (t->group == TG_MODS)
		return set_modifier(ck, o, s, a);
	if (strcmp(s, "raw") == 0)
		o->bodyxf = SIEVE_BODY_RAW;
	else if (strcmp(s, "content") == 0)
		o->bodyxf = SIEVE_BODY_CONTENT, o->content = p;
	else if (strcmp(s, "text") == 0)
		o->bodyxf = SIEVE_BODY_TEXT;
	else if (strcmp(s, "copy") == 0)
		o->copy = true;
	else if (strcmp(s, "create") == 0)
		o->create = true;
	else if (strcmp(s, "flags") == 0)
		o->flags = p;
	else if (strcmp(s, "days") == 0)
		o->days = p;
	else if (strcmp(s, "seconds") == 0)
		o->seconds = p;
	else if (strcmp(s, "subject") == 0)
		o->subject = p;
	else if (strcmp(s, "from") == 0)
		o->from = p;
	else if (strcmp(s, "addresses") == 0)
		o->addresses = p;
	else if (strcmp(s, "mime") == 0)
		o->mime = true;
	else if (strcmp(s, "handle") == 0)
		o->handle = p;
	else if (strcmp(s, "over") == 0 || strcmp(s, "under") == 0)
		o->over = s[0] == 'o';
	else if (strcmp(s, "zone") == 0)
		o->zone = p;
	else if (strcmp(s, "originalzone") == 0)
		o->originalzone = true;
	else if (strcmp(s, "global") == 0)
		o->global = true;
	else if (strcmp(s, "once") == 0)
		o->once = true;
	else if (strcmp(s, "optional") == 0)
		o->optional = true;
	else if (strcmp(s, "header") == 0)
		o->header = p;
	else if (strcmp(s, "uniqueid") == 0)
		o->uniqueid = p;
	else if (strcmp(s, "last") == 0)
		o->last = true;
	return 0;
}

static const struct tag_spec *find_tag(const char *tag, unsigned int groups)
{
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if ((tags[i].group & groups) != 0 && strcmp(tags[i].tag, tag) == 0)
			return &tags[i];
	return NULL;
}

static bool param_ok(char want, const struct sieve_arg *p)
{
	if (p == NULL)
		return false;
	if (want == 'n')
		return p->kind == SIEVE_ARG_NUMBER;
	if (p->kind != SIEVE_ARG_STRINGS)
		return false;
	return want == 'l' || (p->count == 1 && !p->list);
}

static int check_tag(struct checker *ck, struct sieve_node *n, size_t *i, unsigned int *slots,
		     bool *seen)
{
	const struct sieve_arg *a = &n->args[*i];
	const struct tag_spec *t = find_tag(a->tag, n->spec->tags);
	if (t == NULL)
		return fail(ck, a->line, a->col, "unknown tag :%s for '%s'", a->tag, n->name);
	if (!has_ext(ck, t->ext))
		return fail(ck, a->line, a->col, "tag :%s needs require \"%s\"", a->tag,
			    ext_names[t->ext]);
	if (t->slot != 0 && (*slots & (1u << t->slot)) != 0)
		return fail(ck, a->line, a->col, "tag :%s conflicts with an earlier tag%s", a->tag,
			    "");
	size_t idx = (size_t)(t - tags);
	if (seen[idx])
		return fail(ck, a->line, a->col, "tag :%s given twice%s", a->tag, "");
	seen[idx] = true;
	if (t->slot != 0)
		*slots |= 1u << t->slot;
	const struct sieve_arg *p = NULL;
	if (t->param != 0) {
		p = *i + 1 < n->nargs ? &n->args[*i + 1] : NULL;
		if (!param_ok(t->param, p))
			return fail(ck, a->line, a->col, "tag :%s needs %s after it", a->tag,
				    t->param == 'n'   ? "a number"
				    : t->param == 's' ? "a string"
						      : "a string list");
		(*i)++;
	}
	return apply_tag(ck, n, t, a, p);
}

/* Splits the arguments into tags and positionals and checks each against the spec. */
static int check_args(struct checker *ck, struct sieve_node *n)
{
	const struct sieve_spec *sp = n->spec;
	bool seen[sizeof(tags) / sizeof(tags[0])] = {false};
	unsigned int slots = 0;
	size_t npos = strlen(sp->pos);
	for (size_t i = 0; i < n->nargs; i++) {
		const struct sieve_arg *a = &n->args[i];
		if (a->kind == SIEVE_ARG_TAG) {
			if (n->opts.npos > 0)
				return fail(ck, a->line, a->col,
					    "tag :%s after the positional arguments of '%s'",
					    a->tag, n->name);
			if (check_tag(ck, n, &i, &slots, seen) < 0)
				return -1;
			continue;
		}
		if (n->opts.npos >= npos)
			return fail(ck, a->line, a->col, "too many arguments for '%s'%s", n->name,
				    "");
		n->opts.pos[n->opts.npos++] = a;
	}
	size_t skip = n->opts.npos + (size_t)sp->optional >= npos && n->opts.npos < npos
			  ? npos - n->opts.npos
			  : 0;
	if (n->opts.npos + skip != npos)
		return fail(ck, n->line, n->col, "'%s' needs %s arguments", n->name,
			    npos == 1 ? "one positional" : "more positional");
	for (size_t k = 0; k < n->opts.npos; k++) {
		if (!param_ok(sp->pos[skip + k], n->opts.pos[k]))
			return fail(ck, n->opts.pos[k]->line, n->opts.pos[k]->col,
				    "wrong argument type for '%s' (expected %s)", n->name,
				    sp->pos[skip + k] == 'n'   ? "a number"
				    : sp->pos[skip + k] == 's' ? "a string"
							       : "a string list");
	}
	if (sp->id == SIEVE_TEST_SIZE && (slots & (1u << SL_SIZE)) == 0)
		return fail(ck, n->line, n->col, "'size' needs :over or :under%s", "", "");
	return 0;
}

static bool date_part_valid(const char *s)
{
	static const char *const parts[] = {"year",  "month",  "day",	 "date", "julian",
					    "hour",  "minute", "second", "time", "iso8601",
					    "std11", "zone",   "weekday"};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (strcasecmp(s, parts[i]) == 0)
			return true;
	return false;
}

/* A constant :regex key (without variables) must compile (RFC draft regex 4). */
static int check_regex(struct checker *ck, const struct sieve_node *n)
{
	const struct sieve_arg *keys = n->opts.npos > 0 ? n->opts.pos[n->opts.npos - 1] : NULL;
	if (n->opts.match != SIEVE_MATCH_REGEX || keys == NULL)
		return 0;
	for (size_t i = 0; i < keys->count; i++) {
		regex_t re;
		if (has_ext(ck, SIEVE_EXT_VARIABLES) && strstr(keys->strs[i], "${") != NULL)
			continue;
		if (regcomp(&re, keys->strs[i], REG_EXTENDED | REG_NOSUB) != 0)
			return fail(ck, keys->line, keys->col, "invalid regular expression '%s'%s",
				    keys->strs[i], "");
		regfree(&re);
	}
	return 0;
}

/* Rules of single commands beyond argument types. */
static int check_semantics(struct checker *ck, struct sieve_node *n)
{
	const struct sieve_opts *o = &n->opts;
	if (o->cmp == SIEVE_CMP_NUMERIC &&
	    (o->match == SIEVE_MATCH_CONTAINS || o->match == SIEVE_MATCH_MATCHES ||
	     o->match == SIEVE_MATCH_REGEX))
		return fail(ck, n->line, n->col,
			    "'%s': i;ascii-numeric cannot match substrings or patterns%s", n->name,
			    "");
	switch (n->spec->id) {
	case SIEVE_CMD_SET:
		if (!sieve_var_name_valid(o->pos[0]->strs[0], false))
			return fail(ck, o->pos[0]->line, o->pos[0]->col,
				    "invalid variable name '%s'%s", o->pos[0]->strs[0], "");
		break;
	case SIEVE_CMD_GLOBAL:
		if (!has_ext(ck, SIEVE_EXT_VARIABLES))
			return fail(ck, n->line, n->col, "'global' needs require \"%s\"%s",
				    "variables", "");
		for (size_t i = 0; i < o->pos[0]->count; i++)
			if (!sieve_var_name_valid(o->pos[0]->strs[i], false))
				return fail(ck, o->pos[0]->line, o->pos[0]->col,
					    "invalid variable name '%s'%s", o->pos[0]->strs[i], "");
		break;
	case SIEVE_TEST_DATE:
	case SIEVE_TEST_CURRENTDATE: {
		const struct sieve_arg *part = o->pos[n->spec->id == SIEVE_TEST_DATE ? 1 : 0];
		if (!date_part_valid(part->strs[0]))
			return fail(ck, part->line, part->col, "unknown date part '%s'%s",
				    part->strs[0], "");
		break;
	}
	case SIEVE_CMD_INCLUDE:
		if (strchr(o->pos[0]->strs[0], '/') != NULL || o->pos[0]->strs[0][0] == '\0')
			return fail(ck, o->pos[0]->line, o->pos[0]->col,
				    "invalid script name '%s'%s", o->pos[0]->strs[0], "");
		break;
	default:
		break;
	}
	return check_regex(ck, n);
}

static int check_node(struct checker *ck, struct sieve_node *n, bool test, int depth);

static int check_children(struct checker *ck, struct sieve_node *n, int depth)
{
	const struct sieve_spec *sp = n->spec;
	if (sp->tests == 0 && n->ntests > 0 && !sp->test && !n->test_list && n->nargs == 0)
		return fail(ck, n->line, n->col + (int)strlen(n->name), "missing ';' after '%s'%s",
			    n->name, "");
	if (sp->tests == 0 && n->ntests > 0)
		return fail(ck, n->tests[0]->line, n->tests[0]->col, "'%s' takes no test%s",
			    n->name, "");
	if (sp->tests == 1 && (n->ntests != 1 || (n->test_list && sp->id != SIEVE_TEST_NOT)))
		return fail(ck, n->line, n->col, "'%s' needs one test%s", n->name, "");
	if (sp->tests == 2 && (!n->test_list || n->ntests == 0))
		return fail(ck, n->line, n->col, "'%s' needs a list of tests in ( )%s", n->name,
			    "");
	if (sp->block && !n->has_block)
		return fail(ck, n->line, n->col, "'%s' needs a block%s", n->name, "");
	if (!sp->block && n->has_block)
		return fail(ck, n->line, n->col, "'%s' takes no block%s", n->name, "");
	for (size_t i = 0; i < n->ntests; i++)
		if (check_node(ck, n->tests[i], true, depth + 1) < 0)
			return -1;
	return 0;
}

static const struct sieve_spec *find_spec(const char *name, bool test)
{
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		if (specs[i].test == test && strcmp(specs[i].name, name) == 0)
			return &specs[i];
	return NULL;
}

/* RFC 5229 6: ${10} and higher are syntax errors (we keep ${0} to ${9}). */
static int check_match_refs(struct checker *ck, const struct sieve_node *n)
{
	if (!has_ext(ck, SIEVE_EXT_VARIABLES))
		return 0;
	for (size_t i = 0; i < n->nargs; i++) {
		const struct sieve_arg *a = &n->args[i];
		for (size_t k = 0; a->kind == SIEVE_ARG_STRINGS && k < a->count; k++) {
			for (const char *p = strstr(a->strs[k], "${"); p != NULL;
			     p = strstr(p + 2, "${")) {
				size_t d = strspn(p + 2, "0123456789");
				const char *q = p + 2 + strspn(p + 2, "0");
				if (d > 0 && p[2 + d] == '}' && (size_t)(p + 2 + d - q) > 1) {
					char num[16];
					snprintf(num, sizeof(num), "%.*s", d > 12 ? 12 : (int)d,
						 p + 2);
					return fail(ck, a->line, a->col,
						    "match variable ${%s} is over ${9}%s", num, "");
				}
			}
		}
	}
	return 0;
}

static int decode_node_strings(struct checker *ck, struct sieve_node *n)
{
	if (!ck->decode || !has_ext(ck, SIEVE_EXT_ENCODED_CHARACTER))
		return 0;
	for (size_t i = 0; i < n->nargs; i++) {
		struct sieve_arg *a = &n->args[i];
		for (size_t k = 0; a->kind == SIEVE_ARG_STRINGS && k < a->count; k++) {
			if (sieve_decode_encoded(&a->strs[k], &a->lens[k], ck->err) < 0) {
				ck->err->line = a->line;
				ck->err->col = a->col;
				return -1;
			}
		}
	}
	return 0;
}

static int check_node(struct checker *ck, struct sieve_node *n, bool test, int depth)
{
	memset(&n->opts, 0, sizeof(n->opts));
	n->opts.addrpart = SIEVE_ADDR_ALL;
	n->spec = find_spec(n->name, test);
	if (n->spec == NULL)
		return fail(ck, n->line, n->col, "unknown %s '%s'", test ? "test" : "command",
			    n->name);
	if (!has_ext(ck, n->spec->ext))
		return fail(ck, n->line, n->col, "'%s' needs require \"%s\"", n->name,
			    ext_names[n->spec->ext]);
	if (decode_node_strings(ck, n) < 0 || check_match_refs(ck, n) < 0 ||
	    check_args(ck, n) < 0 || check_semantics(ck, n) < 0 || check_children(ck, n, depth) < 0)
		return -1;
	return 0;
}

static int check_block(struct checker *ck, struct sieve_node **cmds, size_t n, int depth, bool top);

/* require: only at the start of the script (RFC 5228 3.2). */
static int check_require(struct checker *ck, struct sieve_node *n, bool allowed)
{
	if (!allowed)
		return fail(ck, n->line, n->col,
			    "'require' is only allowed at the start of the script%s%s", "", "");
	if (check_node(ck, n, false, 0) < 0)
		return -1;
	const struct sieve_arg *a = n->opts.pos[0];
	for (size_t i = 0; i < a->count; i++) {
		int e = sieve_ext_lookup(a->strs[i]);
		if (e == -1)
			return fail(ck, a->line, a->col, "unsupported extension \"%s\"%s",
				    a->strs[i], "");
		if (e >= 0)
			ck->script->exts |= 1u << e;
		if (e == SIEVE_EXT_EREJECT || e == SIEVE_EXT_VACATION_SECONDS)
			ck->script->exts |=
			    1u << (e == SIEVE_EXT_EREJECT ? SIEVE_EXT_EREJECT : SIEVE_EXT_VACATION);
	}
	return 0;
}

static int check_block(struct checker *ck, struct sieve_node **cmds, size_t n, int depth, bool top)
{
	bool requires_allowed = top;
	enum sieve_cmd_id prev = SIEVE_CMD_STOP;
	for (size_t i = 0; i < n; i++) {
		struct sieve_node *c = cmds[i];
		if (strcmp(c->name, "require") == 0) {
			if (check_require(ck, c, requires_allowed) < 0)
				return -1;
			prev = SIEVE_CMD_REQUIRE;
			continue;
		}
		requires_allowed = false;
		if (check_node(ck, c, false, depth) < 0)
			return -1;
		enum sieve_cmd_id id = c->spec->id;
		if ((id == SIEVE_CMD_ELSIF || id == SIEVE_CMD_ELSE) && prev != SIEVE_CMD_IF &&
		    prev != SIEVE_CMD_ELSIF)
			return fail(ck, c->line, c->col, "'%s' without a preceding 'if'%s", c->name,
				    "");
		if (c->has_block && check_block(ck, c->block, c->nblock, depth + 1, false) < 0)
			return -1;
		prev = id;
	}
	return 0;
}

int sieve_check(struct sieve_script *script, bool decode, struct sieve_error *err_r)
{
	struct sieve_error dummy;
	struct checker ck = {
	    .script = script, .err = err_r != NULL ? err_r : &dummy, .decode = decode};
	script->exts = 0;
	return check_block(&ck, script->cmds, script->ncmds, 0, true);
}
