#include "ghost/jwt.h"

#include <ctype.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/util.h"

#define KEY_SECRET_HEX (2 * RV_GHOST_SECRET_LEN)

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

int rv_ghost_key_parse(struct rv_ghost_key *out, const char *text, const char *source)
{
	const char *p = text, *end;

	memset(out, 0, sizeof(*out));
	while (*p && isspace((unsigned char)*p))
		p++;
	end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	/* The content key of the same integration is a bare 26-char string and
	 * is the likeliest mix-up, so say what shape is expected. */
	if ((size_t)(end - p) != RV_GHOST_KEY_ID_LEN + 1 + KEY_SECRET_HEX ||
	    p[RV_GHOST_KEY_ID_LEN] != ':' || !all_hex(p, RV_GHOST_KEY_ID_LEN) ||
	    !all_hex(p + RV_GHOST_KEY_ID_LEN + 1, KEY_SECRET_HEX))
		return rv_error(
		    RV_EUSAGE,
		    "malformed Admin API key in %s: expected 24 hex digits, ':', 64 hex "
		    "digits (copy the Admin API key of a custom integration, not the "
		    "Content API key)",
		    source);
	memcpy(out->id, p, RV_GHOST_KEY_ID_LEN);
	out->id[RV_GHOST_KEY_ID_LEN] = '\0';
	{
		char hex[KEY_SECRET_HEX + 1];
		int rc;

		memcpy(hex, p + RV_GHOST_KEY_ID_LEN + 1, KEY_SECRET_HEX);
		hex[KEY_SECRET_HEX] = '\0';
		rc = rv_unhex(out->secret, RV_GHOST_SECRET_LEN, hex);
		OPENSSL_cleanse(hex, sizeof(hex));
		if (rc)
			return rv_error(RV_EUSAGE, "malformed Admin API key in %s", source);
	}
	return 0;
}

void rv_ghost_key_clear(struct rv_ghost_key *key)
{
	if (key)
		OPENSSL_cleanse(key, sizeof(*key));
}

size_t rv_ghost_b64url(char *out, const void *in, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *s = in;
	size_t o = 0, i = 0;

	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

int rv_ghost_jwt(char out[RV_GHOST_JWT_MAX], const struct rv_ghost_key *key, int64_t iat)
{
	char header[128], payload[128];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t o;
	int hn, pn;

	/* Fixed member order, so a token is reproducible for a given time. */
	hn = snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
		      key->id);
	pn = snprintf(payload, sizeof(payload),
		      "{\"iat\":%" PRId64 ",\"exp\":%" PRId64 ",\"aud\":\"/admin/\"}", iat,
		      iat + RV_GHOST_JWT_TTL_S);
	if (hn < 0 || (size_t)hn >= sizeof(header) || pn < 0 || (size_t)pn >= sizeof(payload))
		return rv_error(RV_EFAIL, "cannot build the Ghost API token");
	o = rv_ghost_b64url(out, header, (size_t)hn);
	out[o++] = '.';
	o += rv_ghost_b64url(out + o, payload, (size_t)pn);
	if (!HMAC(EVP_sha256(), key->secret, RV_GHOST_SECRET_LEN, (const unsigned char *)out, o,
		  mac, &maclen))
		return rv_error(RV_EFAIL, "cannot sign the Ghost API token (OpenSSL HMAC failed)");
	out[o++] = '.';
	rv_ghost_b64url(out + o, mac, maclen);
	return 0;
}
