/* agent.c - `revenant run`: the role follows the lease (agent.h). */
#include "engine/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/http.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "db/target.h"
#include "engine/gate.h"
#include "engine/lease.h"
#include "metrics/metrics.h"

/* The standby looks at the heartbeat this often (the auto failover's
 * clock). */
#define HEARTBEAT_CHECK_MS 1000
/* Files changed this long before the fenced writer's last commit may have
 * waited for the next one: saved aside too. */
#define SAVE_MARGIN_MS 2000

enum role { ROLE_WAITING, ROLE_PRIMARY, ROLE_STANDBY, ROLE_FENCED, NROLES };
static const char *const role_names[] = {"waiting", "primary", "standby", "fenced"};

struct rv_agent {
	struct rv_agent_opts o;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC; signalled on stop */
	bool stop;
	struct rv_replicate *r; /* the primary role's, while it runs */
	bool promoted;		/* the standby saw the lease become this site's */
	bool auto_go;		/* the automatic failover decided */
	bool promote_done;	/* this process finished the promotion itself */
	_Atomic int role;
	/* the standby role */
	void (*user_applied)(void *, const char *, uint64_t, int64_t, double, int64_t);
	void (*user_heartbeat)(void *, double, bool);
	void *user_ud;
	_Atomic bool ready;
	_Atomic uint64_t lag_bits;
	int64_t next_status; /* sites/<site>/standby.json due (mono) */
	double hb_age;	     /* -1: none; under mu */
	bool hb_known;
	/* the automatic failover's probe */
	int64_t next_probe;
	unsigned fails, oks;
	bool primary_down;
	struct rv_metric *m_role[NROLES], *m_failovers, *m_saved;
};

static bool stopping(struct rv_agent *a)
{
	bool s;

	pthread_mutex_lock(&a->mu);
	s = a->stop;
	pthread_mutex_unlock(&a->mu);
	return s;
}

static void set_role(struct rv_agent *a, enum role r)
{
	int old = atomic_exchange(&a->role, (int)r);

	if (a->o.metrics)
		for (int i = 0; i < NROLES; i++)
			rv_metric_set(a->m_role[i], i == (int)r);
	if (old != (int)r)
		rv_log(RV_LOG_INFO, "role", "site", a->o.site, "role", role_names[r], "was",
		       role_names[old], NULL);
}

/* Sleep up to `ms` or until stopped; true when stopped. */
static bool nap(struct rv_agent *a, int64_t ms)
{
	int64_t end = rv_mono_ms() + ms;
	struct timespec ts = {.tv_sec = end / 1000, .tv_nsec = (long)(end % 1000) * 1000000L};
	bool s;

	pthread_mutex_lock(&a->mu);
	while (!a->stop && rv_mono_ms() < end)
		if (pthread_cond_timedwait(&a->cv, &a->mu, &ts) == ETIMEDOUT)
			break;
	s = a->stop;
	pthread_mutex_unlock(&a->mu);
	return s;
}

/* ---- the automatic failover ------------------------------------------- */

static bool probe_once(const struct rv_agent *a)
{
	long t = a->o.probe_interval_ms < 5000 ? (long)a->o.probe_interval_ms : 5000;
	struct rv_http_req rq = {.method = "GET",
				 .url = a->o.probe_url,
				 .connect_timeout_ms = t,
				 .timeout_ms = t,
				 .max_response = 64 << 10};
	struct rv_http_resp rs = {0};
	bool up = !rv_http_do(&rq, &rs) && rs.status >= 200 && rs.status < 400;

	rv_buf_release(&rs.body);
	rv_error_clear();
	return up;
}

/* Rise/fall counting of the probe (as HAProxy and keepalived count), and
 * the decision: the probe says down AND the heartbeat is dead_after old. */
