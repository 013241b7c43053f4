/* pfetch.h - download a list of objects in ranged parts on several
 * threads, and read each object in order while its later parts (and the
 * next objects) are still arriving.
 *
 * A restore is a chain: one large snapshot, then segments that must be
 * applied after it.  Fetching the snapshot on one connection and the
 * segments one after another leaves the link idle while the caller
 * decompresses, and one connection to S3 rarely fills it; this keeps
 * `jobs` ranged GETs in flight, in chain order, and lets the caller start
 * on the first bytes.  Each object lands in its own unnamed temporary
 * file (O_TMPFILE in `tmpdir`), so memory stays flat whatever the size and
 * a retried part simply rewrites its range.
 *
 * Sizes come from the listing; a part that answers shorter than asked is
 * RV_ECORRUPT (the store's own check), an object longer than listed reads
 * as truncated in the caller's format check.  Threads: the workers own the
 * parts they claimed; everything shared is under one mutex. */
#ifndef RV_STORE_PFETCH_H
#define RV_STORE_PFETCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/err.h"

struct rv_store;

struct rv_pfetch_obj {
	const char *key; /* copied */
	uint64_t size;	 /* from the listing */
};

struct rv_pfetch_opts {
	const char *tmpdir; /* where the temporary files go (required) */
	unsigned jobs;	    /* parallel GETs; 0 = 4 */
	uint64_t part;	    /* bytes per ranged GET; 0 = 8 MiB */
};

struct rv_pfetch;

/* Starts the workers; objects are fetched in the order given. */
int rv_pfetch_start(struct rv_pfetch **out, struct rv_store *s, const struct rv_pfetch_obj *objs,
		    size_t n, const struct rv_pfetch_opts *o) RV_WARN_UNUSED;
/* Up to `n` bytes of object `i` from offset `off`, waiting until they are
 * downloaded: bytes read, 0 at the object's end, or the RV_E* of the part
 * that failed (with its message, set again on the caller's thread). */
ssize_t rv_pfetch_read(struct rv_pfetch *pf, size_t i, uint64_t off, void *p, size_t n);
/* Waits until object `i` is complete; its file descriptor (owned by pf,
 * valid until rv_pfetch_drop or rv_pfetch_free) in `*fd`. */
int rv_pfetch_wait(struct rv_pfetch *pf, size_t i, int *fd) RV_WARN_UNUSED;
/* The caller is done with object `i`: its file is closed (space freed). */
void rv_pfetch_drop(struct rv_pfetch *pf, size_t i);
/* Bytes downloaded so far over all objects. */
uint64_t rv_pfetch_bytes(struct rv_pfetch *pf);
/* Stops claiming parts, waits for those in flight, frees everything. */
void rv_pfetch_free(struct rv_pfetch *pf);

#endif
