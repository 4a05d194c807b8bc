/* dsn-send: from a queued envelope and some of its recipients (failed, delayed, delivered
 * or relayed) to a notification in the queue (RFC 3461 4.1-4.4 and 5.2.2-5.2.6 honoured,
 * RFC 5321 4.5.5 and 6.1: from the null sender <>, never about a message from <> except a
 * failed bounce, reported once to the postmaster).
 *
 * The bounce carries the attribute "bounce" ("yes", or "double" for the postmaster's
 * copy): a bounce of a "yes" message is a double bounce, of a "double" one nothing.
 * Every notification also names the original's state records it stands for ("dsn_of",
 * queue-report.c), so that a crash before they are written does not send it twice.
 */
#include "dsn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "xalloc.h"

void dsn_config_from_conf(const struct conf *c, struct dsn_config *cfg)
{
	cfg->queue_dir = conf_str(c, "queue_dir");
	cfg->hostname = conf_str(c, "hostname");
	cfg->max_size = conf_num(c, "bounce_max_size");
	cfg->lifetime = conf_num(c, "queue_lifetime");
	const char *db = conf_str(c, "double_bounce_recipient");
	char **words;
	size_t n = conf_words(conf_str(c, "domains"), &words);
	if (db[0] != '\0')
		snprintf(cfg->double_bounce, sizeof(cfg->double_bounce), "%s", db);
	else
		snprintf(cfg->double_bounce, sizeof(cfg->double_bounce), "postmaster@%s",
			 n > 0 ? words[0] : cfg->hostname);
	conf_words_free(&words, n);
}

static int dsn_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool dsn_xtext_valid(const char *s)
{
	for (size_t i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			if (dsn_hex(s[i + 1]) < 0 || dsn_hex(s[i + 2]) < 0)
				return false;
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return false;
		}
	}
	return true;
}

char *dsn_xtext_encode(const char *s)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, "");
	for (size_t i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 32 || c > 126) {
			buf_free(&b);
			return NULL;
		}
		if (c == '+' || c == '=' || c == ' ')
			buf_printf(&b, "+%02X", c);
		else
			buf_append_char(&b, (char)c);
	}
	return buf_steal(&b);
}

char *dsn_xtext_decode(const char *s)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] != '+') {
			buf_append_char(&b, s[i]);
			continue;
		}
		int hi = dsn_hex(s[i + 1]), lo = hi >= 0 ? dsn_hex(s[i + 2]) : -1;
		if (lo < 0) {
			buf_free(&b);
			return NULL;
		}
		buf_append_char(&b, (char)(hi * 16 + lo));
		i += 2;
	}
	if (b.data == NULL)
		buf_append_str(&b, "");
	return buf_steal(&b);
}

/* The word after "KEY=" in a dsn_rcpt_N value, or NULL. */
static char *dsn_param(const char *v, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = v; p != NULL && *p != '\0';) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			const char *e = strchr(p + kl + 1, ' ');
			return e ? x_strndup(p + kl + 1, (size_t)(e - p - kl - 1))
				 : x_strdup(p + kl + 1);
		}
		p = strchr(p, ' ');
		p = p ? p + 1 : NULL;
	}
	return NULL;
}

static const char *dsn_rcpt_attr(const struct queue_envelope *env, size_t idx)
{
	char name[32];
	snprintf(name, sizeof(name), "dsn_rcpt_%zu", idx);
	return queue_envelope_attr(env, name);
}

bool dsn_wanted(const struct queue_envelope *env, size_t idx, enum dsn_action action)
{
	static const char *const keyword[] = {"FAILURE", "DELAY", "SUCCESS", "SUCCESS"};
	const char *v = dsn_rcpt_attr(env, idx);
	char *notify = v != NULL ? dsn_param(v, "NOTIFY") : NULL;
	/* Without NOTIFY (RFC 3461 4.1): as NOTIFY=FAILURE,DELAY, the queue's choice. */
	bool want = notify == NULL ? action == DSN_ACTION_FAILED || action == DSN_ACTION_DELAYED
				   : strstr(notify, keyword[action]) != NULL;
	free(notify);
	return want;
}

void dsn_msg_params(const struct queue_envelope *env, char **ret_r, char **envid_r)
{
	const char *ret = queue_envelope_attr(env, "dsn_ret");
	const char *envid = queue_envelope_attr(env, "dsn_envid");
	*ret_r = ret != NULL && (strcmp(ret, "FULL") == 0 || strcmp(ret, "HDRS") == 0)
		     ? x_strdup(ret) : NULL;
	/* RFC 3461 4.4: at most 100 characters. */
	*envid_r = envid != NULL && envid[0] != '\0' && strlen(envid) <= 100 &&
			   dsn_xtext_valid(envid) ? x_strdup(envid) : NULL;
}

