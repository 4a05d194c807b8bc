/* imap-date: IMAP date and date-time (RFC 3501 / RFC 9051 section 9: date, date-time).
 *
 * "d-Mon-yyyy" for SEARCH (BEFORE, SINCE, ...), "dd-Mon-yyyy hh:mm:ss +zzzz" for INTERNALDATE
 * and APPEND. Pure calendar arithmetic: no time zone database, no locale.
 */
#ifndef TERN_IMAP_DATE_H
#define TERN_IMAP_DATE_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_DATETIME_LEN 26 /* "17-Jul-1996 02:44:25 -0700" */

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
int64_t imap_days_from_civil(int year, int month, int day);
/* date-text: 1*2DIGIT "-" Mon "-" 4DIGIT (month name case-insensitive). 0 or -1. */
int imap_date_parse(const char *s, size_t len, int64_t *days_r);
/* date-time without the quotes; *t_r is UTC seconds, *tz_minutes_r the zone offset. 0 or -1. */
int imap_datetime_parse(const char *s, size_t len, int64_t *t_r, int *tz_minutes_r);
/* Writes t shown in the zone tz_minutes east of UTC, NUL-terminated, without quotes. */
void imap_datetime_write(int64_t t, int tz_minutes, char out[IMAP_DATETIME_LEN + 1]);

#endif
