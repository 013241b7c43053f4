/* restore.h - bring the content folder back from a store (store format v1,
 * docs/FORMAT.md): find a point, rebuild the folder as it was there
 * (`revenant restore`), and follow the store from there on (`revenant
 * standby`).
 *
 * A point is a manifest plus the log objects after it.  Every object is
 * downloaded and verified before anything in the folder changes; the
 * target file set is the manifest merged with the logs (a log `del`
 * removes its path and everything under it), streamed in manifest order
 * so memory grows with the logs, not with the folder.
 *
 * What restore does to the folder: every path of the target set ends up
 * exactly as recorded (content, mode, mtime; a file, folder or symlink in
 * the way is replaced).  Paths that are not in the target set are left
 * alone and counted, unless `delete_extra` (--delete), which removes them.
 * Symlinks pointing outside the folder are skipped with a warning unless
 * `allow_outside_links`.  Files already right (same size and mtime, or
 * same SHA-256) are not downloaded again, so a killed restore resumes. */
#ifndef RV_CONTENT_RESTORE_H
#define RV_CONTENT_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "content/apply.h"
#include "content/content.h"
#include "format/content.h"
#include "core/err.h"

struct rv_store;
struct rv_mysql_conf;

/* "Now": restore the latest commit. */
#define RV_RESTORE_LATEST INT64_MAX

/* One listed content object. */
struct rv_restore_obj {
	char *key; /* NULL: none */
	char gen[RV_GEN_ID_LEN];
	uint64_t seq;
	int64_t time_ms;
};

/* A hole in a generation's content log: sequence `missing` is not in the
 * store while a later log or manifest (`next`, the first one seen; 0 when
 * not known) is.  Sequences have no gaps (docs/FORMAT.md), so this is a
 * lost object, never the end of the log. */
struct rv_restore_gap {
	char gen[RV_GEN_ID_LEN];
	uint64_t missing; /* 0: no gap */
	uint64_t next;
};

/* "generation G: content log has a gap: sequence N is missing, M… present"
 * into `out` (the wording `status`, `restore`, `standby` and `prune` use). */
void rv_restore_gap_describe(char *out, size_t n, const struct rv_restore_gap *g);
/* Sets that line plus what to do as the error; returns RV_ECORRUPT. */
int rv_restore_gap_error(const struct rv_restore_gap *g);

struct rv_restore_point {
	char gen[RV_GEN_ID_LEN];	/* the generation followed */
	uint64_t seq;			/* its last sequence in the point (0: none yet) */
	int64_t time_ms;		/* commit time of the newest object used, 0 if none */
	struct rv_restore_obj manifest; /* key NULL: start from an empty folder */
	struct rv_restore_obj *logs;	/* in order; may span parent generations */
	size_t nlogs;
	/* RV_RESTORE_BEFORE_GAP only: the gap this point stops before
	 * (missing 0: none). */
	struct rv_restore_gap gap;
};
void rv_restore_point_release(struct rv_restore_point *p);

/* Find the latest point (at_ms RV_RESTORE_LATEST) or the last commit at or
 * before `at_ms`, in generation `gen` (NULL: the lease's).  Few LISTs:
 * one of the manifests, then one per 256 log objects after the newest
 * usable manifest; parent generations are followed when `gen` has no
 * manifest at or before the time.  RV_ENOTFOUND when there is nothing. */
int rv_restore_find(struct rv_store *s, const char *gen, int64_t at_ms,
		    struct rv_restore_point *out) RV_WARN_UNUSED;

/* rv_restore_find's rule for a gap (a sequence missing while a later log
 * or manifest of the generation is present, which the finder looks for in
 * the LIST of the block where the log stops, the next 256-block and the
 * manifests): it is damage, RV_ECORRUPT with rv_restore_gap_error's
 * message, when the point asked for may need the missing sequence (it
 * lies at or past the gap, or its time cannot rule the gap out).  A gap
 * in a parent generation counts when the point builds on the parent's
 * state after it.  A log that simply ends (nothing later) is no gap.
 * With RV_RESTORE_BEFORE_GAP in `flags` instead: the newest point before
 * the gap, the gap in out->gap (RV_ENOTFOUND with out->gap still set:
 * there is none). */
#define RV_RESTORE_BEFORE_GAP 1u
int rv_restore_find_flags(struct rv_store *s, const char *gen, int64_t at_ms, unsigned flags,
			  struct rv_restore_point *out) RV_WARN_UNUSED;

