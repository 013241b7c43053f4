/* replicate.c - the replicate loop: events and reconcile in, records out,
 * one log object per commit, a manifest now and then (see replicate.h). */
#include "engine/replicate.h"
#include "engine/hooks.h"
#include "engine/replicate_int.h"
#include "engine/replicate_state.h"
#include "content/scan.h"
#include "content/watch.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/retry.h"
#include "core/testpoint.h"
#include "core/util.h"
#include "db/source.h"
#include "metrics/metrics.h"
#include "store/store.h"
#include "engine/lease.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

/* Uncommitted records before the loop stops taking new events (they wait
 * in the watcher's queue, whose overflow means a reconcile later). */
#define OPEN_MAX 20000
/* Overlay entries before a manifest is written early (memory bound). */
#define CHANGES_MAX 50000
/* Encoded log objects: a full open batch is a few MiB. */
#define LOG_MAX (256u << 20)
/* Paths remembered as already reported unreadable. */
#define UNREADABLE_MAX 4096
/* Steps of reconcile or watcher events per loop turn. */
#define TURN_STEPS	   256
#define COMMIT_BACKOFF_MAX 10000
/* After a stop request, events are still taken this long (the watcher's
 * debounce is 50 ms). */
#define STOP_TAKE_MS 150
/* The loop sleeps until something happens (docs/ARCHITECTURE.md, "The
 * replicate loop"): a worker's result, a watcher event becoming ready, a
 * write to the database's WAL, a deadline.  A database write after a quiet
 * spell ships after DB_GATHER_MS (the rest of the burst a Ghost request
 * makes comes with it) instead of at the next tick; under load the commits
 * stay sync_interval apart.  Without any event the database is still
 * looked at every DB_CHECK_MIN_MS (at least; sync_interval if longer): the
 * inotify hint is never the only way a commit gets shipped. */
#define DB_GATHER_MS	20
#define DB_CHECK_MIN_MS 1000
/* While stopping, the loop looks around this often. */
#define STOP_TURN_MS 10

struct inflight {
	char *path;
	bool again;	/* asked for again while in flight: read it once more */
	bool cancelled; /* deleted meanwhile: its result is stale */
};

struct batch {
	struct rv_centry *rec;
	size_t n, cap;
};

struct metrics_set {
	struct rv_metric *last_sync, *files, *bytes, *depth, *epoch, *commits, *uploaded, *blobs,
	    *reconciles;
	struct rv_metric *db_pos, *db_segments, *db_bytes, *db_snapshots, *db_newgen;
	struct rv_metric *self_fenced, *role;
};

struct rv_replicate {
	struct rv_replicate_opts o;
	int wake_fd;
	struct rv_csrc src; /* the content folder (content/source.h) */
	_Atomic bool stop;
	_Atomic int64_t last_ok_mono; /* 0: never */
	_Atomic int health_reason;    /* enum reason */
	int64_t health_max_ms;

	/* the loop's own */
	char holder[128];
	char gen[RV_GEN_ID_LEN];
	struct rv_lease lease;
	bool have_lease; /* `lease` is set */
	bool held_lease; /* this process took the lease once */
	/* Sticky: once the lease was lost this process writes nothing and
	 * never takes the lease again (only a fresh start may). */
	bool fenced;
	char *handover_to;   /* a switchover asked for: the site to hand over to */
	bool handover_due;   /* seen, not begun */
	bool handed_over;    /* the lease was handed over at the final commit */
	int64_t handover_t0; /* when the demote began (mono) */
	struct {
		pthread_t t;
		pthread_mutex_t mu;
		pthread_cond_t cv; /* on CLOCK_MONOTONIC */
		bool inited, started, stop;
		bool cut_off; /* self-fenced, until a heartbeat lands */
		bool paused;  /* a switchover stops Ghost itself */
		/* after a self-fence: 1 the first heartbeat landed again, 2 a
		 * second one did (the lease checked again one interval later):
		 * Ghost may write again */
		int resume;
		int64_t ok_mono; /* when the last heartbeat that landed was taken */
		uint64_t epoch, seq;
		int64_t commit_ms;
		char gen[RV_GEN_ID_LEN];
	} wd; /* the self-fencing watchdog */
	uint64_t seq;
	int base_fd;
	struct rv_cchanges ch;
	unsigned since_manifest;
	int64_t manifest_mono;
	bool manifest_due;

	/* the database half (db NULL: none) */
	struct rv_dbsrc db; /* ops NULL: no database; h NULL: not open */
	uint64_t db_point;  /* the position the last committed point names */
	int64_t db_snap_mono;
	uint64_t db_log_bytes; /* frames shipped since the last snapshot */
	bool db_newgen;	       /* the chain broke: start a new generation */
	char db_reason[200];
	bool db_down;		/* the last ship failed because the database could not be read */
	int64_t db_down_logged; /* rv_mono_ms of the last log line about it */
	bool db_dirty;		/* the source saw a write not shipped yet ... */
	int64_t db_dirty_mono;	/* ... first seen then */
	int64_t db_check_mono;	/* look at the database by then anyway */

	struct batch open;
	struct {
		bool active;
		uint64_t seq;
		uint64_t db_pos;
		int64_t ms;
		char *key;
		struct rv_buf data;
		struct batch b;
	} sealed;
	int64_t next_commit, commit_backoff, next_idle_check, next_heartbeat;
	int64_t commit_ms; /* wall time of the last commit (0: none yet) */

	struct inflight *inf;
	size_t ninf, capinf, max_inflight;
	struct rpool pool;
	bool pool_started;

	bool watching;
	pthread_t wthread;
	bool wthread_started;

	struct {
		bool need, active;
		int fd;
		struct rv_cobj_reader *r;
		const struct rv_centry *re;
		void *scan;
		const struct rv_centry *se;
		uint64_t queued, deleted;
	} rec;

	char **unr;
	size_t nunr;
	struct metrics_set m;
};

enum reason { H_STARTING, H_OK, H_STORE, H_FENCED, H_STOPPED, H_CUT_OFF, H_DB };

static const char *const reason_text[] = {
    "starting: taking the lease and reconciling",
    "ok",
    "the store is failing: commits are retried",
    "fenced: another writer holds the lease",
    "stopped",
    "cut off from the store past failover.fence_after: Ghost's writes were stopped "
    "(hooks.fenced)",
    "the database cannot be read: no recovery point until it can",
};

/* ---- small helpers ---- */

static void batch_add(struct batch *b, const struct rv_centry *e)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		b->rec = rv_realloc(b->rec, b->cap * sizeof(*b->rec));
	}
	rv_centry_copy(&b->rec[b->n++], e);
}

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		rv_centry_release(&b->rec[i]);
	free(b->rec);
	memset(b, 0, sizeof(*b));
}

static void sealed_clear(struct rv_replicate *r)
{
	free(r->sealed.key);
	rv_buf_release(&r->sealed.data);
	batch_clear(&r->sealed.b);
	r->sealed.key = NULL;
	r->sealed.active = false;
}

static bool path_under(const char *p, const char *top)
{
	size_t n = strlen(top);

	return !strncmp(p, top, n) && (p[n] == '/' || p[n] == '\0');
}

static void set_ok(struct rv_replicate *r)
{
	atomic_store(&r->last_ok_mono, rv_mono_ms());
	atomic_store(&r->health_reason, H_OK);
	if (r->o.metrics)
		rv_metric_set(r->m.last_sync, (double)rv_now_ms() / 1000.0);
}

static void count_error(struct rv_replicate *r, const char *kind)
{
	rv_metrics_error(r->o.metrics, kind);
}

static void update_depth(struct rv_replicate *r)
{
	struct rv_watch_stats ws = {0};

	if (!r->o.metrics)
		return;
	r->src.ops->watch_stats(r->src.h, &ws);
	rv_metric_set(r->m.depth, (double)ws.depth + (double)r->ninf + (double)r->open.n +
				      (double)r->sealed.b.n);
}

/* No file change queued, being read or uploaded, waiting in a batch or
 * sealed, and no reconcile walking: what the heartbeat calls idle. */
static bool nothing_pending(const struct rv_replicate *r)
{
	struct rv_watch_stats ws = {0};

	r->src.ops->watch_stats(r->src.h, &ws);
	return !ws.depth && !r->ninf && !r->open.n && !r->sealed.active && !r->rec.active &&
	       !r->rec.need;
}