static void auto_check(struct rv_agent *a)
{
	double age;
	bool known;
	char n[16], s[32];

	if (!a->o.auto_failover || rv_mono_ms() < a->next_probe)
		return;
	a->next_probe = rv_mono_ms() + a->o.probe_interval_ms;
	if (probe_once(a)) {
		a->fails = 0;
		if (a->primary_down && ++a->oks >= a->o.rise) {
			a->primary_down = false;
			rv_log(RV_LOG_INFO, "the primary site answers its probe again", "url",
			       a->o.probe_url, NULL);
		}
	} else {
		a->oks = 0;
		if (!a->primary_down && ++a->fails >= a->o.fall) {
			a->primary_down = true;
			snprintf(n, sizeof(n), "%u", a->fails);
			rv_log(RV_LOG_WARN, "the primary site fails its probe", "url",
			       a->o.probe_url, "failures", n, NULL);
		}
	}
	pthread_mutex_lock(&a->mu);
	age = a->hb_age;
	known = a->hb_known;
	if (a->primary_down && known && (age < 0 || age * 1000.0 >= (double)a->o.dead_after_ms)) {
		a->auto_go = true;
		snprintf(s, sizeof(s), "%.1f", age);
		rv_log(RV_LOG_WARN,
		       "automatic failover: the primary fails its probe and its heartbeat is "
		       "older than failover.dead_after",
		       "heartbeat_age_seconds", s, NULL);
	}
	pthread_mutex_unlock(&a->mu);
}

/* ---- the standby role's callbacks ------------------------------------- */

static bool sb_wait(void *ud, unsigned ms)
{
	struct rv_agent *a = ud;
	int64_t end = rv_mono_ms() + ms;
	bool done;

	auto_check(a);
	pthread_mutex_lock(&a->mu);
	for (;;) {
		int64_t until = end;
		struct timespec ts;

		done = a->stop || a->promoted || a->auto_go;
		if (done || rv_mono_ms() >= end)
			break;
		if (a->o.auto_failover && a->next_probe < until)
			until = a->next_probe;
		ts.tv_sec = until / 1000;
		ts.tv_nsec = (long)(until % 1000) * 1000000L;
		if (pthread_cond_timedwait(&a->cv, &a->mu, &ts) == ETIMEDOUT && until < end) {
			pthread_mutex_unlock(&a->mu);
			auto_check(a);
			pthread_mutex_lock(&a->mu);
		}
	}
	pthread_mutex_unlock(&a->mu);
	return done;
}

static void sb_applied(void *ud, const char *gen, uint64_t seq, int64_t commit_ms, double lag,
		       int64_t db_pos)
{
	struct rv_agent *a = ud;
	uint64_t bits;

	memcpy(&bits, &lag, sizeof(bits));
	atomic_store(&a->lag_bits, bits);
	atomic_store(&a->ready, true);
	if (rv_mono_ms() >= a->next_status) {
		struct rv_standby_status st = {.site = (char *)a->o.site,
					       .seq = seq,
					       .commit_ms = commit_ms,
					       .time_ms = rv_now_ms()};

		memcpy(st.gen, gen, RV_GEN_ID_LEN);
		a->next_status = rv_mono_ms() + a->o.rep.heartbeat_interval_ms;
		if (rv_standby_status_write(a->o.store, &st))
			rv_log(RV_LOG_DEBUG, "cannot write the standby status", "error",
			       rv_errmsg(), NULL);
		rv_error_clear();
	}
	if (a->user_applied)
		a->user_applied(a->user_ud, gen, seq, commit_ms, lag, db_pos);
}

static void sb_heartbeat(void *ud, double age, bool current)
{
	struct rv_agent *a = ud;

	pthread_mutex_lock(&a->mu);
	a->hb_age = current ? age : -1.0;
	a->hb_known = true;
	pthread_mutex_unlock(&a->mu);
	if (a->user_heartbeat)
		a->user_heartbeat(a->user_ud, age, current);
}

