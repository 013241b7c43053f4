/* promote.h - `revenant promote`: the unplanned failover, run at the site
 * that is to become primary when the other is gone (docs/OPERATIONS.md,
 * "Failing over").
 *
 * The steps, in order, each one's failure a stop at a state a rerun
 * finishes from:
 *   guard    read the lease and the old primary's heartbeat: refuse
 *            (RV_EREFUSED) when the primary looks alive (heartbeat younger
 *            than dead_after) or the loss cannot be shown within max_loss;
 *   catch-up bring the folder and database (a standby's, or nothing) to
 *            the newest point of the lease's generation; judge the loss
 *            against that point;
 *   lease    take it from the lease read by the guard, epoch + 1, naming
 *            the same generation (a conditional write: of two promotions
 *            exactly one wins); from here on the old primary is fenced at
 *            its next check, and what it committed before is read once
 *            more; then the database is handed to Ghost;
 *   hook     hooks.promote (start Ghost);
 *   ghost    wait until ghost.url answers as Ghost (failover.ghost_timeout);
 *   dns      switch every dns: name to this site.
 * The caller then replicates as primary: a new generation whose parent is
 * the promoted one (replicate's start does that, the lease being this
 * site's).  A rerun at a site that holds the lease skips the guard and the
 * take, catches up again (a no-op when the database is already Ghost's)
 * and runs the rest: hooks must be safe to run twice.
 *
 * The loss bound: writes Ghost acknowledged at the old site after the
 * promoted point and before it stopped.  Everything acknowledged before
 * the point's commit is in it.  The old primary was alive at its last
 * heartbeat; had it lived on with the store reachable, its next heartbeat
 * would be there; had it lived on cut off from the store, it stopped
 * Ghost's writes itself within fence_after (+ hooks.timeout for
 * hooks.fenced).  So it stopped by heartbeat + fence_after (+ the hook's
 * time), and the bound is that less the point's commit time — or less the
 * heartbeat's time minus sync_interval, when the heartbeat says nothing was
 * waiting to be committed and names this point: a quiet blog loses at most
 * a tick, however long ago its last write.  Both times
 * are the old primary's clock: no skew between them.  It assumes the old
 * site runs with the same failover: settings as this one (the same
 * revenant.yml at both sites, apart from `site`). */
#ifndef RV_ENGINE_PROMOTE_H
#define RV_ENGINE_PROMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "content/restore.h"
#include "engine/hooks.h"

struct rv_store;
struct rv_config;
struct rv_metrics;

struct rv_promote_opts {
	struct rv_store *store;
	const char *site;
	const char *dir;		/* Ghost's content folder here */
	struct rv_standby_opts standby; /* restore options, db_path, keep */
	int64_t sync_interval_ms;
	int64_t dead_after_ms;
	/* The old primary stops Ghost's writes within this after its last
	 * heartbeat: failover.fence_after, + hooks.timeout when
	 * hooks.fenced is set. */
	int64_t stops_within_ms;
	int64_t max_loss_ms;
	bool force; /* promote whatever the guard says (and say the figure) */
	const struct rv_hooks *hooks;
	const char *ghost_url; /* NULL: do not wait for Ghost */
	int64_t ghost_timeout_ms;
	const struct rv_config *dns; /* dns: switch when its provider is on */
	/* The folder is another process's: this site's agent (`revenant
	 * run`), which follows as a standby.  Promote then judges the loss
	 * against the newest point in the store (what the agent's catch-up
	 * reaches), takes the lease, and waits up to `agent_timeout_ms` for
	 * the agent to finish — catch-up, hooks, Ghost, DNS — and write its
	 * first heartbeat as primary. */
	bool remote;
	int64_t agent_timeout_ms;
	/* Borrowed, NULL: none.  The DNS switch's figures go here
	 * (revenant_dns_switch_*: docs/OPERATIONS.md, "Metrics"). */
	struct rv_metrics *metrics;
};

enum rv_promote_stage {
	RV_PROMOTE_GUARD,
	RV_PROMOTE_CATCHUP,
	RV_PROMOTE_LEASE,
	RV_PROMOTE_HOOK,
	RV_PROMOTE_GHOST,
	RV_PROMOTE_DNS,
	RV_PROMOTE_DONE,
};
const char *rv_promote_stage_name(enum rv_promote_stage s);

struct rv_promote_result {
	enum rv_promote_stage stage; /* DONE, or the step that stopped it */
	bool resumed;		     /* this site held the lease already */
	char from_site[64];	     /* the lease's site before ("" : none) */
	uint64_t from_epoch, epoch;  /* before and after */
	bool have_hb;		     /* the old primary's heartbeat was read */
	int64_t hb_ms;		     /* its time */
	bool hb_current;	     /* written under the lease's epoch */
	struct rv_standby_point point;
	int64_t loss_bound_ms; /* -1: cannot be shown */
	bool forced;	       /* the guard said no and --force went on */
	int64_t catchup_ms, hook_ms, ghost_ms, dns_ms, total_ms;
	unsigned dns_switched; /* names moved */
	bool by_agent;	       /* remote: the agent finished it */
};

/* 0 when every step is done; RV_EREFUSED from the guard (the figure in the
 * message); else the failing step's code, res->stage naming it, and a
 * message that says what state that leaves and how to finish. */
int rv_promote(const struct rv_promote_opts *o, struct rv_promote_result *res) RV_WARN_UNUSED;

#endif
