/* promote.c - the unplanned failover (promote.h). */
#include "engine/promote.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/testpoint.h"
#include "core/util.h"
#include "db/target.h"
#include "dns/dns.h"
#include "engine/lease.h"
#include "ghost/client.h"
#include "metrics/metrics.h"

/* How often promote asks Ghost whether it answers yet. */
#define GHOST_POLL_MS 250

static const char *const stage_names[] = {"guard", "catch-up", "lease", "hook",
					  "ghost", "dns",      "done"};

const char *rv_promote_stage_name(enum rv_promote_stage s)
{
	return (unsigned)s <= RV_PROMOTE_DONE ? stage_names[s] : "?";
}

struct promote {
	const struct rv_promote_opts *o;
	struct rv_promote_result *res;
	struct rv_lease lease; /* as the guard read it */
	struct rv_heartbeat hb;
	char holder[128];
	bool leased; /* this site holds the lease (taken here or before) */
};

static void secs(char out[32], int64_t ms)
{
	snprintf(out, 32, "%.1f s", (double)ms / 1000.0);
}

/* The figure promote judges by (promote.h, "The loss bound"). */
static int64_t loss_bound(const struct promote *p, const struct rv_standby_point *pt)
{
	int64_t stopped_by = p->hb.time_ms + p->o->stops_within_ms, covered = pt->commit_ms;

	if (!p->res->have_hb || !p->res->hb_current)
		return -1;
	/* An idle heartbeat naming this point (or an older one of its
	 * generation): everything older than a tick at its time is in it. */
	if (p->hb.idle && !strcmp(p->hb.gen, pt->gen) && p->hb.seq <= pt->seq &&
	    p->hb.time_ms - p->o->sync_interval_ms > covered)
		covered = p->hb.time_ms - p->o->sync_interval_ms;
	return stopped_by > covered ? stopped_by - covered : 0;
}

/* Before anything changes: is the old primary gone, can the store be
 * read?  Fills the lease and heartbeat for the later steps. */
static int guard(struct promote *p)
{
	const struct rv_promote_opts *o = p->o;
	struct rv_promote_result *res = p->res;
	int64_t age;
	char a[32], d[32];
	int rc = rv_lease_read(o->store, &p->lease);

	if (rc == RV_ENOTFOUND)
		return rv_error(RV_ENOTFOUND,
				"nothing to promote: the store holds no lease, no primary has "
				"written to it");
	if (rc) {
		char why[512];

		snprintf(why, sizeof(why), "%s", rv_errmsg());
		return rv_error(RV_EREFUSED,
				"promote refuses: it cannot read the lease, so it can show neither "
				"that the primary is gone nor what is lost (%s) — make the store "
				"reachable from this site",
				why);
	}
	snprintf(res->from_site, sizeof(res->from_site), "%s", p->lease.site);
	res->from_epoch = res->epoch = p->lease.epoch;
	res->resumed = p->leased = !strcmp(p->lease.site, o->site);
	rc = rv_heartbeat_read(o->store, &p->hb);
	if (rc && rc != RV_ENOTFOUND) {
		char why[512];

		snprintf(why, sizeof(why), "%s", rv_errmsg());
		return rv_error(RV_EREFUSED,
				"promote refuses: it cannot read heartbeat.json (%s) — make the "
				"store reachable from this site",
				why);
	}
	rv_error_clear();
	res->have_hb = !rc;
	if (!res->have_hb || res->resumed)
		return 0;
	res->hb_ms = p->hb.time_ms;
	res->hb_current = p->hb.epoch == p->lease.epoch;
	age = rv_now_ms() - p->hb.time_ms;
	if (!res->hb_current || age >= o->dead_after_ms)
		return 0;
	secs(a, age);
	secs(d, o->dead_after_ms);
	if (o->force) {
		rv_log(RV_LOG_WARN, "promoting over a primary that looks alive (--force)", "site",
		       p->lease.site, "heartbeat_age", a, NULL);
		res->forced = true;
		return 0;
	}
	return rv_error(
	    RV_EREFUSED,
	    "promote refuses: site '%s' wrote its heartbeat %s ago (failover.dead_after "
	    "%s), it looks alive — stop it first (its writes go on being shipped until "
	    "then), or --force to fence it now and lose what it wrote after the "
	    "promoted point",
	    p->lease.site, a, d);
}

/* Just before the lease is taken: the primary judged dead at the start
 * may have come back during the catch-up (its store outage ended, its
 * heartbeat lands again, and it starts Ghost once a second one does:
 * engine/replicate.c).  A heartbeat of the lease's epoch newer than the
 * one judged, and younger than dead_after, refuses (--force takes over
 * all the same: the old primary is fenced at its next lease check). */