static void sb_lease(void *ud, const char *site, uint64_t epoch, const char *gen)
{
	struct rv_agent *a = ud;

	(void)epoch;
	(void)gen;
	if (strcmp(site, a->o.site))
		return;
	pthread_mutex_lock(&a->mu);
	a->promoted = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* ---- fenced: keep what the store does not hold -------------------------- */

struct saver {
	const char *root, *dest, *skip;
	size_t root_len;
	int64_t since_ms;
	FILE *list;
	unsigned files;
	int rc;
};
static struct saver *saving; /* nftw has no user pointer; one save at a time */

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), out;
	ssize_t n = 0;

	if (in == -1)
		return rv_error_errno(RV_EFAIL, errno, "open '%s'", from);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out == -1) {
		close(in);
		return rv_error_errno(RV_EFAIL, errno, "create '%s'", to);
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	if (n < 0 || close(out) == -1)
		return rv_error_errno(RV_EFAIL, errno, "copy '%s' to '%s'", from, to);
	return 0;
}

static int save_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	struct saver *sv = saving;
	const char *rel = path + sv->root_len;
	char *to, *dir;
	int rc;

	(void)f;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	if (st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000 < sv->since_ms)
		return 0;
	if (sv->skip && !strncmp(path, sv->skip, strlen(sv->skip)))
		return 0; /* the database and its -wal/-shm: saved as a copy */
	while (*rel == '/')
		rel++;
	to = rv_asprintf("%s/content/%s", sv->dest, rel);
	dir = rv_strdup(to);
	rc = rv_mkdirs(dirname(dir));
	if (!rc)
		rc = copy_file(path, to);
	free(dir);
	free(to);
	if (rc) {
		sv->rc = rc;
		return 1;
	}
	fprintf(sv->list, "%s\n", rel);
	sv->files++;
	return 0;
}

/* The fenced writer's database (a consistent copy) and the content files
 * changed after its last commit (less a margin) into save_dir/<time>-e<N>;
 * the paths listed in paths.txt. */
static int save_aside(struct rv_agent *a, const char *gen, int64_t commit_ms, uint64_t epoch,
		      char *out, size_t n)
{
	const struct rv_dbtgt_follow_opts fo = {.target = a->o.sb.db_path,
						.mysql = a->o.sb.db_mysql};
	struct saver sv = {
	    .root = a->o.dir, .root_len = strlen(a->o.dir), .skip = fo.mysql ? NULL : fo.target};
	char stamp[48], files[16], db[512] = "none", *list;
	time_t now = time(NULL);
	struct tm tm;
	size_t k;
	int rc;

	gmtime_r(&now, &tm);
	k = strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(stamp + k, sizeof(stamp) - k, "-e%" PRIu64, epoch);
	snprintf(out, n, "%s/%s", a->o.save_dir, stamp);
	if ((rc = rv_mkdirs(out)))
		return rc;
	if (fo.target && (rc = rv_dbtgt_of(fo.mysql)->save_aside(&fo, out, stamp, db, sizeof(db))))
		return rc;
	list = rv_asprintf("%s/paths.txt", out);
	sv.list = fopen(list, "we");
	free(list);
	if (!sv.list)
		return rv_error_errno(RV_EFAIL, errno, "create '%s/paths.txt'", out);
	sv.dest = out;
	sv.since_ms = commit_ms ? commit_ms - SAVE_MARGIN_MS - a->o.sync_interval_ms : 0;
	saving = &sv;
	if (nftw(a->o.dir, save_one, 32, FTW_PHYS) == -1 && !sv.rc)
		sv.rc = rv_error_errno(RV_EFAIL, errno, "walk '%s'", a->o.dir);
	saving = NULL;
	if (fclose(sv.list) && !sv.rc)
		sv.rc = rv_error_errno(RV_EFAIL, errno, "write '%s/paths.txt'", out);
	if (sv.rc)
		return sv.rc;
	snprintf(files, sizeof(files), "%u", sv.files);
	rv_log(RV_LOG_ERROR,
	       "fenced: what this site wrote that the store may not hold is saved aside — merge "
	       "it by hand if it matters",
	       "saved", out, "files", files, "database", db, "generation", gen, NULL);
	if (a->o.metrics)
		rv_metric_add(a->m_saved, 1);
	return 0;
}

/* ---- the roles ---------------------------------------------------------- */

