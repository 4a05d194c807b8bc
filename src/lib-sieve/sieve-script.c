/* sieve-script: compiling, freeing and the cached (serialised) form of a script.
 *
 * The serialised form is "TSIEVE" then a version byte, then the tree depth-first in
 * little-endian: each node as name, line, column, arguments, tests and block; strings
 * as a 32-bit length and bytes. Reading fails closed: a wrong magic or version, short
 * or trailing data, counts or depth over the SIEVE_MAX_* limits. The tree read back is
 * checked again (without a second encoded-character pass, which was done on compile).
 */
#include <stdlib.h>
#include <string.h>

#include "sieve-int.h"
#include "xalloc.h"

#define SIEVE_SERIAL_MAGIC "TSIEVE"
#define SIEVE_SERIAL_VERSION 1

struct sieve_script *sieve_compile(const char *text, size_t len, struct sieve_error *err_r)
{
	struct sieve_script *s = X_NEW(struct sieve_script);
	struct sieve_error dummy;
	if (err_r == NULL)
		err_r = &dummy;
	memset(err_r, 0, sizeof(*err_r));
	if (sieve_parse(text, len, s, err_r) < 0 || sieve_check(s, true, err_r) < 0) {
		sieve_script_free(&s);
		return NULL;
	}
	return s;
}

void sieve_script_free(struct sieve_script **script)
{
	if (*script == NULL)
		return;
	sieve_script_clear(*script);
	x_free(script);
}

static void put_u32(struct buf *out, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	buf_append(out, b, 4);
}

static void put_u64(struct buf *out, uint64_t v)
{
	put_u32(out, (uint32_t)v);
	put_u32(out, (uint32_t)(v >> 32));
}

static void put_str(struct buf *out, const char *s, size_t len)
{
	put_u32(out, (uint32_t)len);
	buf_append(out, s, len);
}

static void put_node(struct buf *out, const struct sieve_node *n)
{
	put_str(out, n->name, strlen(n->name));
	put_u32(out, (uint32_t)n->line);
	put_u32(out, (uint32_t)n->col);
	put_u32(out, (uint32_t)n->nargs);
	for (size_t i = 0; i < n->nargs; i++) {
		const struct sieve_arg *a = &n->args[i];
		buf_append_char(out, (char)a->kind);
		put_u32(out, (uint32_t)a->line);
		put_u32(out, (uint32_t)a->col);
		if (a->kind == SIEVE_ARG_NUMBER) {
			put_u64(out, a->num);
		} else if (a->kind == SIEVE_ARG_TAG) {
			put_str(out, a->tag, strlen(a->tag));
		} else {
			buf_append_char(out, a->list ? 1 : 0);
			put_u32(out, (uint32_t)a->count);
			for (size_t k = 0; k < a->count; k++)
				put_str(out, a->strs[k], a->lens[k]);
		}
	}
	buf_append_char(out, n->test_list ? 1 : 0);
	put_u32(out, (uint32_t)n->ntests);
	for (size_t i = 0; i < n->ntests; i++)
		put_node(out, n->tests[i]);
	buf_append_char(out, n->has_block ? 1 : 0);
	put_u32(out, (uint32_t)n->nblock);
	for (size_t i = 0; i < n->nblock; i++)
		put_node(out, n->block[i]);
}

void sieve_script_serialize(const struct sieve_script *script, struct buf *out)
{
	buf_append_str(out, SIEVE_SERIAL_MAGIC);
	buf_append_char(out, SIEVE_SERIAL_VERSION);
	put_u32(out, (uint32_t)script->ncmds);
	for (size_t i = 0; i < script->ncmds; i++)
		put_node(out, script->cmds[i]);
}

struct reader {
	const unsigned char *p, *end;
	size_t nodes;
	bool bad;
};

static uint32_t get_u32(struct reader *rd)
{
	if (rd->end - rd->p < 4) {
		rd->bad = true;
		return 0;
	}
	uint32_t v = (uint32_t)rd->p[0] | (uint32_t)rd->p[1] << 8 | (uint32_t)rd->p[2] << 16 |
		     (uint32_t)rd->p[3] << 24;
	rd->p += 4;
	return v;
}

static uint8_t get_u8(struct reader *rd)
{
	if (rd->p >= rd->end) {
		rd->bad = true;
		return 0;
	}
	return *rd->p++;
}

static char *get_str(struct reader *rd, size_t *len_r)
{
	uint32_t n = get_u32(rd);
	if (rd->bad || (size_t)(rd->end - rd->p) < n) {
		rd->bad = true;
		return NULL;
	}
	char *s = x_malloc((size_t)n + 1);
	memcpy(s, rd->p, n);
	s[n] = '\0';
	rd->p += n;
	if (len_r != NULL)
		*len_r = n;
	return s;
}