static int still_gone(struct promote *p)
{
	const struct rv_promote_opts *o = p->o;
	struct rv_heartbeat hb;
	bool back;
	char a[32];

	if (o->force || !p->res->have_hb || rv_heartbeat_read(o->store, &hb)) {
		rv_error_clear();
		return 0; /* unreadable now: the guard's judgement stands */
	}
	back = hb.epoch == p->lease.epoch && hb.time_ms > p->hb.time_ms &&
	       rv_now_ms() - hb.time_ms < o->dead_after_ms;
	secs(a, rv_now_ms() - hb.time_ms);
	rv_heartbeat_release(&hb);
	if (back)
		return rv_error(RV_EREFUSED,
				"promote refuses: site '%s' is back — its heartbeat landed %s ago, "
				"during the catch-up (its store outage ended); nothing was taken "
				"over. Promote again once it is really gone, or --force",
				p->lease.site, a);
	return 0;
}

/* The catch-up reached `pt`: judge the loss, then take the lease. */
static int before_promote(void *ud, const struct rv_standby_point *pt)
{
	struct promote *p = ud;
	const struct rv_promote_opts *o = p->o;
	struct rv_promote_result *res = p->res;
	struct rv_lease_opts lo = {
	    .site = o->site, .holder = p->holder, .gen = p->lease.gen, .from = &p->lease};
	struct rv_lease got;
	char b[32], m[32], when[32];
	int rc;

	res->point = *pt;
	res->stage = RV_PROMOTE_CATCHUP;
	if (!res->resumed) {
		res->loss_bound_ms = loss_bound(p, pt);
		secs(m, o->max_loss_ms);
		rv_restore_format_time(when, pt->commit_ms);
		if (res->loss_bound_ms < 0 && !o->force)
			return rv_error(
			    RV_EREFUSED,
			    "promote refuses: the loss cannot be shown — %s; the newest point here "
			    "is %s seq %" PRIu64 " (%s). Promote with --force to accept whatever "
			    "the old primary wrote after it",
			    res->have_hb ? "the heartbeat in the store is a fenced writer's"
					 : "the store holds no heartbeat from the primary",
			    pt->gen, pt->seq, when);
		secs(b, res->loss_bound_ms);
		if (res->loss_bound_ms > o->max_loss_ms && !o->force) {
			char hbw[32];

			rv_restore_format_time(hbw, p->hb.time_ms);
			return rv_error(RV_EREFUSED,
					"promote refuses: up to %s of writes would be lost, more "
					"than failover.max_loss (%s) — the newest point here is %s "
					"seq %" PRIu64 " (%s), the primary's last heartbeat (%s) "
					"named seq %" PRIu64
					"%s; wait for the standby, or --force to accept it",
					b, m, pt->gen, pt->seq, when, hbw, p->hb.seq,
					strcmp(p->hb.gen, pt->gen) ? " of another generation" : "");
		}
		if (o->force && (res->loss_bound_ms < 0 || res->loss_bound_ms > o->max_loss_ms))
			res->forced = true;
	}
	rv_testpoint("promote.caught_up");
	res->stage = RV_PROMOTE_LEASE;
	if (res->resumed && p->lease.handover_from && !strcmp(p->lease.gen, pt->gen)) {
		/* A planned switchover: the old primary's final point, exactly. */
		if (pt->seq < p->lease.handover_seq)
			return rv_error(RV_ENOTFOUND,
					"switchover: the catch-up reached seq %" PRIu64
					" of generation %s, not the point site '%s' handed over "
					"(seq %" PRIu64 ") — is the store listing it yet? run "
					"'revenant promote' again",
					pt->seq, pt->gen, p->lease.handover_from,
					p->lease.handover_seq);
		res->loss_bound_ms = 0;
	}
	if (res->resumed)
		return 0; /* ours already: replicate's start takes it on */
	if ((rc = still_gone(p)))
		return rc;
	rc = rv_lease_acquire(o->store, &lo, &got);
	if (rc)
		return rc;
	p->leased = true;
	res->epoch = got.epoch;
	rv_testpoint("promote.lease_taken");
	rv_lease_release(&got);
	return 0;
}