static void metrics_setup(struct rv_replicate *r)
{
	struct rv_metrics *m = r->o.metrics;
	char labels[64];

	if (!m)
		return;
	snprintf(labels, sizeof(labels), "version=\"%s\"", RV_VERSION);
	rv_metric_set(
	    rv_metrics_gauge(m, "revenant_build_info", "Build of revenant (always 1).", labels), 1);
	r->m.last_sync = rv_metrics_gauge(m, "revenant_content_last_sync_timestamp_seconds",
					  "Unix time of the last successful commit or idle lease "
					  "check of the content replication.",
					  NULL);
	r->m.files = rv_metrics_counter(m, "revenant_content_files_shipped_total",
					"File records committed to the store.", NULL);
	r->m.bytes = rv_metrics_counter(m, "revenant_content_bytes_shipped_total",
					"Bytes of the files committed to the store.", NULL);
	r->m.depth = rv_metrics_gauge(m, "revenant_content_queue_depth",
				      "Changes seen but not committed yet (events queued, files "
				      "being read or uploaded, records waiting for a commit).",
				      NULL);
	r->m.role = rv_metrics_gauge(m, "revenant_role", RV_METRICS_ROLE_HELP, "role=\"primary\"");
	rv_metric_set(r->m.role, 1);
	r->m.self_fenced = rv_metrics_counter(
	    m, "revenant_self_fenced_total",
	    "Times this primary stopped Ghost's writes (hooks.fenced) because its heartbeat "
	    "could not reach the store for failover.fence_after.",
	    NULL);
	r->m.epoch = rv_metrics_gauge(m, "revenant_lease_epoch",
				      "Epoch of the lease this writer "
				      "holds.",
				      NULL);
	r->m.commits = rv_metrics_counter(m, "revenant_content_commits_total",
					  "Content log objects committed.", NULL);
	r->m.uploaded = rv_metrics_counter(m, "revenant_content_upload_bytes_total",
					   "Bytes of new blobs uploaded (blobs already in the "
					   "store are skipped).",
					   NULL);
	r->m.blobs = rv_metrics_counter(m, "revenant_content_blobs_uploaded_total",
					"New blobs uploaded.", NULL);
	r->m.reconciles = rv_metrics_counter(m, "revenant_content_reconciles_total",
					     "Walks of the folder against the recorded state "
					     "(start-up and event overflows).",
					     NULL);
	if (r->o.sqlite_path || r->o.mysql) {
		r->m.db_pos = rv_metrics_gauge(m, "revenant_db_position_frames",
					       "The database position shipped in the current "
					       "generation (SQLite: WAL frames; MySQL: "
					       "transactions).",
					       NULL);
		r->m.db_segments = rv_metrics_counter(m, "revenant_db_segments_total",
						      "Database log segments written.", NULL);
		r->m.db_bytes =
		    rv_metrics_counter(m, "revenant_db_bytes_total",
				       "Log bytes shipped (WAL frames, binlog events).", NULL);
		r->m.db_snapshots = rv_metrics_counter(m, "revenant_db_snapshots_total",
						       "Database snapshots written.", NULL);
		r->m.db_newgen = rv_metrics_counter(
		    m, "revenant_db_new_generations_total",
		    "Generations started because the log chain could not be continued.", NULL);
	}
	for (const char *const *k = (const char *const[]){"store", "upload", "unreadable",
							  "overflow", "fenced", "heartbeat", NULL};
	     *k; k++) {
		snprintf(labels, sizeof(labels), "kind=\"%s\"", *k);
		(void)rv_metrics_counter(m, "revenant_errors_total", "Errors by kind.", labels);
	}
}

/* ---- in-flight paths: one read per path at a time ---- */

static struct inflight *inf_find(struct rv_replicate *r, const char *path)
{
	for (size_t i = 0; i < r->ninf; i++)
		if (!strcmp(r->inf[i].path, path))
			return &r->inf[i];
	return NULL;
}

static void inf_remove(struct rv_replicate *r, struct inflight *x)
{
	free(x->path);
	*x = r->inf[--r->ninf];
}

static void dispatch(struct rv_replicate *r, const char *path)
{
	struct inflight *x = inf_find(r, path);

	if (x) {
		x->again = true;
		return;
	}
	if (r->ninf == r->capinf) {
		r->capinf = r->capinf ? 2 * r->capinf : 64;
		r->inf = rv_realloc(r->inf, r->capinf * sizeof(*r->inf));
	}
	r->inf[r->ninf++] = (struct inflight){rv_strdup(path), false, false};
	rv_rpool_submit(&r->pool, path);
}

static void record(struct rv_replicate *r, const struct rv_centry *e)
{
	batch_add(&r->open, e);
}

static void record_delete(struct rv_replicate *r, const char *path)
{
	struct rv_centry e = {.type = RV_CE_DEL, .path = path};

	for (size_t i = 0; i < r->ninf; i++) {
		if (path_under(r->inf[i].path, path)) {
			r->inf[i].cancelled = true;
			r->inf[i].again = false;
		}
	}
	record(r, &e);
}

static bool unreadable_seen(struct rv_replicate *r, const char *path)
{
	for (size_t i = 0; i < r->nunr; i++)
		if (!strcmp(r->unr[i], path))
			return true;
	if (r->nunr < UNREADABLE_MAX) {
		r->unr = rv_realloc(r->unr, (r->nunr + 1) * sizeof(*r->unr));
		r->unr[r->nunr++] = rv_strdup(path);
	}
	return false;
}

static void unreadable_forget(struct rv_replicate *r, const char *path)
{
	for (size_t i = 0; i < r->nunr; i++) {
		if (!strcmp(r->unr[i], path)) {
			free(r->unr[i]);
			r->unr[i] = r->unr[--r->nunr];
			return;
		}
	}
}

static void handle_results(struct rv_replicate *r)
{
	struct rjob *j = rv_rpool_take_done(&r->pool);
	uint64_t junk;

	if (read(r->wake_fd, &junk, sizeof(junk)) == -1) {
		/* EAGAIN: nothing signalled, the list may still hold jobs */
	}
	while (j) {
		struct rjob *next = j->next;
		struct inflight *x = inf_find(r, j->path);
		bool again = x && x->again;

		if (x && !x->cancelled) {
			switch (j->rd.res) {
			case RV_CSRC_RECORD:
				record(r, &j->rd.e);
				if (r->nunr)
					unreadable_forget(r, j->path);
				if (j->rd.uploaded && r->o.metrics) {
					rv_metric_add(r->m.uploaded, (double)j->rd.uploaded);
					rv_metric_add(r->m.blobs, 1);
				}
				break;
			case RV_CSRC_CHANGED:
				again = true; /* still being written: read it again */
				break;
			case RV_CSRC_UNREADABLE:
				count_error(r, "unreadable");
				if (!unreadable_seen(r, j->path))
					rv_log(RV_LOG_WARN, "content file unreadable, not shipped",
					       "path", j->path, "error", strerror(j->rd.err), NULL);
				break;
			case RV_CSRC_GONE:
			case RV_CSRC_ABORTED:
				break;
			}
		}
		if (x) {
			if (again && j->rd.res != RV_CSRC_ABORTED && !atomic_load(&r->stop)) {
				x->again = false;
				x->cancelled = false;
				rv_rpool_submit(&r->pool, j->path);
			} else {
				inf_remove(r, x);
			}
		}
		rv_rjob_free(j);
		j = next;
	}
}

/* ---- commits ---- */

/* Every lease check goes through here, so that a loss is remembered. */
static int lease_check(struct rv_replicate *r)
{
	int rc;

	struct rv_lease cur;

	if (r->fenced)
		return rv_error(RV_EFENCED, "this writer lost the lease before — stopped writing");
	rc = rv_lease_check_read(r->o.store, &r->lease, &cur);
	if (rc == RV_EFENCED)
		r->fenced = true;
	if (!rc && cur.switchover_to && !r->handover_to && !atomic_load(&r->stop)) {
		r->handover_to = rv_strdup(cur.switchover_to);
		r->handover_due = true;
	}
	rv_lease_release(&cur);
	return rc;
}

static void wd_pause(struct rv_replicate *r, bool pause);

/* A planned switchover was asked for: stop Ghost's writes (hooks.demote),
 * then stop like a SIGTERM does — the final commit ships everything —
 * and hand the lease over (rv_replicate_run).  A demote hook that fails
 * takes the request back: this site stays primary. */
