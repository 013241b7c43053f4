/* kms.h - the two AWS KMS calls envelope encryption needs (store/crypt.c):
 * GenerateDataKey (a fresh 32-byte data key, in plaintext and wrapped by a
 * KMS key) and Decrypt (a wrapped key back), over the JSON protocol,
 * signed with SigV4 (service "kms") with the same credentials chain as the
 * store.  The endpoint is https://kms.<region>.amazonaws.com, or
 * AWS_ENDPOINT_URL_KMS (the SDKs' variable; the tests' fake KMS).
 *
 * Errors: RV_EAUTH (AccessDenied, a disabled key, a blob this key or
 * context does not open: InvalidCiphertext), RV_ENOTFOUND (no such key),
 * RV_ENET (unreachable after retries), RV_EFAIL otherwise; messages name
 * the KMS key id, never key material. */
#ifndef RV_AWS_KMS_H
#define RV_AWS_KMS_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

struct rv_kms;
struct rv_creds_config;

/* `region`: NULL for AWS_REGION / AWS_DEFAULT_REGION (required one way or
 * the other). */
int rv_kms_new(struct rv_kms **out, const struct rv_creds_config *cc,
	       const char *region) RV_WARN_UNUSED;
void rv_kms_free(struct rv_kms *k);

/* A new data key under `key_id`: its 32 bytes in `plain`, the wrapped form
 * (raw bytes of the CiphertextBlob) appended to `blob`. */
int rv_kms_generate(struct rv_kms *k, const char *key_id, unsigned char plain[32],
		    struct rv_buf *blob) RV_WARN_UNUSED;
/* The 32 bytes a wrapped key holds. */
int rv_kms_decrypt(struct rv_kms *k, const char *key_id, const void *blob, size_t n,
		   unsigned char plain[32]) RV_WARN_UNUSED;

#endif
