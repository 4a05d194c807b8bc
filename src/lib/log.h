/* log: one line per event, to stderr or syslog.
 *
 * Lines read `role[pid]: text`; events about a message start the text with its queue ID
 * (`role[pid]: 4F2A...: key=value, key=value`) so one grep follows a message's life.
 * fatal() logs and exits (the master restarts a worker); bugs use assert().
 */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* role: the name shown before [pid]; use_syslog: log to syslog(3) (facility mail). */
void log_init(const char *role, bool use_syslog);
void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

/* Logs and exits with status 75 (EX_TEMPFAIL): a state the process cannot go on from. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Makes a string safe to log: control characters and non-ASCII bytes become \xNN;
 * at most max bytes of input are shown (then "..."). Returns a static buffer (one of 4
 * rotating, so up to 4 calls may appear in one log statement). */
const char *log_safe(const char *s, size_t len, size_t max);

#endif