static void switchover_begin(struct rv_replicate *r)
{
	struct rv_hook_info hi = {.site = r->o.site,
				  .epoch = r->lease.epoch,
				  .gen = r->gen,
				  .seq = r->seq,
				  .point_ms = r->commit_ms,
				  .loss_bound_ms = 0,
				  .from_site = r->o.site};
	int rc = 0;

	r->handover_due = false;
	r->handover_t0 = rv_mono_ms();
	if (!rv_hooks_stop_ghost(r->o.hooks, RV_HOOK_DEMOTE)) {
		/* Without it Ghost goes on taking writes after the final
		 * commit, and the new primary never sees them. */
		rc = rv_error(
		    RV_EUSAGE,
		    "neither hooks.demote nor hooks.gate is set: nothing would stop Ghost's "
		    "writes before the final commit, and the writes after it "
		    "would be lost — set hooks.demote (or hooks.gate) at this site");
	} else {
		rv_log(RV_LOG_INFO, "switchover asked for: stopping Ghost's writes (hooks.demote)",
		       "to", r->handover_to, NULL);
		wd_pause(r, true);
		rc = rv_hook_run(r->o.hooks, RV_HOOK_DEMOTE, &hi);
	}
	if (rc) {
		wd_pause(r, false);
		rv_log(RV_LOG_ERROR,
		       "switchover cancelled: the demote hook failed; this site stays "
		       "primary",
		       "error", rv_errmsg(), NULL);
		if (rv_lease_ask_switchover(r->o.store, r->lease.epoch, NULL, true))
			rv_log(RV_LOG_ERROR, "cannot take the switchover request back", "error",
			       rv_errmsg(), NULL);
		rv_error_clear();
		free(r->handover_to);
		r->handover_to = NULL;
		return;
	}
	rv_replicate_stop(r);
}

static int seal(struct rv_replicate *r)
{
	struct rv_cobj_hdr h = {.kind = RV_COBJ_LOG};
	struct rv_cobj_writer *w = NULL;
	int rc;

	r->sealed.seq = r->seq + 1;
	r->sealed.ms = rv_now_ms();
	memcpy(h.gen, r->gen, RV_GEN_ID_LEN);
	h.from = h.to = r->sealed.seq;
	h.time_ms = r->sealed.ms;
	if (r->db.h) {
		h.has_db = true;
		h.db_pos = r->sealed.db_pos = r->db.ops->pos(r->db.h);
	}
	rv_buf_init(&r->sealed.data, LOG_MAX);
	rc = rv_cobj_writer_new(&w, &h, true, rv_cobj_sink_buf, &r->sealed.data);
	for (size_t i = 0; !rc && i < r->open.n; i++)
		rc = rv_cobj_writer_add(w, &r->open.rec[i]);
	if (!rc)
		rc = rv_cobj_writer_finish(w);
	rv_cobj_writer_free(w);
	if (rc) {
		rv_buf_release(&r->sealed.data);
		return rc;
	}
	/* Frozen from here: a retry sends the same bytes under the same key,
	 * so a put that succeeded without us hearing it is harmless. */
	r->sealed.key = rv_content_log_key(r->gen, r->sealed.seq, r->sealed.ms);
	r->sealed.b = r->open;
	memset(&r->open, 0, sizeof(r->open));
	r->sealed.active = true;
	return 0;
}

/* RV_EFENCED is final; anything else is retried by the caller. */
static int put_sealed(struct rv_replicate *r)
{
	struct rv_put_opts po = {.content_type = "application/zstd"};
	int rc = lease_check(r);

	if (rc)
		return rc;
	po.cond = rv_store_caps(r->o.store)->put_if_absent ? RV_PUT_IF_ABSENT : RV_PUT_ALWAYS;
	rc = rv_store_put_buf(r->o.store, r->sealed.key, r->sealed.data.data, r->sealed.data.len,
			      &po);
	return rc == RV_EPRECOND ? 0 : rc;
}

static void committed(struct rv_replicate *r)
{
	uint64_t files = 0, bytes = 0;

	for (size_t i = 0; i < r->sealed.b.n; i++) {
		const struct rv_centry *e = &r->sealed.b.rec[i];

		rv_cchanges_apply(&r->ch, e);
		if (e->type == RV_CE_FILE) {
			files++;
			bytes += e->size;
		}
	}
	r->seq = r->sealed.seq;
	r->commit_ms = r->sealed.ms;
	if (r->db.h)
		r->db_point = r->sealed.db_pos;
	r->next_idle_check = rv_mono_ms() + r->health_max_ms / 3;
	rv_log(RV_LOG_DEBUG, "content committed", "key", r->sealed.key, NULL);
	if (r->o.metrics) {
		rv_metric_add(r->m.commits, 1);
		rv_metric_add(r->m.files, (double)files);
		rv_metric_add(r->m.bytes, (double)bytes);
	}
	sealed_clear(r);
	r->since_manifest++;
	if (r->since_manifest >= r->o.manifest_every || r->ch.n >= CHANGES_MAX ||
	    rv_mono_ms() - r->manifest_mono >= r->o.manifest_interval_ms)
		r->manifest_due = true;
	set_ok(r);
}

static int write_manifest(struct rv_replicate *r)
{
	struct rv_cobj_hdr h = {.kind = RV_COBJ_MANIFEST};
	struct rv_put_opts po = {.content_type = "application/zstd"};
	uint64_t files = 0, bytes = 0, entries = 0;
	char *key, nfiles[24], nbytes[24];
	int fd, rc;

	memcpy(h.gen, r->gen, RV_GEN_ID_LEN);
	h.from = h.to = r->seq;
	h.time_ms = rv_now_ms();
	/* Only a position a committed point already named: the manifest is
	 * the state after log `seq`. */
	if (r->db.h) {
		h.has_db = true;
		h.db_pos = r->db_point;
	}
	if ((rc = rv_cstate_write_manifest(r->base_fd, &r->ch, &h, &fd, &files, &bytes, &entries)))
		return rc;
	if ((rc = lease_check(r))) {
		close(fd);
		return rc;
	}
	key = rv_content_manifest_key(r->gen, r->seq, h.time_ms);
	po.cond = rv_store_caps(r->o.store)->put_if_absent ? RV_PUT_IF_ABSENT : RV_PUT_ALWAYS;
	rc = rv_store_put_fd(r->o.store, key, fd, UINT64_MAX, &po);
	if (rc == RV_EPRECOND)
		rc = 0;
	if (rc) {
		free(key);
		close(fd);
		return rc;
	}
	snprintf(nfiles, sizeof(nfiles), "%" PRIu64, files);
	snprintf(nbytes, sizeof(nbytes), "%" PRIu64, bytes);
	rv_log(RV_LOG_INFO, "content manifest written", "key", key, "files", nfiles, "bytes",
	       nbytes, NULL);
	free(key);
	if (r->base_fd >= 0)
		close(r->base_fd);
	r->base_fd = fd;
	rv_cchanges_clear(&r->ch);
	r->since_manifest = 0;
	r->manifest_mono = rv_mono_ms();
	r->manifest_due = false;
	return 0;
}

static void commit_failed(struct rv_replicate *r, const char *what)
{
	count_error(r, "store");
	atomic_store(&r->health_reason, H_STORE);
	rv_log(RV_LOG_WARN, what, "error", rv_errmsg(), NULL);
	r->commit_backoff = r->commit_backoff ? r->commit_backoff * 2 : r->o.sync_interval_ms;
	if (r->commit_backoff > COMMIT_BACKOFF_MAX)
		r->commit_backoff = COMMIT_BACKOFF_MAX;
	r->next_commit = rv_mono_ms() + r->commit_backoff;
}

static void db_counted(struct rv_replicate *r, const struct rv_dbsrc_ship *sh)
{
	if (!r->o.metrics)
		return;
	rv_metric_set(r->m.db_pos, (double)r->db.ops->pos(r->db.h));
	if (sh && sh->to > sh->from) {
		rv_metric_add(r->m.db_segments, 1);
		rv_metric_add(r->m.db_bytes, (double)sh->bytes);
	}
}

/* Ship the frames committed since the last tick (a segment in the store
 * before any point names it).  A broken chain is not an error here: the
 * loop starts a new generation once the pending commit is out. */
static int db_ship(struct rv_replicate *r)
{
	struct rv_dbsrc_ship sh;
	int rc = r->db.ops->ship(r->db.h, r->o.store, &sh);

	r->db_down = rc && sh.source_down;
	if (rc == RV_EPRECOND && sh.new_generation) {
		if (!r->db_newgen) {
			snprintf(r->db_reason, sizeof(r->db_reason), "%s", sh.reason);
			r->db_newgen = true;
		}
		return 0;
	}
	if (rc)
		return rc;
	r->db_log_bytes += sh.bytes;
	db_counted(r, &sh);
	return 0;
}

