/* imapd-cmd-append: APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502: all or none),
 * APPENDLIMIT (RFC 7889: imap_max_literal, refused by the parser before a byte of the
 * literal is read), UIDPLUS APPENDUID (RFC 4315 3) and literal8 (RFC 3516). A large
 * literal is streamed straight into store_append_write as it arrives; small ones, which
 * the parser buffers, are appended when the command is complete. CATENATE (RFC 4469): a
 * message made of TEXT literals and URL parts (imapd-catenate.c); a large TEXT literal is
 * streamed too, after the parts before it.
 */
#include "imapd-int.h"
#include "imap-date.h"
#include "log.h"
#include "store.h"
#include "xalloc.h"

#include <inttypes.h>
#include <string.h>

struct imapd_append {
	char *name;
	struct store_folder *folder;
	struct store_append *cur;
	struct store_append_opts opts;
	uint32_t *uids; /* committed, in message order */
	size_t count, used;
	bool failed, done;
	char error[256];
	char code[256]; /* the response code of the failure ("" SERVERBUG) */
	/* the CATENATE message being built while one of its TEXT literals streams */
	struct store_append *cat;
	size_t cat_pos;	 /* its list's argument index (0: none) */
	size_t cat_done; /* list items already written */
	bool cat_stream; /* the streamed literal belongs to it */
};

static void append_fail(struct imapd_append *a, const char *why)
{
	if (!a->failed)
		snprintf(a->error, sizeof(a->error), "%s", why);
	a->failed = true;
}

void imapd_append_free(struct imapd_session *s)
{
	struct imapd_append *a = s->append;
	if (a == NULL)
		return;
	if (a->cur != NULL)
		store_append_abort(&a->cur);
	if (a->cat != NULL)
		store_append_abort(&a->cat);
	if (!a->done && a->count > 0 && a->folder != NULL) {
		struct buf err = BUF_INIT; /* RFC 3502: none of them, then */
		if (store_set_flags(a->folder, a->uids, a->count, STORE_FLAGS_ADD,
				    STORE_FLAG_DELETED, 0, &err) < 0 ||
		    store_expunge(a->folder, a->uids, a->count, &err) < 0)
			log_warn("user=<%s>: APPEND rollback: %s", s->user.address, buf_cstr(&err));
		buf_free(&err);
	}
	store_folder_close(&a->folder);
	x_free(&a->name);
	x_free(&a->uids);
	x_free(&s->append);
}

/* Opens the target folder of a new APPEND; -1 with the reply sent. */
static int append_open(struct imapd_session *s, const struct imap_arg *mbox)
{
	char *name = imapd_mailbox_arg(s, mbox);
	if (name == NULL)
		return -1;
	struct imapd_append *a = X_NEW(struct imapd_append);
	struct buf err = BUF_INIT;
	a->name = name;
	if (store_folder_open(s->store, name, &a->folder, &err) < 0) {
		imapd_reply(s, "NO", "TRYCREATE", "%s", buf_cstr(&err));
		buf_free(&err);
		x_free(&a->name);
		x_free(&a);
		return -1;
	}
	buf_free(&err);
	s->append = a;
	return 0;
}

/* Reads the optional flag list and date before a message; -1 with BAD sent. */
static int append_opts(struct imapd_session *s, const struct imap_arg *v, size_t n)
{
	struct imapd_append *a = s->append;
	memset(&a->opts, 0, sizeof(a->opts));
	size_t i = 0;
	const struct imap_arg *fl;
	size_t nf;
	if (i < n && imap_arg_get_list(&v[i], &fl, &nf)) {
		struct imap_flags flags;
		const char *error;
		if (imap_flags_parse(fl, nf, &flags, &error) < 0) {
			imapd_bad(s, error);
			return -1;
		}
		struct store_folder *sel = s->folder;
		s->folder = a->folder; /* keywords belong to the target folder */
		int rc = imapd_flags_to_store(s, &flags, true, &a->opts.flags, &a->opts.keywords);
		s->folder = sel;
		imap_flags_free(&flags);
		if (rc < 0)
			return -1;
		i++;
	}
	const char *date;
	size_t dl;
	if (i < n && imap_arg_get_string(&v[i], &date, &dl)) {
		int tz;
		if (imap_datetime_parse(date, dl, &a->opts.internal_date, &tz) < 0) {
			imapd_bad(s, "Invalid date-time");
			return -1;
		}
		i++;
	}
	if (i != n) {
		imapd_bad(s, "Invalid APPEND arguments");
		return -1;
	}
	return 0;
}

static bool is_message(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_LITERAL || a->type == IMAP_ARG_STREAM;
}

static bool is_catenate(const struct imap_arg *v, size_t i, size_t n)
{
	return i + 1 < n && imap_arg_is_atom(&v[i], "CATENATE") && v[i + 1].type == IMAP_ARG_LIST;
}

/* RFC 6855 4: "UTF8 (literal8)", a message with UTF-8 header fields. */
static bool is_utf8(const struct imap_arg *v, size_t i, size_t n)
{
	return i + 1 < n && imap_arg_is_atom(&v[i], "UTF8") && v[i + 1].type == IMAP_ARG_LIST;
}

