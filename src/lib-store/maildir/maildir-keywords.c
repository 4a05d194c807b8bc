/* maildir-keywords: the tern-keywords file mapping the letters a-z of Maildir info to IMAP
 * keyword names, one "<index> <name>" line each (like Dovecot's dovecot-keywords).
 * Rewritten atomically while the index lock is held, so two processes agree on letters.
 */
#include "maildir-private.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYWORD_LEN_MAX 128
#define KEYWORDS_FILE_MAX 8192

static bool keyword_valid(const char *name)
{
	size_t len = strnlen(name, KEYWORD_LEN_MAX + 1);
	if (len == 0 || len > KEYWORD_LEN_MAX || name[0] == '\\')
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    strchr("(){%*\"]", *p) != NULL)
			return false;
	return true;
}

int maildir_keywords_load(struct maildir_folder *mf, struct buf *err)
{
	char *path = x_asprintf("%s/%s", mf->path, MAILDIR_KEYWORDS);
	struct stat st;
	if (stat(path, &st) < 0 ||
	    (st.st_mtim.tv_sec == mf->kw_mtime.tv_sec &&
	     st.st_mtim.tv_nsec == mf->kw_mtime.tv_nsec)) {
		x_free(&path);
		return 0;
	}
	size_t len;
	char *text = read_file_small(path, KEYWORDS_FILE_MAX, &len);
	x_free(&path);
	if (text == NULL)
		return errno == ENOENT ? 0 : store_err_errno(err, "read", MAILDIR_KEYWORDS);
	mf->kw_mtime = st.st_mtim;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *end;
		long idx = strtol(line, &end, 10);
		if (end == line || *end != ' ' || idx < 0 || idx >= STORE_KEYWORDS_MAX ||
		    !keyword_valid(end + 1))
			continue;
		x_free(&mf->f.keywords[idx]);
		mf->f.keywords[idx] = x_strdup(end + 1);
	}
	x_free(&text);
	return 0;
}

static int keywords_write(struct maildir_folder *mf, struct buf *err)
{
	struct buf out = BUF_INIT;
	for (int i = 0; i < STORE_KEYWORDS_MAX; i++)
		if (mf->f.keywords[i] != NULL)
			buf_printf(&out, "%d %s\n", i, mf->f.keywords[i]);
	char *path = x_asprintf("%s/%s", mf->path, MAILDIR_KEYWORDS);
	/* durable: the files' names hold the keywords' letters, which mean nothing without it */
	int ret = file_replace(path, out.data, out.len, 0600, (uid_t)-1, (gid_t)-1, FILE_SYNC_ALL);
	if (ret < 0)
		store_err_errno(err, "write", path);
	buf_free(&out);
	x_free(&path);
	return ret;
}

static int keyword_find(struct store_folder *f, const char *name)
{
	for (int i = 0; i < STORE_KEYWORDS_MAX; i++)
		if (f->keywords[i] != NULL && str_ieq(f->keywords[i], name))
			return i;
	return -1;
}

int maildir_keyword_lookup(struct store_folder *f, const char *name, bool create,
			   struct buf *err)
{
	struct maildir_folder *mf = (struct maildir_folder *)f;
	if (!keyword_valid(name))
		return store_err(err, "invalid keyword");
	int idx = keyword_find(f, name);
	if (idx >= 0)
		return idx;
	if (!create)
		return store_err(err, "unknown keyword %s", name);
	if (index_begin(mf->ix, err) < 0)
		return -1;
	if (maildir_keywords_load(mf, err) < 0 || (idx = keyword_find(f, name)) >= 0) {
		index_rollback(mf->ix);
		return idx;
	}
	for (int i = 0; i < STORE_KEYWORDS_MAX && idx < 0; i++)
		if (f->keywords[i] == NULL)
			idx = i;
	if (idx < 0) {
		index_rollback(mf->ix);
		return store_err(err, "too many keywords in this folder (%d)", STORE_KEYWORDS_MAX);
	}
	f->keywords[idx] = x_strdup(name);
	if (keywords_write(mf, err) < 0) {
		x_free(&f->keywords[idx]);
		index_rollback(mf->ix);
		return -1;
	}
	index_rollback(mf->ix); /* nothing changed in the index: just release the lock */
	return idx;
}