/* A restore replays every segment since the snapshot it starts from, so
 * besides the clock a snapshot is due once the log since the last one
 * reaches snapshot_log_ratio times the database (and at least
 * SNAP_LOG_MIN): a busy database's restore then handles at most about
 * (1 + ratio) times its size, whatever snapshot_interval says, and the
 * store holds at most 1 / ratio more than the log alone.  At Ghost's
 * usual write rates the clock comes first. */
#define SNAP_LOG_MIN (64ull << 20)

static bool db_snapshot_due(struct rv_replicate *r, const char **why)
{
	uint64_t limit = SNAP_LOG_MIN, size;

	if (rv_mono_ms() - r->db_snap_mono >= r->o.snapshot_interval_ms) {
		*why = "interval";
		return true;
	}
	if (!r->o.snapshot_log_ratio || r->db_log_bytes < limit)
		return false;
	size = r->db.ops->size(r->db.h);
	if (size * r->o.snapshot_log_ratio > limit)
		limit = size * r->o.snapshot_log_ratio;
	*why = "log_volume";
	return r->db_log_bytes >= limit;
}

static int db_snapshot(struct rv_replicate *r, const char *why)
{
	uint64_t pos;
	char spos[24];
	int rc = r->db.ops->snapshot(r->db.h, r->o.store, &pos);

	if (rc)
		return rc;
	r->db_snap_mono = rv_mono_ms();
	r->db_log_bytes = 0;
	snprintf(spos, sizeof(spos), "%" PRIu64, pos);
	rv_log(RV_LOG_INFO, "database snapshot written", "generation", r->gen, "position", spos,
	       "reason", why, NULL);
	if (r->o.metrics)
		rv_metric_add(r->m.db_snapshots, 1);
	db_counted(r, NULL);
	return 0;
}

static int64_t db_check_period(const struct rv_replicate *r)
{
	return r->o.sync_interval_ms > DB_CHECK_MIN_MS ? r->o.sync_interval_ms : DB_CHECK_MIN_MS;
}

/* Take the database source's change events, if it has any. */
static void db_watch_drain(struct rv_replicate *r)
{
	if (r->db.h && r->db.ops->changes && r->db.ops->changes(r->db.h) > 0 && !r->db_dirty) {
		r->db_dirty = true;
		r->db_dirty_mono = rv_mono_ms();
	}
}

/* When the database half wants a commit (rv_mono_ms clock; INT64_MAX:
 * not yet): a write seen, the periodic look, a snapshot by the clock, a
 * broken chain. */
static int64_t db_due(const struct rv_replicate *r)
{
	int64_t at;

	if (!r->db.h)
		return INT64_MAX;
	if (r->db_newgen)
		return 0;
	at = r->db_check_mono;
	if (r->db_dirty && r->db_dirty_mono + DB_GATHER_MS < at)
		at = r->db_dirty_mono + DB_GATHER_MS;
	if (r->db_snap_mono + r->o.snapshot_interval_ms < at)
		at = r->db_snap_mono + r->o.snapshot_interval_ms;
	return at;
}

static bool db_moved(const struct rv_replicate *r)
{
	return r->db.h && !r->db_newgen && r->db.ops->pos(r->db.h) != r->db_point;
}

/* Commit what is pending; a store failure leaves it pending (0 returned,
 * retried later); RV_EFENCED stops everything. */
static int commit(struct rv_replicate *r)
{
	const char *why = NULL;
	/* Only a commit that wrote a point spaces the next one out: a look at
	 * a quiet database (or a manifest, a snapshot: rare) leaves the next
	 * write free to ship at once. */
	int64_t prev = r->next_commit, next = rv_mono_ms() + r->o.sync_interval_ms;
	bool wrote = false;
	int rc;

	r->next_commit = next;
	if (r->db.h) {
		/* Events so far are covered by this ship: consumed before it, so
		 * that a write after it wakes the loop again. */
		if (r->db.ops->changes)
			(void)r->db.ops->changes(r->db.h);
		r->db_dirty = false;
		r->db_check_mono = rv_mono_ms() + db_check_period(r);
	}
	if (r->db.h && !r->db_newgen && (rc = db_ship(r))) {
		if (r->db_down) {
			/* Not the store's fault: no back-off, the next tick tries
			 * again (a database back after a restart is shipped at
			 * once); said once, then every 30 s. */
			atomic_store(&r->health_reason, H_DB);
			if (!r->db_down_logged || rv_mono_ms() - r->db_down_logged >= 30000) {
				rv_log(RV_LOG_WARN, "database cannot be shipped, no recovery point",
				       "error", rv_errmsg(), NULL);
				r->db_down_logged = rv_mono_ms();
			}
			r->next_commit = rv_mono_ms() + r->o.sync_interval_ms;
			return 0;
		}
		commit_failed(r, "database ship failed, will retry");
		return 0;
	}
	r->db_down_logged = 0;
	for (int round = 0; round < 4; round++) {
		if (!r->sealed.active) {
			if (!r->open.n && !db_moved(r))
				break;
			if ((rc = seal(r)))
				return rc;
		}
		rc = put_sealed(r);
		if (rc == RV_EFENCED)
			return rc;
		if (rc) {
			commit_failed(r, "content commit failed, will retry");
			return 0;
		}
		r->commit_backoff = 0;
		committed(r);
		wrote = true;
	}
	if (r->manifest_due && !r->sealed.active) {
		rc = write_manifest(r);
		if (rc == RV_EFENCED)
			return rc;
		if (rc)
			commit_failed(r, "content manifest failed, will retry");
	}
	if (r->db.h && !r->db_newgen && !r->sealed.active && db_snapshot_due(r, &why)) {
		rc = db_snapshot(r, why);
		if (rc == RV_EPRECOND) {
			snprintf(r->db_reason, sizeof(r->db_reason), "%s", rv_errmsg());
			r->db_newgen = true;
		} else if (rc) {
			commit_failed(r, "database snapshot failed, will retry");
		}
	}
	if (!wrote && r->next_commit == next)
		r->next_commit = prev;
	return 0;
}

static int idle_check(struct rv_replicate *r)
{
	int rc = lease_check(r);

	if (rc == RV_EFENCED)
		return rc;
	if (rc) {
		commit_failed(r, "lease check failed, will retry");
		return 0;
	}
	set_ok(r);
	return 0;
}

/* ---- reconcile ---- */

static void rec_close(struct rv_replicate *r)
{
	rv_cobj_reader_free(r->rec.r);
	if (r->rec.scan)
		r->src.ops->scan_close(r->rec.scan);
	if (r->rec.fd >= 0)
		close(r->rec.fd);
	r->rec.r = NULL;
	r->rec.scan = NULL;
	r->rec.fd = -1;
	r->rec.active = false;
}

static int rec_start(struct rv_replicate *r)
{
	int rc;

	r->rec.fd = -1;
	if (r->ch.n == 0 && r->base_fd >= 0) {
		/* An own open file description: the base's offset is shared
		 * with manifest writing. */
		char p[64];

		snprintf(p, sizeof(p), "/proc/self/fd/%d", r->base_fd);
		r->rec.fd = open(p, O_RDONLY | O_CLOEXEC);
		if (r->rec.fd == -1)
			return rv_error_errno(RV_EFAIL, errno, "cannot reopen the base manifest");
	} else {
		struct rv_cobj_hdr h = {.kind = RV_COBJ_MANIFEST};

		memcpy(h.gen, r->gen, RV_GEN_ID_LEN);
		h.from = h.to = r->seq;
		h.time_ms = rv_now_ms();
		if ((rc = rv_cstate_write_manifest(r->base_fd, &r->ch, &h, &r->rec.fd, NULL, NULL,
						   NULL)))
			return rc;
	}
	rc = rv_cobj_reader_new(&r->rec.r, "the recorded state", rv_cobj_source_fd, &r->rec.fd);
	if (!rc)
		rc = rv_cobj_reader_next(r->rec.r, &r->rec.re);
	if (!rc)
		rc = r->src.ops->scan_open(r->src.h, &r->rec.scan);
	if (!rc)
		rc = r->src.ops->scan_next(r->rec.scan, &r->rec.se);
	if (rc) {
		rec_close(r);
		return rc;
	}
	r->rec.active = true;
	r->rec.need = false;
	r->rec.queued = r->rec.deleted = 0;
	if (r->o.metrics)
		rv_metric_add(r->m.reconciles, 1);
	rv_log(RV_LOG_INFO, "content reconcile started", NULL);
	return 0;
}

