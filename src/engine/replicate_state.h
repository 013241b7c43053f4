/* replicate_state.h - the recorded state of the content folder: a base
 * manifest (a local, verified copy) plus the changes committed since, kept
 * as a sorted overlay.  Used by `replicate` (what is recorded, what the next
 * manifest holds, what reconcile compares the folder with) and by `status`.
 *
 * Memory is the overlay only (changes since the last manifest, which
 * replicate bounds by writing a manifest); the base is streamed from a
 * temporary file, never held. */
#ifndef RV_ENGINE_REPLICATE_STATE_H
#define RV_ENGINE_REPLICATE_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "format/content.h"
#include "core/err.h"

struct rv_store;

/* Changes since a base, sorted in rv_content_path_cmp order, one per path.
 * A `del` change removes the base's path and everything under it; `has`
 * says the path exists again (or changed) with `e`. */
struct rv_cchange {
	bool del, has;
	struct rv_centry e; /* e.path and e.target owned */
};

struct rv_cchanges {
	struct rv_cchange *v;
	size_t n, cap;
};

void rv_cchanges_clear(struct rv_cchanges *c);
/* Apply one log record (file, dir, link or del). */
void rv_cchanges_apply(struct rv_cchanges *c, const struct rv_centry *e);

/* Where the merged state goes: 0 to go on, or an RV_E* to stop with. */
typedef int (*rv_cstate_cb)(void *ud, const struct rv_centry *e);
/* Stream base ⊕ changes in manifest order.  `base_fd` (-1: empty base) is
 * read from offset 0; `name` names it in errors. */
int rv_cstate_merge(int base_fd, const char *name, const struct rv_cchanges *c, rv_cstate_cb cb,
		    void *ud) RV_WARN_UNUSED;

/* The state of one generation as the store has it. */
struct rv_cstate {
	char gen[RV_GEN_ID_LEN];    /* whose objects these are ("" when none) */
	int base_fd;		    /* -1: empty base */
	uint64_t manifest_seq;	    /* the base manifest's position */
	int64_t manifest_ms;	    /* its cut time; 0 when none */
	uint64_t seq;		    /* last committed sequence (manifest_seq when no logs) */
	int64_t seq_ms;		    /* its commit time; 0 when none */
	uint64_t logs;		    /* logs applied after the base */
	struct rv_cchanges changes; /* the logs after the base */
};
void rv_cstate_init(struct rv_cstate *s);
void rv_cstate_release(struct rv_cstate *s);

/* Load the latest state of generation `gen`: the newest manifest, verified,
 * into a temporary file, then the logs after it in order (each verified
 * before it is applied).  A generation without any content object (a
 * writer that died right after taking the lease) continues its parent's
 * state: `follow_parents` walks up to that many parents; s->gen then names
 * the generation the objects came from. */
int rv_cstate_load(struct rv_store *st, const char *gen, unsigned follow_parents,
		   struct rv_cstate *out) RV_WARN_UNUSED;

/* Write base ⊕ changes as a zstd manifest (header `h`) to a fresh
 * temporary file; `*fd_out` is at offset 0.  Counts of what it holds go to
 * `files`, `bytes` and `entries` (any may be NULL). */
int rv_cstate_write_manifest(int base_fd, const struct rv_cchanges *c, const struct rv_cobj_hdr *h,
			     int *fd_out, uint64_t *files, uint64_t *bytes,
			     uint64_t *entries) RV_WARN_UNUSED;

#endif
