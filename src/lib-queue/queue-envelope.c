/* queue-envelope: reading envelope files and appending state records to them.
 *
 * An envelope is line-based text (doc/queue-format.md), after the data in the message's
 * file (format 2) or a file of its own (format 1): "V 2" or "V 1", the message
 * records (I, T, Z, F, A, R) up to "E", then state records appended by the manager and
 * the tools (t, o, f, d, w, n, h). The parser is a pure function over the file's bytes that
 * rejects anything unexpected with the line number and a reason; only a last line
 * without its LF after "E" is accepted, as a record torn by a crash, and ignored.
 */
#include "queue-private.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xalloc.h"

struct queue_parse {
	struct queue_envelope *env;
	bool seen_v, seen_i, seen_t, seen_z, seen_f, seen_e;
	struct buf *err;
};

/* Parses a decimal number that must fill the whole word. */
static bool queue_num(const char *s, uint64_t *v)
{
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	char *end;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno != 0 || (*end != '\0' && *end != ' '))
		return false;
	*v = n;
	return true;
}

/* "IDX TIME[ TEXT]" of a recipient record; returns the recipient or NULL. */
static struct queue_rcpt *queue_rcpt_rec(struct queue_parse *p, const char *v, bool text,
					 const char **text_r)
{
	uint64_t idx, t;
	const char *sp = strchr(v, ' ');
	if (!queue_num(v, &idx) || sp == NULL || !queue_num(sp + 1, &t) ||
	    idx >= p->env->rcpt_count)
		return NULL;
	const char *sp2 = strchr(sp + 1, ' ');
	if (text && sp2 == NULL)
		return NULL;
	if (!text && sp2 != NULL)
		return NULL;
	if (text_r != NULL)
		*text_r = sp2 + 1;
	struct queue_rcpt *r = &p->env->rcpts[idx];
	r->changed = (time_t)t;
	return r;
}

/* The current time of the last record about the recipient a "w" record names (0 when
 * the index is bad: the record is then refused anyway). */
static time_t idx_changed(const struct queue_parse *p, const char *v)
{
	uint64_t idx;
	return queue_num(v, &idx) && idx < p->env->rcpt_count ? p->env->rcpts[idx].changed : 0;
}

static bool queue_state_rec(struct queue_parse *p, char key, const char *v)
{
	struct queue_envelope *env = p->env;
	const char *text = NULL;
	struct queue_rcpt *r;
	uint64_t a, b;
	switch (key) {
	case 't':
		if ((r = queue_rcpt_rec(p, v, false, NULL)) == NULL)
			return false;
		r->attempting = true;
		return true;
	case 'w': {
		/* Not an attempt: the time of the last record about delivery stays. */
		time_t changed = idx_changed(p, v);
		if ((r = queue_rcpt_rec(p, v, false, NULL)) == NULL)
			return false;
		r->changed = changed;
		r->warned = true;
		return true;
	}
	case 'o':
	case 'f':
	case 'd':
		if ((r = queue_rcpt_rec(p, v, true, &text)) == NULL)
			return false;
		/* A deferral keeps the flag: the failure may have come after the link into
		 * new/ (a failed folder fsync), so the next attempt must still look. */
		if (key != 'd')
			r->attempting = false;
		if (key != 'd')
			r->state = key == 'o' ? QUEUE_RCPT_DELIVERED : QUEUE_RCPT_FAILED;
		x_free(&r->last_error);
		if (key != 'o')
			r->last_error = x_strdup(text);
		return true;
	case 'n':
		if (!queue_num(v, &a) || strchr(v, ' ') == NULL || !queue_num(strchr(v, ' ') + 1, &b))
			return false;
		env->next_try = (time_t)a;
		env->attempts = (unsigned)b;
		return true;
	case 'h':
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
			return false;
		env->held = v[0] == '1';
		return true;
	}
	return false;
}

static bool queue_add_rcpt(struct queue_envelope *env, const char *v)
{
	const char *tab = strchr(v, '\t');
	if (tab == NULL || strchr(tab + 1, '\t') != NULL || env->rcpt_count >= 1000000)
		return false;
	env->rcpts = x_reallocarray(env->rcpts, env->rcpt_count + 1, sizeof(*env->rcpts));
	struct queue_rcpt *r = &env->rcpts[env->rcpt_count++];
	memset(r, 0, sizeof(*r));
	r->addr = x_strndup(v, (size_t)(tab - v));
	r->orcpt = x_strdup(tab + 1);
	return true;
}

