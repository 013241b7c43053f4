/* crypt.h - client-side encryption of a whole store: a layer that
 * implements the store interface (store.h) over another store, sealing
 * every object it puts and opening every object it gets (format/sealed.h,
 * docs/FORMAT.md "Encrypted stores").  Every writer and reader goes
 * through rv_store_* and so through this layer: blobs, content logs and
 * manifests, database segments and snapshots, meta.json, the lease, the
 * heartbeat and the standby reports are all covered by this one file.
 *
 * Plain, on purpose: the marker `encryption.json` (below), which must be
 * read before any key can be used, and the backend's probe objects under
 * `.revenant/probe/` (rv_store_probe, written and deleted by the backend
 * itself, never by this layer).  Nothing in either is secret.
 *
 * The marker says the store is encrypted, with which cipher, chunk size
 * and blob naming, and holds, for each key id that writes to the store,
 * the store's blob-name key sealed under that key.  A store never mixes
 * modes silently: an encrypted configuration refuses a store that holds
 * objects but no marker (RV_EUSAGE), a plain one refuses a store with a
 * marker (RV_EAUTH: the key is missing), and a configuration none of whose
 * keys the marker names is RV_EAUTH before anything is read.
 *
 * Threads: the layer's state (the blob-name key, whether the current key
 * is in the marker) is under one mutex; each put and get streams through a
 * pipe with one helper thread, so memory stays at two chunks
 * whatever the object size. */
#ifndef RV_STORE_CRYPT_H
#define RV_STORE_CRYPT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "format/sealed.h"

struct rv_store;
struct rv_creds_config;

#define RV_CRYPT_MARKER_KEY "encryption.json"

/* store.encryption in the configuration. */
struct rv_crypt_conf {
	const char *key_file;		  /* the current key; NULL: see passphrase_file */
	const char *const *old_key_files; /* NULL-terminated, or NULL: keys still read */
	/* Or a passphrase, the key derived with scrypt (its salt and cost in
	 * the marker, docs/FORMAT.md); neither this nor key_file: plain. */
	const char *passphrase_file;
	const char *const *old_passphrase_files; /* still read */
	/* Or a data key made and wrapped by this AWS KMS key (envelope
	 * encryption; the wrapped key in the marker, docs/FORMAT.md). */
	const char *kms_key_id;
	const struct rv_creds_config *creds; /* for KMS: the store's chain */
	const char *region;		     /* for KMS; NULL: the environment's */
};

/* The raw keys of `conf`: each file holds 32 bytes, or 64 hex digits and
 * an optional newline.  keys[current] is key_file's (current is SIZE_MAX
 * when the current key is a passphrase's, derived at rv_crypt_open). */
int rv_crypt_keyring_load(struct rv_seal_keyring *out,
			  const struct rv_crypt_conf *conf) RV_WARN_UNUSED;

/* Checks the store's mode against `conf` and, when conf->key_file is set,
 * replaces `*s` by the encrypting layer over it (the layer owns it; free
 * the layer with rv_store_free).  Reads the marker; writes nothing. */
int rv_crypt_open(struct rv_store **s, const struct rv_crypt_conf *conf) RV_WARN_UNUSED;

/* ---- for `revenant rekey` (engine/rekey.c) ---- */

/* True when `s` is the encrypting layer. */
bool rv_crypt_is(const struct rv_store *s);
/* The key objects are written under. */
const struct rv_seal_key *rv_crypt_current(const struct rv_store *s);
/* The key id in the header of the stored object `key`, read raw (48
 * bytes).  RV_ECORRUPT when the object is not sealed. */
int rv_crypt_object_keyid(struct rv_store *s, const char *key,
			  unsigned char id[RV_SEAL_KEYID]) RV_WARN_UNUSED;
/* Leaves only the current key in the marker (after every object was
 * rewritten under it); `*dropped` counts the entries removed. */
int rv_crypt_marker_retire(struct rv_store *s, unsigned *dropped) RV_WARN_UNUSED;

#endif
