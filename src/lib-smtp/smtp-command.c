/* smtp-command: SMTP command-line and argument parsing (RFC 5321 4.1.1, 4.1.2).
 *
 * Verbs are case-insensitive (RFC 5321 2.4). ESMTP parameters follow RFC 5321 4.1.2
 * (esmtp-keyword ["=" esmtp-value]) with UTF-8 values allowed by RFC 6531 3.3.
 */
#include "smtp-command.h"

#include <string.h>

#include "util.h"
#include "xalloc.h"

enum arg_rule { ARGS_NONE, ARGS_OPTIONAL, ARGS_REQUIRED };

static const struct {
	const char *name;
	enum arg_rule args;
	const char *syntax; /* the 501 text when the arguments are wrong */
} verbs[SMTP_VERB_COUNT] = {
	[SMTP_VERB_EHLO] = {"EHLO", ARGS_REQUIRED, "Syntax: EHLO hostname"},
	[SMTP_VERB_HELO] = {"HELO", ARGS_REQUIRED, "Syntax: HELO hostname"},
	[SMTP_VERB_MAIL] = {"MAIL", ARGS_REQUIRED, "Syntax: MAIL FROM:<address>"},
	[SMTP_VERB_RCPT] = {"RCPT", ARGS_REQUIRED, "Syntax: RCPT TO:<address>"},
	[SMTP_VERB_DATA] = {"DATA", ARGS_NONE, "Syntax: DATA"},
	[SMTP_VERB_BDAT] = {"BDAT", ARGS_REQUIRED, "Syntax: BDAT size [LAST]"},
	[SMTP_VERB_RSET] = {"RSET", ARGS_NONE, "Syntax: RSET"},
	[SMTP_VERB_NOOP] = {"NOOP", ARGS_OPTIONAL, NULL},
	[SMTP_VERB_QUIT] = {"QUIT", ARGS_NONE, "Syntax: QUIT"},
	[SMTP_VERB_HELP] = {"HELP", ARGS_OPTIONAL, NULL},
	[SMTP_VERB_VRFY] = {"VRFY", ARGS_REQUIRED, "Syntax: VRFY address"},
	[SMTP_VERB_EXPN] = {"EXPN", ARGS_REQUIRED, "Syntax: EXPN list"},
	[SMTP_VERB_STARTTLS] = {"STARTTLS", ARGS_NONE, "Syntax: STARTTLS"},
	[SMTP_VERB_AUTH] = {"AUTH", ARGS_REQUIRED, "Syntax: AUTH mechanism [initial-response]"},
	[SMTP_VERB_XMAILQ] = {"XMAILQ", ARGS_NONE, "Syntax: XMAILQ"},
};

const char *smtp_verb_name(enum smtp_verb verb)
{
	return verb < SMTP_VERB_COUNT ? verbs[verb].name : "UNKNOWN";
}

static int fail(struct smtp_error *err, int code, const char *enh, const char *text)
{
	err->code = code;
	err->enh = enh;
	err->text = text;
	return -1;
}

int smtp_command_parse(const char *line, size_t len, struct smtp_command *cmd,
		       struct smtp_error *err)
{
	cmd->verb = SMTP_VERB_UNKNOWN;
	cmd->args = "";
	cmd->args_len = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(err, 500, "5.5.2", "Syntax error: control character in command");
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	size_t vlen = 0;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	if (vlen == 0)
		return fail(err, 500, "5.5.2", "Syntax error: empty command");
	for (int v = 0; v < SMTP_VERB_COUNT; v++) {
		if (strlen(verbs[v].name) == vlen && strncasecmp(line, verbs[v].name, vlen) == 0)
			cmd->verb = (enum smtp_verb)v;
	}
	if (cmd->verb == SMTP_VERB_UNKNOWN)
		return fail(err, 500, "5.5.1", "Command unrecognized");
	size_t a = vlen;
	while (a < len && line[a] == ' ')
		a++;
	cmd->args = line + a;
	cmd->args_len = len - a;
	enum arg_rule rule = verbs[cmd->verb].args;
	if ((rule == ARGS_NONE && cmd->args_len > 0) ||
	    (rule == ARGS_REQUIRED && cmd->args_len == 0))
		return fail(err, 501, "5.5.4", verbs[cmd->verb].syntax);
	return 0;
}

