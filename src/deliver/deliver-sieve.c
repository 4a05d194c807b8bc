/* deliver-sieve: the user's active Sieve script (RFC 5228), run by lib-sieve (sieve.h),
 * which decides; the actions are carried out here.
 *
 * keep: the INBOX; fileinto "A/B": the Maildir++ folder ROOT/.A.B (made when missing);
 * redirect: back into Tern's queue with the original envelope sender (deliver-forward.c);
 * discard; reject/ereject: a permanent failure with the reason (the queue then bounces,
 * RFC 5429 2.1); vacation: a reply from the null sender (RFC 5230 5, RFC 3834; built and
 * sent by the code `tern vacation` uses: lib-autoreply, deliver-autoreply.c),
 * remembered in ROOT/.tern-vacation so that a sender gets one per interval. A script that
 * does not compile is logged with line:column and the message goes to the INBOX. If an
 * action fails the delivery is deferred (75): keep the message rather than lose it.
 */
#include "deliver-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "autoreply.h"
#include "conf.h"
#include "log.h"
#include "sieve.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#define VACATION_STATE ".tern-vacation"
#define VACATION_STATE_MAX (1024 * 1024)
#define DUPLICATE_STATE ".tern-duplicate"
#define SIEVE_CACHE_MAX (16 * 1024 * 1024) /* bytes of a compiled script read back */

/* The message as lib-sieve reads it: the added header lines, then the spool. */
static ssize_t msg_read(void *ctx, void *buf, size_t len, uint64_t offset)
{
	const struct deliver_msg *m = ctx;
	size_t hl = strlen(m->head);
	if (offset < hl) {
		size_t k = hl - offset < len ? hl - (size_t)offset : len;
		memcpy(buf, m->head + offset, k);
		return (ssize_t)k;
	}
	/* m->size bytes only: a queue file goes on with its envelope. */
	uint64_t left = offset - hl < m->size ? m->size - (offset - hl) : 0;
	if (left < len)
		len = (size_t)left;
	ssize_t n = 0;
	while (len > 0 && (n = pread(m->fd, buf, len, (off_t)(offset - hl))) < 0 && errno == EINTR)
		;
	return n;
}

