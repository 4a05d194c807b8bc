/* mime-date: RFC 5322 date-time parsing (Date:, Resent-Date:, IMAP SENTON/SORT DATE).
 *
 * RFC 5322 3.3 and the obsolete forms of 4.3: optional day name, 2- and 3-digit years,
 * missing seconds, named and military zones (military ones read as -0000, as 4.3 says),
 * comments and folding anywhere. A missing zone is read as +0000.
 */
#ifndef TERN_MIME_DATE_H
#define TERN_MIME_DATE_H

#include <stddef.h>
#include <time.h>

/* Parses s[0..len). Sets *t_r (seconds since the epoch, UTC) and *tz_offset_r (the zone in
 * minutes east of UTC). Returns 0, or -1 with *error_r for anything that is not a date. */
int mime_date_parse(const char *s, size_t len, time_t *t_r, int *tz_offset_r, const char **error_r);

#endif
