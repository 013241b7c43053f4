/* sealed.c - the encrypted object framing (see sealed.h, docs/FORMAT.md). */
#include "format/sealed.h"
#include "core/mem.h"
#include "core/util.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const unsigned char magic[6] = {'r', 'v', 'e', 'n', 'c', 0};
static const char kdf_info[] = "revenant 1.0 object";
static const char id_label[] = "revenant key id";

void rv_seal_key_init(struct rv_seal_key *k, const unsigned char raw[RV_SEAL_KEY])
{
	unsigned char mac[32];
	unsigned int len = sizeof(mac);

	memcpy(k->key, raw, RV_SEAL_KEY);
	if (!HMAC(EVP_sha256(), raw, RV_SEAL_KEY, (const unsigned char *)id_label,
		  sizeof(id_label) - 1, mac, &len))
		abort(); /* HMAC-SHA256 cannot fail short of a broken OpenSSL */
	memcpy(k->id, mac, RV_SEAL_KEYID);
}

void rv_seal_keyid_hex(char out[RV_SEAL_KEYID_HEX], const unsigned char id[RV_SEAL_KEYID])
{
	rv_hex(out, id, RV_SEAL_KEYID);
}

const struct rv_seal_key *rv_seal_keyring_find(const struct rv_seal_keyring *kr,
					       const unsigned char id[RV_SEAL_KEYID])
{
	for (size_t i = 0; kr && i < kr->n; i++)
		if (!memcmp(kr->keys[i].id, id, RV_SEAL_KEYID))
			return &kr->keys[i];
	return NULL;
}

void rv_seal_keyring_ids(const struct rv_seal_keyring *kr, char *out, size_t n)
{
	size_t used = 0;

	if (!n)
		return;
	out[0] = '\0';
	for (size_t i = 0; kr && i < kr->n && used + RV_SEAL_KEYID_HEX + 2 < n; i++) {
		char hex[RV_SEAL_KEYID_HEX];

		rv_seal_keyid_hex(hex, kr->keys[i].id);
		used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", hex);
	}
}

void rv_seal_keyring_release(struct rv_seal_keyring *kr)
{
	if (!kr)
		return;
	if (kr->keys)
		OPENSSL_cleanse(kr->keys, kr->n * sizeof(*kr->keys));
	free(kr->keys);
	memset(kr, 0, sizeof(*kr));
}

uint64_t rv_seal_chunks(uint64_t plain)
{
	return plain ? (plain - 1) / RV_SEAL_CHUNK + 1 : 1;
}

uint64_t rv_seal_size(uint64_t plain)
{
	return RV_SEAL_HDR + plain + rv_seal_chunks(plain) * RV_SEAL_TAG;
}

bool rv_seal_plain_size(uint64_t sealed, uint64_t *plain)
{
	uint64_t body, n, last;

	*plain = 0;
	if (sealed < RV_SEAL_HDR + RV_SEAL_TAG)
		return false;
	body = sealed - RV_SEAL_HDR;
	n = (body + RV_SEAL_FRAME - 1) / RV_SEAL_FRAME;
	last = body - (n - 1) * RV_SEAL_FRAME;
	if (last < RV_SEAL_TAG || (n > 1 && last == RV_SEAL_TAG)) {
		*plain = (n - 1) * RV_SEAL_CHUNK;
		return false;
	}
	*plain = body - n * RV_SEAL_TAG;
	return true;
}

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* The algorithms, fetched once: OpenSSL 3 looks an algorithm up (locks,
 * property matching) at every EVP_aes_256_gcm() init and every
 * EVP_KDF_fetch, which costs more than sealing a small object. */
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *alg_gcm;
static EVP_KDF *alg_hkdf;

static void algs_fetch(void)
{
	alg_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	alg_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

static const EVP_CIPHER *gcm(void)
{
	pthread_once(&algs_once, algs_fetch);
	return alg_gcm;
}

/* subkey = HKDF-SHA256(key, salt, info) */
static int derive(unsigned char out[RV_SEAL_KEY], const unsigned char key[RV_SEAL_KEY],
		  const unsigned char salt[RV_SEAL_SALT])
{
	EVP_KDF_CTX *kctx;
	OSSL_PARAM params[5], *p = params;
	int ok;

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, RV_SEAL_KEY);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, RV_SEAL_SALT);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)kdf_info,
						 sizeof(kdf_info) - 1);
	*p = OSSL_PARAM_construct_end();
	pthread_once(&algs_once, algs_fetch);
	kctx = alg_hkdf ? EVP_KDF_CTX_new(alg_hkdf) : NULL;
	ok = kctx && EVP_KDF_derive(kctx, out, RV_SEAL_KEY, params) > 0;
	EVP_KDF_CTX_free(kctx);
	return ok ? 0 : rv_error(RV_EFAIL, "HKDF-SHA256 failed in OpenSSL");
}

