/* sieve-store: a user's Sieve scripts on disk (see sieve-store.h), for `tern sieve` and
 * ManageSieve alike: NAME.sieve files in deliver_sieve_dir and the active link.
 */
#include "sieve-store.h"
#include "deliver-int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "xalloc.h"

#define SUFFIX ".sieve"
#define SUFFIX_LEN 6

void sieve_store_open(struct sieve_store *st, const struct deliver_user *u)
{
	st->user = u;
	st->dir = deliver_sieve_dir(u);
}

void sieve_store_close(struct sieve_store *st)
{
	x_free(&st->dir);
	st->user = NULL;
}

/* The code point of the UTF-8 sequence at p (n bytes left), its length in *len_r; -1 when
 * the bytes are not UTF-8 (overlong forms and surrogates included). */
static long utf8_next(const unsigned char *p, size_t n, size_t *len_r)
{
	static const long min[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t k = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
			       : (p[0] & 0xf0) == 0xe0		    ? 3
			       : p[0] >= 0xf0 && p[0] <= 0xf4	    ? 4
								    : 0;
	if (k == 0 || k > n)
		return -1;
	long c = k == 1 ? p[0] : p[0] & (0x3f >> (k - 1));
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min[k] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*len_r = k;
	return c;
}

bool sieve_store_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > SIEVE_STORE_NAME_MAX || name[0] == '.')
		return false;
	const unsigned char *p = (const unsigned char *)name;
	for (size_t i = 0, k = 0; i < len; i += k) {
		long c = utf8_next(p + i, len - i, &k);
		/* RFC 5804 1.6: no controls (C0, DEL, C1) nor line/paragraph separators */
		if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x2028 ||
		    c == 0x2029 || c == '/')
			return false;
	}
	return true;
}

static char *script_path(const struct sieve_store *st, const char *name)
{
	return x_asprintf("%s/%s" SUFFIX, st->dir, name);
}