/* The Maildir++ folder of a Sieve mailbox name, or NULL when the name is not valid. */
static char *folder_path(const struct deliver_user *u, const char *name)
{
	if (strcasecmp(name, "INBOX") == 0)
		return x_strdup(u->inbox);
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s/.", deliver_user_folders(u));
	const char *p = name;
	bool ok = *p != 0;
	for (; *p != 0 && ok; p++) {
		bool start = p == name || p[-1] == '/';
		if ((*p == '.' && start) || (*p == '/' && (start || p[1] == 0)) || *p == '.')
			ok = false;
		buf_append_char(&b, *p == '/' ? '.' : *p);
	}
	if (!ok) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* What the Sieve callbacks get: the message, and the scripts included in this run. */
struct sieve_agent {
	struct deliver_msg *m;
	struct sieve_script *included[SIEVE_MAX_INCLUDES];
	size_t nincluded;
};

/* ---- vacation and duplicate state: "EXPIRY<TAB>HANDLE<TAB>KEY" lines in ROOT/FILE:
 * ROOT/.tern-vacation (KEY: the sender, any case) and ROOT/.tern-duplicate (RFC 7352: the
 * unique id, exact) ---- */

static bool state_seen(const struct sieve_agent *ag, const char *file, const char *handle,
		       const char *key, bool icase)
{
	char *path = x_asprintf("%s/%s", ag->m->user->root, file);
	char *text = read_file_small(path, VACATION_STATE_MAX, NULL);
	bool seen = false;
	long long now = (long long)time(NULL);
	for (char *save = NULL, *l = text != NULL ? strtok_r(text, "\n", &save) : NULL;
	     l != NULL && !seen; l = strtok_r(NULL, "\n", &save)) {
		char *h = strchr(l, '\t'), *s = h != NULL ? strchr(h + 1, '\t') : NULL;
		if (s == NULL)
			continue;
		*h++ = 0;
		*s++ = 0;
		seen = atoll(l) > now && strcmp(h, handle) == 0 &&
		       (icase ? strcasecmp(s, key) : strcmp(s, key)) == 0;
	}
	x_free(&text);
	x_free(&path);
	return seen;
}

/* Keeps a state file at most half of VACATION_STATE_MAX (it is read whole): expired lines
 * go, then the oldest ones. Written beside and renamed, so a reader sees the old file or
 * the new one; a line appended by another delivery meanwhile may be lost (at worst one
 * more reply). A file too big to read starts afresh from last, the line just added. */
static void state_compact(const char *path, const char *last)
{
	size_t len = 0;
	char *text = read_file_small(path, VACATION_STATE_MAX, &len);
	if (text == NULL && errno != EFBIG)
		return;
	struct buf keep = BUF_INIT;
	long long now = (long long)time(NULL);
	for (char *save = NULL, *l = text != NULL ? strtok_r(text, "\n", &save) : NULL; l != NULL;
	     l = strtok_r(NULL, "\n", &save))
		if (atoll(l) > now)
			buf_printf(&keep, "%s\n", l);
	if (text == NULL)
		buf_append_str(&keep, last);
	size_t from = 0;
	while (keep.len - from > VACATION_STATE_MAX / 2) {
		const char *nl = memchr(keep.data + from, '\n', keep.len - from);
		from = (size_t)(nl - keep.data) + 1;
	}
	if (file_replace(path, keep.len > 0 ? keep.data + from : "", keep.len - from, 0600,
			 (uid_t)-1, (gid_t)-1, FILE_SYNC_NONE) < 0)
		log_warn("sieve: cannot rewrite %s: %s", path, strerror(errno));
	buf_free(&keep);
	x_free(&text);
}

static void state_record(const struct sieve_agent *ag, const char *file, const char *handle,
			 const char *key, uint64_t seconds)
{
	char *path = x_asprintf("%s/%s", ag->m->user->root, file);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat st;
	bool valid = strpbrk(handle, "\t\n") == NULL && strpbrk(key, "\t\n") == NULL;
	if (fd >= 0 && valid) {
		char *line = x_asprintf("%lld\t%s\t%s\n",
					(long long)time(NULL) + (long long)seconds, handle, key);
		if (write_full(fd, line, strlen(line)) < 0)
			log_warn("sieve: cannot write %s: %s", path, strerror(errno));
		bool big = fstat(fd, &st) == 0 && (uint64_t)st.st_size > VACATION_STATE_MAX / 2;
		if (big)
			state_compact(path, line);
		x_free(&line);
	}
	if (fd >= 0)
		close(fd);
	x_free(&path);
}

static bool op_vacation_seen(void *ctx, const char *handle, const char *sender, uint64_t seconds)
{
	return state_seen(ctx, VACATION_STATE, handle, sender, true);
}

static void op_vacation_record(void *ctx, const char *handle, const char *sender, uint64_t seconds)
{
	state_record(ctx, VACATION_STATE, handle, sender, seconds);
}

static bool op_duplicate_seen(void *ctx, const char *handle, const char *id, uint64_t seconds)
{
	return state_seen(ctx, DUPLICATE_STATE, handle, id, false);
}

static void op_duplicate_record(void *ctx, const char *handle, const char *id, uint64_t seconds)
{
	state_record(ctx, DUPLICATE_STATE, handle, id, seconds);
}

char *deliver_sieve_dir(const struct deliver_user *u)
{
	const char *active = u->sieve_at != NULL ? u->sieve_at : u->sieve;
	const char *slash = active != NULL ? strrchr(active, '/') : NULL;
	char *dir = slash != NULL ? x_strndup(active, (size_t)(slash - active)) : x_strdup(".");
	if (u->virtual_user)
		return dir;
	char *sub = x_asprintf("%s/sieve", dir);
	x_free(&dir);
	return sub;
}

/* include (RFC 6609): NAME.sieve in the user's script folder (:personal), or in
 * sieve_global_dir (:global). A name is one path component. */
static const struct sieve_script *op_include(void *ctx, bool global, const char *name,
					     struct sieve_error *err_r)
{
	struct sieve_agent *ag = ctx;
	if (name[0] == 0 || name[0] == '.' || strchr(name, '/') != NULL ||
	    ag->nincluded >= SIEVE_MAX_INCLUDES) {
		snprintf(err_r->msg, sizeof(err_r->msg), "bad script name or too many includes");
		return NULL;
	}
	char *dir;
	const char *gd = conf_str(ag->m->ctx->conf, "sieve_global_dir");
	if (global)
		dir = *gd != 0
			  ? x_strdup(gd)
			  : x_asprintf("%s/sieve/global", conf_str(ag->m->ctx->conf, "data_dir"));
	else
		dir = deliver_sieve_dir(ag->m->user);
	char *path = x_asprintf("%s/%s.sieve", dir, name);
	size_t len = 0;
	char *text = read_file_small(path, SIEVE_MAX_SCRIPT_SIZE, &len);
	struct sieve_script *s = NULL;
	if (text == NULL) {
		err_r->msg[0] = 0; /* it does not exist: an error unless :optional */
		if (errno != ENOENT)
			snprintf(err_r->msg, sizeof(err_r->msg), "cannot read %s: %s", path,
				 strerror(errno));
	} else if ((s = sieve_compile(text, len, err_r)) != NULL) {
		ag->included[ag->nincluded++] = s;
	} else {
		struct buf b = BUF_INIT;
		buf_printf(&b, "%s:%d:%d: %s", path, err_r->line, err_r->col, err_r->msg);
		snprintf(err_r->msg, sizeof(err_r->msg), "%s", buf_cstr(&b));
		buf_free(&b);
	}
	x_free(&text);
	x_free(&path);
	x_free(&dir);
	return s;
}

/* The reply of a vacation action, from the null sender (RFC 3834 through lib-autoreply,
 * sent by deliver-autoreply.c as `tern vacation` does). */
static int send_vacation(struct deliver_msg *m, const struct sieve_action *a, struct buf *err)
{
	struct buf r = BUF_INIT;
	struct autoreply_head h = {.from = a->from != NULL ? a->from : m->user->address,
				   .to = a->address,
				   .subject = a->subject != NULL ? a->subject : "Auto: away",
				   .date = time(NULL),
				   .id_host = m->req->hostname,
				   .in_reply_to = a->in_reply_to,
				   .references = a->references,
				   .auto_submitted = true};
	autoreply_head_write(&h, &r);
	if (a->mime)
		buf_printf(&r, "MIME-Version: 1.0\n%s", a->text != NULL ? a->text : "\n");
	else
		buf_printf(&r,
			   "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
			   "Content-Transfer-Encoding: 8bit\n\n%s\n",
			   a->text != NULL ? a->text : "");
	char *rcpt = a->address;
	int rc = deliver_autoreply_send(m->ctx->conf, NULL, &rcpt, 1, r.data, r.len, err);
	buf_free(&r);
	return rc;
}

/* The store flag of an IMAP system flag (RFC 3501 2.3.2), 0 for one that cannot be kept
 * (\\Recent, unknown ones). */
static uint32_t system_flag(const char *flag)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} map[] = {{"\\Seen", STORE_FLAG_SEEN},
		   {"\\Answered", STORE_FLAG_ANSWERED},
		   {"\\Flagged", STORE_FLAG_FLAGGED},
		   {"\\Deleted", STORE_FLAG_DELETED},
		   {"\\Draft", STORE_FLAG_DRAFT}};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(flag, map[i].name) == 0)
			return map[i].bit;
	return 0;
}

