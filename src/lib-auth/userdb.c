/* userdb: the virtual user directory, a text file DATA/users (doc/users-format.md).
 *
 * Lines: `address:hash:quota_bytes:quota_messages:scram` ('#' comments allowed). The file is
 * held in memory as a sorted array and re-read when its inode, size or mtime change, so
 * every worker sees `tern user add` at once. Writes replace the file atomically (temp
 * file, fsync, rename, fsync of the folder) under an fcntl lock on DATA/users.lock.
 */
#include "userdb.h"
#include "conf.h"
#include "sysuser.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USERDB_MAX_FILE (256u * 1024 * 1024)

struct userdb_entry {
	char *address; /* lower-cased key */
	char *hash;
	uint64_t quota_bytes, quota_messages;
	char *scram; /* "" when none */
};

struct userdb {
	char *path;
	char *data_dir;
	char *delimiter;
	char **domains;
	size_t domain_count;
	uint64_t default_quota;
	struct userdb_entry *entries;
	size_t count;
	struct stat st; /* of the file as loaded */
	bool loaded;
	bool system;	      /* user_source = system: the Unix accounts */
	char *system_mailbox; /* "mbox:/var/mail/%u", "maildir:~/Maildir" */
};

struct userdb *userdb_open(const struct conf *c)
{
	struct userdb *db = X_NEW(struct userdb);
	db->data_dir = x_strdup(conf_str(c, "data_dir"));
	db->path = x_asprintf("%s/users", db->data_dir);
	db->delimiter = x_strdup(conf_str(c, "recipient_delimiter"));
	db->domain_count = conf_words(conf_str(c, "domains"), &db->domains);
	for (size_t i = 0; i < db->domain_count; i++)
		str_lower(db->domains[i]);
	db->default_quota = conf_num(c, "user_quota_bytes");
	db->system = sysuser_mode(c);
	db->system_mailbox = x_strdup(conf_str(c, "system_mailbox"));
	if (db->system)
		sysuser_configure(c);
	return db;
}

bool userdb_system(const struct userdb *db)
{
	return db->system;
}

static void entries_free(struct userdb *db)
{
	for (size_t i = 0; i < db->count; i++) {
		free(db->entries[i].address);
		free(db->entries[i].hash);
		free(db->entries[i].scram);
	}
	x_free(&db->entries);
	db->count = 0;
}

void userdb_close(struct userdb **dbp)
{
	struct userdb *db = *dbp;
	if (db == NULL)
		return;
	entries_free(db);
	conf_words_free(&db->domains, db->domain_count);
	free(db->path);
	free(db->data_dir);
	free(db->delimiter);
	free(db->system_mailbox);
	x_free(dbp);
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct userdb_entry *)a)->address,
		      ((const struct userdb_entry *)b)->address);
}

/* Parses one line; returns false for a malformed one. */
static bool parse_line(char *line, struct userdb_entry *e)
{
	char *f[5] = {NULL, NULL, NULL, NULL, NULL};
	size_t n = 0;
	for (char *p = line; n < 5; n++) {
		f[n] = p;
		if (n == 4) { /* the last field is the rest of the line */
			n++;
			break;
		}
		p = strchr(p, ':');
		if (p == NULL) {
			n++;
			break;
		}
		*p++ = '\0';
	}
	if (n < 2 || f[0][0] == '\0' || strchr(f[0], '@') == NULL)
		return false;
	e->address = str_lower(x_strdup(f[0]));
	e->hash = x_strdup(f[1]);
	e->quota_bytes = n > 2 ? strtoull(f[2], NULL, 10) : 0;
	e->quota_messages = n > 3 ? strtoull(f[3], NULL, 10) : 0;
	/* The SCRAM secret contains '$' and ':'; it is the rest of the line. */
	e->scram = x_strdup(n > 4 ? f[4] : "");
	return true;
}

/* (Re)loads the file when it changed; a missing file is an empty directory. */
static int userdb_refresh(struct userdb *db, struct buf *err)
{
	struct stat st;
	if (stat(db->path, &st) < 0) {
		if (errno != ENOENT) {
			buf_printf(err, "%s: %s", db->path, strerror(errno));
			return -1;
		}
		entries_free(db);
		db->loaded = true;
		memset(&db->st, 0, sizeof(db->st));
		return 0;
	}
	if (db->loaded && st.st_ino == db->st.st_ino && st.st_size == db->st.st_size &&
	    st.st_mtim.tv_sec == db->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == db->st.st_mtim.tv_nsec)
		return 0;
	size_t len;
	char *text = read_file_small(db->path, USERDB_MAX_FILE, &len);
	if (text == NULL) {
		buf_printf(err, "%s: %s", db->path, strerror(errno));
		return -1;
	}
	entries_free(db);
	size_t cap = 0, lineno = 0;
	for (char *line = text, *next; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		struct userdb_entry e;
		if (!parse_line(line, &e)) {
			log_warn("%s:%zu: malformed user line ignored", db->path, lineno);
			continue;
		}
		if (db->count == cap) {
			cap = cap ? cap * 2 : 16;
			db->entries = x_reallocarray(db->entries, cap, sizeof(*db->entries));
		}
		db->entries[db->count++] = e;
	}
	free(text);
	if (db->count > 1)
		qsort(db->entries, db->count, sizeof(*db->entries), entry_cmp);
	db->st = st;
	db->loaded = true;
	return 0;
}