/* NEVER, or a list of SUCCESS, FAILURE, DELAY (RFC 3461 4.1), upper case as kept. */
static bool dsn_notify_valid(const char *v)
{
	if (strcmp(v, "NEVER") == 0)
		return true;
	for (const char *p = v;;) {
		size_t n = strcspn(p, ",");
		bool known = (n == 7 && strncmp(p, "SUCCESS", 7) == 0) ||
			     (n == 7 && strncmp(p, "FAILURE", 7) == 0) ||
			     (n == 5 && strncmp(p, "DELAY", 5) == 0);
		if (!known)
			return false;
		if (p[n] == '\0')
			return true;
		p += n + 1;
	}
}

/* addr-type ";" xtext, at most 500 characters (RFC 3461 4.2). */
static bool dsn_orcpt_valid(const char *v)
{
	const char *semi = strchr(v, ';');
	if (semi == NULL || semi == v || strlen(v) > 500)
		return false;
	for (const char *p = v; p < semi; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '-')
			return false;
	return dsn_xtext_valid(semi + 1);
}

/* An ORCPT for a recipient received without one: "rfc822;" and the address as it was
 * given, as xtext (RFC 3461 5.2.1 d); NULL when that is not printable ASCII. */
static char *dsn_orcpt_made(const char *given)
{
	char *x = given != NULL && given[0] != '\0' ? dsn_xtext_encode(given) : NULL;
	char *o = x != NULL ? x_asprintf("rfc822;%s", x) : NULL;
	free(x);
	if (o != NULL && !dsn_orcpt_valid(o))
		x_free(&o);
	return o;
}

void dsn_rcpt_params(const struct queue_envelope *env, size_t idx, char **notify_r,
		     char **orcpt_r)
{
	const char *v = dsn_rcpt_attr(env, idx);
	*notify_r = v != NULL ? dsn_param(v, "NOTIFY") : NULL;
	*orcpt_r = v != NULL ? dsn_param(v, "ORCPT") : NULL;
	if (*notify_r != NULL && !dsn_notify_valid(*notify_r))
		x_free(notify_r);
	if (*orcpt_r != NULL && !dsn_orcpt_valid(*orcpt_r))
		x_free(orcpt_r); /* malformed: nothing rather than a guess */
	else if (*orcpt_r == NULL)
		*orcpt_r = dsn_orcpt_made(env->rcpts[idx].orcpt);
}

/* The ORCPT of a recipient, decoded ("rfc822;addr"), or NULL. */
static char *dsn_orcpt(const struct queue_envelope *env, size_t idx)
{
	const char *v = dsn_rcpt_attr(env, idx);
	char *orcpt = v != NULL ? dsn_param(v, "ORCPT") : NULL;
	char *out = orcpt != NULL ? dsn_xtext_decode(orcpt) : NULL;
	free(orcpt);
	return out;
}

/* The recipient of the notification: the sender, the postmaster (a failed bounce: only
 * failures are reported then, *failures_only_r), or nobody (NULL). */
static const char *dsn_recipient(const struct dsn_config *cfg, const struct queue_envelope *env,
				 const char **kind_r, bool *failures_only_r)
{
	const char *bounce = queue_envelope_attr(env, "bounce");
	*kind_r = "yes";
	*failures_only_r = false;
	if (env->sender[0] != '\0')
		return env->sender;
	if (bounce == NULL || strcmp(bounce, "yes") != 0)
		return NULL; /* <> with no bounce behind it, or a double bounce already */
	*kind_r = "double";
	*failures_only_r = true;
	return cfg->double_bounce;
}

static void dsn_params_fill(const struct dsn_config *cfg, const struct queue_envelope *env,
			    const char *to, struct dsn_params *p)
{
	const char *ret = queue_envelope_attr(env, "dsn_ret");
	const char *envid = queue_envelope_attr(env, "dsn_envid");
	const char *body = queue_envelope_attr(env, "body");
	memset(p, 0, sizeof(*p));
	p->hostname = cfg->hostname;
	p->to = to;
	p->queue_id = env->id;
	p->envid = envid ? dsn_xtext_decode(envid) : NULL;
	p->arrival = env->arrival;
	p->now = time(NULL);
	p->retry_until = cfg->lifetime > 0 ? env->arrival + (time_t)cfg->lifetime : 0;
	p->ret = ret == NULL ? DSN_RET_DEFAULT : strcmp(ret, "HDRS") == 0 ? DSN_RET_HDRS
									    : DSN_RET_FULL;
	p->max_size = cfg->max_size;
	p->original_sized = true; /* the queue file goes on with the envelope */
	p->original_size = env->size;
	p->eight_bit = body != NULL && strcmp(body, "8BITMIME") == 0;
}

/* The state record that stands for a notification of this action in the original's
 * envelope (doc/queue-format.md): f, w or o. */