/* The index after the last message of v[1..n) (where the next one's options start). */
static size_t append_next_start(const struct imap_arg *v, size_t n)
{
	size_t start = 1;
	for (size_t i = 1; i < n; i++) {
		if (is_message(&v[i]))
			start = i + 1;
		else if (is_catenate(v, i, n) || is_utf8(v, i, n))
			start = ++i + 1;
	}
	return start;
}

/* Writes CATENATE items of list from a->cat_done on (streamed TEXT parts are there already);
 * stops before a TEXT with no value yet. */
static void catenate_items(struct imapd_session *s, const struct imap_arg *list, size_t n)
{
	struct imapd_append *a = s->append;
	struct buf err = BUF_INIT;
	size_t i = a->cat_done;
	for (; i + 1 < n && !a->failed; i += 2) {
		const char *str;
		size_t len;
		const struct imap_arg *val = &list[i + 1];
		if (imap_arg_is_atom(&list[i], "TEXT") && val->type == IMAP_ARG_LITERAL) {
			if (store_append_write(a->cat, val->str, val->len, &err) < 0)
				append_fail(a, buf_cstr(&err));
		} else if (imap_arg_is_atom(&list[i], "TEXT") && val->type == IMAP_ARG_STREAM) {
			continue;
		} else if (imap_arg_is_atom(&list[i], "URL") &&
			   imap_arg_get_string(val, &str, &len)) {
			if (imapd_catenate_url(s, str, a->cat, &err) < 0) {
				append_fail(a, buf_cstr(&err));
				snprintf(a->code, sizeof(a->code), "BADURL \"%.200s\"", str);
			}
		} else {
			append_fail(a, "invalid CATENATE part");
			snprintf(a->code, sizeof(a->code), "%s", "CLIENTBUG");
		}
		buf_reset(&err);
	}
	a->cat_done = i;
	buf_free(&err);
}

/* Starts the CATENATE message of the list at v[pos] (unless started). */
static void catenate_begin(struct imapd_session *s, size_t pos)
{
	struct imapd_append *a = s->append;
	if (a->cat_pos == pos)
		return;
	struct buf err = BUF_INIT;
	a->cat_pos = pos;
	a->cat_done = 0;
	if (store_append_begin(a->folder, &a->cat, &err) < 0)
		append_fail(a, buf_cstr(&err));
	buf_free(&err);
}

/* A CATENATE message of the complete command (v[pos] is its list). */
static void catenate_message(struct imapd_session *s, const struct imap_arg *v, size_t pos)
{
	struct imapd_append *a = s->append;
	const struct imap_arg *list;
	size_t n;
	catenate_begin(s, pos);
	if (!imap_arg_get_list(&v[pos], &list, &n) || n == 0 || n % 2 != 0) {
		append_fail(a, "CATENATE takes TEXT and URL parts");
		snprintf(a->code, sizeof(a->code), "%s", "CLIENTBUG");
	}
	if (!a->failed)
		catenate_items(s, list, n);
	struct buf err = BUF_INIT;
	uint32_t uid;
	if (a->failed) {
		if (a->cat != NULL)
			store_append_abort(&a->cat);
	} else if (store_append_commit(&a->cat, &a->opts, &uid, &err) < 0) {
		append_fail(a, buf_cstr(&err));
	} else {
		a->uids = x_reallocarray(a->uids, a->count + 1, sizeof(uint32_t));
		a->uids[a->count++] = uid;
	}
	a->cat_pos = 0;
	buf_free(&err);
}

/* A large TEXT literal of a CATENATE list announced: write the parts before it. */
static int catenate_literal(struct imapd_session *s, const struct imap_arg *v, size_t n)
{
	struct imapd_append *a = s->append;
	size_t start = append_next_start(v, n - 2);
	if (a->cat_pos != n - 1 && append_opts(s, v + start, n - 2 - start) < 0) {
		imapd_append_free(s);
		return -1;
	}
	catenate_begin(s, n - 1);
	catenate_items(s, v[n - 1].list, v[n - 1].len);
	a->cat_stream = !a->failed;
	return 0;
}

int imapd_append_literal(struct imapd_session *s, const struct imap_command *partial,
			 const struct imap_literal *lit)
{
	const struct imap_arg *v = partial->args.list;
	size_t n = partial->args.len, start = 1;
	if (n == 0) {
		imapd_bad(s, "APPEND needs a mailbox");
		return -1;
	}
	if (s->append == NULL && append_open(s, &v[0]) < 0)
		return -1;
	if (n >= 3 && v[n - 1].type == IMAP_ARG_LIST && imap_arg_is_atom(&v[n - 2], "CATENATE"))
		return catenate_literal(s, v, n);
	start = append_next_start(v, n);
	if (n >= 3 && v[n - 1].type == IMAP_ARG_LIST && imap_arg_is_atom(&v[n - 2], "UTF8")) {
		start = append_next_start(v, n - 2);
		n -= 2; /* the options end before "UTF8 (" */
	}
	struct buf err = BUF_INIT;
	if (append_opts(s, v + start, n - start) < 0) {
		imapd_append_free(s);
		return -1;
	}
	if (store_append_begin(s->append->folder, &s->append->cur, &err) < 0)
		append_fail(s->append, buf_cstr(&err));
	buf_free(&err);
	return 0;
}

