/* init: helpers of `tern init`. */
#ifndef TERN_INIT_H
#define TERN_INIT_H

/* Writes a new ECDSA key and a self-signed certificate for hostname. 0 or -1. */
int init_make_cert(const char *cert_path, const char *key_path, const char *hostname);

#endif