/* Streams the message (added lines, then the spool) into a store append. */
static int append_msg(struct store_append *ap, const struct deliver_msg *m, struct buf *err)
{
	if (store_append_write(ap, m->head, strlen(m->head), err) < 0)
		return -1;
	char buf[65536];
	for (uint64_t off = 0; off < m->size;) {
		size_t want = m->size - off < sizeof(buf) ? (size_t)(m->size - off) : sizeof(buf);
		ssize_t n = pread(m->fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf_printf(err, "cannot read the message: %s",
				   n < 0 ? strerror(errno) : "short");
			return -1;
		}
		if (store_append_write(ap, buf, (size_t)n, err) < 0)
			return -1;
		off += (uint64_t)n;
	}
	return 0;
}

/* The store that holds the folder name: the INBOX file of a system user's mbox INBOX, else
 * the folders' root (a Maildir++ root, or an mbox directory with an INBOX file). */
static const char *store_root(const struct deliver_user *u, const char *name,
			      enum store_format *fmt_r)
{
	if (u->inbox_mbox && strcmp(name, "INBOX") == 0) {
		*fmt_r = STORE_FORMAT_MBOX;
		return u->inbox;
	}
	const char *root = deliver_user_folders(u);
	*fmt_r = store_detect_format(root);
	return root;
}