static bool is_hexupper(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

bool smtp_xtext_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			/* hexchar = "+" 2(%x30-39 / %x41-46), RFC 3461 4 */
			if (i + 2 >= n || !is_hexupper(s[i + 1]) || !is_hexupper(s[i + 2]))
				return false;
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return false;
		}
	}
	return true;
}

struct param {
	const char *key;
	size_t key_len;
	const char *value; /* NULL when there is no "=" */
	size_t value_len;
};

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The next esmtp-param from *p (RFC 5321 4.1.2); 1 found, 0 at the end, -1 malformed. */
static int next_param(const char **p, const char *end, struct param *out)
{
	const char *s = *p;
	while (s < end && *s == ' ')
		s++;
	if (s == end)
		return 0;
	const char *tok = s;
	while (s < end && *s != ' ')
		s++;
	*p = s;
	const char *eq = memchr(tok, '=', (size_t)(s - tok));
	out->key = tok;
	out->key_len = (size_t)((eq ? eq : s) - tok);
	out->value = eq ? eq + 1 : NULL;
	out->value_len = eq ? (size_t)(s - eq - 1) : 0;
	if (out->key_len == 0 || !is_alnum((unsigned char)tok[0]))
		return -1;
	for (size_t i = 1; i < out->key_len; i++)
		if (!is_alnum((unsigned char)tok[i]) && tok[i] != '-')
			return -1;
	if (eq != NULL && out->value_len == 0)
		return -1;
	for (size_t i = 0; i < out->value_len;) {
		const unsigned char *u = (const unsigned char *)out->value + i;
		size_t cl = *u >= 0x80 ? smtp_utf8_char_len(u, out->value_len - i)
				       : (*u >= 33 && *u <= 126 && *u != '=');
		if (cl == 0)
			return -1;
		i += cl;
	}
	return 1;
}

static bool key_is(const struct param *pa, const char *name)
{
	return pa->key_len == strlen(name) && strncasecmp(pa->key, name, pa->key_len) == 0;
}

static bool value_is(const struct param *pa, const char *word)
{
	return pa->value != NULL && pa->value_len == strlen(word) &&
	       strncasecmp(pa->value, word, pa->value_len) == 0;
}

/* Parses "FROM:" or "TO:" then a path; returns the bytes consumed or 0 with err set. */
static size_t parse_prefix_path(const char *args, size_t len, const char *prefix,
				unsigned flags, const char *syntax, struct smtp_path *path,
				struct smtp_error *err)
{
	size_t plen = strlen(prefix);
	if (len < plen || strncasecmp(args, prefix, plen) != 0) {
		fail(err, 501, "5.5.4", syntax);
		return 0;
	}
	size_t i = plen;
	while (i < len && args[i] == ' ') /* "MAIL FROM: <a@b>": common, and harmless */
		i++;
	if (i >= len || args[i] != '<') {
		fail(err, 501, "5.5.4", syntax);
		return 0;
	}
	size_t used;
	if (smtp_path_parse(args + i, len - i, flags, path, &used, err) < 0)
		return 0;
	i += used;
	if (i < len && args[i] != ' ') {
		smtp_path_free(path);
		fail(err, 501, "5.5.4", syntax);
		return 0;
	}
	return i;
}

/* SIZE=1*20DIGIT (RFC 1870 3). */
static int parse_size_value(const struct param *pa, uint64_t *size_r)
{
	if (pa->value == NULL || pa->value_len > 20)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < pa->value_len; i++) {
		char c = pa->value[i];
		if (c < '0' || c > '9')
			return -1;
		unsigned d = (unsigned)(c - '0');
		v = (v > (UINT64_MAX - d) / 10) ? UINT64_MAX : v * 10 + d;
	}
	*size_r = v;
	return 0;
}

