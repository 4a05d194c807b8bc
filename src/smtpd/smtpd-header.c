/* smtpd-header: the header scan of submitted messages: a message submission agent adds
 * Message-ID (RFC 6409 8.3) and Date (RFC 6409 8.2) when the client left them out.
 *
 * The decoded header section is held (up to smtp_max_header_size, after which the message
 * is refused anyway) while lib-mime's streaming reader looks at its field names; once the
 * section ends, the missing fields are written in front of it, and the body streams on
 * untouched. Memory: the header section only, never the body.
 */
#include "smtpd-private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mime-header.h"
#include "util.h"
#include "xalloc.h"

struct smtpd_header_scan {
	struct mime_header_parser hp;
	struct buf held; /* the bytes taken so far */
	struct buf out;	 /* what to write at the end of the scan */
	uint64_t max_header;
	bool has_date, has_msgid;
	bool done;
};

struct smtpd_header_scan *smtpd_header_scan_new(uint64_t max_header)
{
	struct smtpd_header_scan *hs = X_NEW(struct smtpd_header_scan);
	mime_header_parser_init(&hs->hp, 0);
	buf_init(&hs->held, 0);
	buf_init(&hs->out, 0);
	hs->max_header = max_header;
	return hs;
}

void smtpd_header_scan_free(struct smtpd_header_scan **hsp)
{
	struct smtpd_header_scan *hs = *hsp;
	if (hs == NULL)
		return;
	mime_header_parser_deinit(&hs->hp);
	buf_free(&hs->held);
	buf_free(&hs->out);
	x_free(hsp);
}

static void smtpd_header_field(struct smtpd_header_scan *hs, const struct mime_header_field *f)
{
	if (mime_header_field_is(f, "Date"))
		hs->has_date = true;
	else if (mime_header_field_is(f, "Message-ID"))
		hs->has_msgid = true;
}

/* The end of the scan: the missing fields, then what was held. */
static void smtpd_header_done(struct smtpd_header_scan *hs, bool add, const char *hostname,
			      const char *queue_id, struct buf **out_r)
{
	hs->done = true;
	buf_reset(&hs->out);
	if (add && !hs->has_msgid) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		buf_printf(&hs->out, "Message-ID: <%lld.%06ld.%s@%s>\n", (long long)ts.tv_sec,
			   ts.tv_nsec / 1000, queue_id, hostname);
	}
	if (add && !hs->has_date) {
		char date[64];
		rfc5322_date(time(NULL), date, sizeof(date));
		buf_printf(&hs->out, "Date: %s\n", date);
	}
	buf_append(&hs->out, hs->held.data ? hs->held.data : "", hs->held.len);
	buf_free(&hs->held);
	*out_r = &hs->out;
}

int smtpd_header_scan_feed(struct smtpd_header_scan *hs, const char *p, size_t n,
			   const char *hostname, const char *queue_id, struct buf **out_r)
{
	if (hs->done)
		return 0;
	buf_append(&hs->held, p, n);
	while (n > 0) {
		struct mime_header_field f;
		size_t used = 0;
		int r = mime_header_parser_feed(&hs->hp, p, n, &used, &f);
		p += used;
		n -= used;
		if (r == MIME_HEADER_FIELD)
			smtpd_header_field(hs, &f);
		else if (r == MIME_HEADER_END) {
			smtpd_header_done(hs, true, hostname, queue_id, out_r);
			return 0;
		}
	}
	if (hs->held.len > hs->max_header) {
		/* Too big to be accepted: stop holding, add nothing. */
		smtpd_header_done(hs, false, hostname, queue_id, out_r);
		return 0;
	}
	return 1;
}

void smtpd_header_scan_finish(struct smtpd_header_scan *hs, const char *hostname,
			      const char *queue_id, struct buf **out_r)
{
	struct mime_header_field f;
	while (mime_header_parser_finish(&hs->hp, &f) == MIME_HEADER_FIELD)
		smtpd_header_field(hs, &f);
	smtpd_header_done(hs, true, hostname, queue_id, out_r);
}