char *sieve_store_active(const struct sieve_store *st)
{
	const char *at = st->user->sieve_at;
	struct stat sb;
	if (lstat(at, &sb) < 0)
		return NULL;
	if (!S_ISLNK(sb.st_mode))
		return x_strdup("");
	char target[4096];
	ssize_t n = readlink(at, target, sizeof(target) - 1);
	if (n < 0)
		return NULL;
	target[n] = 0;
	const char *base = strrchr(target, '/');
	base = base != NULL ? base + 1 : target;
	size_t bl = strlen(base);
	if (bl <= SUFFIX_LEN || strcmp(base + bl - SUFFIX_LEN, SUFFIX) != 0)
		return x_strdup("");
	return x_strndup(base, bl - SUFFIX_LEN);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t sieve_store_list(const struct sieve_store *st, char ***names_r)
{
	DIR *d = opendir(st->dir);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while (d != NULL && n < SIEVE_STORE_LIST_MAX && (de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l <= SUFFIX_LEN || strcmp(de->d_name + l - SUFFIX_LEN, SUFFIX) != 0 ||
		    de->d_name[0] == '.')
			continue;
		/* a legacy active.sieve in the scripts folder is the active file itself */
		char *p = x_asprintf("%s/%s", st->dir, de->d_name);
		bool self = strcmp(p, st->user->sieve_at) == 0;
		x_free(&p);
		if (self)
			continue;
		names = x_reallocarray(names, n + 1, sizeof(*names));
		names[n++] = x_strndup(de->d_name, l - SUFFIX_LEN);
	}
	if (d != NULL)
		closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	*names_r = names;
	return n;
}

bool sieve_store_exists(const struct sieve_store *st, const char *name)
{
	char *path = script_path(st, name);
	struct stat sb;
	bool ok = stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
	x_free(&path);
	return ok;
}

static int sys_error(struct buf *err, const char *what, const char *path)
{
	buf_printf(err, "cannot %s %s: %s", what, path, strerror(errno));
	return SIEVE_STORE_ERROR;
}

int sieve_store_put(const struct sieve_store *st, const char *name, const char *text,
		    size_t len, struct buf *err)
{
	if (!sieve_store_name_ok(name, strlen(name)))
		return SIEVE_STORE_BAD_NAME;
	if (mkdir_p(st->dir, 0700) < 0)
		return sys_error(err, "create", st->dir);
	char *path = script_path(st, name);
	int rc = SIEVE_STORE_OK;
	if (file_replace(path, text, len, 0600, (uid_t)-1, (gid_t)-1, FILE_SYNC_ALL) < 0)
		rc = sys_error(err, "write", path);
	x_free(&path);
	return rc;
}

int sieve_store_get(const struct sieve_store *st, const char *name, size_t max, char **text_r,
		    size_t *len_r, struct buf *err)
{
	if (!sieve_store_name_ok(name, strlen(name)))
		return SIEVE_STORE_NONEXISTENT;
	char *path = script_path(st, name);
	*text_r = read_file_small(path, max, len_r);
	int rc = SIEVE_STORE_OK;
	if (*text_r == NULL)
		rc = errno == ENOENT ? SIEVE_STORE_NONEXISTENT : sys_error(err, "read", path);
	x_free(&path);
	return rc;
}

/* Points the active link at target (relative to the link's folder), by rename. */
static int link_active(const struct sieve_store *st, const char *target, struct buf *err)
{
	const char *at = st->user->sieve_at;
	char *tmp = x_asprintf("%s.%ld.tmp", at, (long)getpid());
	unlink(tmp);
	int rc = SIEVE_STORE_OK;
	if (symlink(target, tmp) < 0 || rename(tmp, at) < 0) {
		rc = sys_error(err, "activate", target);
		unlink(tmp);
	}
	x_free(&tmp);
	return rc;
}

/* The link's target for NAME: relative to the active path's folder when inside it. */
static int point_active_at(const struct sieve_store *st, const char *name, struct buf *err)
{
	const char *at = st->user->sieve_at;
	char *path = script_path(st, name);
	const char *slash = strrchr(at, '/');
	size_t pl = slash != NULL ? (size_t)(slash - at) : 0;
	const char *rel = strncmp(path, at, pl) == 0 && path[pl] == '/' ? path + pl + 1 : path;
	int rc = link_active(st, rel, err);
	x_free(&path);
	return rc;
}

int sieve_store_activate(const struct sieve_store *st, const char *name, struct buf *err)
{
	if (!sieve_store_name_ok(name, strlen(name)) || !sieve_store_exists(st, name))
		return SIEVE_STORE_NONEXISTENT;
	char *active = sieve_store_active(st);
	int rc = SIEVE_STORE_OK;
	/* a legacy active file is kept as the script "active" (if that name is free) */
	if (active != NULL && *active == 0) {
		char *keep = script_path(st, "active");
		struct stat sb;
		if (strcmp(keep, st->user->sieve_at) != 0 && lstat(keep, &sb) < 0 &&
		    rename(st->user->sieve_at, keep) < 0)
			rc = sys_error(err, "keep the active file as", keep);
		x_free(&keep);
	}
	x_free(&active);
	return rc == SIEVE_STORE_OK ? point_active_at(st, name, err) : rc;
}

int sieve_store_deactivate(const struct sieve_store *st, struct buf *err)
{
	char *active = sieve_store_active(st);
	int rc = SIEVE_STORE_OK;
	if (active != NULL && *active == 0) {
		buf_printf(err, "%s is a file, not a link: left as it is", st->user->sieve_at);
		rc = SIEVE_STORE_ERROR;
	} else if (active != NULL && unlink(st->user->sieve_at) < 0) {
		rc = sys_error(err, "deactivate", st->user->sieve_at);
	} else if (active != NULL) { /* its compiled form is of no use any more */
		char *cache = x_asprintf("%s" SIEVE_CACHE_SUFFIX, st->user->sieve_at);
		unlink(cache);
		x_free(&cache);
	}
	x_free(&active);
	return rc;
}

int sieve_store_delete(const struct sieve_store *st, const char *name, struct buf *err)
{
	if (!sieve_store_name_ok(name, strlen(name)) || !sieve_store_exists(st, name))
		return SIEVE_STORE_NONEXISTENT;
	char *active = sieve_store_active(st);
	bool on = active != NULL && strcmp(active, name) == 0;
	x_free(&active);
	if (on)
		return SIEVE_STORE_ACTIVE;
	char *path = script_path(st, name);
	int rc = unlink(path) < 0 ? sys_error(err, "delete", path) : SIEVE_STORE_OK;
	x_free(&path);
	return rc;
}

int sieve_store_rename(const struct sieve_store *st, const char *old_name, const char *new_name,
		       struct buf *err)
{
	if (!sieve_store_name_ok(old_name, strlen(old_name)) || !sieve_store_exists(st, old_name))
		return SIEVE_STORE_NONEXISTENT;
	if (!sieve_store_name_ok(new_name, strlen(new_name)))
		return SIEVE_STORE_BAD_NAME;
	char *from = script_path(st, old_name), *to = script_path(st, new_name);
	char *active = sieve_store_active(st);
	int rc = SIEVE_STORE_OK;
	/* link, then move the active link, then unlink: never a moment without the script,
	 * and link(2) does not replace an existing NEW */
	if (link(from, to) < 0)
		rc = errno == EEXIST ? SIEVE_STORE_EXISTS : sys_error(err, "rename", from);
	if (rc == SIEVE_STORE_OK && active != NULL && strcmp(active, old_name) == 0)
		rc = point_active_at(st, new_name, err);
	if (rc == SIEVE_STORE_OK && unlink(from) < 0)
		rc = sys_error(err, "remove", from);
	else if (rc == SIEVE_STORE_ERROR)
		unlink(to);
	if (rc == SIEVE_STORE_OK)
		fsync_dir(st->dir);
	x_free(&active);
	x_free(&from);
	x_free(&to);
	return rc;
}
