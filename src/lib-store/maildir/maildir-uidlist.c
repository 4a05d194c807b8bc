/* maildir-uidlist: the tern-uidlist file, which keeps UIDs when the SQLite index is lost.
 *
 * A text file beside the index (doc/store-format.md): "1 V<uidvalidity> N<uidnext>", then
 * one "<uid> <base>" line per UID handed out. New UIDs are appended with one write(2) while
 * the index lock is held; a torn last line (no newline) is ignored. It is rewritten
 * atomically (temporary file, fsync, rename) when missing or mostly stale.
 *
 * A Maildir that Dovecot kept has no tern-uidlist but a dovecot-uidlist; when the index is
 * built from nothing, its UIDVALIDITY, next UID and UIDs are taken from there, so that IMAP
 * clients moving from Dovecot to Tern keep their caches (the UIDs do not change).
 */
#include "maildir-private.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UIDLIST_LINE_MAX 1024

static char *uidlist_path(struct maildir_folder *mf)
{
	return x_asprintf("%s/%s", mf->path, MAILDIR_UIDLIST);
}

/* One "<uid> <base>" line into hints; malformed lines are skipped. */
static void uidlist_line(char *line, size_t len, uint32_t *max_uid, struct maildir_map *hints)
{
	char *end;
	errno = 0;
	unsigned long uid = strtoul(line, &end, 10);
	if (errno != 0 || end == line || *end != ' ' || uid == 0 || uid > UINT32_MAX)
		return;
	const char *base = end + 1;
	size_t baselen = len - (size_t)(base - line);
	if (baselen == 0 || baselen > MAILDIR_NAME_MAX || memchr(base, ':', baselen) != NULL)
		return;
	if (uid > *max_uid)
		*max_uid = (uint32_t)uid;
	maildir_map_put(hints, base, baselen, (uint32_t)uid, 0);
}

/* One line of Dovecot's uidlist, version 3: "<uid> [<key><value> ...] :<file name>"; the
 * name is cut at its ':' (the info). Turned into "<uid> <base>" for uidlist_line. */
static void dovecot_uidlist_line(char *line, size_t len, uint32_t *max_uid,
				 struct maildir_map *hints)
{
	char *sp = memchr(line, ' ', len);
	char *name = sp != NULL ? strstr(sp, " :") : NULL;
	if (name == NULL)
		return;
	name += 2;
	size_t namelen = strcspn(name, ":");
	if (namelen == 0)
		return;
	memmove(sp + 1, name, namelen);
	sp[1 + namelen] = '\0';
	uidlist_line(line, (size_t)(sp + 1 + namelen - line), max_uid, hints);
}

/* Dovecot's header, version 3: "3 V<uidvalidity> N<next uid> ..." (other fields ignored). */
static bool dovecot_uidlist_header(const char *line, unsigned *v, unsigned *next)
{
	unsigned version = 0;
	return sscanf(line, "%u V%u N%u", &version, v, next) == 3 && version == 3;
}

int maildir_uidlist_read(struct maildir_folder *mf, uint32_t *uidvalidity_r,
			 uint32_t *uidnext_r, struct maildir_map *hints, struct buf *err)
{
	char *path = uidlist_path(mf);
	FILE *fp = fopen(path, "re");
	bool dovecot = false;
	if (fp == NULL && errno == ENOENT) {
		x_free(&path);
		path = x_asprintf("%s/dovecot-uidlist", mf->path);
		fp = fopen(path, "re");
		dovecot = true;
	}
	if (fp == NULL) {
		int ret = errno == ENOENT ? 1 : store_err_errno(err, "open", path);
		x_free(&path);
		return ret;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned version = 0, v = 0, next = 0;
	uint32_t max_uid = 0;
	bool header = true;
	while ((n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] != '\n' || n > UIDLIST_LINE_MAX)
			continue; /* torn or absurd */
		line[--n] = '\0';
		if (header) {
			header = false;
			if (dovecot && dovecot_uidlist_header(line, &v, &next)) {
				version = MAILDIR_UIDLIST_VERSION;
				continue;
			}
			if (dovecot || sscanf(line, "%u V%u N%u", &version, &v, &next) != 3 ||
			    version != MAILDIR_UIDLIST_VERSION)
				break;
			continue;
		}
		if (dovecot)
			dovecot_uidlist_line(line, (size_t)n, &max_uid, hints);
		else
			uidlist_line(line, (size_t)n, &max_uid, hints);
	}
	free(line);
	fclose(fp);
	x_free(&path);
	if (version != MAILDIR_UIDLIST_VERSION || v == 0) {
		maildir_map_free(hints);
		return 1; /* unreadable: as if missing */
	}
	*uidvalidity_r = v;
	*uidnext_r = next > max_uid ? next : max_uid + 1;
	return 0;
}

int maildir_uidlist_append(struct maildir_folder *mf, uint32_t uid, const char *base,
			   size_t baselen, struct buf *err)
{
	char *path = uidlist_path(mf);
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		x_free(&path);
		if (errno == ENOENT)
			return maildir_uidlist_write(mf, err);
		return store_err_errno(err, "open", MAILDIR_UIDLIST);
	}
	struct buf line = BUF_INIT;
	buf_printf(&line, "%" PRIu32 " ", uid);
	buf_append(&line, base, baselen);
	buf_append_char(&line, '\n');
	int ret = write_full(fd, line.data, line.len);
	if (ret < 0)
		store_err_errno(err, "write", path);
	close(fd);
	buf_free(&line);
	x_free(&path);
	return ret;
}

int maildir_uidlist_write(struct maildir_folder *mf, struct buf *err)
{
	if (maildir_map_refresh(mf, err) < 0)
		return -1;
	struct buf lines = BUF_INIT;
	for (size_t i = 0; i < mf->map.cap; i++) {
		const struct maildir_entry *e = &mf->map.slots[i];
		if (e->state != 1)
			continue;
		buf_printf(&lines, "%" PRIu32 " ", e->uid);
		buf_append(&lines, e->fname, e->baselen);
		buf_append_char(&lines, '\n');
	}
	int ret = maildir_uidlist_write_lines(mf, lines.data, lines.len, true, err);
	buf_free(&lines);
	return ret;
}

int maildir_uidlist_write_lines(struct maildir_folder *mf, const char *lines, size_t len,
				bool sync, struct buf *err)
{
	char *path = uidlist_path(mf);
	struct buf text = BUF_INIT;
	buf_printf(&text, "%d V%" PRIu32 " N%" PRId64 "\n", MAILDIR_UIDLIST_VERSION,
		   (uint32_t)index_meta(mf->ix, "uidvalidity"), index_meta(mf->ix, "uidnext"));
	buf_append(&text, lines, len);
	int ret = file_replace(path, text.data, text.len, 0600, (uid_t)-1, (gid_t)-1,
			       sync ? FILE_SYNC_DATA : FILE_SYNC_NONE);
	if (ret < 0)
		store_err_errno(err, "write", path);
	buf_free(&text);
	x_free(&path);
	return ret;
}

int maildir_uidlist_maybe_compact(struct maildir_folder *mf, struct buf *err)
{
	char *path = uidlist_path(mf);
	struct stat st;
	int r = stat(path, &st);
	x_free(&path);
	if (r < 0)
		return maildir_uidlist_write(mf, err);
	uint64_t expected = 32;
	for (size_t i = 0; i < mf->map.cap; i++)
		if (mf->map.slots[i].state == 1)
			expected += mf->map.slots[i].baselen + 12u;
	if ((uint64_t)st.st_size > 2 * expected + 4096)
		return maildir_uidlist_write(mf, err);
	return 0;
}
