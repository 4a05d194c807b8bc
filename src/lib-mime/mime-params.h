/* mime-params: Content-Type and Content-Disposition values and their parameters.
 *
 * RFC 2045 5.1 (type "/" subtype *(";" attribute "=" value)), RFC 2183 2 (disposition),
 * RFC 2231 3-4 (parameter continuations and charset'language'value). Parsing keeps the
 * parameters as written (what IMAP BODYSTRUCTURE shows); mime_params_decode() joins RFC 2231
 * continuations and converts values to UTF-8 (what a reader or a filter wants).
 */
#ifndef TERN_MIME_PARAMS_H
#define TERN_MIME_PARAMS_H

#include <stddef.h>

#define MIME_PARAMS_MAX 100 /* parameters kept per field; more are ignored */

struct mime_param {
	char *name;  /* as written (compare with str_ieq) */
	char *value; /* unquoted */
};

struct mime_params {
	struct mime_param *v;
	size_t count;
};

void mime_params_add(struct mime_params *ps, const char *name, size_t name_len, const char *value,
		     size_t value_len);
void mime_params_free(struct mime_params *ps);
/* The value of the first parameter called name (case-insensitive), or NULL. */
const char *mime_params_get(const struct mime_params *ps, const char *name);

/* Parses a Content-Type value. Sets *type_r and *subtype_r (fresh, lower case) and adds the
 * parameters to *params. Returns 0, or -1 with *error_r if there is no valid type/subtype
 * (RFC 2045 5.2: the caller then uses the default; the parameters are still parsed). */
int mime_content_type_parse(const char *s, size_t len, char **type_r, char **subtype_r,
			    struct mime_params *params, const char **error_r);
/* Parses a Content-Disposition value: *disp_r (fresh, lower case) and the parameters.
 * Returns 0, or -1 with *error_r if there is no disposition token. */
int mime_disposition_parse(const char *s, size_t len, char **disp_r, struct mime_params *params,
			   const char **error_r);
/* Parses only ";"-separated parameters from s (used by the two above). */
void mime_params_parse(const char *s, const char *end, struct mime_params *params);

/* Decodes raw into out (appended): RFC 2231 continuations joined, charset'lang' values
 * and %XX decoded and converted to UTF-8, names lower case, RFC 2047 encoded-words in
 * values decoded (a common non-standard practice); an extended parameter wins over a
 * plain one with the same name, otherwise the first wins. */
void mime_params_decode(const struct mime_params *raw, struct mime_params *out);

#endif
