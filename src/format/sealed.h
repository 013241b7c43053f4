/* sealed.h - the framing of an object in an encrypted store (docs/FORMAT.md,
 * "Encrypted stores"): a plain 48-byte header, then the object's bytes in
 * chunks of 64 KiB, each sealed with AES-256-GCM (OpenSSL EVP).
 *
 *   header  "rvenc\0" major minor | key id (8) | salt (32)
 *   chunk i AES-256-GCM(subkey, nonce = BE64(i) || BE32(last), aad = header || name)
 *           ciphertext (65536 bytes, the last one 0..65536) || tag (16)
 *
 * subkey = HKDF-SHA256(data key, salt, "revenant 1.0 object"): every object
 * has a key of its own, so a chunk cannot move to another object; the index
 * and the last-chunk flag in the nonce catch reordering and truncation; the
 * object's key name in the AAD catches an object copied to another name.
 * Sizes follow from sizes alone (rv_seal_size, rv_seal_plain_size), so a
 * listing gives the plaintext size and a plaintext range maps to a chunk
 * range without reading anything.
 *
 * This file holds the pure codec; store/crypt.c streams it over a store. */
#ifndef RV_FORMAT_SEALED_H
#define RV_FORMAT_SEALED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define RV_SEAL_MAJOR	  1
#define RV_SEAL_MINOR	  0
#define RV_SEAL_HDR	  48
#define RV_SEAL_CHUNK	  65536u
#define RV_SEAL_TAG	  16u
#define RV_SEAL_KEY	  32
#define RV_SEAL_KEYID	  8
#define RV_SEAL_KEYID_HEX 17 /* 16 hex + NUL */
#define RV_SEAL_SALT	  32
/* A sealed chunk on the wire: plaintext + tag. */
#define RV_SEAL_FRAME (RV_SEAL_CHUNK + RV_SEAL_TAG)

/* One data key and its id (the first 8 bytes of HMAC-SHA256(key,
 * "revenant key id"): names the key in headers and messages without
 * revealing it). */
struct rv_seal_key {
	unsigned char id[RV_SEAL_KEYID];
	unsigned char key[RV_SEAL_KEY];
};

/* The keys a process holds; keys[current] writes, all of them read. */
struct rv_seal_keyring {
	struct rv_seal_key *keys;
	size_t n;
	size_t current;
};

void rv_seal_key_init(struct rv_seal_key *k, const unsigned char raw[RV_SEAL_KEY]);
void rv_seal_keyid_hex(char out[RV_SEAL_KEYID_HEX], const unsigned char id[RV_SEAL_KEYID]);
/* The key with this id, or NULL. */
const struct rv_seal_key *rv_seal_keyring_find(const struct rv_seal_keyring *kr,
					       const unsigned char id[RV_SEAL_KEYID]);
/* "1a2b…, 3c4d…" (the ids, for messages), into a caller buffer. */
void rv_seal_keyring_ids(const struct rv_seal_keyring *kr, char *out, size_t n);
/* Wipes and frees the keys. */
void rv_seal_keyring_release(struct rv_seal_keyring *kr);

/* Chunks of a `plain`-byte object (at least 1: an empty object has one
 * empty last chunk). */
uint64_t rv_seal_chunks(uint64_t plain);
/* Sealed size of a `plain`-byte object. */
uint64_t rv_seal_size(uint64_t plain);
/* Plaintext size of a `sealed`-byte object: true when some plaintext has
 * exactly that sealed size; false for a size no object has (a cut object),
 * with *plain set to the bytes of its whole chunks. */
bool rv_seal_plain_size(uint64_t sealed, uint64_t *plain);

/* One object being sealed or opened. */
struct rv_seal {
	void *ctx; /* EVP_CIPHER_CTX */
	unsigned char hdr[RV_SEAL_HDR];
	unsigned char *aad; /* header || name */
	size_t aad_len;
	const char *name; /* borrowed, for messages */
	unsigned char id[RV_SEAL_KEYID];
};

/* Start sealing object `name` under `k`: a fresh random salt; the header
 * to write first is in s->hdr. */
int rv_seal_begin(struct rv_seal *s, const struct rv_seal_key *k, const char *name) RV_WARN_UNUSED;
/* Seal chunk `index` (`n` <= RV_SEAL_CHUNK bytes; only the last may be
 * shorter) into `out` (n + RV_SEAL_TAG bytes; `out` may be `in`: sealed
 * in place). */
int rv_seal_chunk(struct rv_seal *s, uint64_t index, const void *in, size_t n, bool last,
		  unsigned char *out) RV_WARN_UNUSED;

/* The key id a header names.  RV_ECORRUPT (message naming `name`) when
 * it is not a sealed object's header, RV_ENOTSUP for another major. */
int rv_seal_header_id(const unsigned char hdr[RV_SEAL_HDR], const char *name,
		      unsigned char id[RV_SEAL_KEYID]) RV_WARN_UNUSED;
/* Start opening object `name` from its header: RV_EAUTH when its key is
 * not in `kr` (the message says which key id is needed). */
int rv_unseal_begin(struct rv_seal *s, const struct rv_seal_keyring *kr, const char *name,
		    const unsigned char hdr[RV_SEAL_HDR]) RV_WARN_UNUSED;
/* Open chunk `index` (`n` bytes with its tag) into `out` (n - RV_SEAL_TAG
 * bytes).  RV_ECORRUPT when it does not authenticate: damaged, cut,
 * reordered, from another object or another name. */
int rv_unseal_chunk(struct rv_seal *s, uint64_t index, const unsigned char *in, size_t n, bool last,
		    unsigned char *out) RV_WARN_UNUSED;
void rv_seal_release(struct rv_seal *s);

/* A whole object in memory, both ways (small objects, the marker's
 * wrapped keys, tests, the fuzzer).  `out`'s cap bounds the plaintext;
 * rv_unseal_buf adds nothing to it unless the whole object opens. */
int rv_seal_buf(const struct rv_seal_key *k, const char *name, const void *in, size_t n,
		struct rv_buf *out) RV_WARN_UNUSED;
/* The same straight into `out`, which holds rv_seal_size(n) bytes. */
int rv_seal_mem(const struct rv_seal_key *k, const char *name, const void *in, size_t n,
		unsigned char *out) RV_WARN_UNUSED;
int rv_unseal_buf(const struct rv_seal_keyring *kr, const char *name, const void *in, size_t n,
		  struct rv_buf *out) RV_WARN_UNUSED;

/* The name a blob is stored under in an encrypted store: HMAC-SHA256 of
 * its SHA-256 with the store's name key (format/layout.h builds the key). */
void rv_seal_blob_name(unsigned char out[32], const unsigned char name_key[RV_SEAL_KEY],
		       const unsigned char sha[32]);

#endif