/* mailbox (RFC 5490): the INBOX always exists (it is made by the first delivery); another
 * folder is a Maildir++ folder, or a file of an mbox directory store. */
static bool op_mailbox_exists(void *ctx, const char *mailbox)
{
	const struct deliver_msg *m = ((const struct sieve_agent *)ctx)->m;
	if (strcasecmp(mailbox, "INBOX") == 0)
		return true;
	enum store_format fmt;
	const char *root = store_root(m->user, mailbox, &fmt);
	char *path = fmt == STORE_FORMAT_MBOX ? x_asprintf("%s/%s", root, mailbox)
					      : folder_path(m->user, mailbox);
	struct stat st;
	bool r = path != NULL && strstr(mailbox, "..") == NULL && stat(path, &st) == 0 &&
		 (fmt == STORE_FORMAT_MBOX ? S_ISREG(st.st_mode) : S_ISDIR(st.st_mode));
	x_free(&path);
	return r;
}

/* A copy through the store library (lib-store), which keeps the flags the way every reader
 * sees them: Maildir info letters (":2,FRS", in cur/) and keywords as letters a-z mapped
 * by the folder's keyword file; mbox Status:/X-Status:/X-Keywords: headers. Used for
 * copies with imap4flags (RFC 5232 5) and for every copy into an mbox store. */
static int store_copy_flagged(struct deliver_msg *m, const char *name, char *const *flags,
			      struct delivery_result *res)
{
	struct buf err = BUF_INIT, uniq = BUF_INIT;
	struct store *st = NULL;
	struct store_folder *f = NULL;
	struct store_append *ap = NULL;
	enum store_format fmt;
	const char *root = store_root(m->user, name, &fmt);
	int r = -1;
	if (store_open(root, fmt, &st, &err) < 0)
		goto out;
	if (store_folder_open(st, name, &f, &err) < 0) {
		/* a missing folder is made, as for fileinto without flags */
		buf_reset(&err);
		if (store_folder_create(st, name, &err) < 0 ||
		    store_folder_open(st, name, &f, &err) < 0)
			goto out;
	}
	struct store_append_opts o = {.envelope_from = *m->req->sender ? m->req->sender : NULL};
	for (size_t i = 0; flags != NULL && flags[i] != NULL; i++) {
		if (flags[i][0] == '\\') {
			uint32_t bit = system_flag(flags[i]);
			o.flags |= bit;
			if (bit == 0)
				log_warn("sieve: flag %s cannot be set; ignored",
					 log_safe(flags[i], strlen(flags[i]), 100));
			continue;
		}
		struct buf kerr = BUF_INIT;
		int k = store_keyword_lookup(f, flags[i], true, &kerr);
		if (k < 0)
			log_warn("sieve: keyword %s not set: %s",
				 log_safe(flags[i], strlen(flags[i]), 100), buf_cstr(&kerr));
		else
			o.keywords |= 1u << k;
		buf_free(&kerr);
	}
	if (m->ctx->unique_names && fmt == STORE_FORMAT_MAILDIR) {
		deliver_msg_unique_name(m, &uniq);
		o.unique_name = buf_cstr(&uniq);
	}
	if (store_append_begin(f, &ap, &err) < 0)
		goto out;
	if (append_msg(ap, m, &err) < 0) {
		store_append_abort(&ap);
		goto out;
	}
	uint32_t uid;
	r = store_append_commit(&ap, &o, &uid, &err);
out:
	m->seq++;
	if (r < 0)
		deliver_result_set(res, DELIVERY_DEFER, "4.3.0", "cannot store into %s: %s",
				   log_safe(name, strlen(name), 200), buf_cstr(&err));
	else
		deliver_result_set(res, DELIVERY_OK, "2.0.0", "delivered");
	store_folder_close(&f);
	store_close(&st);
	buf_free(&err);
	buf_free(&uniq);
	return r;
}

