/* layout.h - where everything lives in the store (docs/FORMAT.md,
 * "Layout"): every key revenant writes, lists or parses is built here and
 * nowhere else, so that a new kind of object (MySQL's binlog, say) has one
 * place to go and a reader can never disagree with the writer about a name.
 *
 *   lease.json
 *   heartbeat.json
 *   sites/<site>/standby.json
 *   blobs/sha256/<2 hex>/<64 hex>          (encrypted store: blobs/hmac-sha256/…)
 *   generations/<gen>/meta.json
 *   generations/<gen>/content/log/<16 hex seq>-<16 hex ms>.log.zst
 *   generations/<gen>/content/snapshot/<16 hex seq>-<16 hex ms>.manifest.zst
 *   generations/<gen>/db/log/<16 hex from>-<16 hex to>-<16 hex ms>.wal.zst
 *   generations/<gen>/db/snapshot/<16 hex pos>-<16 hex ms>.db.zst
 *
 * A generation ID is "<16 hex ms>-<8 hex random>": IDs sort by creation. */
#ifndef RV_FORMAT_LAYOUT_H
#define RV_FORMAT_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/util.h"

/* The store format (docs/FORMAT.md): a reader refuses another major. */
#define RV_FORMAT_MAJOR 1
#define RV_FORMAT_MINOR 1

#define RV_LEASE_KEY	   "lease.json"
#define RV_HEARTBEAT_KEY   "heartbeat.json"
#define RV_KEY_GENERATIONS "generations/"
#define RV_KEY_BLOBS	   "blobs/sha256/"
/* An encrypted store's blobs: named by a keyed hash (docs/FORMAT.md). */
#define RV_KEY_BLOBS_KEYED "blobs/hmac-sha256/"
#define RV_KEY_SITES	   "sites/"

#define RV_GEN_ID_LEN 26 /* 16 hex + '-' + 8 hex + NUL */
/* "blobs/hmac-sha256/xx/" + 64 hex + NUL (a plain key is 5 bytes shorter) */
#define RV_BLOB_KEY_LEN 86

void rv_gen_id_new(char out[RV_GEN_ID_LEN]);
/* RV_EUSAGE unless `s` has the exact shape of a generation ID. */
int rv_gen_id_check(const char *s) RV_WARN_UNUSED;
/* When `key` lies under generations/<a generation ID>/: true, the ID in
 * `id` and the rest of the key after its '/' in `*rest`. */
bool rv_key_gen_split(const char *key, char id[RV_GEN_ID_LEN], const char **rest);
/* sites/<site>/standby.json: a standby agent's "where I stand" (fresh
 * string). */
char *rv_site_standby_key(const char *site);
/* generations/<gen>/meta.json (fresh string). */
char *rv_gen_meta_key(const char *gen);

/* Blob names.  `name_key` is the store's blob-name key (rv_store_name_key):
 * NULL in a plain store, where a blob's name is the SHA-256 of its bytes;
 * in an encrypted store the name is HMAC-SHA256(name key, SHA-256), so that
 * nobody without the key learns which files are equal. */
const char *rv_content_blob_prefix(const unsigned char *name_key);
void rv_content_blob_name(unsigned char out[RV_SHA256_LEN], const unsigned char sha[RV_SHA256_LEN],
			  const unsigned char *name_key);
void rv_content_blob_key(char out[RV_BLOB_KEY_LEN], const unsigned char sha[RV_SHA256_LEN],
			 const unsigned char *name_key);
/* The name digest a blob key carries (the SHA-256 itself in a plain store);
 * false for anything that is not a blob key of this kind of store. */
bool rv_content_blob_key_parse(const char *key, const unsigned char *name_key,
			       unsigned char digest[RV_SHA256_LEN]);

/* Content object keys, relative to the store (fresh strings). */
char *rv_content_log_key(const char *gen, uint64_t seq, int64_t time_ms);
char *rv_content_manifest_key(const char *gen, uint64_t seq, int64_t time_ms);
/* "generations/<gen>/content/log/" and ".../snapshot/" (fresh strings). */
char *rv_content_log_prefix(const char *gen);
char *rv_content_manifest_prefix(const char *gen);
/* A listing prefix that starts at the block of 256 sequence numbers holding
 * `seq` (keys sort by sequence): listing it and the next block finds the
 * log objects from `seq` on without listing the whole log. */
char *rv_content_log_block_prefix(const char *gen, uint64_t seq);
/* Sequence and commit time from a listed log or manifest key (any prefix);
 * RV_ECORRUPT for anything else. */
int rv_content_key_parse(const char *key, uint64_t *seq, int64_t *time_ms) RV_WARN_UNUSED;

enum rv_dbobj_kind { RV_DBOBJ_LOG, RV_DBOBJ_SNAPSHOT };

/* Database object keys (fresh strings). */
char *rv_dbobj_log_key(const char *gen, uint64_t from, uint64_t to, int64_t ms);
char *rv_dbobj_snapshot_key(const char *gen, uint64_t pos, int64_t ms);
char *rv_dbobj_log_prefix(const char *gen);
char *rv_dbobj_snapshot_prefix(const char *gen);
/* RV_ECORRUPT unless the key's last segment has the shape above; `to` is
 * set equal to `from` for a snapshot. */
int rv_dbobj_key_parse(const char *key, enum rv_dbobj_kind kind, uint64_t *from, uint64_t *to,
		       int64_t *ms) RV_WARN_UNUSED;

#endif
