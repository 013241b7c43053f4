/* agent.h - `revenant run`: one long-lived process per site whose role
 * follows the lease (docs/OPERATIONS.md, "One process per site").
 *
 * The roles, decided from lease.json every time one ends:
 *   primary  this site holds the lease: finish a promotion if one is under
 *            way (engine/promote.h: catch-up, hooks.promote, Ghost, DNS),
 *            then replicate until stopped or fenced;
 *   fenced   replicate found a newer epoch (or a fencing it ran into): it
 *            ran hooks.fenced; what this site wrote that the store does not
 *            hold is saved aside (the database as a consistent copy, the
 *            content files changed after the store's newest point), then
 *            hooks.standby runs and the site becomes a standby;
 *   standby  another site holds the lease: follow it (engine/standby.c)
 *            until this site is promoted — by `revenant promote` here or
 *            anywhere (it takes the lease for this site; the standby sees
 *            it at its next poll) or by automatic failover;
 *   waiting  no lease yet and this site is not failover.initial_primary.
 *
 * Automatic failover (failover.auto, off by default): the standby promotes
 * only when the primary's heartbeat is failover.dead_after old AND an
 * HTTP probe of the primary site (failover.probe_url) has failed `fall`
 * times in a row, `interval` apart; `rise` successes in a row count it up
 * again.  Losing only the link between the sites fails the probe but not
 * the heartbeat (the primary still reaches the store): no promotion. */
#ifndef RV_ENGINE_AGENT_H
#define RV_ENGINE_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "content/restore.h"
#include "engine/promote.h"
#include "engine/replicate.h"

struct rv_metrics;

struct rv_agent_opts {
	struct rv_store *store;
	const char *site;
	const char *dir;	      /* the content folder */
	struct rv_replicate_opts rep; /* the primary role */
	struct rv_standby_opts sb;    /* the standby role (its wait is the agent's) */
	struct rv_promote_opts pro;   /* promotions (force off) */
	const struct rv_hooks *hooks;
	bool initial_primary; /* may create the lease on an empty store */
	const char *save_dir; /* where a fenced primary keeps its writes */
	int64_t sync_interval_ms;
	struct rv_metrics *metrics; /* borrowed; NULL: none */
	/* automatic failover */
	bool auto_failover;
	const char *probe_url;
	unsigned rise, fall;
	int64_t probe_interval_ms;
	int64_t dead_after_ms;
};

struct rv_agent;

int rv_agent_new(struct rv_agent **out, const struct rv_agent_opts *o) RV_WARN_UNUSED;
/* Until rv_agent_stop (0) or a failure a restart cannot fix by waiting
 * (a hook that fails, a configuration the store refuses). */
int rv_agent_run(struct rv_agent *a) RV_WARN_UNUSED;
/* Thread-safe; not async-signal-safe (the CLI calls it from its signal
 * thread). */
void rv_agent_stop(struct rv_agent *a);
/* /healthz: the current role's health. */
int rv_agent_health(void *a, char *why, size_t n);
void rv_agent_free(struct rv_agent *a);

#endif