/* The copy of a keep or fileinto: the Maildir++ folder, or through the store when there
 * are flags to set or the folder is in an mbox store. */
static int copy_to_folder(struct deliver_msg *m, const struct sieve_action *a,
			  struct delivery_result *res)
{
	const char *name = a->mailbox != NULL ? a->mailbox : "INBOX";
	char *path = folder_path(m->user, name);
	if (path == NULL) {
		log_warn("sieve: line %d: bad mailbox name \"%s\"; using the INBOX", a->line,
			 log_safe(name, strlen(name), 200));
		path = x_strdup(m->user->inbox);
		name = "INBOX";
	}
	if (strcasecmp(name, "INBOX") == 0)
		name = "INBOX";
	bool has_flags = a->flags != NULL && a->flags[0] != NULL;
	enum store_format fmt;
	bool mbox_inbox = m->user->inbox_mbox && strcmp(name, "INBOX") == 0;
	store_root(m->user, name, &fmt);
	int r;
	/* an mbox INBOX file without flags: deliver_msg_maildir() appends to it */
	if (has_flags || (fmt == STORE_FORMAT_MBOX && !mbox_inbox)) {
		r = store_copy_flagged(m, name, a->flags, res);
	} else {
		struct deliver_src src;
		deliver_msg_src(m, &src);
		r = deliver_msg_maildir(m, path, &src, NULL, res);
	}
	x_free(&path);
	return r;
}

/* The refusal of reject/ereject. The reason may span lines (a text: string); a delivery
 * result is one line (the log, the DSN's Diagnostic-Code), so each run of line breaks and
 * other control characters becomes one space, none at the ends. */
static void reject_reason(const char *text, struct delivery_result *res)
{
	struct buf b = BUF_INIT;
	bool space = false;
	for (const char *p = text != NULL ? text : ""; *p != 0; p++) {
		bool ctl = (unsigned char)*p < 0x20 || *p == 0x7f;
		if (!ctl && space && b.len > 0)
			buf_append_char(&b, ' ');
		if (!ctl)
			buf_append_char(&b, *p);
		space = ctl || (*p == ' ' && space);
	}
	deliver_result_set(res, DELIVERY_BOUNCE, "5.7.1", "rejected: %s", buf_cstr(&b));
	buf_free(&b);
}

/* Carries out one action. 0, or -1 with res set. */
static int do_action(struct deliver_msg *m, const struct sieve_action *a,
		     struct delivery_result *res)
{
	struct buf err = BUF_INIT;
	struct deliver_src src;
	int r = 0;
	switch (a->type) {
	case SIEVE_ACT_KEEP:
	case SIEVE_ACT_FILEINTO:
		return copy_to_folder(m, a, res);
	case SIEVE_ACT_REDIRECT:
		deliver_msg_src(m, &src);
		/* without our Return-Path: (the first added line); Delivered-To: stays */
		src.mem = strchr(m->head, '\n') + 1;
		src.mem_len = strlen(src.mem);
		r = deliver_forward(m->ctx->conf, m->req->sender, &a->address, 1, &src, NULL, &err);
		break;
	case SIEVE_ACT_VACATION:
		r = send_vacation(m, a, &err);
		break;
	case SIEVE_ACT_REJECT:
	case SIEVE_ACT_EREJECT:
		reject_reason(a->text, res);
		return 1;
	case SIEVE_ACT_DISCARD:
		break;
	}
	if (r < 0)
		deliver_result_set(res, DELIVERY_DEFER, "4.3.0", "sieve line %d: %s", a->line,
				   buf_cstr(&err));
	buf_free(&err);
	return r;
}

/* ---- the compiled script, cached in SCRIPT.tern-bin: a line "tern-sieve-cache DEV INO
 * SIZE MTIME.NSEC" of the script it was compiled from, then sieve_script_serialize()'s
 * bytes. A cache that does not match the script (or does not load) is rewritten. ---- */

