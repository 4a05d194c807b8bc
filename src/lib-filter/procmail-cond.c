/* procmail-cond: evaluation of recipe conditions (procmailrc(5), procmailsc(5)).
 *
 * A condition's text is read from its start: '!' inverts, '$' expands the rest as inside
 * double quotes and reads it again, '?' runs a program (exit code 0 is true), '<' and '>'
 * compare the message size, "VAR ??" matches a variable (or, for H, B, HB, BH, another
 * part of the message), '\' quotes any of these; the rest is a regex on the search area
 * (header by default; B: body; HB: both). Weighted conditions "w^x" add to a score that
 * must end positive, as procmailsc(5) computes it.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "procmail-int.h"
#include "xalloc.h"

#define PM_SCORE_MAX 2147483647.0
#define PM_MAX_COUNT 100000

struct pm_cond_ctx {
	const struct procmail_recipe *r;
	const struct procmail_cond *c;
	unsigned area; /* PROCMAIL_F_HEADER_MATCH | PROCMAIL_F_BODY_MATCH */
	int depth;
};

static void area_text(const struct pm_vm *vm, unsigned area, const char **p, size_t *len)
{
	bool h = area & PROCMAIL_F_HEADER_MATCH, b = area & PROCMAIL_F_BODY_MATCH;
	*p = vm->msg.data != NULL ? vm->msg.data : "";
	*len = vm->msg.len;
	if (h && !b) {
		*len = vm->hdr_len;
	} else if (b && !h) {
		*p += vm->hdr_len;
		*len -= vm->hdr_len;
	}
}

/* Sum of w * x^(k-1) for k = 1..n. */
static double weighted_sum(double w, double x, size_t n)
{
	double sum = 0, term = w;
	for (size_t k = 0; k < n; k++) {
		sum += term;
		term *= x;
		if (fabs(sum) >= PM_SCORE_MAX || (term == 0 && k > 0))
			break;
	}
	return sum;
}

static bool regex_cond(struct pm_vm *vm, struct pm_cond_ctx *cc, const char *pattern,
		       const char *text, size_t len, bool negate, double *add)
{
	struct buf err = BUF_INIT;
	bool icase = !(cc->r->flags & PROCMAIL_F_CASE), split;
	/* Not even compiled when a literal it needs is not in the text (a pattern that would
	 * not compile then fails without its log line: the outcome is the same). */
	if (!negate && pm_regex_cannot_match(pattern, icase, text, len, &split)) {
		if (split)
			pm_set(vm, "MATCH", "");
		*add = cc->c->weighted ? weighted_sum(cc->c->weight, cc->c->exponent, 0) : 0;
		pm_logf(vm, true, "procmail: No match on \"%s\"\n", pattern);
		return false;
	}
	const struct pm_regex *re = pm_regex_get(pattern, icase, &err);
	if (re == NULL) {
		pm_logf(vm, false, "procmail: %s in \"%s\"\n", buf_cstr(&err), pattern);
		buf_free(&err);
		*add = 0;
		return false;
	}
	buf_free(&err);
	struct buf match = BUF_INIT;
	if (re->split && !negate)
		pm_set(vm, "MATCH", "");
	bool found = pm_regex_search(re, text, len, &match);
	if (found && re->split && !negate)
		pm_set(vm, "MATCH", buf_cstr(&match));
	size_t n = found ? 1 : 0;
	if (cc->c->weighted && found && !negate && cc->c->exponent != 0)
		n = pm_regex_count(re, text, len, PM_MAX_COUNT);
	if (negate)
		n = found ? 0 : 1;
	*add = cc->c->weighted ? weighted_sum(cc->c->weight, cc->c->exponent, n) : 0;
	pm_logf(vm, true, "procmail: %s \"%s\"\n", found != negate ? "Match on" : "No match on",
		pattern);
	buf_free(&match);
	return found != negate;
}

static bool size_cond(struct pm_vm *vm, struct pm_cond_ctx *cc, char op, const char *s,
		      bool negate, double *add)
{
	double limit = strtod(s, NULL), m = (double)vm->total_len;
	bool ok = op == '<' ? m < limit : m > limit;
	*add = 0;
	if (cc->c->weighted) {
		double ratio = op == '<' ? (m > 0 ? limit / m : PM_SCORE_MAX)
					 : (limit > 0 ? m / limit : PM_SCORE_MAX);
		*add = cc->c->weight * pow(ratio, cc->c->exponent);
	}
	return ok != negate;
}

