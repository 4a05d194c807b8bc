/* smtpd-inetd: one SMTP session over stdin/stdout (`--inetd`, `sendmail -bs`, tests).
 *
 * stdin and stdout may be one socket (inetd) or two pipes. When local_user is set the
 * session is a trusted local submission by that Unix user (RFC 6409 does not apply:
 * there is no network client); its recipients may be anywhere and are queued as given.
 * When stderr is the connection itself (inetd), logs go to syslog instead.
 */
#include "smtpd.h"
#include "smtpd-private.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <event2/event.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static bool smtpd_same_file(int a, int b)
{
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

int smtpd_inetd(const char *conf_path, const char *local_user)
{
	struct conf *c = smtpd_conf_load(conf_path, !smtpd_same_file(0, 2));
	if (c == NULL)
		return 78;
	struct smtpd_server *srv = smtpd_server_new(conf_path, c, true);
	smtpd_server_signals(srv);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];
	int port = 0;
	const char *ipp = NULL;
	if (getpeername(0, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			ipp = inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			ipp = inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
			port = ntohs(in6->sin6_port);
		}
	}
	int out_fd = smtpd_same_file(0, 1) ? -1 : 1;
	set_nonblock(0);
	if (out_fd >= 0)
		set_nonblock(out_fd);
	smtpd_session_new(srv, 0, out_fd, ipp, port, NULL, local_user);
	event_base_dispatch(srv->base);
	smtpd_server_free(&srv);
	return 0;
}