/* The cipher context keyed with the object's subkey, and the AAD. */
static int start(struct rv_seal *s, const unsigned char key[RV_SEAL_KEY], const char *name,
		 bool enc)
{
	unsigned char sub[RV_SEAL_KEY];
	size_t nl = strlen(name);
	EVP_CIPHER_CTX *ctx;
	int rc;

	s->name = name;
	if ((rc = derive(sub, key, s->hdr + 16)))
		return rc;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || !gcm() ||
	    !(enc ? EVP_EncryptInit_ex(ctx, gcm(), NULL, sub, NULL)
		  : EVP_DecryptInit_ex(ctx, gcm(), NULL, sub, NULL))) {
		OPENSSL_cleanse(sub, sizeof(sub));
		EVP_CIPHER_CTX_free(ctx);
		return rv_error(RV_EFAIL, "AES-256-GCM is not available in OpenSSL");
	}
	OPENSSL_cleanse(sub, sizeof(sub));
	s->ctx = ctx;
	s->aad_len = RV_SEAL_HDR + nl;
	s->aad = rv_malloc(s->aad_len);
	memcpy(s->aad, s->hdr, RV_SEAL_HDR);
	memcpy(s->aad + RV_SEAL_HDR, name, nl);
	return 0;
}

static void nonce_of(unsigned char nonce[12], uint64_t index, bool last)
{
	put_be64(nonce, index);
	nonce[8] = nonce[9] = nonce[10] = 0;
	nonce[11] = last ? 1 : 0;
}

int rv_seal_begin(struct rv_seal *s, const struct rv_seal_key *k, const char *name)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->hdr, magic, sizeof(magic));
	s->hdr[6] = RV_SEAL_MAJOR;
	s->hdr[7] = RV_SEAL_MINOR;
	memcpy(s->hdr + 8, k->id, RV_SEAL_KEYID);
	memcpy(s->id, k->id, RV_SEAL_KEYID);
	if (RAND_bytes(s->hdr + 16, RV_SEAL_SALT) != 1)
		return rv_error(RV_EFAIL, "no random bytes from OpenSSL for '%s'", name);
	return start(s, k->key, name, true);
}

int rv_seal_chunk(struct rv_seal *s, uint64_t index, const void *in, size_t n, bool last,
		  unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = s->ctx;
	unsigned char nonce[12];
	int l1 = 0, l2 = 0, al = 0;

	nonce_of(nonce, index, last);
	if (n > RV_SEAL_CHUNK || !EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) ||
	    !EVP_EncryptUpdate(ctx, NULL, &al, s->aad, (int)s->aad_len) ||
	    (n && !EVP_EncryptUpdate(ctx, out, &l1, in, (int)n)) ||
	    !EVP_EncryptFinal_ex(ctx, out + l1, &l2) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, RV_SEAL_TAG, out + n))
		return rv_error(RV_EFAIL, "encrypting '%s' failed in OpenSSL", s->name);
	return 0;
}

int rv_seal_header_id(const unsigned char hdr[RV_SEAL_HDR], const char *name,
		      unsigned char id[RV_SEAL_KEYID])
{
	if (memcmp(hdr, magic, sizeof(magic)))
		return rv_error(
		    RV_ECORRUPT,
		    "object '%s' is not an encrypted revenant object (no 'rvenc' header) "
		    "— it was written without encryption or damaged",
		    name);
	if (hdr[6] != RV_SEAL_MAJOR)
		return rv_error(RV_ENOTSUP,
				"object '%s' is in encrypted format %u.%u; this revenant reads "
				"format %d.x — use a newer revenant",
				name, hdr[6], hdr[7], RV_SEAL_MAJOR);
	memcpy(id, hdr + 8, RV_SEAL_KEYID);
	return 0;
}

int rv_unseal_begin(struct rv_seal *s, const struct rv_seal_keyring *kr, const char *name,
		    const unsigned char hdr[RV_SEAL_HDR])
{
	const struct rv_seal_key *k;
	unsigned char id[RV_SEAL_KEYID];
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = rv_seal_header_id(hdr, name, id)))
		return rc;
	k = rv_seal_keyring_find(kr, id);
	if (!k) {
		char want[RV_SEAL_KEYID_HEX], have[256];

		rv_seal_keyid_hex(want, id);
		rv_seal_keyring_ids(kr, have, sizeof(have));
		return rv_error(RV_EAUTH,
				"object '%s' is encrypted with key %s, which is not in "
				"store.encryption (keys here: %s) — add the key file with id %s "
				"to store.encryption.old_key_files",
				name, want, *have ? have : "none", want);
	}
	memcpy(s->hdr, hdr, RV_SEAL_HDR);
	memcpy(s->id, id, RV_SEAL_KEYID);
	return start(s, k->key, name, false);
}

