/* deliver-comsat: the new-mail datagram of BSD mail.local and procmail, "USER@OFFSET:PATH",
 * sent to comsat(8) (`tern comsat`) after a delivery to a user's INBOX. OFFSET is where the
 * message starts in an mbox, 0 for a Maildir file (PATH is then the message file). Lost
 * datagrams are harmless, so errors are only logged.
 */
#include "deliver-int.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

/* Splits "host:port" (IPv6 as "[addr]:port"); no port means 512 ("biff"). */
static void split_address(const char *address, char **host_r, char **port_r)
{
	const char *colon = strrchr(address, ':');
	const char *host = address, *end = colon;
	if (address[0] == '[') {
		host = address + 1;
		end = strchr(address, ']');
		colon = end != NULL && end[1] == ':' ? end + 1 : NULL;
	} else if (colon != NULL && strchr(address, ':') != colon) {
		colon = NULL; /* a bare IPv6 address */
		end = NULL;
	}
	*host_r = end != NULL ? x_strndup(host, (size_t)(end - host)) : x_strdup(host);
	*port_r = x_strdup(colon != NULL ? colon + 1 : "512");
}

void deliver_comsat_send(const char *address, const char *login, uint64_t offset, const char *path)
{
	if (address == NULL || *address == 0)
		return;
	char *host, *port;
	split_address(address, &host, &port);
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai = NULL;
	int e = getaddrinfo(host, port, &hints, &ai);
	if (e != 0) {
		log_warn("comsat %s: %s", address, gai_strerror(e));
	} else {
		char *text = x_asprintf("%s@%llu:%s", login, (unsigned long long)offset, path);
		int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || sendto(fd, text, strlen(text), 0, ai->ai_addr, ai->ai_addrlen) < 0)
			log_warn("comsat %s: %s", address, strerror(errno));
		if (fd >= 0)
			close(fd);
		x_free(&text);
		freeaddrinfo(ai);
	}
	x_free(&host);
	x_free(&port);
}