static char dsn_report_key(enum dsn_action a)
{
	return a == DSN_ACTION_FAILED    ? QUEUE_REPORT_FAILED
	       : a == DSN_ACTION_DELAYED ? QUEUE_REPORT_WARNED
					 : QUEUE_REPORT_DELIVERED;
}

/* Names in the notification's envelope the original's records it stands for: every
 * item, also those NOTIFY left out of the report (their records wait for it too). */
static void dsn_add_reports(struct queue_writer *w, const struct queue_envelope *env,
			    const struct dsn_item *items, size_t count)
{
	static const char keys[] = {QUEUE_REPORT_FAILED, QUEUE_REPORT_WARNED,
				    QUEUE_REPORT_DELIVERED};
	size_t *idx = x_calloc(count + 1, sizeof(*idx));
	for (size_t k = 0; k < sizeof(keys); k++) {
		size_t n = 0;
		for (size_t i = 0; i < count; i++)
			if (dsn_report_key(items[i].action) == keys[k] &&
			    items[i].rcpt_index < env->rcpt_count)
				idx[n++] = items[i].rcpt_index;
		queue_writer_add_report(w, env->id, keys[k], idx, n);
	}
	free(idx);
}

/* Writes and commits the notification; 0 or -1 + err. */
static int dsn_queue(const struct dsn_config *cfg, const struct queue_envelope *env,
		     const struct dsn_params *p, const char *kind,
		     const struct dsn_item *items, size_t count, char id_r[QUEUE_ID_MAX],
		     struct buf *err)
{
	struct queue_writer *w = queue_writer_open(cfg->queue_dir, err);
	if (w == NULL)
		return -1;
	int fd = queue_data_open(cfg->queue_dir, env);
	int r = dsn_build(p, fd, w);
	if (r < 0)
		buf_printf(err, "writing the notification: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		queue_writer_abort(&w);
		return -1;
	}
	queue_writer_set_sender(w, "");
	queue_writer_add_rcpt(w, p->to, p->to);
	queue_writer_set_attr(w, "bounce", kind);
	queue_writer_set_attr(w, "bounce_of", env->id);
	dsn_add_reports(w, env, items, count);
	snprintf(id_r, QUEUE_ID_MAX, "%s", queue_writer_id(w));
	if (queue_writer_commit(w, err) < 0) {
		queue_writer_abort(&w);
		return -1;
	}
	queue_writer_free(&w);
	queue_notify(cfg->queue_dir, id_r);
	return 0;
}

/* "smtp; 550 5.1.1 text": the remote reply as it came, or one made from the status. */
static char *dsn_diagnostic(const struct dsn_item *f)
{
	const char *t = f->text ? f->text : "";
	if (t[0] >= '2' && t[0] <= '5' && t[1] >= '0' && t[1] <= '9' && t[2] >= '0' &&
	    t[2] <= '9' && (t[3] == ' ' || t[3] == '-'))
		return x_asprintf("smtp; %s", t);
	char cls = f->status[0] == '2' || f->status[0] == '5' ? f->status[0] : '4';
	return x_asprintf("smtp; %c50 %s %s", cls, f->status, t);
}

int dsn_send(const struct dsn_config *cfg, const struct queue_envelope *env,
	     const struct dsn_item *items, size_t count, char id_r[QUEUE_ID_MAX],
	     struct buf *err)
{
	const char *kind;
	bool failures_only;
	const char *to = dsn_recipient(cfg, env, &kind, &failures_only);
	id_r[0] = '\0';
	if (to == NULL)
		return 0;
	struct dsn_rcpt *rcpts = x_calloc(count + 1, sizeof(*rcpts));
	char **owned = x_calloc(2 * count + 1, sizeof(*owned));
	size_t n = 0;
	for (size_t i = 0; i < count; i++) {
		const struct dsn_item *f = &items[i];
		if (f->rcpt_index >= env->rcpt_count ||
		    (failures_only && f->action != DSN_ACTION_FAILED) ||
		    !dsn_wanted(env, f->rcpt_index, f->action))
			continue;
		const struct queue_rcpt *rc = &env->rcpts[f->rcpt_index];
		owned[2 * i] = dsn_orcpt(env, f->rcpt_index);
		owned[2 * i + 1] = dsn_diagnostic(f);
		rcpts[n++] = (struct dsn_rcpt){f->action, rc->addr, owned[2 * i], f->status,
					       owned[2 * i + 1], f->remote_mta, rc->changed};
	}
	int r = 0;
	if (n > 0) {
		struct dsn_params p;
		dsn_params_fill(cfg, env, to, &p);
		p.rcpts = rcpts;
		p.rcpt_count = n;
		r = dsn_queue(cfg, env, &p, kind, items, count, id_r, err) < 0 ? -1 : 1;
		free((char *)p.envid);
	}
	for (size_t i = 0; i < 2 * count; i++)
		free(owned[i]);
	free(owned);
	free(rcpts);
	return r;
}