/* Until ghost.url answers as Ghost, or the timeout. */
static int wait_ghost(const struct rv_promote_opts *o)
{
	struct rv_ghost_opts go = {.url = o->ghost_url, .max_attempts = 1, .timeout_ms = 2000};
	struct rv_ghost_client *c = NULL;
	int64_t end = rv_mono_ms() + o->ghost_timeout_ms;
	int rc;

	if ((rc = rv_ghost_client_new(&c, &go)))
		return rc;
	for (;;) {
		json_t *site = NULL;

		rc = rv_ghost_site(c, &site);
		json_decref(site);
		if (!rc || rv_mono_ms() >= end)
			break;
		rv_sleep_ms(GHOST_POLL_MS);
	}
	if (rc) {
		char why[512], t[32];

		snprintf(why, sizeof(why), "%s", rv_errmsg());
		secs(t, o->ghost_timeout_ms);
		rc = rv_error(rc,
			      "Ghost at %s did not answer within failover.ghost_timeout (%s): %s",
			      o->ghost_url, t, why);
	}
	rv_ghost_client_free(c);
	return rc;
}

/* The last switch as metrics: when, how long, how it ended, and where this
 * process pointed the names (the target it last made the served one). */
static void dns_metrics(struct rv_metrics *m, const char *site, int rc, int64_t ms)
{
	char label[96];

	if (!m)
		return;
	rv_metric_set(rv_metrics_gauge(m, "revenant_dns_switch_timestamp_seconds",
				       "When this process last switched the dns: names "
				       "(Unix time).",
				       NULL),
		      (double)rv_now_ms() / 1000.0);
	rv_metric_set(rv_metrics_gauge(m, "revenant_dns_switch_duration_seconds",
				       "How long the last DNS switch took: read, "
				       "compare-and-swap, verified at the servers.",
				       NULL),
		      (double)ms / 1000.0);
	rv_metric_set(rv_metrics_gauge(m, "revenant_dns_switch_success",
				       "1 when the last DNS switch pointed every name at its "
				       "site, 0 when it failed (the log says which name).",
				       NULL),
		      rc ? 0.0 : 1.0);
	snprintf(label, sizeof(label), "result=\"%s\"", rc ? "failed" : "ok");
	rv_metric_add(rv_metrics_counter(m, "revenant_dns_switches_total",
					 "DNS switches this process ran, by result.", label),
		      1.0);
	if (!rc) {
		snprintf(label, sizeof(label), "site=\"%s\"", site);
		rv_metric_set(rv_metrics_gauge(m, "revenant_dns_switched_to",
					       "1 for the site this process last pointed the "
					       "dns: names at.",
					       label),
			      1.0);
	}
}

static int switch_dns(const struct rv_promote_opts *o, struct rv_promote_result *res)
{
	struct rv_dns_report *rep = NULL;
	size_t n = 0;
	int64_t t = rv_mono_ms();
	int rc;

	if (!o->dns || !o->dns->dns.provider)
		return 0;
	rc = rv_dns_switch_all(o->dns, o->site, false, &rep, &n);
	for (size_t i = 0; i < n; i++)
		if (!rep[i].rc && rep[i].sw.changed)
			res->dns_switched++;
	free(rep);
	dns_metrics(o->metrics, o->site, rc, rv_mono_ms() - t);
	return rc;
}

/* After the data: the operator's hook, Ghost, DNS. */
static int finish(struct promote *p)
{
	const struct rv_promote_opts *o = p->o;
	struct rv_promote_result *res = p->res;
	struct rv_hook_info hi = {.site = o->site,
				  .epoch = res->epoch,
				  .gen = res->point.gen[0] ? res->point.gen : NULL,
				  .seq = res->point.seq,
				  .point_ms = res->point.commit_ms,
				  .loss_bound_ms = res->loss_bound_ms,
				  .from_site = res->from_site[0] ? res->from_site : NULL};
	int64_t t = rv_mono_ms();
	int rc;

	res->stage = RV_PROMOTE_HOOK;
	rv_testpoint("promote.handed_over");
	if ((rc = rv_hook_run(o->hooks, RV_HOOK_PROMOTE, &hi)))
		return rc;
	rv_testpoint("promote.hook_done");
	res->hook_ms = rv_mono_ms() - t;
	t = rv_mono_ms();
	res->stage = RV_PROMOTE_GHOST;
	if (o->ghost_url && (rc = wait_ghost(o)))
		return rc;
	res->ghost_ms = rv_mono_ms() - t;
	t = rv_mono_ms();
	res->stage = RV_PROMOTE_DNS;
	if ((rc = switch_dns(o, res)))
		return rc;
	rv_testpoint("promote.dns_done");
	res->dns_ms = rv_mono_ms() - t;
	res->stage = RV_PROMOTE_DONE;
	return 0;
}

/* A rerun at a site that holds the lease: whether the data was already
 * handed to Ghost (this site started its own generation, or the database
 * is Ghost's), so that nothing is restored over what Ghost wrote since. */