static int mail_param(struct smtp_mail_args *m, const struct param *pa, unsigned *seen,
		      struct smtp_error *err)
{
	static const char *const names[] = {"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH"};
	int k = -1;
	for (int i = 0; i < 6 && k < 0; i++)
		if (key_is(pa, names[i]))
			k = i;
	if (k < 0)
		return fail(err, 555, "5.5.4", "Unsupported MAIL parameter");
	if (*seen & (1u << k))
		return fail(err, 501, "5.5.4", "Duplicate MAIL parameter");
	*seen |= 1u << k;
	switch (k) {
	case 0:
		m->size_set = true;
		if (parse_size_value(pa, &m->size) < 0)
			return fail(err, 501, "5.5.4", "Bad SIZE parameter");
		return 0;
	case 1:
		m->body = value_is(pa, "7BIT")         ? SMTP_BODY_7BIT
			  : value_is(pa, "8BITMIME")   ? SMTP_BODY_8BITMIME
			  : value_is(pa, "BINARYMIME") ? SMTP_BODY_BINARYMIME
						       : SMTP_BODY_NONE;
		return m->body == SMTP_BODY_NONE ? fail(err, 501, "5.5.4", "Bad BODY parameter") : 0;
	case 2:
		m->smtputf8 = true;
		return pa->value ? fail(err, 501, "5.5.4", "SMTPUTF8 takes no value") : 0;
	case 3:
		m->ret = value_is(pa, "FULL") ? SMTP_RET_FULL
			 : value_is(pa, "HDRS") ? SMTP_RET_HDRS
						: SMTP_RET_NONE;
		return m->ret == SMTP_RET_NONE ? fail(err, 501, "5.5.4", "Bad RET parameter") : 0;
	case 4:
		if (pa->value == NULL || pa->value_len > 100 ||
		    !smtp_xtext_valid(pa->value, pa->value_len))
			return fail(err, 501, "5.5.4", "Bad ENVID parameter");
		m->envid = x_strndup(pa->value, pa->value_len);
		return 0;
	default:
		if (pa->value == NULL || pa->value_len > SMTP_XTEXT_MAX ||
		    (!value_is(pa, "<>") && !smtp_xtext_valid(pa->value, pa->value_len)))
			return fail(err, 501, "5.5.4", "Bad AUTH parameter");
		m->auth = x_strndup(pa->value, pa->value_len);
		return 0;
	}
}

int smtp_mail_args_parse(const char *args, size_t len, struct smtp_mail_args *m,
			 struct smtp_error *err)
{
	memset(m, 0, sizeof(*m));
	size_t i = parse_prefix_path(args, len, "FROM:", SMTP_PATH_SENDER | SMTP_PATH_ALLOW_NULL,
				     "Syntax: MAIL FROM:<address>", &m->path, err);
	if (i == 0)
		return -1;
	const char *p = args + i;
	const char *end = args + len;
	struct param pa;
	unsigned seen = 0;
	int r;
	while ((r = next_param(&p, end, &pa)) > 0) {
		if (mail_param(m, &pa, &seen, err) < 0) {
			smtp_mail_args_free(m);
			return -1;
		}
	}
	if (r < 0) {
		smtp_mail_args_free(m);
		return fail(err, 501, "5.5.4", "Bad MAIL parameter syntax");
	}
	if (m->path.utf8 && !m->smtputf8) {
		smtp_mail_args_free(m);
		return fail(err, 553, "5.6.7", "Non-ASCII sender address needs SMTPUTF8");
	}
	return 0;
}

void smtp_mail_args_free(struct smtp_mail_args *m)
{
	smtp_path_free(&m->path);
	x_free(&m->envid);
	x_free(&m->auth);
}

/* NOTIFY=NEVER / NOTIFY=SUCCESS,FAILURE,DELAY (RFC 3461 4.1). */
static int parse_notify(const struct param *pa, unsigned *notify_r)
{
	static const char *const words[] = {"NEVER", "SUCCESS", "FAILURE", "DELAY"};
	unsigned bits = 0;
	const char *s = pa->value;
	const char *end = s + pa->value_len;
	if (s == NULL)
		return -1;
	while (s < end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		size_t n = (size_t)((comma ? comma : end) - s);
		int k = -1;
		for (int i = 0; i < 4 && k < 0; i++)
			if (strlen(words[i]) == n && strncasecmp(s, words[i], n) == 0)
				k = i;
		if (k < 0 || (bits & (1u << k)))
			return -1;
		bits |= 1u << k;
		s += n + (comma != NULL);
		if (comma != NULL && s == end)
			return -1;
	}
	if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
		return -1;
	*notify_r = bits;
	return 0;
}