static int run_replicate(struct rv_agent *a)
{
	struct rv_replicate *r = NULL;
	char gen[RV_GEN_ID_LEN] = "", saved[512];
	uint64_t seq, epoch = 0;
	int64_t commit_ms;
	struct rv_lease l;
	bool handed;
	int rc;

	if ((rc = rv_replicate_new(&r, &a->o.rep)))
		return rc;
	pthread_mutex_lock(&a->mu);
	if (a->stop) {
		pthread_mutex_unlock(&a->mu);
		rv_replicate_free(r);
		return RV_EINTR;
	}
	a->r = r;
	pthread_mutex_unlock(&a->mu);
	set_role(a, ROLE_PRIMARY);
	rc = rv_replicate_run(r);
	pthread_mutex_lock(&a->mu);
	a->r = NULL;
	pthread_mutex_unlock(&a->mu);
	rv_replicate_last_commit(r, gen, &seq, &commit_ms);
	handed = rv_replicate_handed_over(r);
	rv_replicate_free(r);
	if (!rc && handed) {
		/* A planned switchover: Ghost stopped (hooks.demote), the final
		 * point shipped, the lease handed over; follow the new primary. */
		struct rv_hook_info hi = {.site = a->o.site,
					  .gen = gen[0] ? gen : NULL,
					  .seq = seq,
					  .point_ms = commit_ms,
					  .loss_bound_ms = 0};

		set_role(a, ROLE_STANDBY);
		/* Everything the database held is in the store: the standby
		 * may restore over it (a MySQL follower refuses Ghost's
		 * tables otherwise). */
		a->o.sb.db_replace = true;
		return rv_hook_run(a->o.hooks, RV_HOOK_STANDBY, &hi);
	}
	if (!rc)
		return RV_EINTR; /* stopped */
	if (rc != RV_EFENCED)
		return rc;
	set_role(a, ROLE_FENCED);
	if (!rv_lease_read(a->o.store, &l)) {
		epoch = l.epoch;
		rv_lease_release(&l);
	}
	rv_error_clear();
	if ((rc = save_aside(a, gen, commit_ms, epoch, saved, sizeof(saved))))
		return rc; /* nothing is restored over what could not be kept */
	{
		struct rv_hook_info hi = {.site = a->o.site,
					  .epoch = epoch,
					  .gen = gen[0] ? gen : NULL,
					  .seq = seq,
					  .point_ms = commit_ms,
					  .loss_bound_ms = -1,
					  .saved = saved};

		if ((rc = rv_hook_run(a->o.hooks, RV_HOOK_STANDBY, &hi)))
			return rc;
	}
	return 0;
}

static void promoted_log(struct rv_agent *a, const struct rv_promote_result *res)
{
	char loss[32], total[32], epoch[24];

	if (res->loss_bound_ms >= 0)
		snprintf(loss, sizeof(loss), "%.3f", (double)res->loss_bound_ms / 1000.0);
	else
		snprintf(loss, sizeof(loss), "unknown");
	snprintf(total, sizeof(total), "%.3f", (double)res->total_ms / 1000.0);
	snprintf(epoch, sizeof(epoch), "%" PRIu64, res->epoch);
	rv_log(RV_LOG_INFO, "promoted", "site", a->o.site, "from", res->from_site, "epoch", epoch,
	       "loss_bound_seconds", loss, "seconds", total, NULL);
	if (a->o.metrics)
		rv_metric_add(a->m_failovers, 1);
}

/* A new Ghost behind the gate creates its database (SQLite's file; on
 * MySQL its tables, in a database made for it) only once the gate opens:
 * wait for it (a first boot takes seconds), saying so, rather than exit
 * and be restarted.  It checks once a second, only here, until Ghost's
 * first start; true when stopped meanwhile. */
