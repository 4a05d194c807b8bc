/* imap-base-subject: the "base subject" of RFC 5256 section 2.1, used by SORT (SUBJECT) and
 * THREAD (ORDEREDSUBJECT, REFERENCES). Pure: takes a subject already decoded to UTF-8
 * (RFC 2047 words converted) and returns the text that compares equal across "Re:",
 * "Fwd:", "[list]" prefixes and "(fwd)" trailers.
 */
#ifndef TERN_IMAP_BASE_SUBJECT_H
#define TERN_IMAP_BASE_SUBJECT_H

#include <stdbool.h>

/* A new string with the base subject of subject (NULL counts as ""). *is_reply_r (may be
 * NULL) tells whether a "Re:"/"Fw:"/"Fwd:" leader, a "(fwd)" trailer or a "[fwd: ...]"
 * wrapper was removed (RFC 5256 section 2.1, used by THREAD=REFERENCES). Free with free(). */
char *imap_base_subject(const char *subject, bool *is_reply_r);

#endif
