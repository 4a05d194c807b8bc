/* init-cert: the self-signed certificate `tern init` makes for a new instance.
 * An ECDSA P-256 key and a certificate for the host name (CN and subjectAltName), valid
 * for ten years; real certificates replace it with one line each in tern.conf. */
#include "init.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <sys/stat.h>

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ex == NULL)
		return -1;
	int ok = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : -1;
}

static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fchmod(fileno(f), mode);
	int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		     : PEM_write_X509(f, cert);
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

int init_make_cert(const char *cert_path, const char *key_path, const char *hostname)
{
	int ret = -1;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	if (key == NULL || cert == NULL)
		goto out;
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), (long)time(NULL));
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 86400);
	X509_set_pubkey(cert, key);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)hostname, -1,
				   -1, 0);
	X509_set_issuer_name(cert, name);
	char san[300];
	snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1", hostname);
	if (add_ext(cert, NID_subject_alt_name, san) < 0 ||
	    add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") < 0)
		goto out;
	if (X509_sign(cert, key, EVP_sha256()) == 0)
		goto out;
	if (write_pem(key_path, 0600, key, NULL) < 0 || write_pem(cert_path, 0644, NULL, cert) < 0)
		goto out;
	ret = 0;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return ret;
}
