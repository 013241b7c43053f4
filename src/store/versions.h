/* versions.h - a read-only view of an S3 store through its bucket's
 * object versions (S3 versioning), for recovering from a store whose
 * current objects were deleted or overwritten (`restore --versions`,
 * `verify --versions`).
 *
 * Every key under the store's prefix shows as its newest version that is
 * not a delete marker; with an `at` time, as its newest such version
 * created at or before `at`, so that an object overwritten later (by a
 * careless or hostile writer with the store's credentials) is seen as it
 * was.  Delete markers never hide a key: objects pruned on purpose come
 * back as well, which is harmless, since a restore chooses its point from
 * the lease and manifests (as they were at `at`) and reads only what the
 * point names.
 *
 * It is a store like the others (list, head, get with ranges, folders);
 * put and delete are refused with RV_ENOTSUP.  Reads go through the S3
 * backend's signing and retries: ListObjectVersions (paged with
 * key-marker/version-id-marker), GetObject/HeadObject with versionId.
 *
 * Memory: a listing is resolved one answer page (1,000 versions) at a
 * time; nothing is kept of the versions it skips.  The version chosen for
 * each key listed is remembered (key, version id, size, time, etag: about
 * 200 bytes) so that a later get needs no second lookup, for at most
 * RV_VERSIONS_CACHE_MAX keys; past that, a get of a key not remembered
 * asks ListObjectVersions for that one key first.  Thread-safe as the
 * other backends are. */
#ifndef RV_STORE_VERSIONS_H
#define RV_STORE_VERSIONS_H

#include <stdint.h>

#include "core/err.h"

struct rv_store;

/* The newest version of each key (no time bound). */
#define RV_VERSIONS_NEWEST    INT64_MAX
#define RV_VERSIONS_CACHE_MAX (256u << 10)

/* Replace `*s`, an S3 store just opened, by its versioned view as of
 * `at_ms` (Unix ms, or RV_VERSIONS_NEWEST); the view owns the store.  The
 * bucket's versioning is checked first: never enabled, or a server without
 * versioning, is RV_EUSAGE with what to do; a file store is RV_EUSAGE.
 * On failure `*s` is left as it was (the caller still frees it). */
int rv_store_versions_open(struct rv_store **s, int64_t at_ms) RV_WARN_UNUSED;

#endif
