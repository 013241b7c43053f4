/* crypt.c - the encrypting store layer (see crypt.h, format/sealed.h). */
#include "store/crypt.h"
#include "core/log.h"
#include "core/mem.h"
#include "aws/kms.h"
#include "core/util.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MARKER_FORMAT  "revenant-encryption"
#define MARKER_VERSION "1.0"
#define MARKER_MAX     (64u << 10)
#define NAME_KEY_LABEL "encryption.json#blob-names"
#define KEY_FILE_MAX   4096
#define REGISTER_TRIES 5
#define HDR_CACHE      16

struct crypt {
	struct rv_store *inner;
	/* Every key that opens objects.  Grows only under mu and kr_lock
	 * (written): a key made elsewhere after this process opened the store
	 * (a passphrase's or KMS's, registered by another site's first write)
	 * is added by refresh_keys; lookups hold kr_lock (read). */
	struct rv_seal_keyring kr;
	pthread_rwlock_t kr_lock;
	struct rv_seal_key cur; /* the key objects are sealed under (a copy) */
	/* What can make more keys later: the passphrases (kept, wiped at
	 * free) and the KMS client. */
	char **pass;
	size_t npass;
	struct rv_kms *kms;
	char *kms_key_id;
	int64_t refreshed_ms;
	/* How the current key is made, for its marker entry: "kdf" (scrypt
	 * parameters) or "kms" (the wrapped key); NULL for a key file. */
	const char *cur_how_name;
	json_t *cur_how;
	pthread_mutex_t mu;
	/* Under mu. */
	bool have_name_key; /* known (from the marker, or made for a new store) */
	bool registered;    /* the marker names the current key */
	unsigned char name_key[RV_SEAL_KEY];
	/* The headers of the objects read last, under hc_mu: a parallel read
	 * (pfetch's 8 MiB parts) then costs one request per part, not two. */
	pthread_mutex_t hc_mu;
	struct hdr_ent {
		char *key;
		unsigned char hdr[RV_SEAL_HDR];
		uint64_t size; /* sealed */
		uint64_t used;
	} hc[HDR_CACHE];
	uint64_t hc_tick;
};

static const struct rv_store_ops crypt_ops;

static struct crypt *cr_of(const struct rv_store *s)
{
	return s->impl;
}

static bool is_marker(const char *key)
{
	return !strcmp(key, RV_CRYPT_MARKER_KEY);
}

/* ---- keys ---------------------------------------------------------------- */