/* ORCPT=addr-type;xtext (RFC 3461 4.2); "utf-8" addresses (RFC 6533) are kept as given. */
static bool orcpt_valid(const struct param *pa)
{
	if (pa->value == NULL || pa->value_len > SMTP_XTEXT_MAX)
		return false;
	const char *semi = memchr(pa->value, ';', pa->value_len);
	if (semi == NULL || semi == pa->value)
		return false;
	size_t tlen = (size_t)(semi - pa->value);
	size_t rest = pa->value_len - tlen - 1;
	if (rest == 0)
		return false;
	if (tlen == 6 && strncasecmp(pa->value, "rfc822", 6) == 0)
		return smtp_xtext_valid(semi + 1, rest);
	return true;
}

static int rcpt_param(struct smtp_rcpt_args *r, const struct param *pa, unsigned *seen,
		      struct smtp_error *err)
{
	if (key_is(pa, "NOTIFY")) {
		if (*seen & 1)
			return fail(err, 501, "5.5.4", "Duplicate RCPT parameter");
		*seen |= 1;
		if (parse_notify(pa, &r->notify) < 0)
			return fail(err, 501, "5.5.4", "Bad NOTIFY parameter");
		return 0;
	}
	if (key_is(pa, "ORCPT")) {
		if (*seen & 2)
			return fail(err, 501, "5.5.4", "Duplicate RCPT parameter");
		*seen |= 2;
		if (!orcpt_valid(pa))
			return fail(err, 501, "5.5.4", "Bad ORCPT parameter");
		r->orcpt = x_strndup(pa->value, pa->value_len);
		return 0;
	}
	return fail(err, 555, "5.5.4", "Unsupported RCPT parameter");
}

int smtp_rcpt_args_parse(const char *args, size_t len, bool smtputf8, struct smtp_rcpt_args *r,
			 struct smtp_error *err)
{
	memset(r, 0, sizeof(*r));
	size_t i = parse_prefix_path(args, len, "TO:", SMTP_PATH_ALLOW_POSTMASTER,
				     "Syntax: RCPT TO:<address>", &r->path, err);
	if (i == 0)
		return -1;
	const char *p = args + i;
	const char *end = args + len;
	struct param pa;
	unsigned seen = 0;
	int res;
	while ((res = next_param(&p, end, &pa)) > 0) {
		if (rcpt_param(r, &pa, &seen, err) < 0) {
			smtp_rcpt_args_free(r);
			return -1;
		}
	}
	if (res < 0) {
		smtp_rcpt_args_free(r);
		return fail(err, 501, "5.5.4", "Bad RCPT parameter syntax");
	}
	if (r->path.utf8 && !smtputf8) {
		smtp_rcpt_args_free(r);
		return fail(err, 553, "5.6.7", "Non-ASCII recipient address needs SMTPUTF8");
	}
	return 0;
}

void smtp_rcpt_args_free(struct smtp_rcpt_args *r)
{
	smtp_path_free(&r->path);
	x_free(&r->orcpt);
}

int smtp_bdat_args_parse(const char *args, size_t len, uint64_t *size_r, bool *last_r,
			 struct smtp_error *err)
{
	size_t i = 0;
	uint64_t v = 0;
	while (i < len && args[i] >= '0' && args[i] <= '9') {
		unsigned d = (unsigned)(args[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return fail(err, 501, "5.5.4", "BDAT size too large");
		v = v * 10 + d;
		i++;
	}
	if (i == 0 || i > 20)
		return fail(err, 501, "5.5.4", "Syntax: BDAT size [LAST]");
	while (i < len && args[i] == ' ')
		i++;
	*last_r = false;
	if (i < len) {
		if (len - i != 4 || strncasecmp(args + i, "LAST", 4) != 0)
			return fail(err, 501, "5.5.4", "Syntax: BDAT size [LAST]");
		*last_r = true;
	}
	*size_r = v;
	return 0;
}

int smtp_helo_arg_parse(const char *args, size_t len, char **name_r, struct smtp_error *err)
{
	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return fail(err, 501, "5.5.4", "Syntax: EHLO hostname");
	for (size_t i = 0; i < len;) {
		const unsigned char *u = (const unsigned char *)args + i;
		size_t cl = *u >= 0x80 ? smtp_utf8_char_len(u, len - i) : (*u > 32 && *u < 127);
		if (cl == 0)
			return fail(err, 501, "5.5.4", "Syntax: EHLO hostname");
		i += cl;
	}
	*name_r = x_strndup(args, len);
	return 0;
}