static void cache_stamp(const struct stat *st, struct buf *out)
{
	buf_printf(out, "tern-sieve-cache %llu %llu %lld %lld.%09ld\n",
		   (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
		   (long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

static struct sieve_script *cache_load(const char *cache, const struct stat *st)
{
	size_t len = 0;
	char *data = read_file_small(cache, SIEVE_CACHE_MAX, &len);
	if (data == NULL)
		return NULL;
	struct buf stamp = BUF_INIT;
	cache_stamp(st, &stamp);
	struct sieve_script *s = NULL;
	struct sieve_error e = {0};
	if (len >= stamp.len && memcmp(data, stamp.data, stamp.len) == 0)
		s = sieve_script_deserialize(data + stamp.len, len - stamp.len, &e);
	buf_free(&stamp);
	x_free(&data);
	return s;
}

/* Written to a temporary name and renamed: a reader sees an old cache or a whole new one.
 * Failures only cost a compile next time. */
static void cache_store(const char *cache, const struct stat *st, const struct sieve_script *s)
{
	struct buf b = BUF_INIT;
	cache_stamp(st, &b);
	sieve_script_serialize(s, &b);
	if (file_replace(cache, b.data, b.len, 0600, (uid_t)-1, (gid_t)-1, FILE_SYNC_NONE) < 0)
		log_debug("sieve: cannot write the cache %s: %s", cache, strerror(errno));
	buf_free(&b);
}

/* The user's script, compiled once and then loaded from its cache. */
static struct sieve_script *compile_script(const struct deliver_user *u)
{
	struct stat before, after;
	char *cache = x_asprintf("%s%s", u->sieve, SIEVE_CACHE_SUFFIX);
	struct sieve_script *s = NULL;
	if (stat(u->sieve, &before) == 0 && (s = cache_load(cache, &before)) != NULL) {
		x_free(&cache);
		return s;
	}
	size_t len = 0;
	char *text = read_file_small(u->sieve, SIEVE_MAX_SCRIPT_SIZE, &len);
	if (text == NULL) {
		log_warn("sieve: cannot read %s: %s; delivering to the INBOX", u->sieve,
			 strerror(errno));
		x_free(&cache);
		return NULL;
	}
	struct sieve_error e = {0};
	s = sieve_compile(text, len, &e);
	if (s == NULL)
		log_warn("sieve: %s:%d:%d: %s; delivering to the INBOX", u->sieve, e.line, e.col,
			 e.msg);
	/* cached only when the script did not change while it was read */
	else if (stat(u->sieve, &after) == 0 && after.st_ino == before.st_ino &&
		 after.st_dev == before.st_dev && after.st_size == before.st_size &&
		 after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
		 after.st_mtim.tv_nsec == before.st_mtim.tv_nsec && (size_t)after.st_size == len)
		cache_store(cache, &after, s);
	x_free(&text);
	x_free(&cache);
	return s;
}

int deliver_sieve(struct deliver_msg *m, struct delivery_result *res)
{
	struct sieve_script *script = compile_script(m->user);
	if (script == NULL)
		return deliver_plain(m, res);
	struct sieve_message msg = {.size = strlen(m->head) + m->size, .read = msg_read, .ctx = m};
	struct sieve_envelope env = {
	    .from = m->req->sender, .to = m->req->recipient, .user = m->user->address};
	struct sieve_agent ag = {.m = m};
	struct sieve_ops ops = {.ctx = &ag,
				.vacation_seen = op_vacation_seen,
				.vacation_record = op_vacation_record,
				.duplicate_seen = op_duplicate_seen,
				.duplicate_record = op_duplicate_record,
				.mailbox_exists = op_mailbox_exists,
				.include = op_include};
	struct sieve_result result;
	if (sieve_execute(script, &msg, &env, &ops, &result) != SIEVE_OK)
		log_warn("sieve: %s:%d:%d: %s; keeping the message", m->user->sieve,
			 result.error.line, result.error.col, result.error.msg);
	deliver_result_set(res, DELIVERY_OK, "2.0.0", "delivered by the Sieve script");
	int r = 0;
	for (size_t i = 0; i < result.count && r == 0; i++)
		r = do_action(m, &result.actions[i], res);
	if (r >= 0)
		sieve_result_commit(&result, &ops);
	if (r == 0)
		deliver_result_set(res, DELIVERY_OK, "2.0.0", "delivered by the Sieve script");
	sieve_result_free(&result);
	sieve_script_free(&script);
	for (size_t i = 0; i < ag.nincluded; i++)
		sieve_script_free(&ag.included[i]);
	return deliver_exit_code(res);
}
