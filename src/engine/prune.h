/* prune.h - retention (`revenant prune`, docs/OPERATIONS.md "Retention"):
 * remove what no recovery point younger than the retention window needs.
 *
 * A recovery point is a content log or manifest (its time, and in format
 * 1.1 the database position of its header).  With the cutoff C = now -
 * retention, every point at or after C, and the state at C itself, stays
 * restorable:
 *
 *   - a generation is kept when the lease names it, when it has a point at
 *     or after C, or when a kept generation has no point at or before C and
 *     names it as parent (restore follows the parent for times before a
 *     generation's first point); other generations go as a whole prefix,
 *     meta.json last;
 *   - inside a kept generation the base is the newest manifest cut at or
 *     before C; older manifests and the logs it already contains go.  The
 *     database base is the newest snapshot taken at or before C whose
 *     position is at most that of the point covering C (else the first
 *     snapshot); older snapshots and the segments ending at or before it go;
 *   - blobs last, mark and sweep: every content object still listed under
 *     generations/ is read (a stream, verified) and what it names is kept;
 *     an unnamed blob goes only when it is older than C and than the grace
 *     (replicate uploads a blob before a log names it).  If any object
 *     cannot be read, no blob is deleted.
 *
 *   - a kept generation whose content log has a gap after its base (a
 *     sequence missing while a later log or manifest is listed,
 *     docs/FORMAT.md "Gaps") is left whole: nothing in it is deleted, so
 *     the newest point before the gap (restore --before-gap) and every
 *     object past it stay, and no base is chosen from a point the log
 *     cannot reach; a gap at its first sequence also keeps its parent.
 *     Gaps before the base lie outside the window and go with it.  The
 *     rest of the prune runs; rv_prune_run then fails with RV_ECORRUPT
 *     naming the gap;
 *
 * The plan is made from LIST results (key names carry sequence, position
 * and time) plus the meta.json of kept generations that have no point at
 * or before C and the header of the point covering C; nothing is deleted
 * until the plan is complete.  Killed at any moment, the store still
 * restores every point at or after C; running it again finishes the job. */
#ifndef RV_ENGINE_PRUNE_H
#define RV_ENGINE_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "content/restore.h"
#include "core/err.h"

struct rv_store;

/* Blobs younger than this are never swept: an upload in flight is named by
 * no log yet. */
#define RV_PRUNE_BLOB_GRACE_MS (3600 * 1000LL)

struct rv_prune_opts {
	int64_t retention_ms;  /* > 0 */
	int64_t blob_grace_ms; /* 0: RV_PRUNE_BLOB_GRACE_MS; tests shorten it */
	int64_t now_ms;	       /* 0: the wall clock */
	bool dry_run;	       /* plan and count, delete nothing */
};

enum rv_prune_cat {
	RV_PRUNE_GENERATIONS,
	RV_PRUNE_MANIFESTS,
	RV_PRUNE_LOGS,
	RV_PRUNE_DB_SNAPSHOTS,
	RV_PRUNE_DB_SEGMENTS,
	RV_PRUNE_BLOBS,
	RV_PRUNE_NCAT
};
/* "generations", "manifests", "logs", "db snapshots", "db segments", "blobs" */
const char *rv_prune_cat_name(enum rv_prune_cat c);

struct rv_prune_count {
	uint64_t count, bytes;
};

struct rv_prune_stats {
	int64_t cutoff_ms;			      /* C */
	int64_t blob_cutoff_ms;			      /* min(C, now - grace) */
	struct rv_prune_count removed[RV_PRUNE_NCAT]; /* or, dry run, would be */
	uint64_t generations_kept;
	uint64_t blobs_referenced; /* distinct blobs named by kept objects */
	uint64_t blobs_kept;	   /* listed blobs that stay */
	uint64_t blobs_young;	   /* of those: unreferenced, within the grace */
	bool blobs_skipped;	   /* an object could not be read: none swept */
	uint64_t gap_generations;  /* kept generations left whole for a content gap */
	struct rv_restore_gap gap; /* the first of those gaps (missing 0: none) */
};

struct rv_prune_plan;

/* Read the lease, list generations/ and decide what goes (no deletion).
 * `st` gets the cutoffs and the generation/object counts. */
int rv_prune_plan(struct rv_store *s, const struct rv_prune_opts *o, struct rv_prune_plan **out,
		  struct rv_prune_stats *st) RV_WARN_UNUSED;
/* Delete what the plan says (not with dry_run), then mark and sweep the
 * blobs.  When marking fails, `st->blobs_skipped` is set, no blob is
 * deleted and the error is returned (after the other deletions). */
int rv_prune_execute(struct rv_store *s, const struct rv_prune_plan *p,
		     const struct rv_prune_opts *o, struct rv_prune_stats *st) RV_WARN_UNUSED;
void rv_prune_plan_free(struct rv_prune_plan *p);

/* Plan and execute: what `revenant prune` and a scheduled prune do.
 * With a gap (st->gap), RV_ECORRUPT naming it after everything else was
 * done. */
int rv_prune_run(struct rv_store *s, const struct rv_prune_opts *o,
		 struct rv_prune_stats *st) RV_WARN_UNUSED;

#endif