static bool handed_over(struct promote *p)
{
	const struct rv_promote_opts *o = p->o;
	const struct rv_dbtgt_follow_opts fo = {.target = o->standby.db_path,
						.mysql = o->standby.db_mysql};
	struct rv_gen_meta meta;
	bool ours = false;

	if (!rv_gen_meta_read(o->store, p->lease.gen, &meta)) {
		ours = meta.site && !strcmp(meta.site, o->site);
		rv_gen_meta_release(&meta);
	}
	rv_error_clear();
	return ours || (fo.target && rv_dbtgt_of(fo.mysql)->is_ghosts(&fo));
}

/* Remote: the agent that holds the folder finishes once it sees the lease
 * is this site's; it is done when its heartbeat as primary lands. */
static int wait_agent(struct promote *p)
{
	const struct rv_promote_opts *o = p->o;

	if (rv_heartbeat_wait(o->store, o->site, p->res->epoch + 1,
			      rv_mono_ms() + o->agent_timeout_ms, p->res->point.gen))
		return rv_error(RV_ENET,
				"this site's agent (revenant run) did not report as primary "
				"within %" PRId64 " s: look at its log — it finishes the "
				"catch-up, hooks.promote, Ghost and DNS",
				o->agent_timeout_ms / 1000);
	p->res->by_agent = true;
	p->res->stage = RV_PROMOTE_DONE;
	return 0;
}

/* Remote: the point the agent's catch-up will reach is the newest one in
 * the store. */
static int remote_promote(struct promote *p)
{
	struct rv_restore_point rp;
	struct rv_standby_point sp = {0};
	int64_t t0 = rv_mono_ms();
	int rc;

	if (p->res->resumed)
		return wait_agent(p);
	p->res->stage = RV_PROMOTE_CATCHUP;
	if ((rc = rv_restore_find(p->o->store, p->lease.gen, RV_RESTORE_LATEST, &rp)))
		return rc;
	memcpy(sp.gen, rp.gen, RV_GEN_ID_LEN);
	sp.seq = rp.seq;
	sp.commit_ms = rp.time_ms;
	rv_restore_point_release(&rp);
	p->res->catchup_ms = rv_mono_ms() - t0;
	if ((rc = before_promote(p, &sp)))
		return rc;
	rv_log(RV_LOG_INFO, "lease taken for this site's agent: waiting for it to finish", "site",
	       p->o->site, NULL);
	return wait_agent(p);
}

/* Says where a promotion that stopped after the lease was taken stands. */
static int stopped(const struct promote *p, int rc)
{
	char why[768];

	if (!p->leased || rc == RV_EREFUSED)
		return rc;
	snprintf(why, sizeof(why), "%s", rv_errmsg());
	return rv_error(rc,
			"promotion stopped at the %s step: %s — this site holds the lease (epoch "
			"%" PRIu64 "), so the old primary is fenced%s; fix that and run 'revenant "
			"promote' again to finish",
			rv_promote_stage_name(p->res->stage), why, p->res->epoch,
			p->res->stage > RV_PROMOTE_LEASE ? " and the data is Ghost's here" : "");
}

int rv_promote(const struct rv_promote_opts *o, struct rv_promote_result *res)
{
	struct promote p = {.o = o, .res = res};
	struct rv_standby_opts so = o->standby;
	int64_t t0 = rv_mono_ms();
	int rc;

	memset(res, 0, sizeof(*res));
	res->loss_bound_ms = -1;
	res->stage = RV_PROMOTE_GUARD;
	rv_lease_holder_id(p.holder, sizeof(p.holder));
	if ((rc = guard(&p)))
		goto out;
	if (o->remote) {
		rc = remote_promote(&p);
		goto out;
	}
	if (res->resumed && handed_over(&p)) {
		rv_log(RV_LOG_INFO, "this site holds the lease and its data is Ghost's: finishing",
		       "generation", p.lease.gen, NULL);
	} else {
		if (res->resumed)
			rv_log(RV_LOG_INFO, "this site holds the lease: finishing the catch-up",
			       "generation", p.lease.gen, NULL);
		res->stage = RV_PROMOTE_CATCHUP;
		so.before_promote = before_promote;
		so.before_promote_ud = &p;
		rc = rv_standby_promote(o->store, o->dir, &so, &res->point);
		res->catchup_ms = rv_mono_ms() - t0;
		if (rc)
			goto out;
		if (!res->resumed)
			res->loss_bound_ms = loss_bound(&p, &res->point);
	}
	rc = finish(&p);
out:
	res->total_ms = rv_mono_ms() - t0;
	rc = stopped(&p, rc);
	rv_lease_release(&p.lease);
	if (res->have_hb)
		rv_heartbeat_release(&p.hb);
	return rc;
}
