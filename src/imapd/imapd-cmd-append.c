/* imapd-cmd-append: APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502: all or none),
 * APPENDLIMIT (RFC 7889: imap_max_literal, refused by the parser before a byte of the
 * literal is read), UIDPLUS APPENDUID (RFC 4315 3) and literal8 (RFC 3516). A large
 * literal is streamed straight into store_append_write as it arrives; small ones, which
 * the parser buffers, are appended when the command is complete.
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
	for (size_t i = 1; i < n; i++)
		if (is_message(&v[i]))
			start = i + 1;
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
		imapd_reply(s, "NO", "SERVERBUG", "APPEND failed: %s", a->error);
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
