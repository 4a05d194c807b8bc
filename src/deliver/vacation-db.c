/* vacation-db: the vacation database as a text file (doc/vacation.md), not dbm.
 *
 * One record per line after the first ("# tern vacation database 1"):
 *   interval SECONDS | interval infinite      the -r interval (absent: the default)
 *   exclude ADDRESS | exclude @DOMAIN         -x: never answered
 *   reply UNIXTIME ADDRESS                    the last answer to ADDRESS
 * Blank lines and lines starting with '#' are comments. Readers and writers hold an
 * fcntl lock on PATH.lock; a writer writes PATH.tmp.PID, fsyncs it and renames it over
 * PATH, so a reader sees the old file or the new one, and grep, sed and an editor can
 * read and repair it. Answers older than the interval are dropped when it is written.
 */
#include "vacation.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "xalloc.h"

/* Takes the lock file's fcntl lock, trying every 50 ms up to timeout seconds. An open file
 * description lock, so that two threads of the queue manager exclude each other too. */
static int take_lock(const char *path, unsigned timeout, int *errno_r, struct buf *err)
{
	char *lp = x_asprintf("%s.lock", path);
	int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*errno_r = errno;
		buf_printf(err, "cannot open %s: %s", lp, strerror(errno));
		x_free(&lp);
		return -1;
	}
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	uint64_t deadline = now_ms() + (uint64_t)timeout * 1000;
	while (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		if ((errno != EACCES && errno != EAGAIN && errno != EINTR) || now_ms() >= deadline) {
			*errno_r = errno == EACCES || errno == EAGAIN ? ENOLCK : errno;
			buf_printf(err, "cannot lock %s: %s", lp,
				   *errno_r == ENOLCK ? "held by another process" : strerror(errno));
			close(fd);
			x_free(&lp);
			return -1;
		}
		usleep(50000);
	}
	x_free(&lp);
	return fd;
}

static bool addr_ok(const char *a)
{
	if (*a == '\0')
		return false;
	for (; *a != '\0'; a++)
		if ((unsigned char)*a <= ' ' || *a == 0x7f)
			return false;
	return true;
}

/* One record line (NUL-terminated, without LF). 0, or -1 when not understood. */
static int parse_line(struct vacation_db *db, char *line)
{
	char *save = NULL, *kw = strtok_r(line, " \t\r", &save);
	if (kw == NULL || kw[0] == '#')
		return 0;
	char *a = strtok_r(NULL, " \t\r", &save), *b = strtok_r(NULL, " \t\r", &save);
	char *end = NULL;
	if (strcmp(kw, "interval") == 0 && a != NULL && b == NULL) {
		if (strcmp(a, "infinite") == 0) {
			db->interval = VACATION_FOREVER;
			return 0;
		}
		long long v = strtoll(a, &end, 10);
		if (*end != '\0' || v < 0 || !isdigit((unsigned char)a[0]))
			return -1;
		db->interval = v;
		return 0;
	}
	if (strcmp(kw, "exclude") == 0 && a != NULL && b == NULL) {
		vacation_db_set(db, a, 0, true);
		return 0;
	}
	if (strcmp(kw, "reply") == 0 && a != NULL && b != NULL &&
	    strtok_r(NULL, " \t\r", &save) == NULL) {
		long long t = strtoll(a, &end, 10);
		if (*end != '\0' || !isdigit((unsigned char)a[0]))
			return -1;
		vacation_db_set(db, b, t, false);
		return 0;
	}
	return -1;
}

