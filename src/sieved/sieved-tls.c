/* sieved-tls: STARTTLS in the sieve role (RFC 5804 2.2): OK, the handshake (lib-server's
 * server_starttls), then the capabilities again, as they may have changed (SASL now lists
 * PLAIN and LOGIN, STARTTLS is gone). Whatever the client sent after STARTTLS in clear is
 * thrown away and logged, never read as a command of the TLS session (RFC 2595 3.1
 * applies alike, CVE-2011-0411). The contexts, their reload and implicit TLS are
 * lib-server's (server.h).
 */
#include "sieved-int.h"
#include "log.h"
#include "xalloc.h"

#include <string.h>

void sieved_tls_connected(struct sieved_session *s)
{
	if (!s->conn.tls_handshake)
		return;
	s->conn.tls_handshake = false;
	server_tls_log_connected(s->conn.bev, s->conn.ip);
	sieved_capabilities(s); /* the greeting (implicit TLS), or after STARTTLS */
	if (s->conn.busy)
		sieved_session_resume(s);
	else
		sieved_session_flush(s);
}

void sieved_cmd_starttls(struct sieved_session *s, const struct ms_command *cmd)
{
	if (s->conn.tls) {
		sieved_reply(s, "NO", NULL, "already under TLS");
		return;
	}
	if (s->starttls_ctx == NULL) {
		sieved_reply(s, "NO", NULL, "TLS is not available on this connection");
		return;
	}
	sieved_reply(s, "OK", NULL, "Begin TLS negotiation now");
	sieved_session_flush(s);
	size_t held = ms_parser_discard(&s->parser);
	struct bufferevent *bev = server_starttls(s->starttls_ctx, s->conn.bev, held, "starttls",
						  s->conn.ip, SIEVED_OUT_LOW, SIEVED_OUT_HIGH);
	if (bev == NULL) {
		sieved_session_close(s);
		return;
	}
	s->conn.bev = bev;
	s->conn.tls = s->conn.tls_handshake = true;
	s->conn.busy = true; /* until the handshake ends: see sieved_tls_connected */
	sieved_session_setup_bev(s);
}
