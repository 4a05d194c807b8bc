/* sieved-scripts: the script commands of RFC 5804 (2.3 HAVESPACE, 2.6 PUTSCRIPT, 2.7
 * LISTSCRIPTS, 2.8 SETACTIVE, 2.9 GETSCRIPT, 2.10 DELETESCRIPT, 2.11 RENAMESCRIPT, 2.12
 * CHECKSCRIPT) over the user's store (sieve-store.h, the files `tern sieve` manages).
 *
 * A script is stored only when Tern's Sieve compiler accepts it; its error goes back in
 * the NO as "line L, column C: reason". Limits: managesieve_max_script_size (NO
 * (QUOTA/MAXSIZE)) and managesieve_max_scripts (NO (QUOTA/MAXSCRIPTS)); HAVESPACE answers
 * by the same rules. Response codes: NONEXISTENT, ACTIVE (deleting the active script),
 * ALREADYEXISTS (renaming onto a name in use); a system error is NO (TRYLATER) and logged.
 */
#include "sieved-int.h"
#include "log.h"
#include "sieve.h"
#include "xalloc.h"

#include <string.h>

/* A script name argument (a string, a name the store accepts); NULL with NO queued. An
 * empty name is allowed where empty_ok (SETACTIVE ""). */
static const char *name_arg(struct sieved_session *s, const struct ms_arg *a, bool empty_ok)
{
	if (a->type != MS_ARG_STRING) {
		sieved_reply(s, "NO", NULL, "a script name is a string");
		return NULL;
	}
	if (a->len == 0 && empty_ok)
		return "";
	if (strlen(a->data) != a->len || !sieve_store_name_ok(a->data, a->len)) {
		sieved_reply(s, "NO", NULL, "bad script name");
		return NULL;
	}
	return a->data;
}

/* Answers a store result other than OK. */
static void store_reply(struct sieved_session *s, int r, const char *name, struct buf *err)
{
	switch (r) {
	case SIEVE_STORE_NONEXISTENT:
		sieved_reply(s, "NO", "NONEXISTENT", "there is no script of that name");
		break;
	case SIEVE_STORE_ACTIVE:
		sieved_reply(s, "NO", "ACTIVE", "the active script cannot be deleted");
		break;
	case SIEVE_STORE_EXISTS:
		sieved_reply(s, "NO", "ALREADYEXISTS", "a script of that name exists already");
		break;
	case SIEVE_STORE_BAD_NAME:
		sieved_reply(s, "NO", NULL, "bad script name");
		break;
	default:
		log_error("scripts: user=<%s> %s", s->user.address, buf_cstr(err));
		sieved_reply(s, "NO", "TRYLATER", "the scripts cannot be changed now");
		break;
	}
}

static void store_done(struct sieved_session *s, int r, const char *name, struct buf *err,
		       const char *what)
{
	if (r == SIEVE_STORE_OK) {
		log_info("scripts: user=<%s> %s %s", s->user.address, what,
			 log_safe(name, strlen(name), 200));
		sieved_reply(s, "OK", NULL, NULL);
	} else {
		store_reply(s, r, name, err);
	}
	buf_free(err);
}

static size_t script_count(const struct sieved_session *s)
{
	char **names = NULL;
	size_t n = sieve_store_list(&s->store, &names);
	for (size_t i = 0; i < n; i++)
		x_free(&names[i]);
	x_free(&names);
	return n;
}

/* May name (new or replaced) be stored with size octets? true, or false with NO queued. */
static bool space_ok(struct sieved_session *s, const char *name, uint64_t size)
{
	const struct sieved_settings *set = &s->server->set;
	if (size > set->max_script) {
		sieved_reply(s, "NO", "QUOTA/MAXSIZE", "the largest script is %zu octets",
			     set->max_script);
		return false;
	}
	if (set->max_scripts > 0 && !sieve_store_exists(&s->store, name) &&
	    script_count(s) >= set->max_scripts) {
		sieved_reply(s, "NO", "QUOTA/MAXSCRIPTS", "at most %llu scripts",
			     (unsigned long long)set->max_scripts);
		return false;
	}
	return true;
}

/* Compiles a script argument: true, or false with NO "line L, column C: reason". */
static bool compiles(struct sieved_session *s, const struct ms_arg *a)
{
	struct sieve_error e = {0};
	struct sieve_script *script = sieve_compile(a->data, a->len, &e);
	if (script == NULL) {
		sieved_reply(s, "NO", NULL, "line %d, column %d: %s", e.line, e.col, e.msg);
		return false;
	}
	sieve_script_free(&script);
	return true;
}