static int parse_text(struct vacation_db *db, char *text, const char *path, struct buf *err)
{
	size_t lineno = 0;
	for (char *l = text, *next; l != NULL && *l != '\0'; l = next) {
		next = strchr(l, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		if (lineno == 1 && strcmp(l, VACATION_DB_MAGIC) != 0) {
			buf_printf(err, "%s is not a Tern vacation database (a dbm file of another "
					"vacation program?); `tern vacation -i` makes a new one", path);
			return -1;
		}
		if (lineno > 1 && parse_line(db, l) < 0) {
			buf_printf(err, "%s:%zu: not a record of the vacation database", path, lineno);
			return -1;
		}
	}
	return 0;
}

int vacation_db_open(const char *path, uint64_t max_size, unsigned timeout, bool fresh,
		     struct vacation_db *db, int *errno_r, struct buf *err)
{
	memset(db, 0, sizeof(*db));
	db->interval = VACATION_UNSET;
	db->lock_fd = take_lock(path, timeout, errno_r, err);
	if (db->lock_fd < 0 || fresh)
		return db->lock_fd < 0 ? -1 : 0;
	size_t len = 0;
	errno = 0;
	char *text = read_file_small(path, (size_t)max_size, &len);
	if (text == NULL && errno != ENOENT) {
		*errno_r = errno == EFBIG || errno == 0 ? EINVAL : errno;
		buf_printf(err, "cannot read %s: %s", path,
			   *errno_r == EINVAL ? "bigger than vacation_db_max_size"
					      : strerror(errno));
		vacation_db_close(db);
		return -1;
	}
	if (text != NULL && (memchr(text, '\0', len) != NULL ||
			     parse_text(db, text, path, err) < 0)) {
		if (err->len == 0)
			buf_printf(err, "%s is not a Tern vacation database (binary data); "
					"`tern vacation -i` makes a new one", path);
		*errno_r = EINVAL;
		x_free(&text);
		vacation_db_close(db);
		return -1;
	}
	x_free(&text);
	return 0;
}

bool vacation_db_is_ours(const char *path)
{
	char head[sizeof(VACATION_DB_MAGIC)];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	ssize_t n = read_full(fd, head, sizeof(head));
	close(fd);
	return n == (ssize_t)sizeof(head) &&
	       memcmp(head, VACATION_DB_MAGIC "\n", sizeof(head)) == 0;
}

/* Times are whole seconds (an answer at T is recorded as floor(T)): an answer is past an
 * interval of N seconds only when the recorded times differ by more than N, so that never
 * less than N seconds pass between two answers to one sender (with "N apart" two messages
 * 0.1 s apart across a second's boundary were both answered under -r 1). 0: every
 * message is answered. */
static bool expired(const struct vacation_rec *r, int64_t interval, int64_t now)
{
	return !r->exclude && interval != VACATION_FOREVER &&
	       (interval == 0 || r->time < now - interval);
}

int vacation_db_save(const char *path, const struct vacation_db *db, int64_t interval, int64_t now,
		     struct buf *err)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s\n", VACATION_DB_MAGIC);
	if (db->interval == VACATION_FOREVER)
		buf_append_str(&b, "interval infinite\n");
	else if (db->interval != VACATION_UNSET)
		buf_printf(&b, "interval %lld\n", (long long)db->interval);
	for (size_t i = 0; i < db->count; i++) {
		const struct vacation_rec *r = &db->v[i];
		if (r->exclude)
			buf_printf(&b, "exclude %s\n", r->addr);
		else if (!expired(r, interval, now))
			buf_printf(&b, "reply %lld %s\n", (long long)r->time, r->addr);
	}
	int r = file_replace(path, b.data, b.len, 0600, (uid_t)-1, (gid_t)-1, FILE_SYNC_ALL);
	if (r < 0)
		buf_printf(err, "cannot write %s: %s", path, strerror(errno));
	buf_free(&b);
	return r;
}

void vacation_db_clear(struct vacation_db *db)
{
	for (size_t i = 0; i < db->count; i++)
		x_free(&db->v[i].addr);
	x_free(&db->v);
	db->count = 0;
	db->interval = VACATION_UNSET;
}

void vacation_db_close(struct vacation_db *db)
{
	vacation_db_clear(db);
	if (db->lock_fd > 0)
		close(db->lock_fd);
	db->lock_fd = -1;
}

static struct vacation_rec *find(const struct vacation_db *db, const char *addr, bool exclude)
{
	for (size_t i = 0; i < db->count; i++)
		if (db->v[i].exclude == exclude && strcasecmp(db->v[i].addr, addr) == 0)
			return &db->v[i];
	return NULL;
}

bool vacation_db_recent(const struct vacation_db *db, const char *addr, int64_t interval,
			int64_t now)
{
	const char *at = strrchr(addr, '@');
	if (find(db, addr, true) != NULL || (at != NULL && find(db, at, true) != NULL))
		return true;
	const struct vacation_rec *r = find(db, addr, false);
	return r != NULL && !expired(r, interval, now);
}

void vacation_db_set(struct vacation_db *db, const char *addr, int64_t t, bool exclude)
{
	if (!addr_ok(addr))
		return;
	struct vacation_rec *r = find(db, addr, exclude);
	if (r == NULL) {
		db->v = x_reallocarray(db->v, db->count + 1, sizeof(*db->v));
		r = &db->v[db->count++];
		*r = (struct vacation_rec){.addr = x_strdup(addr), .exclude = exclude};
	}
	r->time = t;
}

void vacation_db_list(const struct vacation_db *db, FILE *out)
{
	for (size_t i = 0; i < db->count; i++) {
		const struct vacation_rec *r = &db->v[i];
		fprintf(out, "%-50s", r->addr);
		time_t t = (time_t)r->time;
		char tbuf[64];
		if (r->exclude || ctime_r(&t, tbuf) == NULL)
			fputs("(never deleted)\n", out);
		else
			fputs(tbuf, out);
	}
}

int64_t vacation_interval_parse(const char *arg)
{
	if (!isdigit((unsigned char)arg[0]))
		return VACATION_FOREVER; /* vacation(1): any word, as "infinite" */
	uint64_t v;
	size_t n = strlen(arg);
	if (isdigit((unsigned char)arg[n - 1])) {
		char *end;
		errno = 0;
		unsigned long long d = strtoull(arg, &end, 10);
		if (*end != '\0' || errno != 0 || d > (uint64_t)INT64_MAX / 86400)
			return -1;
		return (int64_t)d * 86400;
	}
	if (parse_duration(arg, &v) < 0 || v > (uint64_t)INT64_MAX - 1)
		return -1;
	return (int64_t)v;
}
