/* switchover.h - `revenant switchover`: the planned move of the primary role
 * with zero loss (docs/OPERATIONS.md, "Planned switchover").
 *
 * The store carries it; no process talks to another:
 *   1. checks: the primary's heartbeat is current (it must do the hand-over
 *      itself), the target site's standby agent reported within a few
 *      heartbeat intervals (sites/<site>/standby.json), follows the lease's
 *      generation and is within max_loss of the primary's last commit;
 *   2. the request: lease.json gets "switchover_to" (a conditional rewrite
 *      that leaves epoch and holder alone);
 *   3. the primary sees it at its next lease check, runs hooks.demote (Ghost
 *      stops taking writes), stops as on SIGTERM — the final commit ships
 *      everything Ghost acknowledged — and hands the lease over (epoch + 1,
 *      its final seq in "handover"); a demote hook that fails takes the
 *      request back and the primary carries on;
 *   4. the target's agent sees the lease is its site's, catches up to
 *      exactly that seq, runs hooks.promote, waits for Ghost, switches DNS
 *      and replicates; the old primary's agent follows it (hooks.standby).
 * This command waits for 3 and 4 and reports how long each took. */
#ifndef RV_ENGINE_SWITCHOVER_H
#define RV_ENGINE_SWITCHOVER_H

#include <stdint.h>

#include "core/err.h"

struct rv_store;

struct rv_switchover_opts {
	struct rv_store *store;
	const char *to;		 /* the site to move the primary role to */
	int64_t max_behind_ms;	 /* failover.max_loss */
	int64_t status_fresh_ms; /* a standby report older than this: gone */
	int64_t dead_after_ms;	 /* a primary heartbeat older than this: gone */
	int64_t timeout_ms;	 /* for the whole move */
};

struct rv_switchover_result {
	char from[64];
	uint64_t epoch_before, epoch_after;
	uint64_t handover_seq; /* 0: the target started its generation before it was read */
	int64_t handed_ms;     /* request -> the lease handed over (demote + final commit) */
	int64_t primary_ms;    /* request -> the new primary's first heartbeat */
};

/* 0 once the target writes its heartbeat as primary; RV_EREFUSED from the
 * checks (nothing asked); RV_EFAIL when the primary took the request back
 * (its demote hook failed); RV_ENET when a step outlived the timeout (the
 * message says which and where things stand). */
int rv_switchover(const struct rv_switchover_opts *o,
		  struct rv_switchover_result *res) RV_WARN_UNUSED;

#endif
