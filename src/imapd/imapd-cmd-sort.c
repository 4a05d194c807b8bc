/* imapd-cmd-sort: SORT and UID SORT (RFC 5256 section 3), the DISPLAYFROM / DISPLAYTO keys
 * (RFC 5957 SORT=DISPLAY) and RETURN options (RFC 5267 ESORT: MIN MAX COUNT ALL, answered
 * with ESEARCH). Matching messages are found with the search evaluator, their keys read
 * once (imapd-sort-keys.c), then sorted; ties go by sequence number (RFC 5256 section 3).
 */
#include "imapd-int.h"
#include "imap-search.h"
#include "store.h"
#include "xalloc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SORT_KEYS_MAX 16

enum sort_key { K_ARRIVAL, K_CC, K_DATE, K_FROM, K_SIZE, K_SUBJECT, K_TO, K_DFROM, K_DTO };

struct sort_crit {
	enum sort_key key;
	bool reverse;
};

struct sort_spec {
	struct sort_crit c[SORT_KEYS_MAX];
	size_t n;
};

static const char *const sort_names[] = {"ARRIVAL", "CC",	   "DATE",	 "FROM",     "SIZE",
					 "SUBJECT", "TO",	   "DISPLAYFROM", "DISPLAYTO"};

/* Parses "(REVERSE? key ...)"; false on a bad list. */
static bool sort_parse(const struct imap_arg *arg, struct sort_spec *spec)
{
	const struct imap_arg *list;
	size_t n;
	spec->n = 0;
	if (!imap_arg_get_list(arg, &list, &n) || n == 0)
		return false;
	bool reverse = false;
	for (size_t i = 0; i < n; i++) {
		if (imap_arg_is_atom(&list[i], "REVERSE")) {
			if (reverse)
				return false;
			reverse = true;
			continue;
		}
		size_t k = 0;
		while (k < sizeof(sort_names) / sizeof(sort_names[0]) &&
		       !imap_arg_is_atom(&list[i], sort_names[k]))
			k++;
		if (k == sizeof(sort_names) / sizeof(sort_names[0]) || spec->n == SORT_KEYS_MAX)
			return false;
		spec->c[spec->n].key = (enum sort_key)k;
		spec->c[spec->n++].reverse = reverse;
		reverse = false;
	}
	return !reverse;
}

static int cmp_num(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

static int sort_cmp_key(const struct imapd_sort_msg *a, const struct imapd_sort_msg *b,
			enum sort_key key)
{
	switch (key) {
	case K_ARRIVAL:
		return cmp_num(a->arrival, b->arrival);
	case K_DATE:
		return cmp_num(a->date, b->date);
	case K_SIZE:
		return cmp_num((int64_t)a->size, (int64_t)b->size);
	case K_CC:
		return imapd_sort_strcmp(a->cc, b->cc);
	case K_FROM:
		return imapd_sort_strcmp(a->from, b->from);
	case K_TO:
		return imapd_sort_strcmp(a->to, b->to);
	case K_SUBJECT:
		return imapd_sort_strcmp(a->subject, b->subject);
	case K_DFROM:
		return imapd_sort_strcmp(a->dfrom, b->dfrom);
	case K_DTO:
		return imapd_sort_strcmp(a->dto, b->dto);
	}
	return 0;
}

static int sort_cmp(const void *pa, const void *pb, void *arg)
{
	const struct sort_spec *spec = arg;
	const struct imapd_sort_msg *a = pa, *b = pb;
	for (size_t i = 0; i < spec->n; i++) {
		int r = sort_cmp_key(a, b, spec->c[i].key);
		if (r != 0)
			return spec->c[i].reverse ? -r : r;
	}
	return cmp_num(a->seq, b->seq);
}

/* Writes the numbers in order, consecutive ascending runs as "a:b" (ESORT ALL). */
static void sort_write_set(struct buf *out, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		buf_printf(out, "%s%" PRIu32, i > 0 ? "," : "", v[i]);
		if (j > i)
			buf_printf(out, ":%" PRIu32, v[j]);
		i = j + 1;
	}
}

static void sort_write_esearch(struct imapd_session *s, const struct imap_search_program *p,
			       bool uid, const uint32_t *v, size_t n)
{
	unsigned opts = p->return_opts;
	buf_append_str(&s->conn.out, "* ESEARCH (TAG ");
	imap_write_string(&s->conn.out, s->cmd.tag, strlen(s->cmd.tag), 0);
	buf_append_char(&s->conn.out, ')');
	if (uid)
		buf_append_str(&s->conn.out, " UID");
	if ((opts & IMAP_SEARCH_RETURN_MIN) && n > 0)
		buf_printf(&s->conn.out, " MIN %" PRIu32, v[0]);
	if ((opts & IMAP_SEARCH_RETURN_MAX) && n > 0)
		buf_printf(&s->conn.out, " MAX %" PRIu32, v[n - 1]);
	if (opts & IMAP_SEARCH_RETURN_COUNT)
		buf_printf(&s->conn.out, " COUNT %zu", n);
	if ((opts & IMAP_SEARCH_RETURN_ALL) && n > 0) {
		buf_append_str(&s->conn.out, " ALL ");
		sort_write_set(&s->conn.out, v, n);
	}
	if (opts & IMAP_SEARCH_RETURN_PARTIAL)
		imapd_partial_write(&s->conn.out, p->partial_lo, p->partial_hi, v, n);
	buf_append_str(&s->conn.out, "\r\n");
	if (opts & IMAP_SEARCH_RETURN_UPDATE) { /* RFC 5267 4.3.1 */
		buf_append_str(&s->conn.out, "* NO [NOUPDATE ");
		imap_write_string(&s->conn.out, s->cmd.tag, strlen(s->cmd.tag), 0);
		buf_append_str(&s->conn.out, "] No updates of sorted results\r\n");
	}
}

