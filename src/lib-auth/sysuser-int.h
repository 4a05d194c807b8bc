/* sysuser-int: what sysuser.c shares with sysuser-verify.c (not for other folders). */
#ifndef TERN_SYSUSER_INT_H
#define TERN_SYSUSER_INT_H

#include <stdbool.h>

/* The password check configured: true for PAM (system_auth = pam), false for shadow; the
 * PAM service name goes to pam_service_r (free it) when that is not NULL. */
bool sysuser_settings(char **pam_service_r);

#endif