void sieved_cmd_havespace(struct sieved_session *s, const struct ms_command *cmd)
{
	const char *name = name_arg(s, &cmd->args[0], false);
	if (name == NULL)
		return;
	if (cmd->args[1].type != MS_ARG_NUMBER) {
		sieved_reply(s, "NO", NULL, "HAVESPACE: the size is a number");
		return;
	}
	if (space_ok(s, name, cmd->args[1].num))
		sieved_reply(s, "OK", NULL, NULL);
}

void sieved_cmd_putscript(struct sieved_session *s, const struct ms_command *cmd)
{
	const char *name = name_arg(s, &cmd->args[0], false);
	const struct ms_arg *text = &cmd->args[1];
	if (name == NULL)
		return;
	if (text->type != MS_ARG_STRING) {
		sieved_reply(s, "NO", NULL, "PUTSCRIPT: the script is a string");
		return;
	}
	if (!space_ok(s, name, text->len) || !compiles(s, text))
		return;
	struct buf err = BUF_INIT;
	int r = sieve_store_put(&s->store, name, text->data, text->len, &err);
	store_done(s, r, name, &err, "put");
}

void sieved_cmd_checkscript(struct sieved_session *s, const struct ms_command *cmd)
{
	const struct ms_arg *text = &cmd->args[0];
	if (text->type != MS_ARG_STRING)
		sieved_reply(s, "NO", NULL, "CHECKSCRIPT: the script is a string");
	else if (text->len > s->server->set.max_script)
		sieved_reply(s, "NO", "QUOTA/MAXSIZE", "the largest script is %zu octets",
			     s->server->set.max_script);
	else if (compiles(s, text))
		sieved_reply(s, "OK", NULL, NULL);
}

void sieved_cmd_listscripts(struct sieved_session *s, const struct ms_command *cmd)
{
	char *active = sieve_store_active(&s->store);
	char **names = NULL;
	size_t n = sieve_store_list(&s->store, &names);
	for (size_t i = 0; i < n; i++) {
		ms_reply_string(&s->conn.out, names[i], strlen(names[i]));
		if (active != NULL && strcmp(active, names[i]) == 0)
			buf_append_str(&s->conn.out, " ACTIVE");
		buf_append_str(&s->conn.out, "\r\n");
		x_free(&names[i]);
	}
	x_free(&names);
	x_free(&active);
	sieved_reply(s, "OK", NULL, NULL);
}

void sieved_cmd_setactive(struct sieved_session *s, const struct ms_command *cmd)
{
	const char *name = name_arg(s, &cmd->args[0], true);
	if (name == NULL)
		return;
	struct buf err = BUF_INIT;
	int r = *name == 0 ? sieve_store_deactivate(&s->store, &err)
			   : sieve_store_activate(&s->store, name, &err);
	store_done(s, r, *name == 0 ? "(none)" : name, &err, "activate");
}

void sieved_cmd_getscript(struct sieved_session *s, const struct ms_command *cmd)
{
	const char *name = name_arg(s, &cmd->args[0], false);
	if (name == NULL)
		return;
	struct buf err = BUF_INIT;
	char *text = NULL;
	size_t len = 0;
	int r = sieve_store_get(&s->store, name, SIEVE_MAX_SCRIPT_SIZE, &text, &len, &err);
	if (r == SIEVE_STORE_OK) {
		ms_reply_literal(&s->conn.out, text, len);
		buf_append_str(&s->conn.out, "\r\n");
		sieved_reply(s, "OK", NULL, NULL);
	} else {
		store_reply(s, r, name, &err);
	}
	x_free(&text);
	buf_free(&err);
}

void sieved_cmd_deletescript(struct sieved_session *s, const struct ms_command *cmd)
{
	const char *name = name_arg(s, &cmd->args[0], false);
	if (name == NULL)
		return;
	struct buf err = BUF_INIT;
	store_done(s, sieve_store_delete(&s->store, name, &err), name, &err, "delete");
}

void sieved_cmd_renamescript(struct sieved_session *s, const struct ms_command *cmd)
{
	const char *from = name_arg(s, &cmd->args[0], false);
	const char *to = from != NULL ? name_arg(s, &cmd->args[1], false) : NULL;
	if (to == NULL)
		return;
	struct buf err = BUF_INIT;
	store_done(s, sieve_store_rename(&s->store, from, to, &err), from, &err, "rename");
}