int rv_unseal_chunk(struct rv_seal *s, uint64_t index, const unsigned char *in, size_t n, bool last,
		    unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = s->ctx;
	unsigned char nonce[12], tag[RV_SEAL_TAG];
	size_t pn;
	int l1 = 0, l2 = 0, al = 0;

	if (n < RV_SEAL_TAG || n > RV_SEAL_FRAME)
		return rv_error(RV_ECORRUPT,
				"object '%s' is damaged: chunk %llu is %zu bytes — cut short or "
				"padded",
				s->name, (unsigned long long)index, n);
	pn = n - RV_SEAL_TAG;
	memcpy(tag, in + pn, RV_SEAL_TAG);
	nonce_of(nonce, index, last);
	if (!EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) ||
	    !EVP_DecryptUpdate(ctx, NULL, &al, s->aad, (int)s->aad_len) ||
	    (pn && !EVP_DecryptUpdate(ctx, out, &l1, in, (int)pn)) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, RV_SEAL_TAG, tag) ||
	    EVP_DecryptFinal_ex(ctx, out + l1, &l2) <= 0) {
		if (pn)
			OPENSSL_cleanse(out, pn);
		return rv_error(RV_ECORRUPT,
				"object '%s' is damaged: chunk %llu%s does not authenticate — "
				"changed, cut short, reordered, or copied from another name; "
				"restore an earlier point",
				s->name, (unsigned long long)index, last ? " (the last)" : "");
	}
	return 0;
}

void rv_seal_release(struct rv_seal *s)
{
	if (!s)
		return;
	EVP_CIPHER_CTX_free(s->ctx);
	free(s->aad);
	memset(s, 0, sizeof(*s));
}

int rv_seal_mem(const struct rv_seal_key *k, const char *name, const void *in, size_t n,
		unsigned char *out)
{
	const unsigned char *p = in;
	uint64_t chunks = rv_seal_chunks(n);
	struct rv_seal s;
	int rc;

	if ((rc = rv_seal_begin(&s, k, name)))
		goto out;
	memcpy(out, s.hdr, RV_SEAL_HDR);
	out += RV_SEAL_HDR;
	for (uint64_t i = 0; !rc && i < chunks; i++) {
		size_t len = i + 1 < chunks ? RV_SEAL_CHUNK : n - (size_t)i * RV_SEAL_CHUNK;

		rc = rv_seal_chunk(&s, i, p + i * RV_SEAL_CHUNK, len, i + 1 == chunks,
				   out + i * RV_SEAL_FRAME);
	}
out:
	rv_seal_release(&s);
	return rc;
}

int rv_seal_buf(const struct rv_seal_key *k, const char *name, const void *in, size_t n,
		struct rv_buf *out)
{
	size_t size = (size_t)rv_seal_size(n);
	unsigned char *sealed = rv_malloc(size);
	int rc = rv_seal_mem(k, name, in, n, sealed);

	if (!rc)
		rc = rv_buf_add(out, sealed, size);
	free(sealed);
	return rc;
}

int rv_unseal_buf(const struct rv_seal_keyring *kr, const char *name, const void *in, size_t n,
		  struct rv_buf *out)
{
	const unsigned char *p = in;
	unsigned char *plain = NULL;
	size_t start = out->len;
	uint64_t size, chunks;
	struct rv_seal s;
	int rc;

	memset(&s, 0, sizeof(s));
	if (n < RV_SEAL_HDR)
		return rv_error(RV_ECORRUPT,
				"object '%s' is damaged: %zu bytes, shorter than its "
				"header",
				name, n);
	if ((rc = rv_unseal_begin(&s, kr, name, p)))
		return rc;
	if (!rv_seal_plain_size(n, &size)) {
		rc = rv_error(RV_ECORRUPT,
			      "object '%s' is damaged: %zu bytes is no whole number of chunks — "
			      "cut short",
			      name, n);
		goto out;
	}
	chunks = rv_seal_chunks(size);
	plain = rv_malloc(RV_SEAL_CHUNK);
	for (uint64_t i = 0; !rc && i < chunks; i++) {
		size_t off = RV_SEAL_HDR + (size_t)i * RV_SEAL_FRAME;
		size_t len = i + 1 < chunks ? RV_SEAL_FRAME : n - off;

		rc = rv_unseal_chunk(&s, i, p + off, len, i + 1 == chunks, plain);
		if (!rc)
			rc = rv_buf_add(out, plain, len - RV_SEAL_TAG);
	}
out:
	/* all or nothing: no plaintext of an object that did not open whole */
	if (rc && out->len > start) {
		OPENSSL_cleanse(out->data + start, out->len - start);
		out->len = start;
		out->data[start] = '\0';
	}
	if (plain)
		OPENSSL_cleanse(plain, RV_SEAL_CHUNK);
	free(plain);
	rv_seal_release(&s);
	return rc;
}

void rv_seal_blob_name(unsigned char out[32], const unsigned char name_key[RV_SEAL_KEY],
		       const unsigned char sha[32])
{
	unsigned int len = 32;

	if (!HMAC(EVP_sha256(), name_key, RV_SEAL_KEY, sha, 32, out, &len))
		abort();
}
