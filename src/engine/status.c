/* status.c - the store facts behind `revenant status` (see status.h). */
#include "engine/status.h"
#include "core/config.h"
#include "dns/dns.h"

#include "format/content.h"
#include "core/mem.h"
#include "store/store.h"

#include <stdint.h>
#include <stdio.h>
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
	g->ids = rv_grow(g->ids, &g->cap, g->n + 1, sizeof(*g->ids));
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

struct counter {
	struct rv_status *st;
	int (*entry)(void *ud, const struct rv_centry *e);
	void *ud;
};

static int count_entry(void *ud, const struct rv_centry *e)
{
	struct counter *c = ud;

	switch (e->type) {
	case RV_CE_FILE:
		c->st->files++;
		c->st->bytes += e->size;
		break;
	case RV_CE_DIR:
		c->st->dirs++;
		break;
	case RV_CE_LINK:
		c->st->links++;
		break;
	default:
		break;
	}
	return c->entry ? c->entry(c->ud, e) : 0;
}

static int collect_site(const struct rv_obj_info *info, void *ud)
{
	struct rv_status_gens *g = ud;
	const char *k = info->key + strlen(RV_KEY_SITES);
	size_t n = strlen(k);

	if (n < 2 || n > 64 || k[n - 1] != '/')
		return 0;
	g->ids = rv_grow(g->ids, &g->cap, g->n + 1, sizeof(*g->ids));
	g->ids[g->n++] = rv_strndup(k, n - 1);
	return 0;
}

/* The standby reports (sites/<site>/standby.json); a site folder without a
 * readable one is skipped. */
static int collect_standbys(struct rv_store *s, struct rv_status *out)
{
	struct rv_status_gens sites = {0};
	int rc = rv_store_list_dirs(s, RV_KEY_SITES, collect_site, &sites);

	for (size_t i = 0; !rc && i < sites.n; i++) {
		struct rv_standby_status st;
		int e = rv_standby_status_read(s, sites.ids[i], &st);

		if (e) {
			rv_error_clear();
			continue;
		}
		out->standby = rv_realloc(out->standby, (out->nstandby + 1) * sizeof(st));
		out->standby[out->nstandby++] = st;
	}
	rv_status_gens_release(&sites);
	return rc;
}

int rv_status_collect(struct rv_store *s, size_t meta_newest,
		      int (*entry)(void *ud, const struct rv_centry *e), void *ud,
		      struct rv_status *out)
{
	struct counter cnt = {out, entry, ud};
	int rc;

	memset(out, 0, sizeof(*out));
	rv_cstate_init(&out->content);
	rc = rv_lease_read(s, &out->lease);
	if (rc && rc != RV_ENOTFOUND)
		return rc;
	out->have_lease = !rc;
	rv_error_clear();
	rc = rv_heartbeat_read(s, &out->heartbeat);
	if (rc && rc != RV_ENOTFOUND)
		return rc;
	out->have_heartbeat = !rc;
	rv_error_clear();
	/* Advisory (for switchover): a listing that fails here fails below
	 * too, where it matters. */
	if (collect_standbys(s, out))
		rv_error_clear();
	if ((rc = rv_status_list_generations(s, &out->gens)))
		return rc;
	out->gen = rv_calloc(out->gens.n ? out->gens.n : 1, sizeof(*out->gen));
	for (size_t i = 0; i < out->gens.n; i++) {
		struct rv_status_gen *g = &out->gen[i];

		g->id = out->gens.ids[i];
		if (meta_newest != SIZE_MAX && i + meta_newest < out->gens.n)
			continue;
		g->meta_read = true;
		rc = rv_gen_meta_read(s, g->id, &g->meta);
		if (rc == RV_ENOTFOUND) {
			rv_error_clear();
			continue;
		}
		if (rc)
			return rc;
		g->has_meta = true;
	}
	if (!out->have_lease)
		return 0;
	if ((rc = rv_cstate_load(s, out->lease.gen, 64, &out->content)))
		return rc;
	if (!entry && (rc = rv_status_content_gap(s, out->lease.gen, &out->gap)))
		return rc;
	return rv_cstate_merge(out->content.base_fd, "the latest manifest", &out->content.changes,
			       count_entry, &cnt);
}

void rv_status_release(struct rv_status *st)
{
	for (size_t i = 0; st->gen && i < st->gens.n; i++)
		if (st->gen[i].has_meta)
			rv_gen_meta_release(&st->gen[i].meta);
	free(st->gen);
	rv_status_gens_release(&st->gens);
	rv_cstate_release(&st->content);
	if (st->have_lease)
		rv_lease_release(&st->lease);
	if (st->have_heartbeat)
		rv_heartbeat_release(&st->heartbeat);
	for (size_t i = 0; i < st->nstandby; i++)
		rv_standby_status_release(&st->standby[i]);
	free(st->standby);
	free(st->dns);
	memset(st, 0, sizeof(*st));
	rv_cstate_init(&st->content);
}

void rv_status_dns(const struct rv_config *c, struct rv_status *out)
{
	if (!c || !c->dns.provider)
		return;
	out->dns_rc = rv_dns_show_all(c, &out->dns, &out->ndns);
	if (out->dns_rc)
		snprintf(out->dns_err, sizeof(out->dns_err), "%s", rv_errmsg());
	rv_error_clear();
	for (size_t i = 0; i < out->ndns; i++)
		if (!out->dns[i].rc &&
		    (!out->have_lease || strcmp(out->dns[i].site, out->lease.site)))
			out->dns_off_lease = true;
}
