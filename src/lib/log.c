/* log: `role[pid]: text` lines to stderr (with a UTC timestamp) or syslog. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char log_role[32] = "tern";
static bool log_syslog;
static enum log_level log_min = LOG_LEVEL_INFO;

void log_init(const char *role, bool use_syslog)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
	if (log_syslog)
		closelog();
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(log_role, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_level(enum log_level level)
{
	log_min = level;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (level < log_min)
		return;
	char text[2048];
	vsnprintf(text, sizeof(text), fmt, ap);
	if (log_syslog) {
		static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
		syslog(prio[level], "%s", text);
		return;
	}
	static const char *const tag[] = {"debug: ", "", "warning: ", "error: "};
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One write per line, so lines from several processes do not interleave. */
	char line[2300];
	int n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld]: %s%s\n", stamp,
			 ts.tv_nsec / 1000000, log_role, (long)getpid(), tag[level], text);
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1, line[n - 1] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char text[1024];
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_msg(LOG_LEVEL_ERROR, "fatal: %s", text);
	exit(75);
}

const char *log_safe(const char *s, size_t len, size_t max)
{
	static char ring[4][1100];
	static int next;
	char *out = ring[next];
	next = (next + 1) % 4;
	if (max > 256)
		max = 256;
	size_t o = 0;
	for (size_t i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '\\')
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (len > max) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}
