/* queue-report: what a notification stands for in its origin's envelope.
 *
 * A notification (bounce, delay warning, success report) about message ORIGIN is
 * queued before ORIGIN's state records for those recipients (f, w, o) are written, so
 * that a crash never loses it; the notification therefore names those records in its
 * own envelope, in the same commit: attributes "dsn_of ORIGIN KEY IDX,IDX,..." (one or
 * more, each at most QUEUE_REPORT_LIST_MAX characters of indexes). The queue manager
 * appends to ORIGIN the records it lacks (doc/queue-format.md, "A notification exactly
 * once") instead of failing, warning about or reporting the recipients a second time.
 * Parsing is pure and strict: a malformed attribute is refused whole, with a reason.
 */
#include "queue-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* Characters of indexes per attribute: the value ("ORIGIN KEY " and the list) stays
 * below QUEUE_FIELD_MAX, where the writer would cut it. */
#define QUEUE_REPORT_LIST_MAX 3968

static bool queue_report_key_valid(char key)
{
	return key == QUEUE_REPORT_FAILED || key == QUEUE_REPORT_WARNED ||
	       key == QUEUE_REPORT_DELIVERED;
}

/* One attribute with the indexes in list (none: no attribute); list is emptied. */
static void add_report_attr(struct queue_writer *w, const char *origin, char key,
			    struct buf *list)
{
	if (list->len == 0)
		return;
	char *v = x_asprintf("%s %c %s", origin, key, buf_cstr(list));
	queue_writer_set_attr(w, QUEUE_REPORT_ATTR, v);
	x_free(&v);
	buf_reset(list);
}

void queue_writer_add_report(struct queue_writer *w, const char *origin, char key,
			     const size_t *idx, size_t count)
{
	struct buf list = BUF_INIT;
	for (size_t k = 0; k < count; k++) {
		char num[32];
		int n = snprintf(num, sizeof(num), "%zu", idx[k]);
		if (list.len > 0 && list.len + 1 + (size_t)n > QUEUE_REPORT_LIST_MAX)
			add_report_attr(w, origin, key, &list);
		if (list.len > 0)
			buf_append_char(&list, ',');
		buf_append_str(&list, num);
	}
	add_report_attr(w, origin, key, &list);
	buf_free(&list);
}

/* "ORIGIN KEY IDX,IDX,..." into r; false when malformed. */
static bool queue_report_parse(const char *v, struct queue_report *r)
{
	const char *sp = strchr(v, ' ');
	if (sp == NULL || (size_t)(sp - v) >= QUEUE_ID_MAX)
		return false;
	memcpy(r->origin, v, (size_t)(sp - v));
	r->origin[sp - v] = '\0';
	if (!queue_id_valid(r->origin) || !queue_report_key_valid(sp[1]) || sp[2] != ' ')
		return false;
	r->key = sp[1];
	for (const char *p = sp + 3;;) {
		if (*p < '0' || *p > '9')
			return false;
		errno = 0;
		char *end;
		unsigned long long n = strtoull(p, &end, 10);
		if (errno != 0 || n >= 1000000 || (*end != ',' && *end != '\0'))
			return false;
		r->idx = x_reallocarray(r->idx, r->count + 1, sizeof(*r->idx));
		r->idx[r->count++] = (size_t)n;
		if (*end == '\0')
			return true;
		p = end + 1;
	}
}

int queue_envelope_reports(const struct queue_envelope *env, struct queue_report **reports_r,
			   size_t *count_r, struct buf *err)
{
	struct queue_report *reports = NULL;
	size_t n = 0;
	*reports_r = NULL;
	*count_r = 0;
	for (size_t i = 0; i < env->attr_count; i++) {
		if (strcmp(env->attrs[i].name, QUEUE_REPORT_ATTR) != 0)
			continue;
		reports = x_reallocarray(reports, n + 1, sizeof(*reports));
		memset(&reports[n], 0, sizeof(reports[n]));
		if (!queue_report_parse(env->attrs[i].value, &reports[n++])) {
			buf_printf(err, "bad attribute %s '%.80s'", QUEUE_REPORT_ATTR,
				   env->attrs[i].value);
			queue_reports_free(&reports, n);
			return -1;
		}
	}
	*reports_r = reports;
	*count_r = n;
	return 0;
}

void queue_reports_free(struct queue_report **reports, size_t count)
{
	for (size_t i = 0; *reports != NULL && i < count; i++)
		x_free(&(*reports)[i].idx);
	x_free(reports);
}

size_t queue_report_missing(const struct queue_envelope *origin, const struct queue_report *r,
			    const char *by_id, struct buf *recs)
{
	size_t added = 0;
	if (strcmp(origin->id, r->origin) != 0)
		return 0;
	for (size_t k = 0; k < r->count; k++) {
		size_t i = r->idx[k];
		/* An index the origin does not have: nothing to record (never trusted). */
		if (i >= origin->rcpt_count || origin->rcpts[i].state != QUEUE_RCPT_PENDING)
			continue;
		char *t = NULL;
		switch (r->key) {
		case QUEUE_REPORT_FAILED:
			t = x_asprintf("5.0.0 failed, reported to the sender by %s", by_id);
			queue_rec_failed(recs, (unsigned)i, t);
			break;
		case QUEUE_REPORT_DELIVERED:
			t = x_asprintf("2.0.0 delivered, reported to the sender by %s", by_id);
			queue_rec_delivered(recs, (unsigned)i, t);
			break;
		case QUEUE_REPORT_WARNED:
			if (origin->rcpts[i].warned)
				continue;
			queue_rec_warned(recs, (unsigned)i);
			break;
		default:
			continue;
		}
		x_free(&t);
		added++;
	}
	return added;
}
