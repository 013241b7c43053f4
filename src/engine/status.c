/* status.c - the store facts behind `revenant status` (see status.h). */
#include "engine/status.h"

#include "content/format.h"
#include "core/mem.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static int collect_gen(const struct rv_obj_info *info, void *ud)
{
	struct rv_status_gens *g = ud;
	const char *k = info->key + strlen(RV_KEY_GENERATIONS);
	char *id;

	if (strlen(k) != RV_GEN_ID_LEN || k[RV_GEN_ID_LEN - 1] != '/')
		return 0;
	id = rv_strndup(k, RV_GEN_ID_LEN - 1);
	if (rv_gen_id_check(id)) {
		/* Not revenant's: another tool's folder is none of ours. */
		rv_error_clear();
		free(id);
		return 0;
	}
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		g->ids = rv_realloc(g->ids, g->cap * sizeof(*g->ids));
	}
	g->ids[g->n++] = id;
	return 0;
}

int rv_status_list_generations(struct rv_store *s, struct rv_status_gens *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = rv_store_list_dirs(s, RV_KEY_GENERATIONS, collect_gen, out);
	if (rc)
		rv_status_gens_release(out);
	return rc;
}

void rv_status_gens_release(struct rv_status_gens *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		free(g->ids[i]);
	free(g->ids);
	memset(g, 0, sizeof(*g));
}

int rv_status_content_gap(struct rv_store *s, const char *gen, struct rv_restore_gap *gap)
{
	struct rv_restore_point p;
	int rc = rv_restore_find_flags(s, gen, RV_RESTORE_LATEST, RV_RESTORE_BEFORE_GAP, &p);

	memset(gap, 0, sizeof(*gap));
	if (!rc || rc == RV_ENOTFOUND) {
		/* RV_ENOTFOUND: nothing committed, or nothing before the gap;
		 * p.gap tells which. */
		*gap = p.gap;
		if (rc)
			rv_error_clear();
		rc = 0;
	}
	rv_restore_point_release(&p);
	return rc;
}