static int load_key(const char *path, struct rv_seal_key *out)
{
	unsigned char raw[RV_SEAL_KEY];
	size_t len;
	char *text;
	int rc = rv_read_file(path, KEY_FILE_MAX, &text, &len);

	if (rc == RV_ENOTFOUND)
		return rv_error(RV_EUSAGE, "key file '%s' does not exist", path);
	if (rc)
		return rc;
	if (len == RV_SEAL_KEY) {
		memcpy(raw, text, RV_SEAL_KEY);
	} else {
		while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			text[--len] = '\0';
		if (len != 2 * RV_SEAL_KEY || rv_unhex(raw, RV_SEAL_KEY, text))
			rc = rv_error(RV_EUSAGE,
				      "key file '%s' must hold 32 random bytes or 64 hex digits "
				      "(make one with: openssl rand 32 > FILE)",
				      path);
	}
	if (!rc)
		rv_seal_key_init(out, raw);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

/* Add `k` unless a key with its id is there; its index either way. */
static size_t keyring_add(struct rv_seal_keyring *kr, const struct rv_seal_key *k)
{
	const struct rv_seal_key *have = rv_seal_keyring_find(kr, k->id);

	if (have)
		return (size_t)(have - kr->keys);
	kr->keys = rv_realloc(kr->keys, (kr->n + 1) * sizeof(*kr->keys));
	kr->keys[kr->n] = *k;
	return kr->n++;
}

int rv_crypt_keyring_load(struct rv_seal_keyring *out, const struct rv_crypt_conf *conf)
{
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->current = SIZE_MAX;
	for (size_t i = 0; !rc && (i == 0 || (conf->old_key_files && conf->old_key_files[i - 1]));
	     i++) {
		const char *path = i ? conf->old_key_files[i - 1] : conf->key_file;
		struct rv_seal_key k;
		size_t at;

		if (!path)
			continue;
		rc = load_key(path, &k);
		/* the same key twice (a key file listed again) counts once */
		if (!rc) {
			at = keyring_add(out, &k);
			if (!i)
				out->current = at;
		}
		OPENSSL_cleanse(&k, sizeof(k));
	}
	if (rc)
		rv_seal_keyring_release(out);
	return rc;
}

/* Entry i's key id, or false when it is malformed. */
static bool entry_id(json_t *e, unsigned char id[RV_SEAL_KEYID])
{
	const char *s = json_string_value(json_object_get(e, "id"));

	return s && strlen(s) == 2 * RV_SEAL_KEYID && !rv_unhex(id, RV_SEAL_KEYID, s);
}

/* ---- passphrases: scrypt, the salt and cost in the marker ------------------ */

#define SCRYPT_N_DEFAULT (1u << 16)
#define SCRYPT_N_MIN	 (1u << 15)
#define SCRYPT_N_MAX	 (1u << 18)
#define SCRYPT_R	 8u
#define SCRYPT_P	 1u
#define SCRYPT_SALT	 16
#define PASS_MIN	 12

static int load_pass(const char *path, char **out)
{
	size_t len;
	int rc = rv_read_file(path, KEY_FILE_MAX, out, &len);

	if (rc == RV_ENOTFOUND)
		return rv_error(RV_EUSAGE, "passphrase file '%s' does not exist", path);
	if (rc)
		return rc;
	while (len && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r'))
		(*out)[--len] = '\0';
	if (len < PASS_MIN || strlen(*out) != len) {
		OPENSSL_cleanse(*out, len);
		free(*out);
		*out = NULL;
		return rv_error(RV_EUSAGE,
				"passphrase file '%s' must hold at least %d characters on one "
				"line (or use key_file with 32 random bytes)",
				path, PASS_MIN);
	}
	return 0;
}

/* scrypt(pass, salt, N, r, p) -> a data key. */
static int scrypt_key(const char *pass, const unsigned char *salt, size_t salt_len, uint64_t n,
		      uint64_t r, uint64_t p, struct rv_seal_key *out)
{
	unsigned char raw[RV_SEAL_KEY];

	if (!EVP_PBE_scrypt(pass, strlen(pass), salt, salt_len, n, r, p, 1100ull << 20, raw,
			    sizeof(raw)))
		return rv_error(RV_EFAIL, "scrypt failed in OpenSSL (N=%llu r=%llu p=%llu)",
				(unsigned long long)n, (unsigned long long)r,
				(unsigned long long)p);
	rv_seal_key_init(out, raw);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

/* An entry's scrypt parameters; false (nothing derived) for an entry
 * without them, RV_ECORRUPT-worthy ones refused by the caller. */
static int kdf_params(json_t *kdf, unsigned char *salt, size_t *salt_len, uint64_t *n, uint64_t *r,
		      uint64_t *p)
{
	const char *name = json_string_value(json_object_get(kdf, "name"));
	const char *hex = json_string_value(json_object_get(kdf, "salt"));
	json_t *jn = json_object_get(kdf, "N"), *jr = json_object_get(kdf, "r");
	json_t *jp = json_object_get(kdf, "p");

	if (!name || strcmp(name, "scrypt") || !hex || strlen(hex) != 2 * SCRYPT_SALT ||
	    rv_unhex(salt, SCRYPT_SALT, hex) || !json_is_integer(jn) || !json_is_integer(jr) ||
	    !json_is_integer(jp))
		return rv_error(RV_ECORRUPT,
				"'" RV_CRYPT_MARKER_KEY "': a key entry's kdf is not scrypt with a "
				"16-byte salt, N, r and p");
	*salt_len = SCRYPT_SALT;
	*n = (uint64_t)json_integer_value(jn);
	*r = (uint64_t)json_integer_value(jr);
	*p = (uint64_t)json_integer_value(jp);
	/* A marker is not trusted to weaken the passphrase (a small N would
	 * make the next writer's key cheap to guess) nor to eat memory. */
	if (*n < SCRYPT_N_MIN || *n > SCRYPT_N_MAX || (*n & (*n - 1)) || *r != SCRYPT_R ||
	    *p != SCRYPT_P)
		return rv_error(RV_ECORRUPT,
				"'" RV_CRYPT_MARKER_KEY "': scrypt parameters N=%llu r=%llu p=%llu "
				"are outside what revenant accepts (N a power of two from 2^15 to "
				"2^18, r=8, p=1)",
				(unsigned long long)*n, (unsigned long long)*r,
				(unsigned long long)*p);
	return 0;
}

/* Add a key under kr_lock; its index. */
static size_t keyring_add_locked(struct crypt *c, const struct rv_seal_key *k)
{
	size_t at;

	pthread_rwlock_wrlock(&c->kr_lock);
	at = keyring_add(&c->kr, k);
	pthread_rwlock_unlock(&c->kr_lock);
	return at;
}

static int load_passphrases(struct crypt *c, const struct rv_crypt_conf *conf)
{
	int rc = 0;

	for (size_t j = 0; conf->old_passphrase_files && conf->old_passphrase_files[j]; j++)
		c->npass++;
	c->npass++;
	c->pass = rv_calloc(c->npass, sizeof(*c->pass));
	for (size_t j = 0; !rc && j < c->npass; j++) {
		const char *path = j ? conf->old_passphrase_files[j - 1] : conf->passphrase_file;

		if (path)
			rc = load_pass(path, &c->pass[j]);
	}
	return rc;
}

/* The keys the passphrases open: every marker entry with scrypt
 * parameters is tried with each passphrase (the id says which matched).
 * At open (`current`: the first passphrase is the current key) one that
 * matches none gets a fresh salt, and the entry its first write adds will
 * carry it; later (refresh_keys) only keys are added. */
static int derive_passphrases(struct crypt *c, json_t *m, bool current)
{
	json_t *keys = m ? json_object_get(m, "keys") : NULL, *e;
	size_t i;
	int rc = 0;

	json_array_foreach(keys, i, e)
	{
		json_t *kdf = json_object_get(e, "kdf");
		unsigned char id[RV_SEAL_KEYID], salt[SCRYPT_SALT];
		uint64_t n = 0, r = 0, p = 0;
		size_t sl = 0;

		if (rc || !kdf || !entry_id(e, id) || rv_seal_keyring_find(&c->kr, id))
			continue;
		if ((rc = kdf_params(kdf, salt, &sl, &n, &r, &p)))
			break;
		for (size_t j = 0; !rc && j < c->npass; j++) {
			struct rv_seal_key k;

			if (!c->pass[j] || (rc = scrypt_key(c->pass[j], salt, sl, n, r, p, &k)))
				continue;
			if (!memcmp(k.id, id, RV_SEAL_KEYID)) {
				size_t at = keyring_add_locked(c, &k);

				if (!j && current && c->kr.current == SIZE_MAX) {
					c->kr.current = at;
					c->cur_how_name = "kdf";
					c->cur_how = json_incref(kdf);
				}
			}
			OPENSSL_cleanse(&k, sizeof(k));
		}
	}
	if (!rc && current && c->kr.current == SIZE_MAX) {
		unsigned char salt[SCRYPT_SALT];
		char hex[2 * SCRYPT_SALT + 1];
		struct rv_seal_key k;

		if (RAND_bytes(salt, sizeof(salt)) != 1)
			rc = rv_error(RV_EFAIL, "no random bytes from OpenSSL");
		if (!rc && !(rc = scrypt_key(c->pass[0], salt, sizeof(salt), SCRYPT_N_DEFAULT,
					     SCRYPT_R, SCRYPT_P, &k))) {
			c->kr.current = keyring_add_locked(c, &k);
			rv_hex(hex, salt, sizeof(salt));
			c->cur_how_name = "kdf";
			c->cur_how = json_pack("{s:s, s:s, s:I, s:I, s:I}", "name", "scrypt",
					       "salt", hex, "N", (json_int_t)SCRYPT_N_DEFAULT, "r",
					       (json_int_t)SCRYPT_R, "p", (json_int_t)SCRYPT_P);
			OPENSSL_cleanse(&k, sizeof(k));
		}
	}
	return rc;
}

/* ---- AWS KMS: the data key wrapped by a KMS key, kept in the marker ------- */

/* Entry `e`'s data key, unwrapped by KMS and checked against its id. */
static int kms_unwrap(struct rv_kms *kms, json_t *e, const char *kid, const char *hex,
		      const unsigned char id[RV_SEAL_KEYID], struct rv_seal_key *out)
{
	unsigned char raw[RV_SEAL_KEY], *blob;
	size_t bl;
	int rc;

	if (!kid || !hex || !*hex || strlen(hex) % 2 || strlen(hex) > 2 * 6144)
		return rv_error(RV_ECORRUPT,
				"'" RV_CRYPT_MARKER_KEY "': a kms entry lacks key_id or blob");
	bl = strlen(hex) / 2;
	blob = rv_malloc(bl);
	rc = rv_unhex(blob, bl, hex)
		 ? rv_error(RV_ECORRUPT, "'" RV_CRYPT_MARKER_KEY "': a kms blob is not hex")
		 : rv_kms_decrypt(kms, kid, blob, bl, raw);
	free(blob);
	if (rc)
		return rc;
	rv_seal_key_init(out, raw);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (memcmp(out->id, id, RV_SEAL_KEYID))
		return rv_error(RV_ECORRUPT,
				"'" RV_CRYPT_MARKER_KEY
				"': the key KMS unwrapped for key id %s has "
				"another id — the entry was changed",
				json_string_value(json_object_get(e, "id")));
	return 0;
}

/* A new data key from KMS, current; its wrapped form for the marker. */
static int kms_new_key(struct crypt *c, struct rv_kms *kms, const char *key_id)
{
	struct rv_buf blob = RV_BUF_INIT(6144);
	unsigned char raw[RV_SEAL_KEY];
	struct rv_seal_key k;
	int rc = rv_kms_generate(kms, key_id, raw, &blob);

	if (!rc) {
		char *hex = rv_malloc(2 * blob.len + 1);

		rv_seal_key_init(&k, raw);
		c->kr.current = keyring_add_locked(c, &k);
		rv_hex(hex, blob.data, blob.len);
		c->cur_how_name = "kms";
		c->cur_how = json_pack("{s:s, s:s}", "key_id", key_id, "blob", hex);
		free(hex);
		OPENSSL_cleanse(&k, sizeof(k));
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	rv_buf_release(&blob);
	return rc;
}

/* Every marker entry wrapped by KMS is unwrapped (KMS says which key);
 * at open (`current`) the one under kms_key_id is current, and without one
 * a new data key is made, its wrapped form going into the entry its first
 * write adds; later (refresh_keys) only keys are added.  An old entry this
 * role may not unwrap is skipped: the object that needs it names its key
 * id when read. */
static int derive_kms(struct crypt *c, json_t *m, bool current)
{
	json_t *keys = m ? json_object_get(m, "keys") : NULL, *e;
	size_t i;
	int rc = 0;

	json_array_foreach(keys, i, e)
	{
		json_t *w = json_object_get(e, "kms");
		const char *kid = json_string_value(json_object_get(w, "key_id"));
		unsigned char id[RV_SEAL_KEYID];
		struct rv_seal_key k;
		bool cur;

		if (rc || !w || !entry_id(e, id) || rv_seal_keyring_find(&c->kr, id))
			continue;
		cur = current && kid && !strcmp(kid, c->kms_key_id);
		rc = kms_unwrap(c->kms, e, kid, json_string_value(json_object_get(w, "blob")), id,
				&k);
		if (rc && !cur && rc != RV_ECORRUPT) {
			rv_log(RV_LOG_WARN,
			       "encryption: an old KMS-wrapped key cannot be unwrapped",
			       "kms_key_id", kid, "error", rv_errmsg(), NULL);
			rv_error_clear();
			rc = 0;
		} else if (!rc) {
			size_t at = keyring_add_locked(c, &k);

			if (cur && c->kr.current == SIZE_MAX) {
				c->kr.current = at;
				c->cur_how_name = "kms";
				c->cur_how = json_incref(w);
			}
		}
		OPENSSL_cleanse(&k, sizeof(k));
	}
	if (!rc && current && c->kr.current == SIZE_MAX)
		rc = kms_new_key(c, c->kms, c->kms_key_id);
	return rc;
}

/* ---- the marker ------------------------------------------------------------ */

/* Read the marker raw; RV_ENOTFOUND when there is none.  `*etag` (80
 * bytes) is its etag when not NULL. */
static int marker_read(struct rv_store *inner, json_t **out, char *etag)
{
	struct rv_buf b = RV_BUF_INIT(MARKER_MAX);
	struct rv_obj_info info = {0};
	json_error_t err;
	const char *f, *v;
	json_t *o;
	int rc;

	*out = NULL;
	rc = rv_store_get_buf(inner, RV_CRYPT_MARKER_KEY, &b, &info);
	if (rc) {
		rv_buf_release(&b);
		return rc;
	}
	if (etag)
		memcpy(etag, info.etag, sizeof(info.etag));
	rv_obj_info_release(&info);
	o = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES, &err);
	rv_buf_release(&b);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return rv_error(RV_ECORRUPT,
				"'" RV_CRYPT_MARKER_KEY "' in the store is not a json object (%s) "
				"— it was damaged; restore it from a copy (docs/OPERATIONS.md)",
				err.text);
	}
	f = json_string_value(json_object_get(o, "format"));
	v = json_string_value(json_object_get(o, "version"));
	if (!f || strcmp(f, MARKER_FORMAT) || !v || !json_is_array(json_object_get(o, "keys"))) {
		json_decref(o);
		return rv_error(RV_ECORRUPT, "'" RV_CRYPT_MARKER_KEY "' is not revenant's "
					     "encryption marker (format, version or keys missing)");
	}
	if (v[0] != '1' || v[1] != '.') {
		json_decref(o);
		return rv_error(RV_ENOTSUP,
				"the store is encrypted in format %s; this revenant reads 1.x — "
				"use a newer revenant",
				v);
	}
	{
		json_t *c = json_object_get(o, "cipher"), *cs = json_object_get(o, "chunk_size");
		json_t *bn = json_object_get(o, "blob_names");

		if (!json_is_string(c) || strcmp(json_string_value(c), "AES-256-GCM") ||
		    !json_is_integer(cs) || json_integer_value(cs) != RV_SEAL_CHUNK ||
		    !json_is_string(bn) || strcmp(json_string_value(bn), "HMAC-SHA256")) {
			json_decref(o);
			return rv_error(RV_ENOTSUP,
					"the store's encryption marker names a cipher, chunk size "
					"or blob naming this revenant does not know — use a newer "
					"revenant");
		}
	}
	*out = o;
	return 0;
}

/* The marker's key ids, for messages. */
static void marker_ids(json_t *m, char *out, size_t n)
{
	json_t *keys = json_object_get(m, "keys"), *e;
	size_t i, used = 0;

	out[0] = '\0';
	json_array_foreach(keys, i, e)
	{
		const char *id = json_string_value(json_object_get(e, "id"));

		if (id && used + strlen(id) + 3 < n)
			used +=
			    (size_t)snprintf(out + used, n - used, "%s%s", used ? ", " : "", id);
	}
}

/* The blob-name key from the first entry whose key we hold; `*current`
 * says whether the current key has an entry.  RV_EAUTH when none. */
static int marker_unwrap(struct crypt *c, json_t *m, unsigned char name_key[RV_SEAL_KEY],
			 bool *current)
{
	json_t *keys = json_object_get(m, "keys"), *e;
	const struct rv_seal_key *cur = &c->cur;
	bool found = false;
	size_t i;
	int rc = 0;

	*current = false;
	json_array_foreach(keys, i, e)
	{
		unsigned char id[RV_SEAL_KEYID], wrapped[256];
		const char *hex = json_string_value(json_object_get(e, "name_key"));
		struct rv_buf plain = RV_BUF_INIT(RV_SEAL_KEY);
		size_t wl;

		if (!entry_id(e, id) || !hex)
			return rv_error(RV_ECORRUPT,
					"'" RV_CRYPT_MARKER_KEY
					"': key entry %zu has no valid id or "
					"name_key",
					i);
		if (!memcmp(id, cur->id, RV_SEAL_KEYID))
			*current = true;
		if (found || !rv_seal_keyring_find(&c->kr, id))
			continue;
		wl = strlen(hex) / 2;
		if (wl > sizeof(wrapped) || strlen(hex) % 2 || rv_unhex(wrapped, wl, hex))
			return rv_error(RV_ECORRUPT,
					"'" RV_CRYPT_MARKER_KEY "': key entry %zu has a malformed "
					"name_key",
					i);
		rc = rv_unseal_buf(&c->kr, NAME_KEY_LABEL, wrapped, wl, &plain);
		if (!rc && plain.len != RV_SEAL_KEY)
			rc = rv_error(RV_ECORRUPT, "'" RV_CRYPT_MARKER_KEY "': the blob-name key "
						   "has the wrong length");
		if (!rc)
			memcpy(name_key, plain.data, RV_SEAL_KEY);
		if (plain.data)
			OPENSSL_cleanse(plain.data, plain.len);
		rv_buf_release(&plain);
		if (rc)
			return rc;
		found = true;
	}
	if (!found) {
		char want[512], have[512];

		marker_ids(m, want, sizeof(want));
		rv_seal_keyring_ids(&c->kr, have, sizeof(have));
		return rv_error(RV_EAUTH,
				"the store is encrypted with key %s, and store.encryption holds "
				"%s — give the key file with one of the store's ids (key_file or "
				"old_key_files)",
				*want ? want : "(none)", have);
	}
	return 0;
}

static json_t *marker_entry(const struct rv_seal_key *k, const unsigned char name_key[RV_SEAL_KEY],
			    const char *how_name, json_t *how)
{
	struct rv_buf w = RV_BUF_INIT(256);
	char id[RV_SEAL_KEYID_HEX], now[40], *hex;
	time_t t = time(NULL);
	struct tm tm;
	json_t *e;

	if (rv_seal_buf(k, NAME_KEY_LABEL, name_key, RV_SEAL_KEY, &w))
		abort(); /* 32 bytes into a 256-byte buffer: only OpenSSL can fail */
	hex = rv_malloc(2 * w.len + 1);
	rv_hex(hex, w.data, w.len);
	rv_seal_keyid_hex(id, k->id);
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	e = json_pack("{s:s, s:s, s:s}", "id", id, "added", now, "name_key", hex);
	if (how)
		json_object_set(e, how_name, how);
	free(hex);
	rv_buf_release(&w);
	return e;
}

static json_t *marker_new(void)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:[]}", "format", MARKER_FORMAT, "version",
			 MARKER_VERSION, "cipher", "AES-256-GCM", "chunk_size",
			 (json_int_t)RV_SEAL_CHUNK, "kdf", "HKDF-SHA256", "blob_names",
			 "HMAC-SHA256", "keys");
}

