/* verify.h - `revenant verify`: a restore drill.  A recovery point (the
 * latest, the last at or before a time, or N at random across the store's
 * history) is restored into a scratch folder with the very code `restore`
 * runs, so every check a real restore makes is made: each object's
 * checksums and header, the chains without gaps, every content file's
 * size and SHA-256 against its record, the database's PRAGMA
 * integrity_check.  Then, beyond restore: foreign_key_check is counted
 * (reported, not judged: SQLite enforces foreign keys only when the
 * application asks, so the source may hold such rows too), and when the
 * database has Ghost's posts table, every image a post names must be a
 * file of the folder at the same point.  The scratch folder is removed
 * afterwards.
 *
 * Read-only on the store: only GET and LIST, never the lease.  Memory is
 * restore's (streamed); disk is the point's size, which is worked out
 * before any file or database object is downloaded and compared with the
 * scratch file system's free space.
 *
 * Results: 0 when every point verified; RV_EUNRESTORABLE when the store
 * holds a point that does not restore (its message names the point and the
 * object); anything else when verify could not do its job (RV_ENET,
 * RV_EAUTH, RV_ENOTFOUND: nothing in the store, RV_EFAIL: not enough
 * scratch space, ...). */
#ifndef RV_ENGINE_VERIFY_H
#define RV_ENGINE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "content/restore.h"
#include "core/err.h"
#include "format/layout.h"

struct rv_mysql_conf;

struct rv_store;
struct rv_metrics;

/* Missing images listed per point (the count goes on). */
#define RV_VERIFY_MISSING_MAX 20
/* --sample's bound. */
#define RV_VERIFY_SAMPLE_MAX 100

struct rv_verify_point;

struct rv_verify_opts {
	int64_t at_ms;	 /* RV_RESTORE_LATEST or a time */
	const char *gen; /* only this generation (and its parents); NULL: the lease's */
	unsigned sample; /* > 0: this many random points instead of at_ms */
	/* The scratch folder's parent; NULL: $TMPDIR, else /tmp. */
	const char *scratch;
	/* A MySQL generation's database goes into this database, which
	 * must not exist: created, checked and dropped (borrowed). */
	const struct rv_mysql_conf *scratch_mysql;
	unsigned jobs; /* parallel downloads; 0: 8 */
	/* Called after each point (progress); may be NULL. */
	void (*point_done)(void *ud, const struct rv_verify_point *p);
	void *ud;
};

struct rv_verify_missing {
	char *post; /* the post's id */
	char *path; /* "images/2026/12/a.jpg" */
};

/* One point verified (or not). */
struct rv_verify_point {
	int64_t asked_ms; /* the time asked for, RV_RESTORE_LATEST: the latest */
	bool found;	  /* a point was found: gen, seq, time_ms are set */
	char gen[RV_GEN_ID_LEN];
	uint64_t seq;
	int64_t time_ms;
	bool has_db;
	uint64_t db_pos;
	/* What it needs and what it read. */
	uint64_t scratch_need, scratch_free;
	uint64_t files, content_bytes, db_bytes;
	uint64_t bytes_read;
	double restore_seconds; /* content and database restored: the RTO estimate */
	double seconds;		/* the whole point, checks included */
	/* The checks beyond restore's. */
	uint64_t fk_violations;
	uint64_t tables_checked; /* MySQL: CHECK TABLE said OK */
	bool ghost_schema;
	uint64_t posts, image_refs, images_missing;
	struct rv_verify_missing missing[RV_VERIFY_MISSING_MAX];
	size_t nmissing;
	int rc;	     /* 0, or what failed */
	char *error; /* its message (owned), NULL when rc is 0 */
};

struct rv_verify_result {
	struct rv_verify_point *points; /* in the order verified (sample: by time) */
	size_t n;
	bool have_latest;
	int64_t latest_ms;  /* the newest point in the store */
	double rpo_seconds; /* its age when verify started */
	double seconds;
	uint64_t bytes_read;
	char scratch[4096]; /* the scratch folder's parent used */
};

int rv_verify(struct rv_store *s, const struct rv_verify_opts *o,
	      struct rv_verify_result *res) RV_WARN_UNUSED;
void rv_verify_result_release(struct rv_verify_result *res);

/* --- pieces, exposed for the unit tests ----------------------------------- */

/* Scratch space a point needs: the content's bytes with every file rounded
 * up to a 4 KiB block, the database, the database objects downloaded
 * beside it, and 16 MiB for the manifest, logs and staging. */
uint64_t rv_verify_scratch_need(uint64_t files, uint64_t content_bytes, uint64_t db_bytes,
				uint64_t db_download);

/* `n` sample times in [lo, hi], ascending, from `seed` (deterministic). */
void rv_verify_sample_times(int64_t *out, unsigned n, int64_t lo, int64_t hi, uint64_t seed);

/* The value of revenant_verify_last_success_timestamp_seconds in a
 * metrics file's text; false when it has none. */
bool rv_verify_metrics_prev_success(const char *text, size_t n, double *out);

/* The Prometheus gauges of a run into `m`: ok, the time of the last
 * success (now when `rc` is 0, else `prev_success`, left out when < 0),
 * duration, RPO, restore time, bytes read, points.  `now` in seconds. */
void rv_verify_metrics(struct rv_metrics *m, const struct rv_verify_result *res, int rc, double now,
		       double prev_success);

/* --metrics-file: the gauges above written to `path` atomically (a
 * temporary file in its folder, fsync, rename), for node_exporter's
 * textfile collector; the last success is carried over from the file
 * already there. */
int rv_verify_write_metrics(const char *path, const struct rv_verify_result *res,
			    int rc) RV_WARN_UNUSED;

/* --pushgateway: the same gauges POSTed to `url`/metrics/job/revenant_verify
 * (a Prometheus Pushgateway); a failed run leaves out the last success's
 * time, which the gateway then keeps.  RV_ENET when it cannot be reached or
 * answers other than 2xx. */
int rv_verify_push_metrics(const char *url, const struct rv_verify_result *res,
			   int rc) RV_WARN_UNUSED;

#endif