static bool program_cond(struct pm_vm *vm, struct pm_cond_ctx *cc, const char *line,
			 bool negate, double *add)
{
	const char *text;
	size_t len;
	area_text(vm, cc->area, &text, &len);
	int rc = pm_run_program(vm, line, text, len, true, NULL);
	vm->last_exit = rc;
	bool ok = rc == 0;
	*add = 0;
	if (cc->c->weighted) {
		if (negate)
			*add = weighted_sum(cc->c->weight, cc->c->exponent, rc > 0 ? (size_t)rc : 0);
		else
			*add = ok ? cc->c->weight : cc->c->exponent;
	}
	return ok != negate;
}

static bool eval_regex_area(struct pm_vm *vm, struct pm_cond_ctx *cc, const char *pattern,
			    bool negate, double *add)
{
	const char *text;
	size_t len;
	area_text(vm, cc->area, &text, &len);
	return regex_cond(vm, cc, pattern, text, len, negate, add);
}

/* "NAME ??" at s: returns the pattern after it and the name in name_r, or NULL. */
static const char *var_match_prefix(const char *s, char **name_r)
{
	size_t n = 0;
	while (pm_is_name_char(s[n], n == 0))
		n++;
	if (n == 0)
		return NULL;
	const char *q = s + n + strspn(s + n, " \t");
	if (q[0] != '?' || q[1] != '?')
		return NULL;
	*name_r = x_strndup(s, n);
	return q + 2 + strspn(q + 2, " \t");
}

static bool eval_text(struct pm_vm *vm, struct pm_cond_ctx *cc, const char *s, bool negate,
		      double *add)
{
	char *name = NULL;
	const char *pattern;
	s += strspn(s, " \t");
	if (*s == '!' && cc->depth < 8) {
		cc->depth++;
		return eval_text(vm, cc, s + 1, !negate, add);
	}
	if (*s == '$' && cc->depth < 8) {
		struct buf out = BUF_INIT;
		cc->depth++;
		pm_expand(vm, s + 1, PM_EXP_DQUOTE, &out, NULL);
		bool ok = eval_text(vm, cc, buf_cstr(&out), negate, add);
		buf_free(&out);
		return ok;
	}
	if (*s == '?')
		return program_cond(vm, cc, s + 1 + strspn(s + 1, " \t"), negate, add);
	if (*s == '<' || *s == '>')
		return size_cond(vm, cc, *s, s + 1, negate, add);
	if (*s == '\\')
		return eval_regex_area(vm, cc, s + 1, negate, add);
	if ((pattern = var_match_prefix(s, &name)) != NULL) {
		bool ok;
		if (strcmp(name, "H") == 0 || strcmp(name, "B") == 0 || strcmp(name, "HB") == 0 ||
		    strcmp(name, "BH") == 0) {
			cc->area = (strchr(name, 'H') ? PROCMAIL_F_HEADER_MATCH : 0) |
				   (strchr(name, 'B') ? PROCMAIL_F_BODY_MATCH : 0);
			x_free(&name);
			return eval_text(vm, cc, pattern, negate, add);
		}
		const char *v = pm_get(vm, name);
		char *copy = x_strdup(v != NULL ? v : "");
		ok = regex_cond(vm, cc, pattern, copy, strlen(copy), negate, add);
		x_free(&copy);
		x_free(&name);
		return ok;
	}
	return eval_regex_area(vm, cc, s, negate, add);
}

bool pm_conditions(struct pm_vm *vm, const struct procmail_recipe *r)
{
	double score = 0;
	bool weighted = false, ok = true;
	for (size_t i = 0; i < r->nconds && ok; i++) {
		const struct procmail_cond *c = &r->conds[i];
		unsigned area = r->flags & (PROCMAIL_F_HEADER_MATCH | PROCMAIL_F_BODY_MATCH);
		struct pm_cond_ctx cc = {.r = r, .c = c, .area = area ? area : PROCMAIL_F_HEADER_MATCH};
		double add = 0;
		bool res = eval_text(vm, &cc, c->text, false, &add);
		if (!c->weighted) {
			ok = res;
			continue;
		}
		weighted = true;
		score += add;
		pm_logf(vm, true, "procmail: Score: %7ld %7ld \"%s\"\n", (long)add, (long)score,
			c->text);
		if (score >= PM_SCORE_MAX) {
			score = PM_SCORE_MAX;
			break;
		}
		if (score <= -PM_SCORE_MAX) {
			score = -PM_SCORE_MAX;
			ok = false;
		}
	}
	vm->score = (long)score;
	return ok && (!weighted || score > 0);
}