static bool queue_add_attr(struct queue_envelope *env, const char *v)
{
	const char *sp = strchr(v, ' ');
	size_t n = sp != NULL ? (size_t)(sp - v) : 0;
	if (n == 0 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return false;
	env->attrs = x_reallocarray(env->attrs, env->attr_count + 1, sizeof(*env->attrs));
	env->attrs[env->attr_count].name = x_strndup(v, n);
	env->attrs[env->attr_count++].value = x_strdup(sp + 1);
	return true;
}

/* One message record (before "E"). */
static bool queue_msg_rec(struct queue_parse *p, const char *id, char key, const char *v)
{
	struct queue_envelope *env = p->env;
	uint64_t n;
	switch (key) {
	case 'I':
		if (p->seen_i || strcmp(v, id) != 0)
			return false;
		snprintf(env->id, sizeof(env->id), "%s", v);
		return p->seen_i = true;
	case 'T':
		if (p->seen_t || !queue_num(v, &n) || strchr(v, ' ') != NULL)
			return false;
		env->arrival = (time_t)n;
		return p->seen_t = true;
	case 'Z':
		if (p->seen_z || !queue_num(v, &n) || strchr(v, ' ') != NULL)
			return false;
		env->size = n;
		return p->seen_z = true;
	case 'F':
		if (p->seen_f)
			return false;
		env->sender = x_strdup(v);
		return p->seen_f = true;
	case 'A':
		return queue_add_attr(env, v);
	case 'R':
		return queue_add_rcpt(env, v);
	}
	return false;
}

/* One line (without its LF). */
static bool queue_parse_line(struct queue_parse *p, const char *id, const char *line,
			     size_t len)
{
	if (len < 1 || memchr(line, '\0', len) != NULL)
		return false;
	if (len == 1 && line[0] == 'E') {
		if (p->seen_e || !p->seen_i || !p->seen_t || !p->seen_z || !p->seen_f ||
		    p->env->rcpt_count == 0)
			return false;
		return p->seen_e = true;
	}
	if (len < 2 || line[1] != ' ')
		return false;
	char *v = x_strndup(line + 2, len - 2);
	bool ok;
	if (!p->seen_v) {
		ok = line[0] == 'V' && (strcmp(v, "1") == 0 || strcmp(v, "2") == 0);
		if (line[0] == 'V' && !ok)
			buf_printf(p->err, "unsupported version %s; ", log_safe(v, strlen(v), 20));
		if (ok)
			p->env->version = (unsigned)(v[0] - '0');
		p->seen_v = ok;
	} else if (!p->seen_e) {
		ok = queue_msg_rec(p, id, line[0], v);
	} else {
		ok = queue_state_rec(p, line[0], v);
	}
	x_free(&v);
	return ok;
}

struct queue_envelope *queue_envelope_parse(const char *id, const char *text, size_t len,
					    struct buf *err)
{
	struct queue_parse p = {.env = X_NEW(struct queue_envelope), .err = err};
	size_t pos = 0;
	unsigned lineno = 0;
	if (len > QUEUE_ENVELOPE_MAX) {
		buf_printf(err, "envelope too large (%zu bytes)", len);
		goto bad;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		lineno++;
		if (nl == NULL) {
			if (p.seen_e)
				break; /* torn last state record */
			buf_printf(err, "line %u: truncated before the end record", lineno);
			goto bad;
		}
		size_t n = (size_t)(nl - (text + pos));
		if (n > 2 * QUEUE_FIELD_MAX + 16 || !queue_parse_line(&p, id, text + pos, n)) {
			buf_printf(err, "line %u: bad record '%s'", lineno,
				   log_safe(text + pos, n, 60));
			goto bad;
		}
		pos += n + 1;
	}
	if (!p.seen_e) {
		buf_printf(err, "line %u: no end record", lineno);
		goto bad;
	}
	p.env->valid_len = pos;
	return p.env;
bad:
	queue_envelope_free(&p.env);
	return NULL;
}

void queue_envelope_free(struct queue_envelope **envp)
{
	struct queue_envelope *env = *envp;
	if (env == NULL)
		return;
	for (size_t i = 0; i < env->rcpt_count; i++) {
		x_free(&env->rcpts[i].addr);
		x_free(&env->rcpts[i].orcpt);
		x_free(&env->rcpts[i].last_error);
	}
	for (size_t i = 0; i < env->attr_count; i++) {
		x_free(&env->attrs[i].name);
		x_free(&env->attrs[i].value);
	}
	x_free(&env->rcpts);
	x_free(&env->attrs);
	x_free(&env->sender);
	x_free(envp);
}

const char *queue_envelope_attr(const struct queue_envelope *env, const char *name)
{
	for (size_t i = 0; i < env->attr_count; i++)
		if (strcmp(env->attrs[i].name, name) == 0)
			return env->attrs[i].value;
	return NULL;
}

bool queue_envelope_done(const struct queue_envelope *env)
{
	for (size_t i = 0; i < env->rcpt_count; i++)
		if (env->rcpts[i].state == QUEUE_RCPT_PENDING)
			return false;
	return true;
}
