/* imap-base-subject: RFC 5256 section 2.1 base subject extraction (see the header).
 * Works on a private copy as a [start, end) window that only shrinks.
 */
#include "imap-base-subject.h"
#include "xalloc.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct subj {
	char *s;
	size_t start, end;
	bool reply;
};

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Step 1: tabs and line breaks to spaces, runs of white space to one space. */
static char *subj_normalise(const char *in)
{
	size_t n = strlen(in), o = 0;
	char *out = x_malloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && o > 0 && out[o - 1] == ' ')
			continue;
		out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

/* Step 2: trailing "(fwd)" and white space. */
static void subj_trailer(struct subj *t)
{
	for (;;) {
		while (t->end > t->start && is_wsp(t->s[t->end - 1]))
			t->end--;
		if (t->end - t->start >= 5 && strncasecmp(t->s + t->end - 5, "(fwd)", 5) == 0) {
			t->end -= 5;
			t->reply = true;
			continue;
		}
		return;
	}
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP at p; returns its length, 0 if none. */
static size_t subj_blob(const struct subj *t, size_t p)
{
	if (p >= t->end || t->s[p] != '[')
		return 0;
	size_t q = p + 1;
	while (q < t->end && t->s[q] != '[' && t->s[q] != ']')
		q++;
	if (q >= t->end || t->s[q] != ']')
		return 0;
	q++;
	while (q < t->end && is_wsp(t->s[q]))
		q++;
	return q - p;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" at p; its length, or 0. */
static size_t subj_refwd(const struct subj *t, size_t p)
{
	size_t q = p, left = t->end - p;
	if (left >= 3 && strncasecmp(t->s + q, "fwd", 3) == 0)
		q += 3;
	else if (left >= 2 &&
		 (strncasecmp(t->s + q, "fw", 2) == 0 || strncasecmp(t->s + q, "re", 2) == 0))
		q += 2;
	else
		return 0;
	while (q < t->end && is_wsp(t->s[q]))
		q++;
	q += subj_blob(t, q);
	if (q >= t->end || t->s[q] != ':')
		return 0;
	return q + 1 - p;
}

/* Step 3: one subj-leader ((*subj-blob subj-refwd) / WSP); true if removed. */
static bool subj_leader(struct subj *t)
{
	if (t->start < t->end && is_wsp(t->s[t->start])) {
		t->start++;
		return true;
	}
	size_t p = t->start, n;
	while ((n = subj_blob(t, p)) > 0)
		p += n;
	if ((n = subj_refwd(t, p)) > 0) {
		t->start = p + n;
		t->reply = true;
		return true;
	}
	return false;
}

/* Step 4: a leading subj-blob, when something is left after it. */
static bool subj_blob_leader(struct subj *t)
{
	size_t n = subj_blob(t, t->start);
	if (n == 0 || t->start + n >= t->end)
		return false;
	t->start += n;
	return true;
}

char *imap_base_subject(const char *subject, bool *is_reply_r)
{
	struct subj t;
	t.s = subj_normalise(subject != NULL ? subject : "");
	t.start = 0;
	t.end = strlen(t.s);
	t.reply = false;
	for (;;) {
		subj_trailer(&t);
		while (subj_leader(&t) || subj_blob_leader(&t))
			;
		/* Step 6: "[fwd:" ... "]" */
		if (t.end - t.start >= 6 && strncasecmp(t.s + t.start, "[fwd:", 5) == 0 &&
		    t.s[t.end - 1] == ']') {
			t.start += 5;
			t.end--;
			t.reply = true;
			continue;
		}
		break;
	}
	char *out = x_strndup(t.s + t.start, t.end - t.start);
	free(t.s);
	if (is_reply_r != NULL)
		*is_reply_r = t.reply;
	return out;
}