/* RETURN options of ESORT (RFC 5267 3.1) and CONTEXT=SORT (4.2, 4.4; UPDATE is refused with
 * NOUPDATE); -1 on an unknown option. */
static int sort_return_opts(const struct imap_arg *arg, struct imap_search_program *p)
{
	const char *error;
	memset(p, 0, sizeof(*p));
	unsigned allowed = IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX |
			   IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_COUNT |
			   IMAP_SEARCH_RETURN_CONTEXT | IMAP_SEARCH_RETURN_UPDATE |
			   IMAP_SEARCH_RETURN_PARTIAL;
	if (imap_search_parse_return(arg, allowed, p, &error) < 0)
		return -1;
	if ((p->return_opts & ~(unsigned)IMAP_SEARCH_RETURN_CONTEXT) == 0)
		p->return_opts |= IMAP_SEARCH_RETURN_ALL;
	return 0;
}

/* Parses [RETURN (...)] (criteria) charset; *used_r: arguments taken. -1 with BAD/NO sent. */
static int sort_args(struct imapd_session *s, struct imapd_cmd *cmd, struct sort_spec *spec,
		     bool *esort_r, struct imap_search_program *opts_r, size_t *used_r)
{
	size_t i = 0;
	*esort_r = false;
	if (cmd->count > 1 && imap_arg_is_atom(&cmd->args[0], "RETURN")) {
		if (sort_return_opts(&cmd->args[1], opts_r) < 0) {
			imapd_bad(s, "Unknown SORT RETURN option");
			return -1;
		}
		*esort_r = true;
		i = 2;
	}
	const char *charset;
	if (cmd->count < i + 3 || !sort_parse(&cmd->args[i], spec) ||
	    !imap_arg_get_astring(&cmd->args[i + 1], &charset, NULL)) {
		imapd_bad(s, "SORT takes (criteria) charset search-keys");
		return -1;
	}
	if (!imap_search_charset_ok(charset)) {
		imapd_reply(s, "NO", IMAP_SEARCH_BADCHARSET_CODE, "Unsupported charset");
		return -1;
	}
	*used_r = i + 2;
	return 0;
}

void imapd_cmd_sort(struct imapd_session *s, struct imapd_cmd *cmd)
{
	struct sort_spec spec;
	bool esort;
	struct imap_search_program opts;
	memset(&opts, 0, sizeof(opts));
	size_t used;
	if (sort_args(s, cmd, &spec, &esort, &opts, &used) < 0)
		return;
	size_t total = store_folder_count(s->folder);
	struct imap_search_context ctx = {(uint32_t)total,
					  total ? store_folder_msg(s->folder, total - 1)->uid : 0};
	struct imap_search_key root;
	bool saved;
	const char *error;
	if (imap_search_parse_keys(cmd->args + used, cmd->count - used, &ctx, &root, &saved,
				   &error) < 0) {
		imapd_bad(s, error);
		return;
	}
	size_t *idx, n = imapd_sort_search(s, &root, &idx);
	imap_search_key_free(&root);
	struct imapd_sort_msg *k = x_reallocarray(NULL, n > 0 ? n : 1, sizeof(*k));
	struct imapd_search_cache c;
	memset(&c, 0, sizeof(c));
	store_batch_begin(s->folder);
	for (size_t i = 0; i < n; i++)
		imapd_sort_msg_load(s, idx[i], false, &c, &k[i]);
	store_batch_end(s->folder);
	imapd_search_cache_free(&c);
	x_free(&idx);
	qsort_r(k, n, sizeof(*k), sort_cmp, &spec);
	uint32_t *v = x_reallocarray(NULL, n > 0 ? n : 1, sizeof(uint32_t));
	for (size_t i = 0; i < n; i++) {
		v[i] = cmd->uid ? k[i].uid : k[i].seq;
		imapd_sort_msg_free(&k[i]);
	}
	x_free(&k);
	if (esort) {
		sort_write_esearch(s, &opts, cmd->uid, v, n);
	} else {
		buf_append_str(&s->conn.out, "* SORT");
		for (size_t i = 0; i < n; i++)
			buf_printf(&s->conn.out, " %" PRIu32, v[i]);
		buf_append_str(&s->conn.out, "\r\n");
	}
	x_free(&v);
	imapd_reply(s, "OK", NULL, "%sSORT completed", cmd->uid ? "UID " : "");
}