static bool differs(const struct rv_centry *a, const struct rv_centry *b)
{
	if (a->type != b->type)
		return true;
	switch (a->type) {
	case RV_CE_FILE:
		return a->size != b->size || a->mtime_ns != b->mtime_ns || a->mode != b->mode;
	case RV_CE_DIR:
		/* A folder's mtime moves with every change inside it. */
		return a->mode != b->mode;
	case RV_CE_LINK:
		return strcmp(a->target, b->target) != 0;
	default:
		return true;
	}
}

/* One step of the merge of the recorded state with a walk of the folder. */
static int rec_step(struct rv_replicate *r)
{
	const struct rv_centry *re = r->rec.re, *se = r->rec.se;
	int cmp, rc = 0;

	if (!re && !se) {
		char q[24], d[24];

		snprintf(q, sizeof(q), "%" PRIu64, r->rec.queued);
		snprintf(d, sizeof(d), "%" PRIu64, r->rec.deleted);
		rv_log(RV_LOG_INFO, "content reconcile walked the folder", "to_read", q, "deleted",
		       d, NULL);
		rec_close(r);
		return 0;
	}
	cmp = !re ? 1 : !se ? -1 : rv_content_path_cmp(re->path, se->path);
	if (cmp < 0) {
		char *gone = rv_strdup(re->path);

		/* The walk read this folder a while ago: trust it only if the
		 * path is still absent now. */
		if (r->src.ops->present(r->src.h, gone)) {
			dispatch(r, gone);
			r->rec.queued++;
			rc = rv_cobj_reader_next(r->rec.r, &r->rec.re);
		} else {
			record_delete(r, gone);
			r->rec.deleted++;
			do
				rc = rv_cobj_reader_next(r->rec.r, &r->rec.re);
			while (!rc && r->rec.re && path_under(r->rec.re->path, gone));
		}
		free(gone);
		return rc;
	}
	if (cmp > 0) {
		dispatch(r, se->path);
		r->rec.queued++;
		return r->src.ops->scan_next(r->rec.scan, &r->rec.se);
	}
	if (re->type != se->type && re->type == RV_CE_DIR) {
		/* The recorded folder is a file or link now: its subtree goes. */
		record_delete(r, re->path);
		r->rec.deleted++;
		dispatch(r, se->path);
		r->rec.queued++;
		{
			char *top = rv_strdup(re->path);
			do
				rc = rv_cobj_reader_next(r->rec.r, &r->rec.re);
			while (!rc && r->rec.re && path_under(r->rec.re->path, top));
			free(top);
		}
		return rc ? rc : r->src.ops->scan_next(r->rec.scan, &r->rec.se);
	}
	if (differs(re, se)) {
		dispatch(r, se->path);
		r->rec.queued++;
	}
	rc = rv_cobj_reader_next(r->rec.r, &r->rec.re);
	return rc ? rc : r->src.ops->scan_next(r->rec.scan, &r->rec.se);
}

/* ---- start-up ---- */

int rv_replicate_check_folder(const struct rv_content_opts *o)
{
	void *h;
	int rc;

	if ((rc = rv_csrc_folder.open(&h, o)))
		return rc;
	rv_csrc_folder.close(h);
	return 0;
}

int rv_replicate_new(struct rv_replicate **out, const struct rv_replicate_opts *o)
{
	struct rv_replicate *r;
	void *src;
	int rc;

	*out = NULL;
	if (!o->store || !o->content || !o->content->root || !o->site)
		return rv_error(RV_EUSAGE, "replicate needs a store, a site and a content folder");
	if ((rc = rv_csrc_folder.open(&src, o->content)))
		return rc;
	r = rv_calloc(1, sizeof(*r));
	r->o = *o;
	if (r->o.sync_interval_ms <= 0)
		r->o.sync_interval_ms = 1000;
	if (!r->o.manifest_every)
		r->o.manifest_every = 256;
	if (r->o.manifest_interval_ms <= 0)
		r->o.manifest_interval_ms = 600000;
	if (!r->o.workers)
		r->o.workers = 8;
	if (r->o.stop_grace_ms <= 0)
		r->o.stop_grace_ms = 10000;
	if (r->o.snapshot_interval_ms <= 0)
		r->o.snapshot_interval_ms = 6 * 3600 * 1000;
	if (r->o.heartbeat_interval_ms <= 0)
		r->o.heartbeat_interval_ms = 5000;
	r->src.ops = &rv_csrc_folder;
	r->src.h = src;
	r->base_fd = -1;
	r->rec.fd = -1;
	r->max_inflight = 8 * r->o.workers + 64;
	{
		int64_t idle = r->o.sync_interval_ms > 5000 ? r->o.sync_interval_ms : 5000;
		r->health_max_ms = 3 * idle;
	}
	r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->wake_fd == -1) {
		rc = rv_error_errno(RV_EFAIL, errno, "cannot create an eventfd");
		r->src.ops->close(src);
		free(r);
		return rc;
	}
	if (r->o.sqlite_path)
		r->db.ops = &rv_dbsrc_sqlite;
	else if (r->o.mysql)
		r->db.ops = &rv_dbsrc_mysql;
	atomic_init(&r->stop, false);
	atomic_init(&r->last_ok_mono, 0);
	atomic_init(&r->health_reason, H_STARTING);
	metrics_setup(r);
	*out = r;
	return 0;
}

/* The database half of a new generation: position 0 is the database as
 * it is now, and a snapshot there is the generation's base.  The first
 * manifest (written next) names it. */
static void db_close(struct rv_replicate *r)
{
	if (r->db.h)
		r->db.ops->close(r->db.h);
	r->db.h = NULL;
	r->db_dirty = false;
}

static int db_start(struct rv_replicate *r)
{
	struct rv_dbsrc_opts so = {.path = r->o.sqlite_path,
				   .mysql = r->o.mysql,
				   .gen = r->gen,
				   .site = r->o.site,
				   .busy_timeout_ms = r->o.busy_timeout_ms};
	int rc;

	db_close(r);
	r->db_newgen = false;
	r->db_point = 0;
	if ((rc = r->db.ops->open(&r->db.h, &so)))
		return rc;
	if ((rc = db_snapshot(r, "generation_start"))) {
		db_close(r);
		return rc;
	}
	r->db_point = r->db.ops->pos(r->db.h);
	return 0;
}

/* Take the lease for the new generation `gen` and say which generation
 * it continues.  The first time, as any new writer of this site does (a
 * second writer of the site fences the first).  After that only as a
 * renewal of the lease this process still holds: one that lost it —
 * fenced while paused, say — never takes it back, whatever path asks. */
static int take_lease(struct rv_replicate *r, const char *gen, char parent[RV_GEN_ID_LEN])
{
	struct rv_lease_opts lo = {.site = r->o.site, .holder = r->holder, .gen = gen};
	struct rv_lease got;
	int rc;

	if (r->fenced || (r->held_lease && !r->have_lease)) {
		r->fenced = true;
		return rv_error(RV_EFENCED, "this writer lost the lease before and does not take "
					    "it back — stopped writing; the writer that holds it "
					    "now carries on");
	}
	if (r->have_lease) {
		lo.renew = &r->lease;
		memcpy(parent, r->gen, RV_GEN_ID_LEN);
	} else {
		struct rv_lease prev;

		rc = rv_lease_read(r->o.store, &prev);
		if (!rc && (r->o.take_over || !strcmp(prev.site, r->o.site)))
			memcpy(parent, prev.gen, RV_GEN_ID_LEN);
		lo.take_over = r->o.take_over;
		rv_lease_release(&prev);
		if (rc && rc != RV_ENOTFOUND)
			return rc;
	}
	rc = rv_lease_acquire(r->o.store, &lo, &got);
	if (rc == RV_EFENCED && r->have_lease)
		r->fenced = true;
	if (rc)
		return rc;
	if (r->have_lease)
		rv_lease_release(&r->lease);
	r->lease = got;
	r->have_lease = r->held_lease = true;
	return 0;
}

/* Take the lease and start a generation that continues the last state of
 * this site: its first manifest (sequence 0) is that state. */
