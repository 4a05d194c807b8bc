/* pop3d-tls: STLS in the pop3 role (RFC 2595 section 4): +OK, then TLS under the
 * session's bufferevent (lib-server's server_starttls). Injection (RFC 2595 section 3.1,
 * CVE-2011-0411): whatever the client sent after the STLS line in clear, whether held by
 * our line parser (pop3_parser_discard) or still in the socket buffer, is thrown away and
 * logged, never read as a command of the TLS session. After STLS the session forgets the
 * USER argument. The contexts, their reload and implicit TLS (pop3s) are lib-server's.
 */
#include "pop3d-int.h"
#include "log.h"
#include "xalloc.h"

#include <string.h>

void pop3d_tls_connected(struct pop3d_session *s)
{
	if (!s->conn.tls_handshake)
		return;
	s->conn.tls_handshake = false;
	server_tls_log_connected(s->conn.bev, s->conn.ip);
	if (s->conn.busy) /* after STLS: commands may come now */
		pop3d_session_resume(s);
}

void pop3d_cmd_stls(struct pop3d_session *s, const struct pop3_command *cmd)
{
	if (s->conn.tls) {
		pop3d_session_err(s, POP3_CODE_NONE, "already under TLS");
		return;
	}
	if (s->stls_ctx == NULL) {
		pop3d_session_err(s, POP3_CODE_NONE, "TLS is not available on this connection");
		return;
	}
	pop3d_session_ok(s, "Begin TLS negotiation");
	pop3d_session_flush(s);
	size_t held = pop3_parser_discard(&s->parser);
	/* the filter encrypts into the plain output only up to POP3D_OUT_HIGH: RETR stays
	 * bounded */
	struct bufferevent *bev = server_starttls(s->stls_ctx, s->conn.bev, held, "stls",
						  s->conn.ip, POP3D_OUT_LOW, POP3D_OUT_HIGH);
	if (bev == NULL) {
		pop3d_session_close(s);
		return;
	}
	s->conn.bev = bev;
	s->conn.tls = s->conn.tls_handshake = true;
	x_free(&s->user_arg);
	s->conn.busy = true; /* until the handshake ends: see pop3d_tls_connected */
	pop3d_session_setup_bev(s);
}
