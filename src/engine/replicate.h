/* replicate.h - `revenant replicate`, content half: ship the content folder
 * to the store continuously (docs/FORMAT.md).
 *
 * Threads and who owns what:
 *   the loop (the caller's thread of rv_replicate_run) owns the lease, the
 *     sequence, the open and sealed batches, the recorded state (base
 *     manifest + overlay), the in-flight table and reconcile;
 *   the watcher thread owns inotify (content/watch.c);
 *   N upload workers take paths from the job queue, read, hash and upload a
 *     file and hand back one record (or "gone", "changed", "unreadable");
 *   libmicrohttpd's thread reads the metrics (atomics) and the health
 *     timestamps (atomics).
 *
 * A record reaches a log only after its blob is in the store, and a log is
 * written only after the lease check, so every log names blobs that exist
 * and was written by the lease holder of the moment. */
#ifndef RV_ENGINE_REPLICATE_H
#define RV_ENGINE_REPLICATE_H

#include <stdbool.h>
#include <stdint.h>

#include "content/content.h"
#include "core/err.h"
#include "format/layout.h"

struct rv_store;
struct rv_metrics;
struct rv_hooks;
struct rv_mysql_conf;

struct rv_replicate_opts {
	struct rv_store *store;		       /* borrowed */
	const struct rv_content_opts *content; /* borrowed */
	const char *site;
	int64_t sync_interval_ms;     /* default 1000 */
	unsigned manifest_every;      /* commits; default 256 */
	int64_t manifest_interval_ms; /* default 10 min */
	unsigned workers;	      /* default 8 */
	struct rv_metrics *metrics;   /* borrowed; NULL: none */
	int64_t stop_grace_ms;	      /* finishing after a stop request; default 10 s */
	/* heartbeat.json (engine/lease.h) at least this often, idle or not;
	 * default 5 s. */
	int64_t heartbeat_interval_ms;
	/* A primary that has not written its heartbeat for this long stops
	 * Ghost's writes itself (hooks.fenced) before the other site may
	 * promote (docs/ARCHITECTURE.md, "Failover timing"); 0: never. */
	int64_t fence_after_ms;
	/* Run at a fencing (lost lease or self-fencing); NULL: none. */
	const struct rv_hooks *hooks;
	/* Promotion: take the lease even when another site holds it (its
	 * epoch moves on, so that site's writer is fenced at its next check),
	 * and continue that site's generation from its last point — what
	 * `standby --promote-once` restored here. */
	bool take_over;
	/* The database half (NULL: content only).  Every tick ships the
	 * WAL frames committed since the last one, then commits a content
	 * log whose header names the database position: one recovery point
	 * per commit (docs/FORMAT.md, "Recovery points"). */
	const char *sqlite_path;
	/* ... or a MySQL/MariaDB database (borrowed; NULL: none): every
	 * tick ships the binlog transactions received since the last. */
	const struct rv_mysql_conf *mysql;
	int64_t snapshot_interval_ms; /* default 6 h */
	/* Also a snapshot once the log shipped since the last one reaches
	 * this many times the database file's size (and 64 MiB); 0: the
	 * clock alone. */
	unsigned snapshot_log_ratio;
	int busy_timeout_ms; /* default 5 s */
};

struct rv_replicate;

/* The globs and the folder (RV_ENOTFOUND missing, RV_EAUTH unreadable,
 * RV_EUSAGE not a folder), with one line saying what to fix. */
int rv_replicate_check_folder(const struct rv_content_opts *o) RV_WARN_UNUSED;
/* Checks the options and the folder; nothing is written yet. */
int rv_replicate_new(struct rv_replicate **out, const struct rv_replicate_opts *o) RV_WARN_UNUSED;
/* Take the lease, start a generation, reconcile, then follow the folder
 * until rv_replicate_stop(): finishes the uploads in flight, commits and
 * returns 0.  RV_EFENCED when the lease was lost (nothing written after
 * that); other codes for failures at start-up. */
int rv_replicate_run(struct rv_replicate *r) RV_WARN_UNUSED;
/* Thread- and async-signal-safe (an eventfd write). */
void rv_replicate_stop(struct rv_replicate *r);
/* 0 when the last commit (or idle lease check) is recent, else a negative
 * value and the reason; for /healthz.  Thread-safe. */
int rv_replicate_health(void *r, char *why, size_t n);
/* After rv_replicate_run returned: this writer's generation and its last
 * commit (seq 0 and time 0: none). */
void rv_replicate_last_commit(const struct rv_replicate *r, char gen[RV_GEN_ID_LEN], uint64_t *seq,
			      int64_t *commit_ms);
/* After rv_replicate_run returned 0: whether it stopped because it handed
 * the lease over in a planned switchover (engine/lease.h). */
bool rv_replicate_handed_over(const struct rv_replicate *r);
void rv_replicate_free(struct rv_replicate *r);

#endif