static int start_generation(struct rv_replicate *r)
{
	struct rv_gen_meta meta = {0};
	struct rv_cstate cs;
	char parent[RV_GEN_ID_LEN] = "", gen[RV_GEN_ID_LEN];
	int rc;

	rv_lease_holder_id(r->holder, sizeof(r->holder));
	rv_gen_id_new(gen);
	if ((rc = take_lease(r, gen, parent)))
		return rc;
	rv_testpoint("replicate.lease_taken");
	/* Still ours before anything goes under the new generation: a writer
	 * paused here while another took over writes nothing (a pause right
	 * after this check can still leave an orphan meta.json, which no
	 * point names). */
	if ((rc = lease_check(r)))
		return rc;
	memcpy(r->gen, gen, RV_GEN_ID_LEN);
	if (r->o.metrics)
		rv_metric_set(r->m.epoch, (double)r->lease.epoch);
	memcpy(meta.gen, r->gen, RV_GEN_ID_LEN);
	meta.site = (char *)r->o.site;
	meta.epoch = r->lease.epoch;
	meta.created_ms = rv_now_ms();
	meta.parent = parent[0] ? parent : NULL;
	meta.database = (char *)(r->db.ops ? r->db.ops->name : "none");
	if ((rc = rv_gen_meta_write(r->o.store, &meta)))
		return rc;
	if (r->db.ops && (rc = db_start(r))) {
		/* A writer that lost the lease while it started (paused, say)
		 * says so, whatever else went wrong meanwhile: its database
		 * replaced by the other site's restore is the likely one. */
		if (rc != RV_EFENCED) {
			char why[512];

			snprintf(why, sizeof(why), "%s", rv_errmsg());
			if (lease_check(r) == RV_EFENCED)
				return RV_EFENCED;
			rv_error(rc, "%s", why);
		}
		return rc;
	}

	rv_cstate_init(&cs);
	if (parent[0] && (rc = rv_cstate_load(r->o.store, parent, 64, &cs)))
		return rc;
	r->base_fd = cs.base_fd;
	cs.base_fd = -1;
	r->ch = cs.changes;
	memset(&cs.changes, 0, sizeof(cs.changes));
	rv_cstate_release(&cs);
	r->seq = 0;
	r->manifest_mono = rv_mono_ms();
	if ((rc = write_manifest(r)))
		return rc;
	{
		char epoch[24];

		snprintf(epoch, sizeof(epoch), "%" PRIu64, r->lease.epoch);
		rv_log(RV_LOG_INFO, "content generation started", "generation", r->gen, "parent",
		       parent[0] ? parent : "none", "epoch", epoch, "folder", r->o.content->root,
		       "store", rv_store_describe(r->o.store), NULL);
	}
	set_ok(r);
	return 0;
}

static void *watch_thread(void *arg)
{
	struct rv_replicate *r = arg;

	if (r->src.ops->watch_run(r->src.h)) {
		rv_log(RV_LOG_ERROR, "content watcher stopped", "error", rv_errmsg(), NULL);
		rv_replicate_stop(r);
	}
	return NULL;
}

/* ---- the loop ---- */

/* The WAL chain broke (a checkpoint by another process rewound frames we
 * had not shipped, the database file was replaced, ...): what was
 * committed stays a valid history; a new generation (the lease renewed,
 * epoch + 1) starts from a fresh snapshot and carries the content state
 * forward.  Called with nothing sealed. */
static int restart_generation(struct rv_replicate *r)
{
	char old[RV_GEN_ID_LEN];
	int rc;

	memcpy(old, r->gen, RV_GEN_ID_LEN);
	rv_log(RV_LOG_WARN, "database chain broken, starting a new generation", "generation", old,
	       "reason", r->db_reason, NULL);
	if (r->o.metrics)
		rv_metric_add(r->m.db_newgen, 1);
	db_close(r);
	if (r->base_fd >= 0)
		close(r->base_fd);
	r->base_fd = -1;
	rv_cchanges_clear(&r->ch);
	r->since_manifest = 0;
	r->manifest_due = false;
	/* Taken again as a renewal of the lease held (epoch + 1), so only
	 * while it is still ours: a writer fenced meanwhile (paused, say)
	 * stops here instead of fencing the newer writer.  The new
	 * generation's parent is the one just left. */
	rc = start_generation(r);
	if (rc && rc != RV_EFENCED)
		rv_log(RV_LOG_ERROR, "cannot start a new generation", "error", rv_errmsg(), NULL);
	return rc;
}

static bool may_take_more(const struct rv_replicate *r)
{
	return r->ninf < r->max_inflight && r->open.n < OPEN_MAX;
}

static void take_events(struct rv_replicate *r)
{
	for (int i = 0; i < TURN_STEPS && may_take_more(r) && !r->rec.need; i++) {
		struct rv_watch_event ev;

		if (r->src.ops->watch_pop(r->src.h, &ev) || ev.kind == RV_WATCH_NONE)
			return;
		switch (ev.kind) {
		case RV_WATCH_PUT:
		case RV_WATCH_DIR:
			dispatch(r, ev.path);
			break;
		case RV_WATCH_DELETE:
			record_delete(r, ev.path);
			break;
		case RV_WATCH_OVERFLOW:
			count_error(r, "overflow");
			if (r->rec.active)
				rec_close(r);
			r->rec.need = true;
			break;
		default:
			break;
		}
		rv_watch_event_release(&ev);
	}
}

/* When the next commit is due (INT64_MAX: nothing to commit).  Commits
 * are at least sync_interval apart (longer after failures: next_commit). */
static int64_t commit_due(const struct rv_replicate *r)
{
	int64_t at = db_due(r);

	if (r->open.n || r->sealed.active || r->manifest_due)
		at = 0;
	if (at == INT64_MAX)
		return at;
	return at > r->next_commit ? at : r->next_commit;
}

/* Sleep until a result, a ready watcher event, a database write, a stop
 * request or the next deadline (`at`, rv_mono_ms clock). */
static int sleep_until(struct rv_replicate *r, int64_t at, bool want_events)
{
	struct pollfd pf[2] = {{r->wake_fd, POLLIN, 0}, {-1, POLLIN, 0}};
	int64_t now = rv_mono_ms();
	int timeout;

	if (want_events) {
		int64_t ev = r->src.ops->watch_next_ready(r->src.h);

		if (ev < at)
			at = ev;
	}
	/* A write already seen needs no second wake-up before it ships. */
	if (r->db.h && r->db.ops->change_fd && !r->db_dirty)
		pf[1].fd = r->db.ops->change_fd(r->db.h);
	if (at <= now)
		timeout = 0;
	else if (at == INT64_MAX)
		timeout = -1;
	else
		timeout = at - now > INT32_MAX ? INT32_MAX : (int)(at - now);
	if (poll(pf, 2, timeout) == -1 && errno != EINTR)
		return rv_error_errno(RV_EFAIL, errno, "poll failed");
	if (pf[1].revents)
		db_watch_drain(r);
	return 0;
}

/* After a stop request, once the uploads are in: the database's last
 * frames and every pending change become a point, retried until the grace
 * period ends. */
static int final_commit(struct rv_replicate *r, int64_t stop_at)
{
	int rc;

	if (r->db.h && !r->db_newgen && (rc = commit(r)))
		return rc;
	while (r->open.n || r->sealed.active) {
		if ((rc = commit(r)))
			return rc;
		if (!r->open.n && !r->sealed.active)
			break;
		if (rv_mono_ms() >= stop_at || rv_shutdown_requested())
			return rv_error(RV_EINTR,
					"stopped with %zu changes not committed (the store kept "
					"failing); the next start reconciles them",
					r->open.n + r->sealed.b.n);
		rv_sleep_ms(200);
	}
	atomic_store(&r->health_reason, H_STOPPED);
	return 0;
}

/* Reconcile compares with the committed state, so it starts once nothing
 * is pending; then up to TURN_STEPS entries per turn. */
static int reconcile_turn(struct rv_replicate *r)
{
	int rc;

	if (r->rec.need && !r->rec.active && !r->ninf && !r->open.n && !r->sealed.active &&
	    (rc = rec_start(r)))
		return rc;
	for (int i = 0; i < TURN_STEPS && r->rec.active && may_take_more(r); i++)
		if ((rc = rec_step(r)))
			return rc;
	return 0;
}

/* The fenced hook: Ghost must not go on taking writes that go nowhere.
 * Keeps the caller's error message. */
static void run_fenced_hook(const struct rv_replicate *r, const struct rv_hook_info *hi,
			    const char *why)
{
	char msg[512];

	if (!r->o.hooks)
		return;
	snprintf(msg, sizeof(msg), "%s", rv_errmsg());
	if (rv_hook_run(r->o.hooks, RV_HOOK_FENCED, hi))
		rv_log(RV_LOG_ERROR, "the fenced hook failed: Ghost may still take writes here",
		       "reason", why, "error", rv_errmsg(), NULL);
	rv_error(RV_EFENCED, "%s", msg);
}