static void get_arg(struct reader *rd, struct sieve_arg *a)
{
	a->kind = (enum sieve_arg_kind)get_u8(rd);
	a->line = (int)get_u32(rd);
	a->col = (int)get_u32(rd);
	if (a->kind == SIEVE_ARG_NUMBER) {
		uint64_t lo = get_u32(rd);
		a->num = lo | (uint64_t)get_u32(rd) << 32;
	} else if (a->kind == SIEVE_ARG_TAG) {
		a->tag = get_str(rd, NULL);
	} else if (a->kind == SIEVE_ARG_STRINGS) {
		a->list = get_u8(rd) != 0;
		uint32_t n = get_u32(rd);
		if (n > SIEVE_MAX_LIST || n == 0) {
			rd->bad = true;
			return;
		}
		a->strs = x_calloc(n, sizeof(*a->strs));
		a->lens = x_calloc(n, sizeof(*a->lens));
		for (; a->count < n && !rd->bad; a->count++)
			a->strs[a->count] = get_str(rd, &a->lens[a->count]);
	} else {
		rd->bad = true;
	}
}

static struct sieve_node *get_node(struct reader *rd, int depth);

static struct sieve_node **get_nodes(struct reader *rd, size_t *count_r, int depth)
{
	uint32_t n = get_u32(rd);
	if (rd->bad || n > SIEVE_MAX_NODES || n > (size_t)(rd->end - rd->p) ||
	    depth > SIEVE_MAX_NESTING + 1) {
		rd->bad = true;
		return NULL;
	}
	struct sieve_node **v = n > 0 ? x_calloc(n, sizeof(*v)) : NULL;
	for (*count_r = 0; *count_r < n && !rd->bad; (*count_r)++)
		v[*count_r] = get_node(rd, depth);
	return v;
}

static struct sieve_node *get_node(struct reader *rd, int depth)
{
	struct sieve_node *n = X_NEW(struct sieve_node);
	if (++rd->nodes > SIEVE_MAX_NODES)
		rd->bad = true;
	n->name = get_str(rd, NULL);
	if (n->name == NULL)
		n->name = x_strdup("");
	n->line = (int)get_u32(rd);
	n->col = (int)get_u32(rd);
	uint32_t nargs = get_u32(rd);
	if (nargs > SIEVE_MAX_ARGS) {
		rd->bad = true;
		return n;
	}
	n->args = nargs > 0 ? x_calloc(nargs, sizeof(*n->args)) : NULL;
	for (; n->nargs < nargs && !rd->bad; n->nargs++)
		get_arg(rd, &n->args[n->nargs]);
	n->test_list = get_u8(rd) != 0;
	n->tests = get_nodes(rd, &n->ntests, depth + 1);
	n->has_block = get_u8(rd) != 0;
	n->block = get_nodes(rd, &n->nblock, depth + 1);
	return n;
}

struct sieve_script *sieve_script_deserialize(const void *data, size_t len,
					      struct sieve_error *err_r)
{
	struct reader rd = {.p = data, .end = (const unsigned char *)data + len};
	size_t ml = strlen(SIEVE_SERIAL_MAGIC);
	struct sieve_error dummy;
	if (err_r == NULL)
		err_r = &dummy;
	memset(err_r, 0, sizeof(*err_r));
	if (len < ml + 1 || memcmp(data, SIEVE_SERIAL_MAGIC, ml) != 0 ||
	    rd.p[ml] != SIEVE_SERIAL_VERSION) {
		sieve_set_error(err_r, 0, 0, "not a compiled script of version %d",
				SIEVE_SERIAL_VERSION);
		return NULL;
	}
	rd.p += ml + 1;
	struct sieve_script *s = X_NEW(struct sieve_script);
	s->cmds = get_nodes(&rd, &s->ncmds, 0);
	s->nodes = rd.nodes;
	if (rd.bad || rd.p != rd.end) {
		sieve_set_error(err_r, 0, 0, "compiled script is %s",
				rd.bad ? "damaged or truncated" : "followed by trailing data");
		sieve_script_free(&s);
		return NULL;
	}
	if (sieve_check(s, false, err_r) < 0) {
		sieve_script_free(&s);
		return NULL;
	}
	return s;
}

void sieve_message_from_memory(struct sieve_message *msg, const void *data, size_t len)
{
	memset(msg, 0, sizeof(*msg));
	msg->size = len;
	msg->data = data;
}

ssize_t sieve_message_read(const struct sieve_message *msg, void *buf, size_t len, uint64_t offset)
{
	if (msg->read != NULL)
		return msg->read(msg->ctx, buf, len, offset);
	if (offset >= msg->size || msg->data == NULL)
		return 0;
	size_t n = msg->size - offset < len ? (size_t)(msg->size - offset) : len;
	memcpy(buf, (const char *)msg->data + offset, n);
	return (ssize_t)n;
}