/* The database half of point `p` (format 1.1 recovery points): the header
 * `db=` of the newest object the point uses, and that object's generation
 * (where the database objects are).  `*has_db` false when the point names
 * no database (content-only replication, or format 1.0).  The object is
 * read whole and verified. */
int rv_restore_point_db(struct rv_store *s, const struct rv_restore_point *p, bool *has_db,
			uint64_t *db_pos, char gen[RV_GEN_ID_LEN]) RV_WARN_UNUSED;

/* Log objects of `gen` from sequence `from` on, up to `at_ms`, appended to
 * `*logs`: stops at the first missing sequence.  `later` (may be NULL) gets
 * a later sequence the same LIST showed while that one is missing — a gap
 * for certain — or 0 (rv_restore_find looks further). */
int rv_restore_list_logs(struct rv_store *s, const char *gen, uint64_t from, int64_t at_ms,
			 struct rv_restore_obj **logs, size_t *nlogs,
			 uint64_t *later) RV_WARN_UNUSED;

/* "2026-01-02T03:04:05Z", with fractions and +hh:mm offsets, or Unix
 * seconds ("1767323045", "1767323045.5") -> Unix ms.  RV_EUSAGE. */
int rv_restore_parse_time(const char *s, int64_t *ms) RV_WARN_UNUSED;
/* RFC 3339 UTC with milliseconds. */
void rv_restore_format_time(char out[32], int64_t ms);

struct rv_restore_stats {
	uint64_t files, bytes; /* in the target set */
	uint64_t downloaded, bytes_downloaded;
	uint64_t same;	/* files already right */
	uint64_t fixed; /* files whose mode or mtime were fixed */
	uint64_t dirs, links, links_skipped;
	uint64_t extra;		/* local paths not in the target, kept */
	uint64_t removed;	/* local paths not in the target, removed */
	uint64_t failed;	/* files that could not be restored */
	uint64_t bytes_objects; /* the manifest and logs read */
	double seconds;
};

/* Progress callback: called from a helper thread about every
 * `progress_ms`, and once with `final` true. */
typedef void (*rv_restore_progress_fn)(void *ud, const struct rv_restore_stats *st, bool final);

struct rv_restore_opts {
	unsigned jobs;	   /* parallel downloads, default 8 */
	bool delete_extra; /* remove what is not in the target set */
	/* Never removed by delete_extra, as replicate never ships them: what
	 * `keep` excludes (NULL: the default excludes: logs/, images/size/,
	 * data/\*.db...), and `keep_path` (a file, usually the database, with
	 * every name that extends it: -wal, -shm, .revenant-standby...).  A
	 * folder that may hold such a path is emptied of the rest, not
	 * removed. */
	const struct rv_content_opts *keep;
	const char *keep_path;
	bool allow_outside_links;
	bool fsync_each; /* fsync every file (standby); else one syncfs at the end */
	bool no_sync;	 /* neither: a throw-away copy (verify) */
	rv_restore_progress_fn progress;
	void *progress_ud;
	unsigned progress_ms;
	/* Polled between entries; returning true stops with RV_EINTR. */
	bool (*stop)(void *ud);
	void *stop_ud;
	/* rv_restore_apply_point: called once the manifest and logs are read
	 * and the target set counted (`st` files and bytes), before any file
	 * is downloaded; non-zero stops with that result (verify's scratch
	 * space check). */
	int (*planned)(void *ud, const struct rv_restore_stats *st);
	void *planned_ud;
};

/* Rebuild `a`'s folder at point `p` (found with rv_restore_find). */
int rv_restore_apply_point(struct rv_store *s, struct rv_apply *a, const struct rv_restore_point *p,
			   const struct rv_restore_opts *o,
			   struct rv_restore_stats *st) RV_WARN_UNUSED;

/* Called with a log's header once the whole log has been read and
 * verified, before anything in the folder changes; non-zero stops. */
typedef int (*rv_restore_log_fn)(void *ud, const struct rv_cobj_hdr *h);

/* Apply one log object (already listed) to `a`'s folder: the log is read
 * once, `before` (may be NULL) sees its header, every file is fetched and
 * verified (in parallel), then the records are applied in order, each file
 * renamed into place atomically.  `*files`/`*bytes` get what was
 * downloaded. */
int rv_restore_apply_log(struct rv_store *s, struct rv_apply *a, const struct rv_restore_obj *log,
			 const struct rv_restore_opts *o, rv_restore_log_fn before, void *ud,
			 uint64_t *files, uint64_t *bytes) RV_WARN_UNUSED;

