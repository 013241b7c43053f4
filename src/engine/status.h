/* status.h - what `revenant status` reports about a store's content
 * history, worked out here so that the command only prints: the
 * generations listed under generations/, and whether the lease's
 * generation has a gap in its content log (docs/FORMAT.md, "Gaps"). */
#ifndef RV_ENGINE_STATUS_H
#define RV_ENGINE_STATUS_H

#include <stddef.h>

#include "content/restore.h"
#include "core/err.h"

struct rv_store;

struct rv_status_gens {
	char **ids; /* generation IDs, oldest first (IDs sort by creation) */
	size_t n, cap;
};

/* Every "generations/<id>/" folder whose name is a generation ID: one
 * request per 1000 generations (folders, not the keys below them). */
int rv_status_list_generations(struct rv_store *s, struct rv_status_gens *out) RV_WARN_UNUSED;
void rv_status_gens_release(struct rv_status_gens *g);

/* The gap that keeps the latest point of `gen` (and of the parents it
 * builds on) from being restored, in `*gap` (missing 0: none).  A
 * generation without commits has no gap.  Only LISTs, no downloads. */
int rv_status_content_gap(struct rv_store *s, const char *gen,
			  struct rv_restore_gap *gap) RV_WARN_UNUSED;

#endif