static int marker_write(struct rv_store *inner, json_t *m, const char *etag)
{
	char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	struct rv_put_opts po = {0};
	int rc;

	if (!text)
		return rv_error(RV_EFAIL, "cannot encode the encryption marker");
	po.content_type = "application/json";
	if (!etag)
		po.cond = rv_store_caps(inner)->put_if_absent ? RV_PUT_IF_ABSENT : RV_PUT_ALWAYS;
	else if (rv_store_caps(inner)->put_if_match) {
		po.cond = RV_PUT_IF_MATCH;
		po.if_match = etag;
	}
	rc = rv_store_put_buf(inner, RV_CRYPT_MARKER_KEY, text, strlen(text), &po);
	free(text);
	return rc;
}

/* Under c->mu: make the marker name the current key (creating the marker
 * in a new store), and take the blob-name key the marker holds.  Reread
 * after every write: on a store without conditional puts the last writer
 * wins, and what is stored is what everyone uses. */
static int ensure_registered(struct crypt *c)
{
	const struct rv_seal_key *cur = &c->cur;
	unsigned char fresh[RV_SEAL_KEY];
	int rc = 0;

	/* A new store's name key, if this process is the one to make it. */
	if (!c->have_name_key && RAND_bytes(fresh, RV_SEAL_KEY) != 1)
		return rv_error(RV_EFAIL, "no random bytes from OpenSSL");
	for (int i = 0; !rc && !c->registered && i < REGISTER_TRIES; i++) {
		unsigned char nk[RV_SEAL_KEY];
		char etag[80];
		bool has_cur;
		json_t *m;

		rc = marker_read(c->inner, &m, etag);
		if (rc == RV_ENOTFOUND) {
			rv_error_clear();
			m = marker_new();
			json_array_append_new(json_object_get(m, "keys"),
					      marker_entry(cur,
							   c->have_name_key ? c->name_key : fresh,
							   c->cur_how_name, c->cur_how));
			rc = marker_write(c->inner, m, NULL);
			json_decref(m);
			if (rc == RV_EPRECOND)
				rc = 0; /* another writer made it first: read theirs */
			continue;
		}
		if (rc)
			break;
		/* What is stored is what everyone uses.  The name key never
		 * changes once known: blobs are already named with it. */
		rc = marker_unwrap(c, m, nk, &has_cur);
		if (!rc && c->have_name_key && memcmp(nk, c->name_key, RV_SEAL_KEY))
			rc = rv_error(
			    RV_ECORRUPT,
			    "'" RV_CRYPT_MARKER_KEY "' now holds another blob-name key than "
			    "when the store was opened — it was replaced; restore it from "
			    "a copy (docs/OPERATIONS.md)");
		if (!rc && !c->have_name_key) {
			memcpy(c->name_key, nk, RV_SEAL_KEY);
			c->have_name_key = true;
		}
		OPENSSL_cleanse(nk, sizeof(nk));
		if (!rc && has_cur) {
			c->registered = true;
		} else if (!rc) {
			char id[RV_SEAL_KEYID_HEX];

			json_array_append_new(
			    json_object_get(m, "keys"),
			    marker_entry(cur, c->name_key, c->cur_how_name, c->cur_how));
			rc = marker_write(c->inner, m, etag);
			rv_seal_keyid_hex(id, cur->id);
			if (!rc)
				rv_log(RV_LOG_INFO, "encryption: key added to the store's marker",
				       "key_id", id, NULL);
			if (rc == RV_EPRECOND)
				rc = 0;
		}
		json_decref(m);
	}
	OPENSSL_cleanse(fresh, sizeof(fresh));
	if (!rc && !c->registered)
		rc = rv_error(RV_EPRECOND, "the store's encryption marker kept changing while "
					   "this key was added to it — try again");
	return rc;
}

