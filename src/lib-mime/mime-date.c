/* mime-date: RFC 5322 3.3 / 4.3 date-time parser (see mime-date.h).
 *
 * The civil-to-days conversion is done here (no timegm, no TZ, no locale), so the result
 * never depends on the process environment. Out-of-range fields are errors, and so is
 * anything but CFWS after the zone.
 */
#include "mime-date.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mime-lex.h"

struct dscan {
	const char *p, *end;
};

static void skip(struct dscan *d)
{
	d->p = mime_lex_skip_cfws(d->p, d->end, NULL);
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads 1..maxd digits; returns the count read (0 if none), value in *v. */
static int read_num(struct dscan *d, int maxd, int *v)
{
	int n = 0;
	*v = 0;
	while (d->p < d->end && is_digit(*d->p) && n < maxd) {
		*v = *v * 10 + (*d->p - '0');
		d->p++;
		n++;
	}
	if (n > 0 && d->p < d->end && is_digit(*d->p))
		return 0; /* too many digits */
	return n;
}

/* Reads a word of letters into w (lower case, truncated); returns its full length. */
static size_t read_word(struct dscan *d, char *w, size_t wsize)
{
	size_t n = 0;
	while (d->p < d->end && is_alpha(*d->p)) {
		if (n + 1 < wsize)
			w[n] = (char)(*d->p | 0x20);
		n++;
		d->p++;
	}
	w[n < wsize ? n : wsize - 1] = '\0';
	return n;
}

static int month_index(const char *w)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	if (strlen(w) < 3)
		return -1;
	for (int i = 0; i < 12; i++)
		if (strncmp(months + 3 * i, w, 3) == 0)
			return i + 1;
	return -1;
}

static bool is_day_name(const char *w)
{
	static const char days[] = "montuewedthufrisatsun";
	if (strlen(w) < 3)
		return false;
	for (int i = 0; i < 7; i++)
		if (strncmp(days + 3 * i, w, 3) == 0)
			return true;
	return false;
}

/* Zone names of RFC 5322 4.3, in minutes; military and unknown names are -0000 (0). */
static int zone_offset(const char *w)
{
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {{"ut", 0},	    {"gmt", 0},	   {"z", 0},	  {"est", -300},
		     {"edt", -240}, {"cst", -360}, {"cdt", -300}, {"mst", -420},
		     {"mdt", -360}, {"pst", -480}, {"pdt", -420}};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strcmp(w, zones[i].name) == 0)
			return zones[i].minutes;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

/* Reads the zone after the time: +hhmm, -hhmm, a name, or nothing. */
static int read_zone(struct dscan *d, int *tz, const char **error_r)
{
	char w[8];
	*tz = 0;
	if (d->p >= d->end)
		return 0;
	if (*d->p == '+' || *d->p == '-') {
		int sign = *d->p == '-' ? -1 : 1, v;
		d->p++;
		if (read_num(d, 4, &v) != 4 || v % 100 > 59) {
			*error_r = "invalid zone";
			return -1;
		}
		*tz = sign * (v / 100 * 60 + v % 100);
		return 0;
	}
	if (is_alpha(*d->p)) {
		read_word(d, w, sizeof(w));
		*tz = zone_offset(w);
		return 0;
	}
	*error_r = "invalid zone";
	return -1;
}

/* Reads [day-name ","] day month year. */
static int read_date(struct dscan *d, int *day, int *mon, int *year, const char **error_r)
{
	char w[16];
	skip(d);
	if (d->p < d->end && is_alpha(*d->p)) {
		read_word(d, w, sizeof(w));
		if (!is_day_name(w)) {
			*error_r = "invalid day name";
			return -1;
		}
		skip(d);
		if (d->p < d->end && *d->p == ',')
			d->p++;
		skip(d);
	}
	if (read_num(d, 2, day) == 0 || (skip(d), read_word(d, w, sizeof(w))) == 0 ||
	    (*mon = month_index(w)) < 0) {
		*error_r = "invalid day or month";
		return -1;
	}
	skip(d);
	int digits = read_num(d, 4, year);
	if (digits < 2) {
		*error_r = "invalid year";
		return -1;
	}
	if (digits == 2) /* RFC 5322 4.3 */
		*year += *year < 50 ? 2000 : 1900;
	else if (digits == 3)
		*year += 1900;
	if (*day < 1 || *day > days_in_month(*year, *mon)) {
		*error_r = "invalid day of month";
		return -1;
	}
	return 0;
}

int mime_date_parse(const char *s, size_t len, time_t *t_r, int *tz_offset_r, const char **error_r)
{
	struct dscan d = {s, s + len};
	int day, mon, year, hour, min, sec = 0, tz;
	if (read_date(&d, &day, &mon, &year, error_r) < 0)
		return -1;
	skip(&d);
	if (read_num(&d, 2, &hour) == 0 || (skip(&d), d.p >= d.end || *d.p != ':')) {
		*error_r = "invalid time";
		return -1;
	}
	d.p++;
	skip(&d);
	if (read_num(&d, 2, &min) == 0) {
		*error_r = "invalid time";
		return -1;
	}
	skip(&d);
	if (d.p < d.end && *d.p == ':') {
		d.p++;
		skip(&d);
		if (read_num(&d, 2, &sec) == 0) {
			*error_r = "invalid time";
			return -1;
		}
	}
	if (hour > 23 || min > 59 || sec > 60) {
		*error_r = "time out of range";
		return -1;
	}
	skip(&d);
	if (read_zone(&d, &tz, error_r) < 0)
		return -1;
	skip(&d);
	if (d.p != d.end) {
		*error_r = "garbage after the date";
		return -1;
	}
	int64_t t = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
	*t_r = (time_t)(t - (int64_t)tz * 60);
	*tz_offset_r = tz;
	return 0;
}