/* --- standby ------------------------------------------------------------ */

struct rv_standby_point {
	char gen[RV_GEN_ID_LEN];
	uint64_t seq;
	int64_t commit_ms;
	bool has_db;
	char db_gen[RV_GEN_ID_LEN];
	uint64_t db_pos;
};

struct rv_standby_opts {
	struct rv_restore_opts restore;
	/* Also keep this SQLite file at every point followed (NULL: content
	 * only).  The standby owns it: no other process may have it open.
	 * Its state (generation, position, whether the file is consistent)
	 * is kept in `<db_path>.revenant-standby`. */
	const char *db_path;
	/* ... or a MySQL/MariaDB database kept at every point (borrowed;
	 * db_path is then its URL, for messages): its state is a table
	 * inside it (db/mysql/follow.c). */
	const struct rv_mysql_conf *db_mysql;
	/* The MySQL database may be restored over although it is Ghost's:
	 * `run` after a switchover handed the lease over, when the store
	 * holds everything it had (db/target.h, follow_opts.replace). */
	bool db_replace;
	unsigned interval_ms; /* between polls, default 1000 */
	unsigned lag_log_ms;  /* how often the lag is logged, default 30000 */
	/* Sleep up to `ms`; true when the standby must stop (SIGTERM). */
	bool (*wait)(void *ud, unsigned ms);
	void *wait_ud;
	/* Called after every poll with what is applied (for metrics);
	 * `db_pos` is the database's position, -1 without a database or
	 * while the standby cannot vouch for it. */
	void (*applied)(void *ud, const char *gen, uint64_t seq, int64_t commit_ms,
			double lag_seconds, int64_t db_pos);
	void *applied_ud;
	/* The primary's heartbeat (engine/lease.h), read every
	 * `heartbeat_check_ms` (default 5000): its age in seconds (-1: none
	 * in the store) and whether it is the lease's epoch.  Called with the
	 * same `applied_ud`; may be NULL. */
	void (*heartbeat)(void *ud, double age_seconds, bool current);
	/* Every poll's lease (its site, epoch and generation), with the same
	 * `applied_ud`; may be NULL.  The agent (engine/agent.c) learns
	 * from it that this site was promoted. */
	void (*lease_seen)(void *ud, const char *site, uint64_t epoch, const char *gen);
	unsigned heartbeat_check_ms;
	/* A gap in the content log (rv_restore_find_flags) that blocks the
	 * newest point: false, the standby reports it at every poll and stays
	 * where it is (before it), and promote fails with RV_ECORRUPT; true
	 * (--before-gap), both take the newest point before the gap, with a
	 * warning.  Either way a manifest past the gap moves it on. */
	bool before_gap;
	/* rv_standby_promote only: called once the catch-up reached the newest
	 * point it could, before the database is handed to Ghost; non-zero
	 * stops there (the folder and database stay a standby's, the state
	 * file kept, so a standby or a later promote resumes).  After it
	 * returns 0 the store is read again for commits that landed
	 * meanwhile (engine/promote.c takes the lease here, so that no more
	 * can). */
	int (*before_promote)(void *ud, const struct rv_standby_point *p);
	void *before_promote_ud;
};

/* Initial restore (with delete), then follow the lease's generation until
 * `wait` says stop; returns 0 then.  Store errors while following are
 * logged and retried at the next poll.  With `db_path`, every content log
 * applied is preceded by moving the database to the log's `db=` position
 * (segments applied in place), so folder and database stay at one
 * recovery point; a missing or unclean state, a new generation or
 * anything unexpected means a full restore of the database instead. */
int rv_standby_run(struct rv_store *s, const char *dir,
		   const struct rv_standby_opts *o) RV_WARN_UNUSED;

/* Catch up once to the latest point (from a previous standby's state or
 * from nothing), run PRAGMA integrity_check on `db_path`, remove the state
 * file and return where it stands: the folder and database are then ready
 * for Ghost.  Errors are returned, not retried. */
/* /healthz for a standby: 0 once it restored a point (`ready`) and is
 * under a minute behind the store, else -1 and the reason in `why`. */
int rv_standby_health(bool ready, double lag_seconds, char *why, size_t n);

int rv_standby_promote(struct rv_store *s, const char *dir, const struct rv_standby_opts *o,
		       struct rv_standby_point *out) RV_WARN_UNUSED;

#endif
