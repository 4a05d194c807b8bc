/* imapd-catenate: the URL parts of APPEND ... CATENATE (RFC 4469 5): a message or part of
 * one of the user's mailboxes, named by an IMAP URL (RFC 5092; lib-imap's imap-url), copied
 * into the message being appended as FETCH BODY[section]<partial> would send it. The
 * command syntax and the TEXT parts are in imapd-cmd-append.c.
 */
#include "imapd-int.h"
#include "imap-url.h"
#include "mime-part.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include <string.h>
#include <unistd.h>

struct url_sink {
	struct store_append *dst;
	struct buf *err;
};

static int url_sink_write(void *ctx, const char *data, size_t len)
{
	struct url_sink *k = ctx;
	return store_append_write(k->dst, data, len, k->err);
}

/* The section of u (a whole message without one) as a parsed fetch body; -1 if invalid. */
static int url_section(const struct imap_url *u, struct imap_fetch_body *b)
{
	const char *error;
	memset(b, 0, sizeof(*b));
	if (u->section != NULL &&
	    imap_fetch_section_parse(u->section, strlen(u->section), false, b, &error) < 0)
		return -1;
	b->partial = u->partial;
	b->offset = u->offset;
	b->length = u->length;
	return 0;
}

/* Copies message uid of folder f (made the session's folder for the parts cache). */
static int url_copy(struct imapd_session *s, struct store_folder *f, const struct imap_url *u,
		    const struct imap_fetch_body *b, struct store_append *dst, struct buf *err)
{
	if (u->uidvalidity != 0 && u->uidvalidity != store_folder_uidvalidity(f))
		return buf_printf(err, "UIDVALIDITY of the URL does not match"), -1;
	if (store_folder_find(f, u->uid) < 0)
		return buf_printf(err, "no message with UID %u", u->uid), -1;
	struct store_msg_stream st;
	if (store_msg_open(f, u->uid, &st, err) < 0)
		return -1;
	struct store_folder *sel = s->folder;
	s->folder = f;
	struct mime_part *tree = NULL;
	if (b->part_count > 0 || b->spec != IMAP_SECTION_ALL)
		tree = imapd_msg_parts(s, u->uid, err);
	s->folder = sel;
	struct url_sink k = {dst, err};
	int ret = imapd_section_copy(b, tree, &st, url_sink_write, &k);
	if (ret < 0 && err->len == 0)
		buf_printf(err, "no such part");
	if (tree != NULL)
		mime_part_free(&tree);
	close(st.fd);
	return ret;
}

int imapd_catenate_url(struct imapd_session *s, const char *url, struct store_append *dst,
		       struct buf *err)
{
	struct imap_url u;
	struct imap_fetch_body b;
	const char *error;
	if (imap_url_parse(url, strlen(url), &u, &error) < 0) {
		buf_printf(err, "%s", error);
		return -1;
	}
	if (url_section(&u, &b) < 0) {
		imap_url_free(&u);
		buf_printf(err, "invalid section in URL");
		return -1;
	}
	if (str_iprefix(u.mailbox, "INBOX") && (u.mailbox[5] == '\0' || u.mailbox[5] == '/'))
		memcpy(u.mailbox, "INBOX", 5);
	int ret;
	if (s->folder != NULL && strcmp(s->folder_name, u.mailbox) == 0) {
		ret = url_copy(s, s->folder, &u, &b, dst, err);
	} else {
		struct store_folder *f = NULL;
		ret = store_folder_open(s->store, u.mailbox, &f, err);
		if (ret == 0)
			ret = url_copy(s, f, &u, &b, dst, err);
		store_folder_close(&f);
	}
	for (size_t i = 0; i < b.field_count; i++)
		x_free(&b.fields[i]);
	x_free(&b.fields);
	x_free(&b.name);
	imap_url_free(&u);
	return ret;
}