static bool wait_database(struct rv_agent *a)
{
	const struct rv_dbtgt_follow_opts fo = {.target = a->o.sb.db_path,
						.mysql = a->o.sb.db_mysql};
	int64_t t0 = rv_mono_ms(), said = 0;

	while (fo.target && !rv_dbtgt_of(fo.mysql)->exists(&fo)) {
		if (rv_mono_ms() - said >= 30000) {
			char secs[24];

			snprintf(secs, sizeof(secs), "%" PRId64, (rv_mono_ms() - t0) / 1000);
			rv_log(RV_LOG_WARN,
			       "Ghost's database does not exist yet: waiting for Ghost to create "
			       "it (a first start behind the gate) — if Ghost has its database "
			       "elsewhere, fix the database section",
			       "db", fo.target, "seconds", secs, NULL);
			said = rv_mono_ms();
		}
		if (nap(a, 1000))
			return true;
	}
	return false;
}

/* This site holds the lease (or may create it): finish a promotion under
 * way, then replicate. */
static int primary(struct rv_agent *a, bool lease_exists)
{
	struct rv_promote_result res;
	int rc;

	pthread_mutex_lock(&a->mu);
	if (a->promote_done)
		lease_exists = false; /* finished by this process already */
	a->promote_done = false;
	pthread_mutex_unlock(&a->mu);
	if (lease_exists) {
		if ((rc = rv_promote(&a->o.pro, &res)))
			return rc;
		if (res.stage == RV_PROMOTE_DONE && res.catchup_ms > 0)
			promoted_log(a, &res);
	}
	/* The first primary of a store (no promotion ran): Ghost may start. */
	if (a->o.hooks->gate) {
		if ((rc = rv_gate_open(a->o.hooks->gate)))
			return rc;
		if (wait_database(a))
			return RV_EINTR;
	}
	return run_replicate(a);
}

/* Another site holds the lease: follow it until this site is promoted. */
static int standby(struct rv_agent *a)
{
	struct rv_promote_result res;
	bool promoted, go, stop;
	int rc;

	pthread_mutex_lock(&a->mu);
	a->promoted = a->auto_go = false;
	a->hb_known = false;
	pthread_mutex_unlock(&a->mu);
	atomic_store(&a->ready, false);
	set_role(a, ROLE_STANDBY);
	/* Ghost never runs where the standby restores (a no-op when the
	 * gate closed already: fenced, handed over). */
	if (a->o.hooks->gate && (rc = rv_gate_close(a->o.hooks->gate, a->o.hooks->timeout_ms)))
		return rc;
	rc = rv_standby_run(a->o.store, a->o.dir, &a->o.sb);
	a->o.sb.db_replace = false;
	if (rc)
		return rc;
	pthread_mutex_lock(&a->mu);
	promoted = a->promoted;
	go = a->auto_go;
	stop = a->stop;
	pthread_mutex_unlock(&a->mu);
	if (stop)
		return RV_EINTR;
	if (promoted || !go)
		return 0; /* the lease decides next */
	rc = rv_promote(&a->o.pro, &res);
	if (rc == RV_EREFUSED) {
		rv_log(RV_LOG_WARN, "automatic failover refused: staying a standby", "why",
		       rv_errmsg(), NULL);
		rv_error_clear();
		a->primary_down = false;
		a->fails = a->oks = 0;
		return 0;
	}
	if (rc)
		return rc;
	promoted_log(a, &res);
	pthread_mutex_lock(&a->mu);
	a->promote_done = true;
	pthread_mutex_unlock(&a->mu);
	return 0;
}

