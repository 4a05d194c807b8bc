/* pop3-parser: incremental POP3 command line parser (RFC 1939 section 3, RFC 2449 section 4,
 * RFC 5034 section 4 for raw SASL lines). See pop3-parser.h. Trusts nothing: every line
 * and argument is bounded, NUL bytes are refused.
 */
#include "pop3-parser.h"

#include <assert.h>
#include <string.h>

void pop3_parser_init(struct pop3_parser *p, size_t max_line, size_t max_arg)
{
	memset(p, 0, sizeof(*p));
	p->max_line = max_line < POP3_LINE_MIN ? POP3_LINE_MIN : max_line;
	p->max_arg = max_arg == 0 ? POP3_ARG_MAX_RFC : max_arg;
	buf_init(&p->line, 0);
	buf_init(&p->split, 0);
}

void pop3_parser_free(struct pop3_parser *p)
{
	buf_free(&p->line);
	buf_free(&p->split);
}

void pop3_parser_set_raw(struct pop3_parser *p, bool raw)
{
	p->raw = raw;
}

size_t pop3_parser_discard(struct pop3_parser *p)
{
	/* a finished line (cmd.rest or error set) is not held: it was consumed as a command */
	size_t held = (p->error != NULL || p->cmd.rest != NULL) ? 0 : p->line.len;
	buf_reset(&p->line);
	p->overflow = false;
	p->error = NULL;
	memset(&p->cmd, 0, sizeof(p->cmd));
	return held;
}

void pop3_parser_wipe(struct pop3_parser *p)
{
	if (p->line.data != NULL)
		explicit_bzero(p->line.data, p->line.cap);
	if (p->split.data != NULL)
		explicit_bzero(p->split.data, p->split.cap);
	buf_reset(&p->line);
	buf_reset(&p->split);
	memset(&p->cmd, 0, sizeof(p->cmd));
	p->error = NULL;
}

const struct pop3_command *pop3_parser_command(const struct pop3_parser *p)
{
	return &p->cmd;
}

const char *pop3_parser_error(const struct pop3_parser *p)
{
	return p->error;
}

static bool keyword_char(char c)
{
	return c > ' ' && c < 0x7f;
}

/* Splits the finished line (CR already removed) into keyword and arguments. */
static enum pop3_parse_result parser_split(struct pop3_parser *p)
{
	struct pop3_command *cmd = &p->cmd;
	memset(cmd, 0, sizeof(*cmd));
	if (memchr(p->line.data, '\0', p->line.len) != NULL) {
		p->error = "NUL byte in command";
		return POP3_PARSE_ERROR;
	}
	if (p->raw) {
		cmd->rest = buf_cstr(&p->line);
		cmd->rest_len = p->line.len;
		return POP3_PARSE_LINE;
	}
	const char *s = buf_cstr(&p->line);
	size_t klen = 0;
	while (klen < p->line.len && s[klen] != ' ')
		klen++;
	if (klen == 0) {
		p->error = "empty command";
		return POP3_PARSE_ERROR;
	}
	for (size_t i = 0; i < klen; i++)
		if (!keyword_char(s[i]) || i >= POP3_KEYWORD_MAX) {
			p->error = "unknown command";
			return POP3_PARSE_ERROR;
		}
	for (size_t i = 0; i < klen; i++)
		cmd->keyword[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 32) : s[i];
	cmd->rest = klen < p->line.len ? s + klen + 1 : s + klen;
	cmd->rest_len = klen < p->line.len ? p->line.len - klen - 1 : 0;

	buf_reset(&p->split);
	buf_append(&p->split, s, p->line.len);
	char *w = p->split.data;
	size_t i = klen;
	while (i < p->split.len) {
		while (i < p->split.len && w[i] == ' ')
			w[i++] = '\0';
		if (i == p->split.len)
			break;
		size_t start = i;
		while (i < p->split.len && w[i] != ' ')
			i++;
		if (i - start > p->max_arg) {
			p->error = "argument too long";
			return POP3_PARSE_ERROR;
		}
		if (cmd->argc < POP3_ARGS_MAX)
			cmd->args[cmd->argc] = w + start;
		cmd->argc++;
	}
	return POP3_PARSE_LINE;
}

/* A line ended: reports it (or its error) and gets ready for the next one. */
static enum pop3_parse_result parser_line_end(struct pop3_parser *p)
{
	enum pop3_parse_result r;
	if (p->overflow) {
		p->error = "line too long";
		p->overflow = false;
		r = POP3_PARSE_ERROR;
	} else {
		if (p->line.len > 0 && p->line.data[p->line.len - 1] == '\r')
			buf_truncate(&p->line, p->line.len - 1);
		r = parser_split(p);
	}
	/* The line stays readable (cmd points into it) until the next feed clears it. */
	return r;
}

enum pop3_parse_result pop3_parser_feed(struct pop3_parser *p, const void *data, size_t len,
					size_t *consumed_r)
{
	const char *in = data;
	size_t i = 0;
	if (p->error != NULL || p->cmd.rest != NULL) {
		/* the previous call finished a line: start a new one */
		buf_reset(&p->line);
		p->error = NULL;
		memset(&p->cmd, 0, sizeof(p->cmd));
	}
	while (i < len) {
		const char *lf = memchr(in + i, '\n', len - i);
		size_t n = (lf != NULL ? (size_t)(lf - (in + i)) : len - i);
		if (!p->overflow) {
			/* the line, its CR and its LF must fit in max_line */
			size_t max = p->max_line;
			if (p->raw && max < POP3_RAW_LINE_MAX)
				max = POP3_RAW_LINE_MAX;
			if (p->line.len + n + 1 > max) {
				p->overflow = true;
				buf_reset(&p->line);
			} else {
				buf_append(&p->line, in + i, n);
			}
		}
		i += n;
		if (lf != NULL) {
			*consumed_r = i + 1;
			return parser_line_end(p);
		}
	}
	*consumed_r = i;
	return POP3_PARSE_MORE;
}