/* ---- self-fencing ----
 *
 * A primary whose heartbeat has not reached the store for fence_after
 * stops Ghost's writes (hooks.fenced) before the other site may call it
 * dead: the standby promotes only once the heartbeat is dead_after old,
 * and dead_after > fence_after + hooks.timeout + clock skew
 * (docs/ARCHITECTURE.md, "Failover timing").  A thread of its own that
 * sleeps until the deadline, because the loop may sit in a store call that
 * only its deadline ends.  Replication goes on trying: if the store comes
 * back with the lease still this site's, what Ghost wrote is shipped, and
 * once a second heartbeat lands (its lease check one interval after the
 * first) Ghost is started again (hooks.promote, the gate).  A standby
 * that judged this site dead before the store came back checks the
 * heartbeat again just before it takes the lease (engine/promote.c), so
 * from the first landing on it refuses; one that took the lease before
 * is seen by that second check, and this site stays fenced. */

static void wd_landed(struct rv_replicate *r, int64_t taken, const struct rv_heartbeat *h)
{
	bool was_cut;

	pthread_mutex_lock(&r->wd.mu);
	r->wd.ok_mono = taken;
	r->wd.epoch = h->epoch;
	r->wd.seq = h->seq;
	r->wd.commit_ms = h->commit_ms;
	memcpy(r->wd.gen, h->gen, RV_GEN_ID_LEN);
	was_cut = r->wd.cut_off;
	if (was_cut && rv_mono_ms() + r->o.heartbeat_interval_ms >= taken + r->o.fence_after_ms) {
		/* It hung through the outage and landed late: its time in the
		 * store leaves less than one interval before fence_after.
		 * Still cut off until one taken after the store came back
		 * lands (else the watchdog would fence again at once). */
		pthread_mutex_unlock(&r->wd.mu);
		return;
	}
	r->wd.cut_off = false;
	if (was_cut)
		r->wd.resume = 1;
	else if (r->wd.resume == 1)
		r->wd.resume = 2;
	pthread_cond_signal(&r->wd.cv);
	pthread_mutex_unlock(&r->wd.mu);
	if (was_cut) {
		atomic_store(&r->health_reason, H_OK);
		rv_log(RV_LOG_WARN,
		       "the store answers again and this site still holds the lease: replication "
		       "goes on; Ghost starts again once the next heartbeat confirms the lease",
		       NULL);
	}
}

/* Ghost stopped by the self-fence may write again (the lease confirmed
 * twice since the store came back). */
static void resume_ghost(struct rv_replicate *r, const struct rv_hook_info *hi)
{
	if (!rv_hooks_stop_ghost(r->o.hooks, RV_HOOK_FENCED))
		return; /* nothing stopped it */
	rv_log(RV_LOG_WARN,
	       "the lease held through two heartbeats since the store came back: starting "
	       "Ghost again (hooks.promote / hooks.gate)",
	       NULL);
	if (rv_hook_run(r->o.hooks, RV_HOOK_PROMOTE, hi))
		rv_log(RV_LOG_ERROR, "starting Ghost again failed: start it by hand", "error",
		       rv_errmsg(), NULL);
	rv_error_clear();
}

static void *watchdog(void *arg)
{
	struct rv_replicate *r = arg;

	pthread_mutex_lock(&r->wd.mu);
	while (!r->wd.stop) {
		int64_t due = r->wd.ok_mono + r->o.fence_after_ms, now = rv_mono_ms();
		struct rv_hook_info hi = {.site = r->o.site, .loss_bound_ms = -1};
		char gen[RV_GEN_ID_LEN], secs[32];
		struct timespec ts;

		hi.epoch = r->wd.epoch;
		memcpy(gen, r->wd.gen, RV_GEN_ID_LEN);
		hi.gen = gen[0] ? gen : NULL;
		hi.seq = r->wd.seq;
		hi.point_ms = r->wd.commit_ms;
		if (r->wd.resume == 2 && !r->wd.cut_off && !r->wd.paused) {
			r->wd.resume = 0;
			pthread_mutex_unlock(&r->wd.mu);
			resume_ghost(r, &hi);
			pthread_mutex_lock(&r->wd.mu);
			continue;
		}
		if (r->wd.cut_off || r->wd.paused) {
			pthread_cond_wait(&r->wd.cv, &r->wd.mu);
			continue;
		}
		if (now < due) {
			ts.tv_sec = due / 1000;
			ts.tv_nsec = (long)(due % 1000) * 1000000L;
			pthread_cond_timedwait(&r->wd.cv, &r->wd.mu, &ts);
			continue;
		}
		r->wd.cut_off = true;
		r->wd.resume = 0;
		snprintf(secs, sizeof(secs), "%.1f", (double)(now - r->wd.ok_mono) / 1000.0);
		pthread_mutex_unlock(&r->wd.mu);
		atomic_store(&r->health_reason, H_CUT_OFF);
		if (r->o.metrics)
			rv_metric_add(r->m.self_fenced, 1);
		if (rv_hooks_stop_ghost(r->o.hooks, RV_HOOK_FENCED))
			rv_log(RV_LOG_ERROR,
			       "cut off from the store past failover.fence_after: stopping "
			       "Ghost's writes (hooks.fenced / hooks.gate) before another site "
			       "may promote",
			       "seconds_without_heartbeat", secs, NULL);
		else
			rv_log(RV_LOG_WARN,
			       "cut off from the store past failover.fence_after: nothing "
			       "configured stops Ghost (no hooks.fenced or hooks.gate), so it "
			       "keeps writing; replicate ships it when the store is back, unless "
			       "another site was promoted meanwhile",
			       "seconds_without_heartbeat", secs, NULL);
		run_fenced_hook(r, &hi, "cut off from the store");
		rv_error_clear();
		pthread_mutex_lock(&r->wd.mu);
	}
	pthread_mutex_unlock(&r->wd.mu);
	return NULL;
}

static int wd_start(struct rv_replicate *r)
{
	pthread_condattr_t ca;
	int e;

	if (r->o.fence_after_ms <= 0)
		return 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wd.cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&r->wd.mu, NULL);
	r->wd.ok_mono = rv_mono_ms();
	r->wd.inited = true;
	if ((e = pthread_create(&r->wd.t, NULL, watchdog, r)))
		return rv_error_errno(RV_EFAIL, e, "cannot start the fencing watchdog");
	r->wd.started = true;
	return 0;
}

/* A switchover stops Ghost's writes itself (hooks.demote) and stops
 * writing heartbeats while it ships the final point: no self-fencing
 * meanwhile.  Taken back, the clock starts again from now. */
static void wd_pause(struct rv_replicate *r, bool pause)
{
	if (!r->wd.inited)
		return;
	pthread_mutex_lock(&r->wd.mu);
	r->wd.paused = pause;
	if (pause)
		r->wd.resume = 0; /* the switchover decides about Ghost now */
	if (!pause)
		r->wd.ok_mono = rv_mono_ms();
	pthread_cond_signal(&r->wd.cv);
	pthread_mutex_unlock(&r->wd.mu);
}

static void wd_stop(struct rv_replicate *r)
{
	if (r->wd.started) {
		pthread_mutex_lock(&r->wd.mu);
		r->wd.stop = true;
		pthread_cond_signal(&r->wd.cv);
		pthread_mutex_unlock(&r->wd.mu);
		pthread_join(r->wd.t, NULL);
		r->wd.started = false;
	}
	if (r->wd.inited) {
		pthread_cond_destroy(&r->wd.cv);
		pthread_mutex_destroy(&r->wd.mu);
		r->wd.inited = false;
	}
}

/* heartbeat.json, after a lease check (a fenced writer writes none).  A
 * failed put is retried at the next interval; the commits go on. */
static int heartbeat(struct rv_replicate *r)
{
	struct rv_heartbeat h = {
	    .site = r->lease.site,
	    .epoch = r->lease.epoch,
	    .holder = r->lease.holder,
	    .time_ms = rv_now_ms(),
	    .seq = r->seq,
	    .commit_ms = r->commit_ms,
	    .has_db = r->db.h != NULL,
	    .db_pos = r->db_point,
	    .idle = nothing_pending(r),
	};
	int64_t taken = rv_mono_ms(); /* when h.time_ms was read */
	int rc = lease_check(r);

	r->next_heartbeat = rv_mono_ms() + r->o.heartbeat_interval_ms;
	if (rc == RV_EFENCED)
		return rc;
	memcpy(h.gen, r->gen, RV_GEN_ID_LEN);
	if (!rc)
		rc = rv_heartbeat_write(r->o.store, &h);
	if (rc) {
		count_error(r, "heartbeat");
		rv_log(RV_LOG_WARN, "heartbeat failed, will retry", "error", rv_errmsg(), NULL);
		return 0;
	}
	wd_landed(r, taken, &h);
	r->next_idle_check = rv_mono_ms() + r->health_max_ms / 3; /* the lease was checked */
	return 0;
}