static void append_commit(struct imapd_session *s, struct imapd_append *a)
{
	struct buf err = BUF_INIT;
	uint32_t uid;
	if (store_append_commit(&a->cur, &a->opts, &uid, &err) < 0) {
		append_fail(a, buf_cstr(&err));
	} else {
		a->uids = x_reallocarray(a->uids, a->count + 1, sizeof(uint32_t));
		a->uids[a->count++] = uid;
	}
	buf_free(&err);
}

void imapd_append_data(struct imapd_session *s, const char *data, size_t len, bool last)
{
	struct imapd_append *a = s->append;
	if (a != NULL && a->cat_stream) { /* a TEXT part: the message goes on */
		struct buf err = BUF_INIT;
		if (a->cat != NULL && store_append_write(a->cat, data, len, &err) < 0) {
			append_fail(a, buf_cstr(&err));
			store_append_abort(&a->cat);
		}
		a->cat_stream = !last;
		buf_free(&err);
		return;
	}
	if (a == NULL || a->cur == NULL)
		return;
	struct buf err = BUF_INIT;
	if (store_append_write(a->cur, data, len, &err) < 0) {
		append_fail(a, buf_cstr(&err));
		store_append_abort(&a->cur);
	} else if (last) {
		append_commit(s, a);
	}
	buf_free(&err);
}

/* Appends the buffered (small) message literal v. */
static void append_inline(struct imapd_session *s, const struct imap_arg *v)
{
	struct imapd_append *a = s->append;
	struct buf err = BUF_INIT;
	if (store_append_begin(a->folder, &a->cur, &err) < 0 ||
	    store_append_write(a->cur, v->str, v->len, &err) < 0) {
		append_fail(a, buf_cstr(&err));
		if (a->cur != NULL)
			store_append_abort(&a->cur);
	} else {
		append_commit(s, a);
	}
	buf_free(&err);
}

static void append_finish(struct imapd_session *s, struct imapd_append *a)
{
	if (a->failed) {
		imapd_reply(s, "NO", a->code[0] ? a->code : "SERVERBUG", "APPEND failed: %s",
			    a->error);
		return;
	}
	struct imap_seqset set = IMAP_SEQSET_INIT;
	for (size_t i = 0; i < a->count; i++)
		imap_seqset_add(&set, a->uids[i], a->uids[i]);
	struct buf code = BUF_INIT;
	buf_printf(&code, "APPENDUID %" PRIu32 " ", store_folder_uidvalidity(a->folder));
	imap_seqset_write(&set, &code);
	a->done = true;
	imapd_reply(s, "OK", buf_cstr(&code), "APPEND completed");
	buf_free(&code);
	imap_seqset_free(&set);
}

void imapd_cmd_append(struct imapd_session *s, struct imapd_cmd *cmd)
{
	if (cmd->count < 2) {
		imapd_bad(s, "APPEND takes a mailbox and a message");
		imapd_append_free(s);
		return;
	}
	if (s->append == NULL && append_open(s, &cmd->args[0]) < 0)
		return;
	struct imapd_append *a = s->append;
	size_t start = 1, messages = 0;
	for (size_t i = 1; i < cmd->count; i++) {
		if (is_utf8(cmd->args, i, cmd->count)) {
			const struct imap_arg *m = cmd->args[i + 1].list;
			if (!s->utf8 || cmd->args[i + 1].len != 1 || !is_message(m)) {
				imapd_bad(s, s->utf8 ? "UTF8 takes (literal8)"
						     : "UTF8 needs ENABLE UTF8=ACCEPT");
				imapd_append_free(s);
				return;
			}
			messages++;
			if (m->type == IMAP_ARG_LITERAL &&
			    append_opts(s, cmd->args + start, i - start) < 0) {
				imapd_append_free(s);
				return;
			}
			if (m->type == IMAP_ARG_LITERAL && !a->failed)
				append_inline(s, m);
			start = ++i + 1;
			continue;
		}
		if (is_catenate(cmd->args, i, cmd->count)) {
			messages++;
			if (append_opts(s, cmd->args + start, i - start) < 0) {
				imapd_append_free(s);
				return;
			}
			catenate_message(s, cmd->args, ++i);
			start = i + 1;
			continue;
		}
		if (!is_message(&cmd->args[i]))
			continue;
		messages++;
		if (cmd->args[i].type == IMAP_ARG_LITERAL) {
			if (append_opts(s, cmd->args + start, i - start) < 0) {
				imapd_append_free(s);
				return;
			}
			if (!a->failed)
				append_inline(s, &cmd->args[i]);
		}
		start = i + 1;
	}
	if (messages == 0 || start != cmd->count) {
		imapd_bad(s, "APPEND takes a mailbox and a message");
	} else {
		append_finish(s, a);
		if (s->folder_name != NULL && strcmp(s->folder_name, a->name) == 0)
			imapd_session_flush(s);
	}
	imapd_append_free(s);
}