bool userdb_is_local_domain(struct userdb *db, const char *domain)
{
	for (size_t i = 0; i < db->domain_count; i++)
		if (str_ieq(db->domains[i], domain))
			return true;
	return false;
}

/* Lower-cases the address and cuts a +extension off the local part. */
static char *canonical_key(const struct userdb *db, const char *address)
{
	char *key = str_lower(x_strdup(address));
	char *at = strrchr(key, '@');
	if (at == NULL || db->delimiter[0] == '\0')
		return key;
	char *d = strstr(key, db->delimiter);
	if (d != NULL && d < at && d != key)
		memmove(d, at, strlen(at) + 1);
	return key;
}

static struct userdb_entry *userdb_find(struct userdb *db, const char *key)
{
	struct userdb_entry k = {.address = (char *)key};
	if (db->count == 0)
		return NULL;
	return bsearch(&k, db->entries, db->count, sizeof(*db->entries), entry_cmp);
}

static void fill_info(const struct userdb *db, const struct userdb_entry *e,
		      struct user_info *info)
{
	const char *at = strrchr(e->address, '@');
	info->address = x_strdup(e->address);
	info->hash = x_strdup(e->hash);
	info->scram = e->scram[0] != '\0' ? x_strdup(e->scram) : NULL;
	info->maildir = x_asprintf("%s/mail/%s/%.*s", db->data_dir, at + 1,
				   (int)(at - e->address), e->address);
	info->quota_bytes = e->quota_bytes ? e->quota_bytes : db->default_quota;
	info->quota_messages = e->quota_messages;
}

char *userdb_expand(const char *pattern, const char *u, size_t ulen, const char *d,
		    const char *h)
{
	struct buf b = BUF_INIT;
	if (h != NULL && pattern[0] == '~' && pattern[1] == '/') {
		buf_append_str(&b, h);
		pattern++;
	}
	for (const char *p = pattern; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'u')
			buf_append(&b, u, ulen);
		else if (p[0] == '%' && p[1] == 'd' && d != NULL)
			buf_append_str(&b, d);
		else if (p[0] == '%' && p[1] == 'h' && h != NULL)
			buf_append_str(&b, h);
		else if (p[0] == '%' && p[1] == '%')
			buf_append_char(&b, '%');
		else {
			buf_append_char(&b, *p);
			continue;
		}
		p++;
	}
	return buf_steal(&b);
}

/* A system user's INBOX from system_mailbox: "mbox:" or "maildir:" then a path (see
 * userdb_expand); without either, a path ending in '/' is a Maildir. */
static char *system_mailbox_path(const char *pattern, const struct sysuser *u, bool *mbox_r)
{
	*mbox_r = true;
	if (strncmp(pattern, "mbox:", 5) == 0) {
		pattern += 5;
	} else if (strncmp(pattern, "maildir:", 8) == 0) {
		pattern += 8;
		*mbox_r = false;
	} else if (pattern[0] != '\0' && pattern[strlen(pattern) - 1] == '/') {
		*mbox_r = false;
	}
	char *path = userdb_expand(pattern, u->name, strlen(u->name), NULL, u->home);
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	return path;
}

/* user_source = system: ACCOUNT[+ext][@local-domain] is the Unix account ACCOUNT. */
static int userdb_lookup_system(struct userdb *db, const char *address, struct user_info *info,
				struct buf *err)
{
	char *local = x_strdup(address);
	char *at = strrchr(local, '@');
	const char *domain = db->domain_count > 0 ? db->domains[0] : "localhost";
	if (at != NULL) {
		*at = '\0';
		if (!userdb_is_local_domain(db, at + 1)) {
			free(local);
			return 0;
		}
		domain = at + 1;
	}
	char *d = db->delimiter[0] != '\0' ? strstr(local, db->delimiter) : NULL;
	if (d != NULL && d != local)
		*d = '\0';
	struct sysuser u;
	int r = sysuser_lookup(local, &u);
	int e = errno;
	char *dom = str_lower(x_strdup(domain));
	free(local);
	if (r < 0) {
		free(dom);
		if (e == 0)
			return 0;
		buf_printf(err, "passwd lookup of %s: %s", address, strerror(e));
		return -1;
	}
	info->system = true;
	info->address = x_asprintf("%s@%s", u.name, dom);
	free(dom);
	info->hash = x_strdup("");
	info->maildir = system_mailbox_path(db->system_mailbox, &u, &info->mbox);
	info->login = u.name;
	info->home = u.home;
	info->uid = u.uid;
	info->gid = u.gid;
	u.name = u.home = NULL;
	sysuser_free(&u);
	return 1;
}