/* A commit when one is due, else the idle writer's lease check; and the
 * heartbeat on its own clock. */
static int due_work(struct rv_replicate *r, int64_t now, bool stopping)
{
	int rc;

	if (now >= r->next_heartbeat && !stopping && !r->sealed.active && (rc = heartbeat(r)))
		return rc;

	if (now >= commit_due(r)) {
		if ((rc = commit(r)))
			return rc;
		if (r->db_newgen && !r->sealed.active && !r->rec.active && !stopping)
			return restart_generation(r);
	} else if (now >= r->next_idle_check && !r->open.n && !r->sealed.active) {
		if ((rc = idle_check(r)))
			return rc;
		r->next_idle_check = rv_mono_ms() + r->health_max_ms / 3;
	}
	return 0;
}

static int loop(struct rv_replicate *r)
{
	int64_t stop_at = 0, stop_began = 0;
	bool hard = false;
	int rc = 0;

	r->rec.need = true;
	r->next_commit = rv_mono_ms();
	r->next_idle_check = rv_mono_ms() + r->health_max_ms / 3;
	r->next_heartbeat = rv_mono_ms();
	r->db_check_mono = rv_mono_ms() + db_check_period(r);
	for (;;) {
		int64_t now, at;
		bool stopping = atomic_load(&r->stop);

		if (stopping && !stop_at) {
			stop_began = rv_mono_ms();
			stop_at = stop_began + r->o.stop_grace_ms;
			rv_log(RV_LOG_INFO, "stopping: finishing uploads and committing", NULL);
			if (r->rec.active)
				rec_close(r);
		}
		handle_results(r);
		if (!stopping && (rc = reconcile_turn(r)))
			return rc;
		now = rv_mono_ms();
		/* Files closed just before the stop are still in the debounce
		 * window: take them into the final commit too. */
		if (!stopping || now < stop_began + STOP_TAKE_MS)
			take_events(r);
		if (stopping && !r->ninf && now >= stop_began + STOP_TAKE_MS)
			return final_commit(r, stop_at);
		if (stopping && now >= stop_at && !hard) {
			rv_shutdown_request(); /* abort uploads stuck on the store */
			hard = true;
		}
		if ((rc = due_work(r, now, stopping)))
			return rc;
		if (r->handover_due && !stopping) {
			switchover_begin(r);
			continue;
		}
		update_depth(r);
		if (r->rec.active && may_take_more(r))
			continue;
		at = commit_due(r);
		if (!r->open.n && !r->sealed.active && r->next_idle_check < at)
			at = r->next_idle_check;
		/* As due_work: no heartbeat while a sealed commit waits for its
		 * retry (its lease check is the one that counts) — waking for
		 * one that will not be written spins the loop for the whole
		 * of a store outage. */
		if (!stopping && !r->sealed.active && r->next_heartbeat < at)
			at = r->next_heartbeat;
		if (stopping && now + STOP_TURN_MS < at)
			at = now + STOP_TURN_MS;
		if ((rc = sleep_until(r, at, may_take_more(r) && !r->rec.need && !stopping)))
			return rc;
	}
}

int rv_replicate_run(struct rv_replicate *r)
{
	int rc, e;

	if ((rc = start_generation(r)))
		goto out;
	/* The watcher starts before the walk, so nothing slips between. */
	if ((rc = r->src.ops->watch_start(r->src.h, r->wake_fd)))
		goto out;
	r->watching = true;
	e = pthread_create(&r->wthread, NULL, watch_thread, r);
	if (e) {
		rc = rv_error_errno(RV_EFAIL, e, "cannot start the content watcher");
		goto out;
	}
	r->wthread_started = true;
	if ((rc = rv_rpool_start(&r->pool, r->o.workers, r->o.store, &r->src, r->o.metrics,
				 r->wake_fd)))
		goto out;
	r->pool_started = true;
	if ((rc = wd_start(r)))
		goto out;
	rc = loop(r);
	if (!rc && r->handover_to && !r->fenced) {
		char took[32];

		if ((rc = rv_lease_hand_over(r->o.store, &r->lease, r->handover_to, r->seq,
					     r->commit_ms))) {
			if (rc == RV_EFENCED)
				r->fenced = true;
		} else {
			r->handed_over = true;
			snprintf(took, sizeof(took), "%.3f",
				 (double)(rv_mono_ms() - r->handover_t0) / 1000.0);
			rv_log(RV_LOG_INFO,
			       "switchover: the final point is shipped and the lease "
			       "handed over",
			       "to", r->handover_to, "seconds", took, NULL);
		}
	}
out:
	wd_stop(r);
	if (rc == RV_EFENCED) {
		struct rv_hook_info hi = {.site = r->o.site,
					  .epoch = r->have_lease ? r->lease.epoch : 0,
					  .gen = r->gen[0] ? r->gen : NULL,
					  .seq = r->seq,
					  .point_ms = r->commit_ms,
					  .loss_bound_ms = -1};

		atomic_store(&r->health_reason, H_FENCED);
		count_error(r, "fenced");
		if (r->o.metrics) {
			rv_metric_set(r->m.role, 0);
			rv_metric_set(rv_metrics_gauge(r->o.metrics, "revenant_role",
						       RV_METRICS_ROLE_HELP, "role=\"fenced\""),
				      1);
		}
		if (!r->wd.cut_off)
			run_fenced_hook(r, &hi, "another site holds the lease");
	}
	if (r->watching)
		r->src.ops->watch_stop(r->src.h);
	if (r->wthread_started)
		pthread_join(r->wthread, NULL);
	r->wthread_started = false;
	if (r->pool_started) {
		bool already = rv_shutdown_requested();

		if (rc)
			rv_shutdown_request(); /* nothing will commit what they read */
		rv_rpool_stop(&r->pool);
		r->pool_started = false;
		/* The process may go on (`run` becomes a standby): the flag was
		 * this writer's own, to cut its uploads short. */
		if (rc && !already)
			rv_shutdown_reset();
	}
	return rc;
}

void rv_replicate_stop(struct rv_replicate *r)
{
	uint64_t one = 1;

	atomic_store(&r->stop, true);
	if (write(r->wake_fd, &one, sizeof(one)) == -1) {
		/* an eventfd at its limit is still readable: the loop wakes */
	}
}

int rv_replicate_health(void *arg, char *why, size_t n)
{
	struct rv_replicate *r = arg;
	int reason = atomic_load(&r->health_reason);
	int64_t last = atomic_load(&r->last_ok_mono);
	int64_t age = last ? rv_mono_ms() - last : -1;

	if (reason == H_OK && age >= 0 && age <= r->health_max_ms)
		return 0;
	if (reason == H_OK || (reason == H_STORE && age >= 0))
		snprintf(why, n,
			 "no successful commit for %" PRId64 " ms (limit %" PRId64 " ms): %s", age,
			 r->health_max_ms, reason_text[H_STORE]);
	else
		snprintf(why, n, "%s", reason_text[reason]);
	return -1;
}

void rv_replicate_last_commit(const struct rv_replicate *r, char gen[RV_GEN_ID_LEN], uint64_t *seq,
			      int64_t *commit_ms)
{
	memcpy(gen, r->gen, RV_GEN_ID_LEN);
	*seq = r->seq;
	*commit_ms = r->commit_ms;
}

bool rv_replicate_handed_over(const struct rv_replicate *r)
{
	return r->handed_over;
}

void rv_replicate_free(struct rv_replicate *r)
{
	if (!r)
		return;
	free(r->handover_to);
	rec_close(r);
	batch_clear(&r->open);
	sealed_clear(r);
	for (size_t i = 0; i < r->ninf; i++)
		free(r->inf[i].path);
	free(r->inf);
	for (size_t i = 0; i < r->nunr; i++)
		free(r->unr[i]);
	free(r->unr);
	rv_cchanges_clear(&r->ch);
	if (r->base_fd >= 0)
		close(r->base_fd);
	if (r->have_lease)
		rv_lease_release(&r->lease);
	if (r->db.h)
		r->db.ops->close(r->db.h);
	close(r->wake_fd);
	r->src.ops->close(r->src.h);
	free(r);
}
