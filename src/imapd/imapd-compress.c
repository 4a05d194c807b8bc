/* imapd-compress: COMPRESS DEFLATE (RFC 4978). After the tagged OK (sent uncompressed) the
 * session's bufferevent is wrapped in a libevent filter whose input side inflates and whose
 * output side deflates (raw deflate, RFC 1951, as 4978 3 says), flushing with Z_SYNC_FLUSH
 * whenever the output queue has been taken, so every response reaches the client at once.
 * Works over plain and TLS connections alike; bytes the client sent after the COMPRESS
 * line are already compressed and go through the filter.
 */
#include "imapd-int.h"
#include "log.h"
#include "xalloc.h"

#include <string.h>
#include <zlib.h>

#define COMPRESS_CHUNK 16384

struct compress_ctx {
	z_stream in, out;
	bool in_ok, out_ok;
};

/* Runs z over the whole of src into dst; false on a zlib error. */
static bool zpump(z_stream *z, bool deflating, struct evbuffer *src, struct evbuffer *dst,
		  int flush)
{
	unsigned char out[COMPRESS_CHUNK];
	size_t len = evbuffer_get_length(src);
	z->next_in = evbuffer_pullup(src, -1);
	z->avail_in = (uInt)len;
	int r;
	do {
		z->next_out = out;
		z->avail_out = sizeof(out);
		r = deflating ? deflate(z, flush) : inflate(z, Z_SYNC_FLUSH);
		if (r == Z_STREAM_ERROR || r == Z_DATA_ERROR || r == Z_MEM_ERROR ||
		    r == Z_NEED_DICT)
			return false;
		evbuffer_add(dst, out, sizeof(out) - z->avail_out);
	} while (r != Z_STREAM_END &&
		 (z->avail_out == 0 || (z->avail_in > 0 && r != Z_BUF_ERROR)));
	evbuffer_drain(src, len - z->avail_in);
	return true;
}

static enum bufferevent_filter_result compress_in(struct evbuffer *src, struct evbuffer *dst,
						  ev_ssize_t limit,
						  enum bufferevent_flush_mode mode, void *arg)
{
	struct compress_ctx *c = arg;
	if (evbuffer_get_length(src) == 0)
		return BEV_NEED_MORE;
	return zpump(&c->in, false, src, dst, Z_SYNC_FLUSH) ? BEV_OK : BEV_ERROR;
}

static enum bufferevent_filter_result compress_out(struct evbuffer *src, struct evbuffer *dst,
						   ev_ssize_t limit,
						   enum bufferevent_flush_mode mode, void *arg)
{
	struct compress_ctx *c = arg;
	if (evbuffer_get_length(src) == 0)
		return BEV_NEED_MORE;
	return zpump(&c->out, true, src, dst, mode == BEV_FINISHED ? Z_FINISH : Z_SYNC_FLUSH)
		   ? BEV_OK
		   : BEV_ERROR;
}

static void compress_free(void *arg)
{
	struct compress_ctx *c = arg;
	if (c->in_ok)
		inflateEnd(&c->in);
	if (c->out_ok)
		deflateEnd(&c->out);
	x_free(&c);
}

/* Puts the filter under the session; false (nothing changed) when zlib cannot start. */
static bool compress_switch(struct imapd_session *s)
{
	struct compress_ctx *c = X_NEW(struct compress_ctx);
	c->in_ok = inflateInit2(&c->in, -15) == Z_OK;
	c->out_ok = c->in_ok && deflateInit2(&c->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
					     Z_DEFAULT_STRATEGY) == Z_OK;
	if (!c->out_ok) {
		compress_free(c);
		return false;
	}
	struct bufferevent *under = s->conn.bev;
	bufferevent_set_timeouts(under, NULL, NULL);
	struct bufferevent *bev = bufferevent_filter_new(under, compress_in, compress_out,
							 BEV_OPT_CLOSE_ON_FREE |
							     BEV_OPT_DEFER_CALLBACKS,
							 compress_free, c);
	if (bev == NULL) {
		compress_free(c);
		return false;
	}
	s->conn.bev = bev;
	s->compressed = true;
	imapd_session_setup_bev(s);
	/* what the client sent after the command line is compressed: run it through */
	if (evbuffer_get_length(bufferevent_get_input(under)) > 0)
		bufferevent_trigger(under, EV_READ,
				    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	return true;
}

void imapd_compress_switch(struct imapd_session *s)
{
	s->compress_pending = false;
	imapd_session_flush(s);
	if (!compress_switch(s)) {
		log_error("compress: ip=[%s] cannot start DEFLATE", s->conn.ip);
		imapd_session_close(s);
	}
}

void imapd_cmd_compress(struct imapd_session *s, struct imapd_cmd *cmd)
{
	if (cmd->count != 1 || !imap_arg_is_atom(&cmd->args[0], "DEFLATE")) {
		imapd_bad(s, "COMPRESS takes DEFLATE");
		return;
	}
	if (s->compressed) {
		imapd_reply(s, "NO", "COMPRESSIONACTIVE", "DEFLATE is active already");
		return;
	}
	imapd_reply(s, "OK", NULL, "DEFLATE active");
	s->compress_pending = true; /* imapd_compress_switch once the line is consumed */
}
