/* xfer.h - whole-tree transfers between a local folder and a store, with a
 * pool of workers sharing one store handle (revenant store put/get -r).
 *
 * One thread walks (the local tree, or the store's listing page by page)
 * and feeds a small bounded queue; memory stays flat however many files
 * there are.  Every file that cannot be copied is reported on stderr and
 * counted; nothing is skipped silently. */
#ifndef RV_STORE_XFER_H
#define RV_STORE_XFER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct rv_store;

struct rv_xfer_stats {
	uint64_t files;	 /* copied */
	uint64_t bytes;	 /* copied */
	uint64_t failed; /* reported on stderr */
	double seconds;
};

/* Upload every file under `dir` as `prefix` + its relative path.  A
 * non-empty prefix gets a '/' appended if it has none.  Returns 0 when all
 * went through, else the first failure's code and a message naming it. */
int rv_xfer_put_tree(struct rv_store *s, const char *prefix, const char *dir, unsigned jobs,
		     bool verbose, struct rv_xfer_stats *st) RV_WARN_UNUSED;
/* Download every key under `prefix` into `dir` (created if missing). */
int rv_xfer_get_tree(struct rv_store *s, const char *prefix, const char *dir, unsigned jobs,
		     bool verbose, struct rv_xfer_stats *st) RV_WARN_UNUSED;

/* Get [off, off+len) of `key` into `path` through a temporary beside it and
 * a rename, so `path` is never left half-written; fsync when `sync`. */
int rv_xfer_get_file(struct rv_store *s, const char *key, const char *path, uint64_t off,
		     uint64_t len, bool sync, uint64_t *bytes_out) RV_WARN_UNUSED;

#endif