int rv_agent_run(struct rv_agent *a)
{
	bool said_waiting = false;
	int rc;

	for (;;) {
		struct rv_lease l;

		if (stopping(a))
			return 0;
		rc = rv_lease_read(a->o.store, &l);
		if (rc == RV_ENOTFOUND && a->o.initial_primary) {
			rv_error_clear();
			rc = primary(a, false);
		} else if (rc == RV_ENOTFOUND || (rc && rc != RV_EUSAGE && rc != RV_EAUTH)) {
			if (!said_waiting)
				rv_log(
				    RV_LOG_WARN,
				    rc == RV_ENOTFOUND
					? "no lease in the store yet: waiting for the primary site "
					  "(failover.initial_primary) to start"
					: "cannot read the lease: retrying",
				    "error", rc == RV_ENOTFOUND ? "" : rv_errmsg(), NULL);
			said_waiting = true;
			rv_error_clear();
			set_role(a, ROLE_WAITING);
			if (nap(a, a->o.sb.interval_ms ? a->o.sb.interval_ms : 1000))
				return 0;
			continue;
		} else if (!rc) {
			bool mine = !strcmp(l.site, a->o.site);

			rv_lease_release(&l);
			rc = mine ? primary(a, true) : standby(a);
		}
		said_waiting = false;
		if (rc == RV_EINTR)
			return 0;
		if (rc)
			return rc;
	}
}

void rv_agent_stop(struct rv_agent *a)
{
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	if (a->r)
		rv_replicate_stop(a->r);
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

int rv_agent_health(void *arg, char *why, size_t n)
{
	struct rv_agent *a = arg;
	int role = atomic_load(&a->role), rc = 0;

	if (role == ROLE_PRIMARY) {
		pthread_mutex_lock(&a->mu);
		if (a->r)
			rc = rv_replicate_health(a->r, why, n);
		else {
			snprintf(why, n, "switching roles");
			rc = -1;
		}
		pthread_mutex_unlock(&a->mu);
		return rc;
	}
	if (role == ROLE_STANDBY) {
		uint64_t bits = atomic_load(&a->lag_bits);
		double lag;

		memcpy(&lag, &bits, sizeof(lag));
		return rv_standby_health(atomic_load(&a->ready), lag, why, n);
	}
	snprintf(why, n, "%s",
		 role == ROLE_FENCED ? "fenced: saving aside, becoming a standby"
				     : "waiting for the primary site's first lease");
	return -1;
}

int rv_agent_new(struct rv_agent **out, const struct rv_agent_opts *o)
{
	struct rv_agent *a = rv_calloc(1, sizeof(*a));
	pthread_condattr_t ca;

	a->o = *o;
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&a->role, ROLE_WAITING);
	atomic_init(&a->ready, false);
	atomic_init(&a->lag_bits, 0);
	a->hb_age = -1.0;
	/* The standby's callbacks go through the agent, which passes them on. */
	a->user_applied = o->sb.applied;
	a->user_heartbeat = o->sb.heartbeat;
	a->user_ud = o->sb.applied_ud;
	a->o.sb.applied = sb_applied;
	a->o.sb.heartbeat = sb_heartbeat;
	a->o.sb.lease_seen = sb_lease;
	a->o.sb.applied_ud = a;
	a->o.sb.wait = sb_wait;
	a->o.sb.wait_ud = a;
	a->o.sb.heartbeat_check_ms = HEARTBEAT_CHECK_MS;
	a->o.pro.force = false;
	a->o.pro.remote = false;
	a->o.pro.metrics = o->metrics;
	if (o->metrics) {
		for (int i = 0; i < NROLES; i++) {
			char label[32];

			snprintf(label, sizeof(label), "role=\"%s\"", role_names[i]);
			a->m_role[i] = rv_metrics_gauge(o->metrics, "revenant_role",
							RV_METRICS_ROLE_HELP, label);
		}
		a->m_failovers = rv_metrics_counter(
		    o->metrics, "revenant_failovers_total",
		    "Promotions of this site this process finished (by promote or automatically).",
		    NULL);
		a->m_saved = rv_metrics_counter(
		    o->metrics, "revenant_saved_aside_total",
		    "Times this site, fenced, saved aside what the store may not hold.", NULL);
	}
	if (!o->store || !o->site || !o->dir || !o->save_dir || !o->hooks ||
	    (o->auto_failover && (!o->probe_url || !o->fall || !o->rise))) {
		rv_agent_free(a);
		*out = NULL;
		return rv_error(RV_EUSAGE, "agent: incomplete options");
	}
	*out = a;
	return 0;
}

void rv_agent_free(struct rv_agent *a)
{
	if (!a)
		return;
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
