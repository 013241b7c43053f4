/* status.h - what `revenant status` reports about a store's content
 * history, worked out here so that the command only prints: the
 * generations listed under generations/, and whether the lease's
 * generation has a gap in its content log (docs/FORMAT.md, "Gaps"). */
#ifndef RV_ENGINE_STATUS_H
#define RV_ENGINE_STATUS_H

#include <stddef.h>

#include "content/restore.h"
#include "core/err.h"
#include "engine/lease.h"
#include "engine/replicate_state.h"

struct rv_store;
struct rv_dns_report;

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

/* One generation as status shows it. */
struct rv_status_gen {
	const char *id; /* borrowed from `gens` */
	bool has_meta;	/* false: meta.json missing (a start was interrupted) */
	bool meta_read; /* outside `meta_newest`: not asked for */
	struct rv_gen_meta meta;
};

/* Everything `revenant status` prints. */
struct rv_status {
	bool have_lease; /* false: nothing was replicated to this store yet */
	struct rv_lease lease;
	bool have_heartbeat; /* heartbeat.json, when a primary wrote one */
	struct rv_heartbeat heartbeat;
	struct rv_status_gens gens;
	struct rv_status_gen *gen; /* gens.n of them, oldest first */
	/* The lease's generation's latest recorded state. */
	struct rv_cstate content;
	uint64_t files, dirs, links, bytes;
	struct rv_restore_gap gap; /* missing 0: none (not looked for with `entry`) */
	/* sites/<site>/standby.json of every site that wrote one */
	struct rv_standby_status *standby;
	size_t nstandby;
	/* What the dns: names answer now (rv_status_dns; ndns 0: not asked):
	 * per name, the site it points at; `dns_rc`/`dns_err` the first
	 * failure to read one.  dns_off_lease: a name points at a site
	 * other than the lease holder's (or at none). */
	struct rv_dns_report *dns;
	size_t ndns;
	int dns_rc;
	char dns_err[512];
	bool dns_off_lease;
};

/* Gather it: the lease, the generations (meta.json of the newest
 * `meta_newest`; SIZE_MAX: all), the latest recorded state and its counts,
 * and the content log's gap.  `entry` (may be NULL) sees every entry of the
 * latest state in manifest order (status --manifest; the gap check is then
 * skipped).  A gap is not an error here: out->gap says it. */
int rv_status_collect(struct rv_store *s, size_t meta_newest,
		      int (*entry)(void *ud, const struct rv_centry *e), void *ud,
		      struct rv_status *out) RV_WARN_UNUSED;
void rv_status_release(struct rv_status *st);

/* Ask the configured DNS provider what each dns: name answers (live
 * queries: the zone's primary, or Route 53's API) and judge it against the
 * lease.  Never fails: a name that cannot be read is reported in
 * out->dns_rc / dns_err; nothing is asked without dns.provider. */
struct rv_config;
void rv_status_dns(const struct rv_config *c, struct rv_status *out);

#endif
