/* jwt.h - Ghost Admin API keys and the short-lived JWTs made from them.
 *
 * An Admin API key is "id:secret": 24 hex digits naming the key (the JWT's
 * `kid`) and 64 hex digits of secret, hex-decoded into the 32-byte HMAC key.
 * Ghost accepts a token for at most 5 minutes after its `iat`. */
#ifndef RV_GHOST_JWT_H
#define RV_GHOST_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define RV_GHOST_KEY_ID_LEN 24
#define RV_GHOST_SECRET_LEN 32
#define RV_GHOST_JWT_TTL_S  300
/* header.payload.signature of our fixed-shape token fits easily. */
#define RV_GHOST_JWT_MAX 512

struct rv_ghost_key {
	char id[RV_GHOST_KEY_ID_LEN + 1];
	unsigned char secret[RV_GHOST_SECRET_LEN];
};

/* Parse a key as read from a file or variable (surrounding white space is
 * ignored).  RV_EUSAGE with a message naming `source` (never the key) when it
 * is not 24 hex, ':', 64 hex. */
int rv_ghost_key_parse(struct rv_ghost_key *out, const char *text,
		       const char *source) RV_WARN_UNUSED;
/* Wipe the secret. */
void rv_ghost_key_clear(struct rv_ghost_key *key);

/* The token for `iat` (Unix seconds), expiring RV_GHOST_JWT_TTL_S later. */
int rv_ghost_jwt(char out[RV_GHOST_JWT_MAX], const struct rv_ghost_key *key,
		 int64_t iat) RV_WARN_UNUSED;

/* base64url without padding of `n` bytes into `out` (room for 4*ceil(n/3)+1). */
size_t rv_ghost_b64url(char *out, const void *in, size_t n);

#endif