int userdb_lookup(struct userdb *db, const char *address, struct user_info *info, struct buf *err)
{
	memset(info, 0, sizeof(*info));
	if (db->system)
		return userdb_lookup_system(db, address, info, err);
	if (userdb_refresh(db, err) < 0)
		return -1;
	char *key = canonical_key(db, address);
	struct userdb_entry *e = userdb_find(db, key);
	free(key);
	if (e == NULL)
		return 0;
	fill_info(db, e, info);
	return 1;
}

void user_info_free(struct user_info *info)
{
	x_free(&info->address);
	x_free(&info->hash);
	x_free(&info->scram);
	x_free(&info->maildir);
	x_free(&info->login);
	x_free(&info->home);
}

const char *userdb_path(const struct userdb *db)
{
	return db->path;
}

int userdb_foreach(struct userdb *db, void (*fn)(const struct user_info *, void *), void *arg,
		   struct buf *err)
{
	if (userdb_refresh(db, err) < 0)
		return -1;
	for (size_t i = 0; i < db->count; i++) {
		struct user_info info = {0};
		fill_info(db, &db->entries[i], &info);
		fn(&info, arg);
		user_info_free(&info);
	}
	return 0;
}

static int lock_file(const struct userdb *db, struct buf *err)
{
	char *lp = x_asprintf("%s.lock", db->path);
	int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lp);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fd < 0 || fcntl(fd, F_SETLKW, &fl) < 0) {
		buf_printf(err, "%s.lock: %s", db->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Rewrites the file from the in-memory entries, atomically and durably; as root, owned by
 * the data folder's owner (the instance's account), which the workers run as. */
static int userdb_save(struct userdb *db, struct buf *err)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, "# Tern virtual users: address:crypt-hash:quota-bytes:quota-messages:scram\n"
			   "# Edit with 'tern user'; see doc/users-format.md.\n");
	for (size_t i = 0; i < db->count; i++)
		buf_printf(&b, "%s:%s:%llu:%llu:%s\n", db->entries[i].address, db->entries[i].hash,
			   (unsigned long long)db->entries[i].quota_bytes,
			   (unsigned long long)db->entries[i].quota_messages, db->entries[i].scram);
	struct stat dst;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	if (geteuid() == 0 && stat(db->data_dir, &dst) == 0)
		uid = dst.st_uid, gid = dst.st_gid;
	int ret = file_replace(db->path, b.data, b.len, 0600, uid, gid, FILE_SYNC_ALL);
	buf_free(&b);
	if (ret < 0)
		buf_printf(err, "%s: %s", db->path, strerror(errno));
	else
		db->loaded = false; /* re-stat on next use */
	return ret;
}

static bool address_valid(const char *a)
{
	const char *at = strrchr(a, '@');
	if (at == NULL || at == a || at[1] == '\0' || strlen(a) > 254)
		return false;
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		if (*p <= ' ' || *p == ':' || *p == '/' || *p == 0x7f || *p == '\\')
			return false;
	return strstr(a, "..") == NULL && a[0] != '.';
}

int userdb_put(struct userdb *db, const char *address, const char *hash, const char *scram,
	       uint64_t quota_bytes, uint64_t quota_messages, struct buf *err)
{
	if (!address_valid(address)) {
		buf_printf(err, "invalid address '%s'", address);
		return -1;
	}
	int lfd = lock_file(db, err);
	if (lfd < 0)
		return -1;
	db->loaded = false;
	int ret = -1;
	if (userdb_refresh(db, err) == 0) {
		char *key = str_lower(x_strdup(address));
		struct userdb_entry *e = userdb_find(db, key);
		if (e != NULL) {
			free(e->hash);
			e->hash = x_strdup(hash);
			free(e->scram);
			e->scram = x_strdup(scram ? scram : "");
			e->quota_bytes = quota_bytes;
			e->quota_messages = quota_messages;
			free(key);
		} else {
			db->entries = x_reallocarray(db->entries, db->count + 1, sizeof(*e));
			db->entries[db->count++] = (struct userdb_entry){
				key, x_strdup(hash), quota_bytes, quota_messages,
				x_strdup(scram ? scram : "")};
			qsort(db->entries, db->count, sizeof(*db->entries), entry_cmp);
		}
		ret = userdb_save(db, err);
	}
	close(lfd);
	return ret;
}

int userdb_delete(struct userdb *db, const char *address, struct buf *err)
{
	int lfd = lock_file(db, err);
	if (lfd < 0)
		return -1;
	db->loaded = false;
	int ret = -1;
	if (userdb_refresh(db, err) == 0) {
		char *key = str_lower(x_strdup(address));
		struct userdb_entry *e = userdb_find(db, key);
		free(key);
		if (e == NULL) {
			buf_printf(err, "no such user: %s", address);
		} else {
			size_t i = (size_t)(e - db->entries);
			free(e->address);
			free(e->hash);
			free(e->scram);
			memmove(e, e + 1, (db->count - i - 1) * sizeof(*e));
			db->count--;
			ret = userdb_save(db, err);
		}
	}
	close(lfd);
	return ret;
}
