/* purge.h - find posts (and pages) by filter and delete them one by one.
 *
 * The bulk DELETE endpoint is never used: a filter typo there deletes a
 * whole site in one request.  Each object is deleted by id with bounded
 * concurrency, and the site is browsed again afterwards until nothing
 * matching is left, so objects created while a purge runs are not missed. */
#ifndef RV_GHOST_PURGE_H
#define RV_GHOST_PURGE_H

#include <stddef.h>

#include "ghost/client.h"

struct rv_ghost_item {
	const char *resource; /* "posts" or "pages" (static) */
	char id[RV_GHOST_KEY_ID_LEN + 1];
	char *status, *slug, *title;
};

struct rv_ghost_items {
	struct rv_ghost_item *v;
	size_t n, alloc;
};

void rv_ghost_items_release(struct rv_ghost_items *items);

/* Browse every `resource` matching `filter` (NULL = all) and append them to
 * `out`, leaving out ids already in `out` and ids in `skip` (may be NULL). */
int rv_ghost_collect(struct rv_ghost_client *c, const char *resource, const char *filter,
		     const struct rv_ghost_items *skip, struct rv_ghost_items *out) RV_WARN_UNUSED;

struct rv_ghost_purge_stats {
	size_t found;	/* distinct objects seen matching */
	size_t deleted; /* answered 204 */
	size_t gone;	/* answered 404: deleted by someone else meanwhile */
	size_t failed;	/* refused (other 4xx, 5xx after retries) */
	unsigned rounds;
};

struct rv_ghost_purge_opts {
	const char *filter;
	const char *const *resources; /* NULL-terminated: "posts", optionally "pages" */
	unsigned jobs;		      /* parallel deletes, 0 = 4 */
	unsigned max_rounds;	      /* re-browse limit, 0 = 10 */
};

/* Delete `items` (already collected and counted in st->found), then browse
 * and delete again until nothing new matches.  Stops at the first error that
 * would fail every other delete too (RV_ENET, RV_EAUTH, RV_ECORRUPT) and
 * returns it; per-object refusals are logged and counted in st->failed. */
int rv_ghost_purge(struct rv_ghost_client *c, const struct rv_ghost_purge_opts *o,
		   struct rv_ghost_items *items, struct rv_ghost_purge_stats *st) RV_WARN_UNUSED;

#endif
