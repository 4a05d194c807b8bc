/* login-sasl: SASL PLAIN and LOGIN in a pre-login worker of system mode (login.h). The
 * mechanisms parse the client's data as always; the password callback keeps the
 * credentials instead of checking them, for the auth process to check. */
#include "login.h"
#include "sasl.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static enum sasl_lookup capture_password(void *ctx, const char *user, const char *password)
{
	struct login_creds *c = ctx;
	snprintf(c->user, sizeof(c->user), "%s", user);
	snprintf(c->password, sizeof(c->password), "%s", password);
	c->set = true;
	return SASL_LOOKUP_OK;
}

static enum sasl_lookup capture_scram(void *ctx, const char *user, enum sasl_scram_hash hash,
				      struct sasl_scram_secret *secret_r)
{
	return SASL_LOOKUP_UNKNOWN; /* never reached: SCRAM is not started */
}

struct sasl_server *login_sasl_start(const char *mech, bool success_data, struct login_creds *creds)
{
	if (strcasecmp(mech, "PLAIN") != 0 && strcasecmp(mech, "LOGIN") != 0)
		return NULL;
	login_creds_wipe(creds);
	creds->cb.lookup_password = capture_password;
	creds->cb.lookup_scram = capture_scram;
	creds->cb.ctx = creds;
	struct sasl_server_settings set = {.cb = &creds->cb, .success_data = success_data};
	return sasl_server_new(mech, &set);
}

void login_creds_wipe(struct login_creds *creds)
{
	explicit_bzero(creds, sizeof(*creds));
}
