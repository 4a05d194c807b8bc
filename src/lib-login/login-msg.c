/* login-msg: the messages between a pre-login worker and the auth process (login.h).
 *
 * One SOCK_SEQPACKET message each way, so a message is never split or merged.
 * Request: version (1), kind 'Q', protocol, 0, then mech, ip, user and password, each a
 * 16-bit big-endian length and that many bytes (no NUL, at most LOGIN_FIELD_MAX).
 * Reply: version, kind 'A', status, 0, delay in ms (32-bit big-endian); with LOGIN_OK the
 * session socket rides along (SCM_RIGHTS). Anything else is refused whole: the auth
 * process trusts nothing a worker sends.
 */
#include "login.h"

#include <string.h>

#define LOGIN_MSG_VERSION 1
#define LOGIN_NFIELDS 4

static void put_field(struct buf *out, const char *s)
{
	size_t n = strlen(s);
	unsigned char len[2] = {(unsigned char)(n >> 8), (unsigned char)n};
	buf_append(out, len, 2);
	buf_append(out, s, n);
}

int login_request_marshal(const struct login_request *req, struct buf *out)
{
	const char *f[LOGIN_NFIELDS] = {req->mech, req->ip, req->user, req->password};
	for (size_t i = 0; i < LOGIN_NFIELDS; i++)
		if (f[i] == NULL || strlen(f[i]) > LOGIN_FIELD_MAX)
			return -1;
	unsigned char head[4] = {LOGIN_MSG_VERSION, 'Q', (unsigned char)req->proto, 0};
	buf_append(out, head, 4);
	for (size_t i = 0; i < LOGIN_NFIELDS; i++)
		put_field(out, f[i]);
	return 0;
}

int login_request_unmarshal(const void *data, size_t len, struct login_request *req,
			    struct buf *store)
{
	const unsigned char *p = data;
	if (len < 4 || len > LOGIN_MSG_MAX || p[0] != LOGIN_MSG_VERSION || p[1] != 'Q' ||
	    (p[2] < LOGIN_PROTO_IMAP || p[2] > LOGIN_PROTO_MANAGESIEVE) ||
	    p[3] != 0)
		return -1;
	size_t off = 4, starts[LOGIN_NFIELDS];
	buf_reset(store);
	for (size_t i = 0; i < LOGIN_NFIELDS; i++) {
		if (len - off < 2)
			return -1;
		size_t n = (size_t)p[off] << 8 | p[off + 1];
		off += 2;
		if (n > LOGIN_FIELD_MAX || len - off < n || memchr(p + off, '\0', n) != NULL)
			return -1;
		starts[i] = store->len;
		buf_append(store, p + off, n);
		buf_append(store, "", 1);
		off += n;
	}
	if (off != len)
		return -1;
	req->proto = (enum login_proto)p[2];
	req->mech = store->data + starts[0];
	req->ip = store->data + starts[1];
	req->user = store->data + starts[2];
	req->password = store->data + starts[3];
	return 0;
}

void login_reply_marshal(const struct login_reply *rep, unsigned char out[8])
{
	out[0] = LOGIN_MSG_VERSION;
	out[1] = 'A';
	out[2] = (unsigned char)rep->status;
	out[3] = 0;
	for (int i = 0; i < 4; i++)
		out[4 + i] = (unsigned char)(rep->delay_ms >> (24 - 8 * i));
}

int login_reply_unmarshal(const void *data, size_t len, struct login_reply *rep)
{
	const unsigned char *p = data;
	if (len != 8 || p[0] != LOGIN_MSG_VERSION || p[1] != 'A' || p[3] != 0 || p[2] < LOGIN_OK ||
	    p[2] > LOGIN_TEMPFAIL)
		return -1;
	rep->status = (enum login_status)p[2];
	rep->delay_ms = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	return 0;
}

const char *login_proto_name(enum login_proto proto)
{
	return proto == LOGIN_PROTO_IMAP   ? "imap"
	       : proto == LOGIN_PROTO_POP3 ? "pop3"
	       : proto == LOGIN_PROTO_SMTP ? "smtp"
	       : proto == LOGIN_PROTO_MANAGESIEVE ? "managesieve"
					   : "?";
}

const char *login_status_name(enum login_status status)
{
	static const char *const names[] = {"?", "ok", "failed", "locked", "limit", "tempfail"};
	return (unsigned)status <= LOGIN_TEMPFAIL ? names[status] : "?";
}
