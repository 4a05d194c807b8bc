/* rewrite-check: `tern check` of the canonical maps: each table's source is parsed as a
 * map (lib-lookup) and each entry checked for what a canonical map means: a key that is
 * user@domain, user or @domain, and exactly one value that is an address, a user or
 * @domain. Problems are reported as PATH:LINE: reason.
 */
#include "rewrite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "lookup.h"
#include "util.h"
#include "xalloc.h"

#define REWRITE_CHECK_MAX (256u * 1024 * 1024)

struct rewrite_check_ctx {
	const char *path;
	struct buf *errors;
	unsigned bad;
};

/* Is s "@domain", "local@domain" or (when bare is allowed) "local"? One '@' outside
 * quotes, with something after it. */
static bool rewrite_check_address(const char *s, bool bare)
{
	size_t ats = 0;
	bool quoted = false;
	const char *at = NULL;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '\\' && quoted && p[1] != '\0')
			p++;
		else if (*p == '@' && !quoted)
			ats++, at = p;
	}
	if (quoted || s[0] == '\0')
		return false;
	if (ats == 0)
		return bare;
	return ats == 1 && at[1] != '\0';
}

static void rewrite_check_entry(void *arg, const char *key, const struct lookup_values *values,
				unsigned line)
{
	struct rewrite_check_ctx *cc = arg;
	const char *why = NULL;
	if (!rewrite_check_address(key, true))
		why = "the key is not user@domain, user or @domain";
	else if (values->n != 1)
		why = "expected exactly one address after the key";
	else if (!rewrite_check_address(values->v[0], true))
		why = "the value is not an address, a user or @domain";
	if (why != NULL) {
		buf_printf(cc->errors, "%s:%u: %s\n", cc->path, line, why);
		cc->bad++;
	}
}

/* One table source; the number of problems. */
static unsigned rewrite_check_file(const char *option, const char *spec, const char *path,
				   struct buf *errors)
{
	struct buf err = BUF_INIT;
	struct lookup_table *t = lookup_open(spec, "map", &err);
	if (t == NULL) {
		buf_printf(errors, "%s: %s\n", option, buf_cstr(&err));
		buf_free(&err);
		return 1;
	}
	lookup_close(&t);
	buf_free(&err);
	if (strncmp(spec, "aliases:", 8) == 0) {
		buf_printf(errors,
			   "%s: %s: an aliases table cannot be a canonical map (use map:)\n",
			   option, spec);
		return 1;
	}
	size_t len = 0;
	char *text = read_file_small(path, REWRITE_CHECK_MAX, &len);
	if (text == NULL) {
		buf_printf(errors, "%s: %s (%s)\n", path, strerror(errno), option);
		return 1;
	}
	struct rewrite_check_ctx cc = {path, errors, 0};
	struct buf syntax = BUF_INIT;
	cc.bad +=
	    lookup_parse_text(LOOKUP_SYNTAX_MAP, text, len, rewrite_check_entry, &cc, &syntax);
	lookup_errors_with_path(errors, path, &syntax);
	buf_free(&syntax);
	free(text);
	return cc.bad;
}

unsigned rewrite_check(const struct conf *c, struct buf *errors)
{
	static const char *const options[] = {"canonical_maps", "sender_canonical_maps",
					      "recipient_canonical_maps"};
	unsigned bad = 0;
	for (size_t k = 0; k < sizeof(options) / sizeof(options[0]); k++) {
		char **words;
		size_t n = conf_words(conf_str(c, options[k]), &words);
		for (size_t i = 0; i < n; i++) {
			const char *path;
			char *spec = lookup_conf_spec(c, words[i], &path);
			bad += rewrite_check_file(options[k], words[i], path, errors);
			free(spec);
		}
		conf_words_free(&words, n);
	}
	return bad;
}
