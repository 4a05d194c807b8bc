/* imapd-recent: the \Recent flag of IMAP4rev1 (RFC 3501 2.3.2), kept by the imap role
 * since the store has no such state (IMAP4rev2 dropped it). Each folder has a mark,
 * FOLDER/tern-imap-recent: the highest UID some session has already been told about. A
 * read-write SELECT, and each later sync that finds new messages, "claims" the messages
 * above the mark under an flock and moves the mark: they are \Recent in that session
 * only. EXAMINE and STATUS look above the mark without moving it. The mark is a cache:
 * losing it only makes old messages \Recent once more.
 */
#include "imapd-int.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define RECENT_FILE "tern-imap-recent"

char *imapd_folder_dir(const struct imapd_session *s, const char *name)
{
	if (strcmp(name, "INBOX") == 0)
		return x_strdup(s->user.maildir);
	char *d = x_asprintf("%s/.%s", s->user.maildir, name);
	for (char *p = d + strlen(s->user.maildir) + 2; *p != '\0'; p++)
		if (*p == IMAPD_HIERARCHY_SEP)
			*p = '.';
	return d;
}

/* Opens and locks the mark of folder name; -1 when it cannot. */
static int recent_open(const struct imapd_session *s, const char *name, bool write)
{
	char *dir = imapd_folder_dir(s, name);
	char *path = path_beside_mailbox(dir, RECENT_FILE);
	int fd = open(path, (write ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0600);
	if (fd >= 0 && flock(fd, write ? LOCK_EX : LOCK_SH) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0 && (write || errno != ENOENT))
		log_warn("user=<%s>: %s: %s", s->user.address, path, strerror(errno));
	x_free(&path);
	x_free(&dir);
	return fd;
}

static uint32_t recent_read(int fd)
{
	char text[32];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	return (uint32_t)strtoul(text, NULL, 10);
}

static void recent_write(int fd, uint32_t mark)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%" PRIu32 "\n", mark);
	if (pwrite(fd, text, (size_t)n, 0) != n || ftruncate(fd, n) < 0)
		log_warn("cannot write the recent mark: %s", strerror(errno));
}

void imapd_recent_update(struct imapd_session *s)
{
	size_t n = store_folder_count(s->folder);
	if (n == 0)
		return;
	uint32_t top = store_folder_msg(s->folder, n - 1)->uid;
	if (top <= s->recent_seen)
		return;
	int fd = recent_open(s, s->folder_name, !s->readonly);
	uint32_t mark = fd >= 0 ? recent_read(fd) : 0;
	for (size_t i = n; i > 0; i--) {
		uint32_t uid = store_folder_msg(s->folder, i - 1)->uid;
		if (uid <= mark || uid <= s->recent_seen)
			break;
		imap_seqset_add(&s->recent, uid, uid);
	}
	if (fd >= 0 && !s->readonly && top > mark)
		recent_write(fd, top);
	s->recent_seen = top;
	if (fd >= 0)
		close(fd);
}

bool imapd_recent_has(const struct imapd_session *s, uint32_t uid)
{
	return imap_seqset_contains(&s->recent, uid);
}

size_t imapd_recent_count(const struct imapd_session *s)
{
	size_t n = store_folder_count(s->folder), count = 0;
	for (size_t i = 0; i < n; i++)
		count += imapd_recent_has(s, store_folder_msg(s->folder, i)->uid);
	return count;
}

size_t imapd_recent_status(const struct imapd_session *s, const char *name,
			   const struct store_folder *f)
{
	if (s->folder != NULL && strcmp(s->folder_name, name) == 0)
		return imapd_recent_count(s);
	int fd = recent_open(s, name, false);
	uint32_t mark = fd >= 0 ? recent_read(fd) : 0;
	if (fd >= 0)
		close(fd);
	size_t n = store_folder_count(f), count = 0;
	for (size_t i = n; i > 0 && store_folder_msg(f, i - 1)->uid > mark; i--)
		count++;
	return count;
}
