/* sieve-date: the date and currentdate tests (RFC 5260 4, 5).
 *
 * The date is taken from a header field (for Received, the text after the last ";",
 * RFC 5260 4), read with mime-date.h, shifted to the :zone given, its own zone
 * (:originalzone) or the local zone (sieve_ops.now_zone), and one date-part is matched
 * as a string: year, month, day, date, julian, hour, minute, second, time, iso8601,
 * std11, zone, weekday. currentdate uses sieve_ops.now, so tests are reproducible.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime-date.h"
#include "sieve-run.h"
#include "xalloc.h"

/* "+hhmm" or "-hhmm" to minutes east of UTC; false if malformed. */
static bool parse_zone(const char *s, int *min_r)
{
	if (strlen(s) != 5 || (s[0] != '+' && s[0] != '-'))
		return false;
	for (int i = 1; i < 5; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	int h = (s[1] - '0') * 10 + (s[2] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23 || m > 59)
		return false;
	*min_r = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
	return true;
}

static void date_part(time_t t, int zone, const char *part, struct buf *out)
{
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t lt = t + (time_t)zone * 60;
	struct tm tm;
	gmtime_r(&lt, &tm);
	int az = zone < 0 ? -zone : zone;
	char sign = zone < 0 ? '-' : '+';
	int y = tm.tm_year + 1900;
	if (strcasecmp(part, "year") == 0)
		buf_printf(out, "%04d", y);
	else if (strcasecmp(part, "month") == 0)
		buf_printf(out, "%02d", tm.tm_mon + 1);
	else if (strcasecmp(part, "day") == 0)
		buf_printf(out, "%02d", tm.tm_mday);
	else if (strcasecmp(part, "date") == 0)
		buf_printf(out, "%04d-%02d-%02d", y, tm.tm_mon + 1, tm.tm_mday);
	else if (strcasecmp(part, "julian") == 0) /* modified Julian day: from 1858-11-17 */
		buf_printf(out, "%lld", (long long)((lt >= 0 ? lt : lt - 86399) / 86400) + 40587);
	else if (strcasecmp(part, "hour") == 0)
		buf_printf(out, "%02d", tm.tm_hour);
	else if (strcasecmp(part, "minute") == 0)
		buf_printf(out, "%02d", tm.tm_min);
	else if (strcasecmp(part, "second") == 0)
		buf_printf(out, "%02d", tm.tm_sec);
	else if (strcasecmp(part, "time") == 0)
		buf_printf(out, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
	else if (strcasecmp(part, "iso8601") == 0)
		buf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", y, tm.tm_mon + 1,
			   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, az / 60, az % 60);
	else if (strcasecmp(part, "std11") == 0)
		buf_printf(out, "%s, %d %s %04d %02d:%02d:%02d %c%02d%02d", wd[tm.tm_wday],
			   tm.tm_mday, mon[tm.tm_mon], y, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
			   az / 60, az % 60);
	else if (strcasecmp(part, "zone") == 0)
		buf_printf(out, "%c%02d%02d", sign, az / 60, az % 60);
	else if (strcasecmp(part, "weekday") == 0)
		buf_printf(out, "%d", tm.tm_wday);
}

/* The date of one header value, or false. */
static bool header_date(const char *name, const char *value, time_t *t_r, int *zone_r)
{
	const char *s = value;
	if (strcasecmp(name, "received") == 0) {
		const char *semi = strrchr(value, ';');
		if (semi == NULL)
			return false;
		s = semi + 1;
	}
	const char *err;
	return mime_date_parse(s, strlen(s), t_r, zone_r, &err) == 0;
}

int sieve_test_date(struct sieve_run *r, const struct sieve_node *t, bool *res)
{
	const struct sieve_opts *o = &t->opts;
	bool current = t->spec->id == SIEVE_TEST_CURRENTDATE;
	int zone = r->ops->now_zone;
	bool fixed_zone = false;
	if (o->zone != NULL) {
		char *z = sieve_expand_str(r, o->zone->strs[0]);
		fixed_zone = parse_zone(z, &zone);
		free(z);
		if (!fixed_zone) { /* RFC 5260 4.1: an unknown zone fails the test */
			*res = false;
			return 0;
		}
	}
	char *part = sieve_expand_str(r, o->pos[current ? 0 : 1]->strs[0]);
	struct sieve_strs vals = {0};
	if (current) {
		struct buf b = BUF_INIT;
		date_part(r->now, zone, part, &b);
		sieve_strs_add(&vals, b.data != NULL ? b.data : "", b.len);
		buf_free(&b);
	} else {
		char *name = sieve_expand_str(r, o->pos[0]->strs[0]);
		struct sieve_strs hv = {0};
		sieve_header_values(r, name, false, &hv);
		for (size_t i = 0; i < hv.count && i < 1; i++) { /* the first occurrence */
			time_t tt;
			int hz;
			if (!header_date(name, hv.v[i], &tt, &hz))
				continue;
			struct buf b = BUF_INIT;
			date_part(tt, o->originalzone ? hz : zone, part, &b);
			sieve_strs_add(&vals, b.data != NULL ? b.data : "", b.len);
			buf_free(&b);
		}
		sieve_strs_free(&hv);
		free(name);
	}
	*res = sieve_match(r, o, &vals, o->pos[current ? 1 : 2]);
	sieve_strs_free(&vals);
	free(part);
	return r->failed ? -1 : 0;
}
