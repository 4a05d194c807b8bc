/* imapd-tls: STARTTLS in the imap role (RFC 9051 section 6.2.1): OK, then TLS under the
 * session's bufferevent once the command line has been consumed (lib-server's
 * server_starttls, which throws away and logs whatever the client sent after the line in
 * clear: RFC 2595 section 3.1, CVE-2011-0411). The contexts, their reload and implicit
 * TLS (imaps) are lib-server's too (server.h).
 */
#include "imapd-int.h"
#include "log.h"
#include "xalloc.h"

#include <event2/buffer.h>
#include <string.h>

void imapd_tls_connected(struct imapd_session *s)
{
	if (!s->conn.tls_handshake)
		return;
	s->conn.tls_handshake = false;
	server_tls_log_connected(s->conn.bev, s->conn.ip);
	if (s->conn.busy) /* after STARTTLS: commands may come now */
		imapd_session_resume(s);
}

void imapd_cmd_starttls(struct imapd_session *s, struct imapd_cmd *cmd)
{
	if (cmd->count != 0) {
		imapd_bad(s, "STARTTLS takes no arguments");
	} else if (s->conn.tls) {
		imapd_bad(s, "Already under TLS");
	} else if (s->stls_ctx == NULL) {
		imapd_reply(s, "NO", NULL, "TLS is not available on this connection");
	} else {
		imapd_reply(s, "OK", NULL, "Begin TLS negotiation now");
		s->starttls_pending = true; /* imapd_tls_switch once the line is consumed */
		s->conn.busy = true;
	}
}

void imapd_tls_switch(struct imapd_session *s)
{
	s->starttls_pending = false;
	imapd_session_flush(s);
	imap_parser_reset(s->parser); /* at a command boundary: it holds nothing, but be sure */
	struct bufferevent *bev =
	    server_starttls(s->stls_ctx, s->conn.bev, 0, "starttls", s->conn.ip, 0, 0);
	if (bev == NULL) {
		s->conn.busy = false;
		imapd_session_close(s);
		return;
	}
	s->conn.bev = bev;
	s->conn.tls = s->conn.tls_handshake = true;
	s->conn.busy = true; /* until the handshake ends: see imapd_tls_connected */
	imapd_session_setup_bev(s);
}
