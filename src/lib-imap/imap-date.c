/* imap-date: parsing and formatting of IMAP dates (RFC 3501 section 9 date, date-time,
 * date-day-fixed). Civil-date arithmetic after H. Hinnant's well-known days-from-civil
 * formulas, written here from the algorithm's description.
 */
#include "imap-date.h"

#include <stdbool.h>
#include <stdio.h>


static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int64_t imap_days_from_civil(int year, int month, int day)
{
	int64_t y = year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (month + 9) % 12; /* March = 0 */
	int64_t doy = (153 * mp + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *year, int *month, int *day)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = (int)(yoe + era * 400 + (*month <= 2));
}

static int month_days(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

static bool digits(const char *s, size_t n, int *v_r)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*v_r = v;
	return true;
}

/* "Mon-yyyy" at s (8 bytes), checking day against the month. */
static int parse_month_year(const char *s, int day, int *month_r, int *year_r)
{
	int month = 0;
	for (int i = 0; i < 12 && month == 0; i++) {
		const char *m = months[i];
		if ((s[0] | 0x20) == (m[0] | 0x20) && (s[1] | 0x20) == m[1] && (s[2] | 0x20) == m[2])
			month = i + 1;
	}
	if (month == 0 || s[3] != '-' || !digits(s + 4, 4, year_r))
		return -1;
	if (day < 1 || day > month_days(*year_r, month))
		return -1;
	*month_r = month;
	return 0;
}

int imap_date_parse(const char *s, size_t len, int64_t *days_r)
{
	int day, month, year;
	size_t dl = len == 10 ? 1 : len == 11 ? 2 : 0;
	if (dl == 0 || !digits(s, dl, &day) || s[dl] != '-')
		return -1;
	if (parse_month_year(s + dl + 1, day, &month, &year) < 0)
		return -1;
	*days_r = imap_days_from_civil(year, month, day);
	return 0;
}

int imap_datetime_parse(const char *s, size_t len, int64_t *t_r, int *tz_minutes_r)
{
	int day, month, year, hh, mm, ss, zh, zm;
	if (len != IMAP_DATETIME_LEN)
		return -1;
	/* date-day-fixed = (SP DIGIT) / 2DIGIT */
	if (!(s[0] == ' ' ? digits(s + 1, 1, &day) : digits(s, 2, &day)) || s[2] != '-')
		return -1;
	if (parse_month_year(s + 3, day, &month, &year) < 0 || s[11] != ' ')
		return -1;
	if (!digits(s + 12, 2, &hh) || s[14] != ':' || !digits(s + 15, 2, &mm) || s[17] != ':' ||
	    !digits(s + 18, 2, &ss) || s[20] != ' ')
		return -1;
	if (hh > 23 || mm > 59 || ss > 60)
		return -1;
	if ((s[21] != '+' && s[21] != '-') || !digits(s + 22, 2, &zh) || !digits(s + 24, 2, &zm) ||
	    zm > 59)
		return -1;
	int tz = (zh * 60 + zm) * (s[21] == '-' ? -1 : 1);
	int64_t local = imap_days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss;
	*t_r = local - (int64_t)tz * 60;
	*tz_minutes_r = tz;
	return 0;
}

void imap_datetime_write(int64_t t, int tz_minutes, char out[IMAP_DATETIME_LEN + 1])
{
	int64_t local = t + (int64_t)tz_minutes * 60;
	int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	int64_t secs = local - days * 86400;
	int year, month, day;
	civil_from_days(days, &year, &month, &day);
	if (year < 0 || year > 9999)
		year = year < 0 ? 0 : 9999; /* the format has four digits */
	int tz = tz_minutes < 0 ? -tz_minutes : tz_minutes;
	snprintf(out, IMAP_DATETIME_LEN + 1, "%02d-%s-%04d %02d:%02d:%02d %c%02d%02d", day,
		 months[month - 1], year, (int)(secs / 3600), (int)(secs / 60 % 60),
		 (int)(secs % 60), tz_minutes < 0 ? '-' : '+', tz / 60 % 100, tz % 60);
}