static int registered(struct crypt *c)
{
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	if (!c->registered)
		rc = ensure_registered(c);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* An object under a key id this process does not hold: another site may
 * have registered a passphrase's or KMS's key since this one opened the
 * store.  Read the marker again and add what it opens (at most every 5 s).
 * True when a key was added. */
static bool refresh_keys(struct crypt *c)
{
	bool grew;
	size_t before;
	json_t *m = NULL;
	int rc;

	if (!c->npass && !c->kms)
		return false;
	pthread_mutex_lock(&c->mu);
	before = c->kr.n;
	if (rv_mono_ms() - c->refreshed_ms >= 5000) {
		c->refreshed_ms = rv_mono_ms();
		rc = marker_read(c->inner, &m, NULL);
		if (!rc && c->npass)
			rc = derive_passphrases(c, m, false);
		if (!rc && c->kms)
			rc = derive_kms(c, m, false);
		if (rc)
			rv_log(RV_LOG_WARN, "encryption: cannot read the store's keys again",
			       "error", rv_errmsg(), NULL);
		json_decref(m);
	}
	grew = c->kr.n > before;
	pthread_mutex_unlock(&c->mu);
	return grew;
}

/* ---- streaming a get through a pipe ---------------------------------------- */

/* The helper thread's side of a get: it runs the inner get into the pipe.
 * Its error comes back to the caller's thread in rc/msg. */
struct pump {
	struct crypt *c;
	const char *key;
	int sock; /* the helper's end: it writes */
	uint64_t coff, clen;
	struct rv_obj_info info;
	int rc;
	char msg[512];
};

static void pump_fail(struct pump *p, int rc)
{
	p->rc = rc;
	snprintf(p->msg, sizeof(p->msg), "%s", rv_errmsg());
}

static void block_sigpipe(void)
{
	sigset_t set;

	/* A write to a pipe whose reader has gone answers EPIPE; the signal
	 * stays pending on this thread and dies with it. */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void *get_helper(void *arg)
{
	struct pump *p = arg;
	struct rv_store *inner = p->c->inner;
	int rc;

	block_sigpipe();
	rc = inner->ops->get_fd(inner, p->key, p->sock, p->coff, p->clen, &p->info);
	if (rc)
		pump_fail(p, rc);
	close(p->sock);
	return NULL;
}

static int start_helper(struct pump *p, void *(*fn)(void *), pthread_t *t, int *mine)
{
	int sv[2], e;

	/* A pipe, not a socket pair: the file backend's sendfile() into a
	 * pipe moves page references instead of copying, and a pipe of 1 MiB
	 * (the default limit of pipe-max-size; smaller if refused) wakes the
	 * reader once per 16 chunks rather than per chunk. */
	if (pipe2(sv, O_CLOEXEC) == -1)
		return rv_error_errno(RV_EFAIL, errno, "'%s': pipe", p->key);
	(void)fcntl(sv[1], F_SETPIPE_SZ, 1 << 20);
	p->sock = sv[1];
	*mine = sv[0];
	e = pthread_create(t, NULL, fn, p);
	if (e) {
		close(sv[0]);
		close(sv[1]);
		return rv_error_errno(RV_EFAIL, e, "'%s': start a thread", p->key);
	}
	return 0;
}

/* ---- put: sealed on the thread that uploads --------------------------------- */

/* One put_fd being sealed as the inner store reads it (struct rv_put_src,
 * store.h): the header, then each chunk when its turn comes, sealed
 * straight into the reader's buffer when a whole frame fits there, else
 * into `frame` and handed out from there.  No pipe and no thread: every
 * byte is read once from the input and written once by the store. */
struct sealer {
	struct crypt *c;
	const char *key;
	int src;
	bool regular;	/* pread from offset 0 */
	uint64_t plain; /* bytes to read; UINT64_MAX: to the end of a stream */
	uint64_t off;	/* plaintext read so far */
	uint64_t idx;	/* the next chunk */
	struct rv_seal s;
	bool begun, done;
	unsigned char *cur, *nxt; /* plaintext; nxt: the read-ahead of a stream */
	size_t cur_n;		  /* a stream: bytes in cur, read ahead */
	unsigned char *frame;	  /* being handed out: [fpos, flen) */
	size_t fpos, flen;
	int rc; /* the first failure, kept: the store reports its own */
	char msg[512];
};

/* Read up to `want` bytes of the input. */
static int src_fill(struct sealer *z, unsigned char *buf, size_t want, size_t *got)
{
	*got = 0;
	while (*got < want) {
		ssize_t n = z->regular ? pread(z->src, buf + *got, want - *got, (off_t)z->off)
				       : read(z->src, buf + *got, want - *got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return rv_error_errno(RV_EFAIL, errno, "put '%s': read the input", z->key);
		if (n == 0)
			break;
		*got += (size_t)n;
		z->off += (uint64_t)n;
	}
	return 0;
}

/* Seal the next chunk into `out` (room for RV_SEAL_FRAME); `*len` its
 * frame's size. */
static int seal_next(struct sealer *z, unsigned char *out, size_t *len)
{
	size_t n, nn = 0;
	bool last;
	int rc;

	if (z->plain != UINT64_MAX) {
		uint64_t left = z->plain - z->off;
		size_t want = left < RV_SEAL_CHUNK ? (size_t)left : RV_SEAL_CHUNK;

		if ((rc = src_fill(z, z->cur, want, &n)))
			return rc;
		if (n < want)
			return rv_error(
			    RV_EFAIL, "put '%s': the input ended at %llu bytes, %llu expected",
			    z->key, (unsigned long long)z->off, (unsigned long long)z->plain);
		last = z->off == z->plain;
	} else {
		/* A stream of unknown length: a chunk is the last when the
		 * input ends before the next one begins. */
		n = z->cur_n;
		if (n == RV_SEAL_CHUNK && (rc = src_fill(z, z->nxt, RV_SEAL_CHUNK, &nn)))
			return rc;
		last = nn == 0;
	}
	if ((rc = rv_seal_chunk(&z->s, z->idx, z->cur, n, last, out)))
		return rc;
	if (z->plain == UINT64_MAX) {
		unsigned char *t = z->cur;

		z->cur = z->nxt, z->nxt = t;
		z->cur_n = nn;
	}
	z->idx++;
	z->done = last;
	*len = n + RV_SEAL_TAG;
	return 0;
}

static ssize_t sealer_read(void *ud, void *buf, size_t n)
{
	struct sealer *z = ud;
	unsigned char *out = buf;
	size_t done = 0, len;
	int rc = z->rc;

	while (!rc && done < n) {
		if (z->fpos < z->flen) {
			size_t take = z->flen - z->fpos < n - done ? z->flen - z->fpos : n - done;

			memcpy(out + done, z->frame + z->fpos, take);
			z->fpos += take;
			done += take;
		} else if (z->done) {
			break;
		} else if (!z->begun) {
			if ((rc = rv_seal_begin(&z->s, &z->c->cur, z->key)))
				break;
			z->begun = true;
			memcpy(z->frame, z->s.hdr, RV_SEAL_HDR);
			z->fpos = 0;
			z->flen = RV_SEAL_HDR;
			if (z->plain == UINT64_MAX)
				rc = src_fill(z, z->cur, RV_SEAL_CHUNK, &z->cur_n);
		} else if (n - done >= RV_SEAL_FRAME) {
			if (!(rc = seal_next(z, out + done, &len)))
				done += len;
		} else if (done) {
			break; /* whole frames only while something is handed out */
		} else {
			z->fpos = 0;
			z->flen = 0;
			rc = seal_next(z, z->frame, &z->flen);
		}
	}
	if (rc) {
		if (!z->rc) {
			z->rc = rc;
			snprintf(z->msg, sizeof(z->msg), "%s", rv_errmsg());
		}
		errno = EIO;
		return -1;
	}
	return (ssize_t)done;
}

/* ---- put ------------------------------------------------------------------ */

static int crypt_put_fd(struct rv_store *s, const char *key, int fd, uint64_t size,
			struct rv_put_opts *po)
{
	struct crypt *c = cr_of(s);
	struct sealer z = {.c = c, .key = key, .src = fd};
	struct rv_put_src src = {.read = sealer_read, .ud = &z};
	uint64_t csize;
	struct stat st;
	int rc;

	if (is_marker(key))
		return rv_error(RV_EUSAGE,
				"'%s' is the store's encryption marker: revenant "
				"writes it, nothing else may",
				key);
	if (!c->inner->ops->put_src)
		return rv_error(RV_ENOTSUP, "the %s store cannot be written through encryption",
				c->inner->ops->name);
	if ((rc = registered(c)))
		return rc;
	if (fstat(fd, &st) == -1)
		return rv_error_errno(RV_EFAIL, errno, "put '%s': stat the input", key);
	z.regular = S_ISREG(st.st_mode);
	if (z.regular) {
		z.plain = size == UINT64_MAX ? (uint64_t)st.st_size : size;
		if (z.plain > (uint64_t)st.st_size)
			return rv_error(
			    RV_EFAIL, "put '%s': the input has %llu bytes, %llu expected", key,
			    (unsigned long long)st.st_size, (unsigned long long)z.plain);
	} else {
		z.plain = size;
	}
	/* The exact sealed size whenever the plain size is known: an input
	 * that fails half-way then leaves the inner put short, and it fails
	 * without storing anything. */
	csize = z.plain == UINT64_MAX ? UINT64_MAX : rv_seal_size(z.plain);
	z.cur = rv_malloc(RV_SEAL_CHUNK);
	z.frame = rv_malloc(RV_SEAL_FRAME);
	if (z.plain == UINT64_MAX)
		z.nxt = rv_malloc(RV_SEAL_CHUNK);
	rc = c->inner->ops->put_src(c->inner, key, &src, csize, po);
	/* Our side failed first: that is the cause, not the store's
	 * "read the input".  (A failed read fails the put: nothing stored.) */
	if (z.rc)
		rc = rv_error(z.rc, "%s", z.msg);
	OPENSSL_cleanse(z.cur, RV_SEAL_CHUNK);
	free(z.cur);
	if (z.nxt) {
		OPENSSL_cleanse(z.nxt, RV_SEAL_CHUNK);
		free(z.nxt);
	}
	free(z.frame);
	rv_seal_release(&z.s);
	return rc;
}

static int crypt_put_buf(struct rv_store *s, const char *key, const void *data, size_t len,
			 struct rv_put_opts *po)
{
	struct crypt *c = cr_of(s);
	unsigned char *sealed;
	int rc;

	if (is_marker(key))
		return rv_error(RV_EUSAGE,
				"'%s' is the store's encryption marker: revenant "
				"writes it, nothing else may",
				key);
	if ((rc = registered(c)))
		return rc;
	/* Sealed straight into one buffer of the final size (most content
	 * blobs are one to four chunks), then one plain put. */
	sealed = rv_malloc((size_t)rv_seal_size(len));
	rc = rv_seal_mem(&c->cur, key, data, len, sealed);
	if (!rc)
		rc = c->inner->ops->put_buf(c->inner, key, sealed, (size_t)rv_seal_size(len), po);
	free(sealed);
	return rc;
}

/* ---- get ------------------------------------------------------------------ */

/* Read until `n` bytes or the end; the bytes read. */
static ssize_t read_full(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* One get being opened on the caller's thread. */
struct opener {
	struct crypt *c;
	const char *key;
	int out;
	uint64_t off, end; /* the plaintext range to write; end UINT64_MAX: all */
	struct rv_seal s;
	unsigned char *plain;
	uint64_t emitted; /* chunks opened and written */
	bool unknown_key; /* the header names a key this process does not hold */
};

/* Open chunk `idx` and write the part of it inside the range. */
static int emit(struct opener *o, uint64_t idx, const unsigned char *frame, size_t n, bool last)
{
	uint64_t base = idx * RV_SEAL_CHUNK, lo, hi;
	int rc = rv_unseal_chunk(&o->s, idx, frame, n, last, o->plain);
	size_t pn = n - RV_SEAL_TAG;

	if (rc)
		return rc;
	lo = o->off > base ? o->off - base : 0;
	hi = o->end < base + pn ? (o->end > base ? o->end - base : 0) : pn;
	o->emitted++;
	if (hi > lo && rv_write_all(o->out, o->plain + lo, (size_t)(hi - lo)))
		return rv_error(RV_EFAIL, "get '%s': write the output: %s", o->key, rv_errmsg());
	return 0;
}

/* The ciphertext from the pipe: a header unless `have_hdr`, then chunks
 * from `idx`, each opened once the next one has begun to arrive (so it is
 * known not to be the last); the final one after the helper is done and
 * the object's size says whether it ends the object. */
static int open_stream(struct opener *o, int sock, bool have_hdr, const unsigned char *hdr,
		       uint64_t idx, struct pump *p, pthread_t t, bool *joined)
{
	unsigned char *cur = rv_malloc(RV_SEAL_FRAME), *nxt = rv_malloc(RV_SEAL_FRAME), *tmp;
	unsigned char h[RV_SEAL_HDR];
	uint64_t received = 0;
	ssize_t cn = 0, nn;
	int rc = 0, rerr = 0;

	if (!have_hdr) {
		ssize_t hn = read_full(sock, h, RV_SEAL_HDR);

		if (hn != RV_SEAL_HDR)
			goto eof; /* the reason comes from the helper or the size */
		received += RV_SEAL_HDR;
		hdr = h;
	}
	pthread_rwlock_rdlock(&o->c->kr_lock);
	rc = rv_unseal_begin(&o->s, &o->c->kr, o->key, hdr);
	pthread_rwlock_unlock(&o->c->kr_lock);
	o->unknown_key = rc == RV_EAUTH;
	if (rc)
		goto out;
	cn = read_full(sock, cur, RV_SEAL_FRAME);
	rerr = cn < 0 ? errno : 0;
	while (cn == RV_SEAL_FRAME) {
		nn = read_full(sock, nxt, RV_SEAL_FRAME);
		if (nn < 0) {
			rc = rv_error_errno(RV_EFAIL, errno, "get '%s': read the download", o->key);
			goto out;
		}
		if (nn == 0)
			break;
		if ((rc = emit(o, idx, cur, RV_SEAL_FRAME, false)))
			goto out;
		received += RV_SEAL_FRAME;
		idx++;
		tmp = cur, cur = nxt, nxt = tmp;
		cn = nn;
	}
eof:
	close(sock);
	sock = -1;
	pthread_join(t, NULL);
	*joined = true;
	if (p->rc) {
		rc = rv_error(p->rc, "%s", p->msg);
		goto out;
	}
	if (!o->s.ctx) {
		rc = rv_error(RV_ECORRUPT, "object '%s' is damaged: shorter than its header",
			      o->key);
		goto out;
	}
	if (cn < 0) {
		rc = rv_error_errno(RV_EFAIL, rerr, "get '%s': read the download", o->key);
		goto out;
	}
	/* The final piece: the object's last chunk exactly when it reaches the
	 * object's end.  A piece cut short that does not is a store that
	 * answered less than asked. */
	received += (uint64_t)cn;
	{
		bool last = p->coff + received == p->info.size;

		if (!last && cn != RV_SEAL_FRAME)
			rc = rv_error(RV_ECORRUPT,
				      "object '%s' is damaged: it ends inside chunk %llu", o->key,
				      (unsigned long long)idx);
		else
			rc = emit(o, idx, cur, (size_t)cn, last);
	}
out:
	if (sock != -1)
		close(sock);
	free(cur);
	free(nxt);
	return rc;
}

/* ---- the header cache ------------------------------------------------------ */

static bool hc_get(struct crypt *c, const char *key, unsigned char hdr[RV_SEAL_HDR], uint64_t *size)
{
	bool hit = false;

	pthread_mutex_lock(&c->hc_mu);
	for (size_t i = 0; !hit && i < HDR_CACHE; i++) {
		struct hdr_ent *e = &c->hc[i];

		if (e->key && !strcmp(e->key, key)) {
			memcpy(hdr, e->hdr, RV_SEAL_HDR);
			*size = e->size;
			e->used = ++c->hc_tick;
			hit = true;
		}
	}
	pthread_mutex_unlock(&c->hc_mu);
	return hit;
}

static void hc_put(struct crypt *c, const char *key, const unsigned char hdr[RV_SEAL_HDR],
		   uint64_t size)
{
	struct hdr_ent *victim = &c->hc[0];

	pthread_mutex_lock(&c->hc_mu);
	for (size_t i = 0; i < HDR_CACHE; i++) {
		struct hdr_ent *e = &c->hc[i];

		if (e->key && !strcmp(e->key, key)) {
			victim = e;
			break;
		}
		if (!e->key || e->used < victim->used)
			victim = e;
	}
	if (!victim->key || strcmp(victim->key, key)) {
		free(victim->key);
		victim->key = rv_strdup(key);
	}
	memcpy(victim->hdr, hdr, RV_SEAL_HDR);
	victim->size = size;
	victim->used = ++c->hc_tick;
	pthread_mutex_unlock(&c->hc_mu);
}

static void hc_drop(struct crypt *c, const char *key)
{
	pthread_mutex_lock(&c->hc_mu);
	for (size_t i = 0; i < HDR_CACHE; i++) {
		if (c->hc[i].key && !strcmp(c->hc[i].key, key)) {
			free(c->hc[i].key);
			memset(&c->hc[i], 0, sizeof(c->hc[i]));
		}
	}
	pthread_mutex_unlock(&c->hc_mu);
}

/* The header and the sealed size, for a get that starts inside the object. */
static int fetch_header(struct crypt *c, const char *key, unsigned char hdr[RV_SEAL_HDR],
			struct rv_obj_info *info)
{
	int pfd[2], rc;

	if (pipe2(pfd, O_CLOEXEC) == -1)
		return rv_error_errno(RV_EFAIL, errno, "'%s': pipe", key);
	/* 48 bytes fit in any pipe: no reader needed while the get runs. */
	rc = c->inner->ops->get_fd(c->inner, key, pfd[1], 0, RV_SEAL_HDR, info);
	close(pfd[1]);
	if (!rc && read_full(pfd[0], hdr, RV_SEAL_HDR) != RV_SEAL_HDR)
		rc = rv_error(RV_ECORRUPT, "object '%s' is damaged: shorter than its header", key);
	close(pfd[0]);
	return rc;
}

static void info_plain(struct rv_obj_info *out, struct rv_obj_info *in)
{
	uint64_t plain;

	(void)rv_seal_plain_size(in->size, &plain);
	in->size = plain;
	if (out)
		*out = *in;
	else
		rv_obj_info_release(in);
	memset(in, 0, sizeof(*in));
}

/* One get.  A get inside the object takes the header from the cache when
 * `cache` allows; `*retry` says the cached header did not fit the object
 * (replaced since) and nothing was written: try again without it. */
static int get_once(struct crypt *c, const char *key, int fd, uint64_t off, uint64_t len,
		    struct rv_obj_info *info_out, bool cache, bool *retry)
{
	struct opener o = {.c = c, .key = key, .out = fd, .off = off};
	struct pump p = {.c = c, .key = key};
	unsigned char hdr[RV_SEAL_HDR];
	uint64_t first = 0;
	bool joined = false, cached = false;
	pthread_t t;
	int mine = -1, rc = 0;

	*retry = false;
	o.end = len && off + len > off ? off + len : UINT64_MAX;
	if (off) {
		/* Inside the object: its header first, then only the chunks
		 * that hold the range (ranged and parallel reads, pfetch). */
		uint64_t sealed, plain, last;

		cached = cache && hc_get(c, key, hdr, &sealed);
		if (!cached) {
			struct rv_obj_info hi = {0};

			if ((rc = fetch_header(c, key, hdr, &hi)))
				return rc;
			sealed = hi.size;
			rv_obj_info_release(&hi);
			hc_put(c, key, hdr, sealed);
		}
		(void)rv_seal_plain_size(sealed, &plain);
		if (off >= plain) {
			*retry = cached;
			return rv_error(RV_EUSAGE,
					"range start %llu is beyond the end of '%s' (%llu bytes)",
					(unsigned long long)off, key, (unsigned long long)plain);
		}
		first = off / RV_SEAL_CHUNK;
		last = ((o.end < plain ? o.end : plain) - 1) / RV_SEAL_CHUNK;
		p.coff = RV_SEAL_HDR + first * RV_SEAL_FRAME;
		p.clen = (last - first + 1) * RV_SEAL_FRAME;
	} else if (len && len < (UINT64_MAX >> 1) - RV_SEAL_FRAME) {
		p.clen = RV_SEAL_HDR + rv_seal_chunks(len) * RV_SEAL_FRAME;
	}
	o.plain = rv_malloc(RV_SEAL_CHUNK);
	rc = start_helper(&p, get_helper, &t, &mine);
	if (!rc) {
		rc = open_stream(&o, mine, off != 0, hdr, first, &p, t, &joined);
		if (!joined)
			pthread_join(t, NULL);
	}
	if (rc && cached && !o.emitted && (rc == RV_ECORRUPT || rc == RV_EUSAGE)) {
		hc_drop(c, key);
		*retry = true;
	}
	/* A key registered by another site since this one opened the store. */
	if (rc == RV_EAUTH && o.unknown_key && !o.emitted && refresh_keys(c))
		*retry = true;
	if (!rc && !off && o.s.ctx)
		hc_put(c, key, o.s.hdr, p.info.size); /* the next part's header */
	if (!rc)
		info_plain(info_out, &p.info);
	rv_obj_info_release(&p.info);
	OPENSSL_cleanse(o.plain, RV_SEAL_CHUNK);
	free(o.plain);
	rv_seal_release(&o.s);
	return rc;
}

static int crypt_get_fd(struct rv_store *s, const char *key, int fd, uint64_t off, uint64_t len,
			struct rv_obj_info *info_out)
{
	struct crypt *c = cr_of(s);
	bool retry;
	int rc;

	if (info_out)
		memset(info_out, 0, sizeof(*info_out));
	if (is_marker(key))
		return c->inner->ops->get_fd(c->inner, key, fd, off, len, info_out);
	rc = get_once(c, key, fd, off, len, info_out, true, &retry);
	if (rc && retry) {
		rv_error_clear();
		rc = get_once(c, key, fd, off, len, info_out, false, &retry);
	}
	return rc;
}

/* ---- the rest: sizes are the plaintext's ----------------------------------- */

static int crypt_head(struct rv_store *s, const char *key, struct rv_obj_info *out)
{
	struct crypt *c = cr_of(s);
	struct rv_obj_info in;
	int rc = c->inner->ops->head(c->inner, key, &in);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	if (is_marker(key))
		*out = in;
	else
		info_plain(out, &in);
	return 0;
}

static int crypt_list_page(struct rv_store *s, const char *prefix, const char *token, unsigned max,
			   struct rv_list_page *out)
{
	struct crypt *c = cr_of(s);
	int rc = c->inner->ops->list_page(c->inner, prefix, token, max, out);

	for (size_t i = 0; !rc && i < out->count; i++) {
		uint64_t plain;

		if (out->items[i].key && !is_marker(out->items[i].key)) {
			(void)rv_seal_plain_size(out->items[i].size, &plain);
			out->items[i].size = plain;
		}
	}
	return rc;
}

static int crypt_list_dirs_page(struct rv_store *s, const char *prefix, const char *token,
				unsigned max, struct rv_list_page *out)
{
	struct crypt *c = cr_of(s);

	if (!c->inner->ops->list_dirs_page)
		return rv_error(RV_ENOTSUP, "the %s store cannot list folders",
				c->inner->ops->name);
	return c->inner->ops->list_dirs_page(c->inner, prefix, token, max, out);
}

static int crypt_del(struct rv_store *s, const char *key)
{
	struct crypt *c = cr_of(s);

	if (is_marker(key))
		return rv_error(RV_EUSAGE,
				"'%s' is the store's encryption marker: without it "
				"nothing in the store can be read",
				key);
	return c->inner->ops->del(c->inner, key);
}

static int crypt_probe(struct rv_store *s)
{
	struct crypt *c = cr_of(s);
	int rc = rv_store_probe(c->inner);

	s->caps = c->inner->caps;
	return rc;
}

static int crypt_name_key(struct rv_store *s, const unsigned char **out)
{
	struct crypt *c = cr_of(s);
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	/* A store with a marker has its name key from open (a reader never
	 * writes); a new store gets its marker now, before the first blob is
	 * named. */
	if (!c->have_name_key)
		rc = ensure_registered(c);
	pthread_mutex_unlock(&c->mu);
	*out = rc ? NULL : c->name_key;
	return rc;
}

/* Everything but the inner store (the caller's until the layer is open). */
static void crypt_release(struct crypt *c)
{
	rv_seal_keyring_release(&c->kr);
	OPENSSL_cleanse(&c->cur, sizeof(c->cur));
	for (size_t j = 0; j < c->npass; j++) {
		if (c->pass[j]) {
			OPENSSL_cleanse(c->pass[j], strlen(c->pass[j]));
			free(c->pass[j]);
		}
	}
	free(c->pass);
	rv_kms_free(c->kms);
	free(c->kms_key_id);
	json_decref(c->cur_how);
	OPENSSL_cleanse(c->name_key, sizeof(c->name_key));
	for (size_t i = 0; i < HDR_CACHE; i++)
		free(c->hc[i].key);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->hc_mu);
	pthread_rwlock_destroy(&c->kr_lock);
	free(c);
}

static void crypt_free(struct rv_store *s)
{
	struct crypt *c = cr_of(s);

	if (!c)
		return;
	rv_store_free(c->inner);
	crypt_release(c);
	s->impl = NULL;
}

static const struct rv_store_ops crypt_ops = {
    .name = "encrypted",
    .put_fd = crypt_put_fd,
    .put_buf = crypt_put_buf,
    .get_fd = crypt_get_fd,
    .head = crypt_head,
    .list_page = crypt_list_page,
    .del = crypt_del,
    .free = crypt_free,
    .list_dirs_page = crypt_list_dirs_page,
    .probe = crypt_probe,
    .name_key = crypt_name_key,
};

/* ---- open ------------------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
	return s ? rv_strdup(s) : NULL;
}

/* A store that holds objects but no marker is a plain store. */
static int check_empty(struct rv_store *inner)
{
	struct rv_list_page pg;
	int rc = rv_store_list_page(inner, "", NULL, 20, &pg);

	for (size_t i = 0; !rc && i < pg.count; i++) {
		if (rv_str_startswith(pg.items[i].key, ".revenant/"))
			continue; /* the backend's probe objects */
		rc = rv_error(RV_EUSAGE,
			      "store.encryption is set, but %s holds unencrypted objects ('%s') "
			      "and no encryption marker — a store is encrypted from its start: "
			      "use a new store (docs/OPERATIONS.md, \"Encrypting an existing "
			      "store\") or remove store.encryption",
			      rv_store_describe(inner), pg.items[i].key);
	}
	rv_list_page_release(&pg);
	return rc;
}

static int check_plain(struct rv_store *s)
{
	json_t *m;
	char ids[512];
	int rc = marker_read(s, &m, NULL);

	if (rc == RV_ENOTFOUND) {
		rv_error_clear();
		return 0;
	}
	if (rc && rc != RV_ECORRUPT && rc != RV_ENOTSUP) {
		/* Unreachable now: the operation that follows will say so. */
		rv_log(RV_LOG_WARN, "cannot read the store's encryption marker", "error",
		       rv_errmsg(), NULL);
		rv_error_clear();
		return 0;
	}
	if (!rc) {
		marker_ids(m, ids, sizeof(ids));
		json_decref(m);
	}
	return rv_error(RV_EAUTH,
			"%s is encrypted (" RV_CRYPT_MARKER_KEY " names key %s), and no key is "
			"configured — set store.encryption.key_file to the store's key",
			rv_store_describe(s), rc ? "(unreadable)" : ids);
}

int rv_crypt_open(struct rv_store **sp, const struct rv_crypt_conf *conf)
{
	struct rv_store *inner = *sp, *s;
	struct crypt *c;
	json_t *m = NULL;
	bool has_cur = false;
	int rc;

	if (!conf || (!conf->key_file && !conf->passphrase_file && !conf->kms_key_id))
		return check_plain(inner);
	c = rv_calloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->hc_mu, NULL);
	pthread_rwlock_init(&c->kr_lock, NULL);
	c->refreshed_ms = rv_mono_ms() - 5000; /* the first refresh may come at once */
	c->inner = inner;
	rc = rv_crypt_keyring_load(&c->kr, conf);
	if (!rc) {
		/* No marker: a new store, or a plain one (refused first, before
		 * any key is derived or asked of KMS). */
		rc = marker_read(inner, &m, NULL);
		if (rc == RV_ENOTFOUND) {
			rv_error_clear();
			rc = check_empty(inner);
		}
		if (!rc && (conf->passphrase_file || conf->old_passphrase_files) &&
		    !(rc = load_passphrases(c, conf)))
			rc = derive_passphrases(c, m, conf->passphrase_file && !conf->key_file);
		if (!rc && conf->kms_key_id) {
			c->kms_key_id = rv_strdup(conf->kms_key_id);
			if (!(rc = rv_kms_new(&c->kms, conf->creds, conf->region)))
				rc = derive_kms(c, m, true);
		}
		if (!rc && c->kr.current == SIZE_MAX)
			rc = rv_error(
			    RV_EUSAGE,
			    "store.encryption needs key_file, passphrase_file or kms_key_id");
		if (!rc)
			c->cur = c->kr.keys[c->kr.current];
		if (!rc && m) {
			rc = marker_unwrap(c, m, c->name_key, &has_cur);
			c->have_name_key = !rc;
			c->registered = !rc && has_cur;
		}
		json_decref(m);
	}
	if (rc) {
		crypt_release(c);
		return rc;
	}
	s = rv_calloc(1, sizeof(*s));
	s->ops = &crypt_ops;
	s->caps = inner->caps;
	s->opts = inner->opts;
	s->opts.creds = NULL;
	s->opts.creds_config = NULL;
	s->opts.region = NULL;
	s->url.kind = inner->url.kind;
	s->url.path = dup_or_null(inner->url.path);
	s->url.bucket = dup_or_null(inner->url.bucket);
	s->url.prefix = dup_or_null(inner->url.prefix);
	s->url.region = dup_or_null(inner->url.region);
	s->url.endpoint = dup_or_null(inner->url.endpoint);
	s->url.path_style = inner->url.path_style;
	s->describe = rv_strdup(inner->describe);
	s->impl = c;
	*sp = s;
	return 0;
}

/* ---- rekey ------------------------------------------------------------------ */

bool rv_crypt_is(const struct rv_store *s)
{
	return s && s->ops == &crypt_ops;
}

const struct rv_seal_key *rv_crypt_current(const struct rv_store *s)
{
	const struct crypt *c = cr_of(s);

	return &c->cur;
}

int rv_crypt_object_keyid(struct rv_store *s, const char *key, unsigned char id[RV_SEAL_KEYID])
{
	struct crypt *c = cr_of(s);
	struct rv_obj_info info = {0};
	unsigned char hdr[RV_SEAL_HDR];
	int rc = fetch_header(c, key, hdr, &info);

	rv_obj_info_release(&info);
	return rc ? rc : rv_seal_header_id(hdr, key, id);
}

int rv_crypt_marker_retire(struct rv_store *s, unsigned *dropped)
{
	struct crypt *c = cr_of(s);
	const struct rv_seal_key *cur = &c->cur;
	char etag[80];
	json_t *m, *keys, *kept;
	size_t i;
	json_t *e;
	int rc;

	*dropped = 0;
	if ((rc = registered(c)) || (rc = marker_read(c->inner, &m, etag)))
		return rc;
	keys = json_object_get(m, "keys");
	kept = json_array();
	json_array_foreach(keys, i, e)
	{
		unsigned char id[RV_SEAL_KEYID];

		if (entry_id(e, id) && !memcmp(id, cur->id, RV_SEAL_KEYID))
			json_array_append(kept, e);
		else
			(*dropped)++;
	}
	if (!json_array_size(kept))
		rc = rv_error(RV_EPRECOND, "the encryption marker lost the current key's entry "
					   "— run rekey again");
	else if (*dropped) {
		json_object_set_new(m, "keys", kept);
		kept = NULL;
		rc = marker_write(c->inner, m, etag);
	}
	json_decref(kept);
	json_decref(m);
	return rc;
}
