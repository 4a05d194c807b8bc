/* lookup-ctx: the expansion context made from tern.conf (alias_maps, virtual_alias_maps,
 * recipient_delimiter) and the user directory.
 *
 * Relative table paths are taken from data_dir, so the default alias_maps "aliases" is
 * DATA/aliases. Tables that cannot be opened are logged and left out.
 */
#include "lookup.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "userdb.h"
#include "xalloc.h"

static bool lookup_udb_local(void *arg, const char *domain)
{
	return userdb_is_local_domain(arg, domain);
}

static int lookup_udb_user(void *arg, const char *address, struct buf *err)
{
	struct user_info info;
	int r = userdb_lookup(arg, address, &info, err);
	if (r > 0)
		user_info_free(&info);
	return r;
}

char *lookup_conf_spec(const struct conf *c, const char *word, const char **path_r)
{
	const char *colon = strchr(word, ':');
	const char *path = colon && word[0] != '/' ? colon + 1 : word;
	char *spec = path[0] == '/' ? x_strdup(word)
		     : x_asprintf("%.*s%s/%s", (int)(path - word), word, conf_str(c, "data_dir"),
				  path);
	if (path_r != NULL)
		*path_r = spec + (path - word);
	return spec;
}

size_t lookup_open_option(const struct conf *c, const char *option, const char *type,
			  struct lookup_table ***tables_r)
{
	char **words;
	size_t n = conf_words(conf_str(c, option), &words), k = 0;
	*tables_r = x_calloc(n + 1, sizeof(**tables_r));
	for (size_t i = 0; i < n; i++) {
		char *spec = lookup_conf_spec(c, words[i], NULL);
		struct buf err = BUF_INIT;
		struct lookup_table *t = lookup_open(spec, type, &err);
		if (t == NULL)
			log_error("%s: %s", option, buf_cstr(&err));
		else
			(*tables_r)[k++] = t;
		buf_free(&err);
		free(spec);
	}
	conf_words_free(&words, n);
	return k;
}

struct lookup_ctx *lookup_ctx_new(const struct conf *c, struct userdb *udb)
{
	struct lookup_ctx *ctx = X_NEW(struct lookup_ctx);
	ctx->alias_count = lookup_open_option(c, "alias_maps", "aliases", &ctx->aliases);
	ctx->virtual_count = lookup_open_option(c, "virtual_alias_maps", "map", &ctx->virtuals);
	ctx->is_local_domain = lookup_udb_local;
	ctx->is_user = lookup_udb_user;
	ctx->arg = udb;
	ctx->delimiter = x_strdup(conf_str(c, "recipient_delimiter"));
	ctx->max_depth = LOOKUP_MAX_DEPTH;
	ctx->include_max = 1024 * 1024;
	return ctx;
}

void lookup_ctx_free(struct lookup_ctx **ctxp)
{
	struct lookup_ctx *ctx = *ctxp;
	if (ctx == NULL)
		return;
	for (size_t i = 0; i < ctx->alias_count; i++)
		lookup_close(&ctx->aliases[i]);
	for (size_t i = 0; i < ctx->virtual_count; i++)
		lookup_close(&ctx->virtuals[i]);
	free(ctx->aliases);
	free(ctx->virtuals);
	free(ctx->delimiter);
	x_free(ctxp);
}
