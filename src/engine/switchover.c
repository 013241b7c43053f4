/* switchover.c - the planned move of the primary role (switchover.h). */
#include "engine/switchover.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "engine/lease.h"

#define POLL_MS 100

static int refuse_unless_ready(const struct rv_switchover_opts *o, const struct rv_lease *l)
{
	struct rv_standby_status st;
	struct rv_heartbeat hb;
	int64_t now = rv_now_ms(), behind;
	int rc;

	if ((rc = rv_heartbeat_read(o->store, &hb)))
		return rv_error(RV_EREFUSED,
				"switchover refuses: no heartbeat from the primary '%s' (%s) — it "
				"must hand over itself; if it is gone, use 'revenant promote'",
				l->site, rv_errmsg());
	if (hb.epoch != l->epoch || now - hb.time_ms > o->dead_after_ms) {
		rc = rv_error(RV_EREFUSED,
			      "switchover refuses: the primary '%s' has not written its heartbeat "
			      "for %.1f s — it must hand over itself; if it is gone, use 'revenant "
			      "promote'",
			      l->site, (double)(now - hb.time_ms) / 1000.0);
		rv_heartbeat_release(&hb);
		return rc;
	}
	rc = rv_standby_status_read(o->store, o->to, &st);
	if (rc) {
		char why[512];

		snprintf(why, sizeof(why), "%s",
			 rc == RV_ENOTFOUND ? "none in the store" : rv_errmsg());
		rv_heartbeat_release(&hb);
		return rv_error(RV_EREFUSED,
				"switchover refuses: site '%s' has no standby report (%s) — run "
				"'revenant run' there; it takes over only as a following standby",
				o->to, why);
	}
	if (now - st.time_ms > o->status_fresh_ms || strcmp(st.gen, l->gen)) {
		rc = rv_error(RV_EREFUSED,
			      "switchover refuses: site '%s's standby %s — is 'revenant run' "
			      "running and following there?",
			      o->to,
			      strcmp(st.gen, l->gen) ? "follows another generation"
						     : "has not reported for a while");
	} else {
		behind = rv_standby_behind_ms(&hb, &st);
		if (behind > o->max_behind_ms)
			rc = rv_error(RV_EREFUSED,
				      "switchover refuses: site '%s's standby is %.1f s behind the "
				      "primary (seq %" PRIu64 " of %" PRIu64
				      "), more than failover.max_loss — wait for it to catch up",
				      o->to, (double)behind / 1000.0, st.seq, hb.seq);
	}
	rv_standby_status_release(&st);
	rv_heartbeat_release(&hb);
	return rc;
}

/* Until the primary handed the lease over (0), took the request back
 * (RV_EFAIL), lost it to someone else (RV_EFENCED) or the timeout. */
static int wait_handover(const struct rv_switchover_opts *o, int64_t end,
			 struct rv_switchover_result *res)
{
	for (;;) {
		struct rv_lease l;
		int rc = rv_lease_read(o->store, &l);

		if (!rc) {
			/* The target's agent may have started its own generation
			 * (epoch + 1 again, no handover fields) before this poll. */
			if (!strcmp(l.site, o->to) && l.epoch > res->epoch_before) {
				res->epoch_after = l.epoch;
				res->handover_seq = l.handover_seq;
				rv_lease_release(&l);
				return 0;
			}
			if (l.epoch == res->epoch_before && !l.switchover_to)
				rc = rv_error(
				    RV_EFAIL,
				    "the primary '%s' took the switchover back — its demote "
				    "hook failed (see its log); it is still primary",
				    res->from);
			else if (l.epoch != res->epoch_before)
				rc = rv_error(RV_EFENCED,
					      "the lease went to site '%s' (epoch %" PRIu64
					      ") by other means during the switchover",
					      l.site, l.epoch);
			rv_lease_release(&l);
			if (rc)
				return rc;
		}
		rv_error_clear();
		if (rv_mono_ms() >= end)
			return rv_error(
			    RV_ENET,
			    "the primary '%s' did not hand over within the timeout — is "
			    "its revenant running? the request stays in lease.json until "
			    "it does, or until 'revenant switchover --cancel'",
			    res->from);
		rv_sleep_ms(POLL_MS);
	}
}

static int wait_primary(const struct rv_switchover_opts *o, int64_t end,
			struct rv_switchover_result *res)
{
	if (rv_heartbeat_wait(o->store, o->to, res->epoch_after, end, NULL))
		return rv_error(RV_ENET,
				"site '%s' holds the lease (handed over at seq %" PRIu64
				") but did not report as primary within the timeout — look "
				"at its agent's log; 'revenant promote' there finishes it",
				o->to, res->handover_seq);
	return 0;
}

int rv_switchover(const struct rv_switchover_opts *o, struct rv_switchover_result *res)
{
	struct rv_lease l;
	int64_t t0 = rv_mono_ms(), end = t0 + o->timeout_ms;
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = rv_lease_read(o->store, &l)))
		return rc == RV_ENOTFOUND
			   ? rv_error(RV_ENOTFOUND,
				      "nothing to switch over: no primary has written "
				      "to this store")
			   : rc;
	snprintf(res->from, sizeof(res->from), "%s", l.site);
	res->epoch_before = l.epoch;
	if (!strcmp(l.site, o->to)) {
		rv_lease_release(&l);
		return rv_error(RV_EUSAGE, "site '%s' is primary already", o->to);
	}
	rc = refuse_unless_ready(o, &l);
	rv_lease_release(&l);
	if (rc)
		return rc;
	if ((rc = rv_lease_ask_switchover(o->store, res->epoch_before, o->to, false)))
		return rc;
	rv_log(RV_LOG_INFO, "switchover asked for", "from", res->from, "to", o->to, NULL);
	if ((rc = wait_handover(o, end, res)))
		return rc;
	res->handed_ms = rv_mono_ms() - t0;
	if ((rc = wait_primary(o, end, res)))
		return rc;
	res->primary_ms = rv_mono_ms() - t0;
	return 0;
}
