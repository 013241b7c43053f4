/* target.h - a database as the engine restores it: the reader's side of a
 * database: SQLite (db/sqlite/) and MySQL/MariaDB (db/mysql/), each an
 * ops table, not a branch in the engine.
 * source.h is the writer's side.
 *
 * Two ways to use a target:
 *   - restore creates a database whole at one store point, where there is
 *     none yet (`revenant restore`);
 *   - a follower holds a database at a point and moves it along the
 *     store's log (`revenant standby`), then hands it to the application
 *     (`--promote-once`).
 *
 * Contract, what the engine relies on:
 *   - every object is verified before its bytes count, and a missing log
 *     object is RV_ECORRUPT (never a silently older state); no snapshot at
 *     or before the point is RV_ENOTFOUND;
 *   - restore never leaves a database at its final name that is not whole
 *     and checked;
 *   - a follower says which point it holds consistently, or that it holds
 *     none (it was stopped mid-write, someone else changed the database,
 *     it has not restored yet); follow_go moves it to (gen, pos): forward
 *     in place when it can, whole otherwise; after a failure it holds no
 *     point until a later follow_go succeeds;
 *   - one follower per database: follow_open refuses (RV_EPRECOND) when
 *     another holds it;
 *   - promote checks the database and gives it up: no later follower
 *     trusts what it left.
 * Objects and keys: docs/FORMAT.md, format/layout.h. */
#ifndef RV_DB_TARGET_H
#define RV_DB_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "format/layout.h"

struct rv_store;
struct rv_mysql_conf;

/* The newest position of a generation. */
#define RV_DBTGT_POS_LATEST UINT64_MAX

struct rv_dbtgt_restore_opts {
	const char *gen;
	uint64_t pos;			   /* exact position, or RV_DBTGT_POS_LATEST */
	int64_t at_ms;			   /* > 0: the latest point whose commit time is <= at_ms */
	const char *out;		   /* SQLite: the file to create; MySQL: the database to
					      create; it must not exist */
	const struct rv_mysql_conf *mysql; /* MySQL: the server to restore on */
	const char *tmpdir;		   /* downloads; NULL: next to `out` */
	unsigned jobs;			   /* parallel downloads; 0: the target's default */
	bool no_sync;			   /* a throw-away copy (verify): not made durable */
	bool force;			   /* MySQL: drop a database already at `out` */
};

/* A point a database sits at. */
struct rv_dbtgt_point {
	char gen[RV_GEN_ID_LEN];
	uint64_t pos;
	int64_t time_ms;   /* the commit time of the last log applied */
	unsigned segments; /* log objects applied after the snapshot (restore) */
};

/* What a restore of one point needs (verify says it before it starts). */
struct rv_dbtgt_size {
	uint64_t download; /* the objects' stored (compressed) bytes */
	uint64_t database; /* the restored database's size: the larger of the
			    * snapshot's and the last commit's */
	uint64_t probed;   /* bytes read from the store to find that out */
	unsigned segments; /* log objects after the snapshot */
};

/* A restored database, looked at read-only beyond restore's own checks
 * (verify). */
struct rv_dbtgt_inspect {
	uint64_t fk_violations; /* rows foreign_key_check reports (SQLite) */
	uint64_t tables;	/* tables CHECK TABLE found OK (MySQL) */
	bool app_schema;	/* Ghost's posts table is there */
	uint64_t posts;		/* rows of it read */
};

/* One text of a Ghost post that may name content files: `column` of the
 * post `id` (html, feature_image, mobiledoc, lexical...).  Non-zero stops. */
typedef int (*rv_dbtgt_text_fn)(void *ud, const char *id, const char *column, const char *text,
				size_t n);

struct rv_dbtgt_follow_opts {
	const char *target; /* SQLite: the database file */
	/* MySQL: the server and the database to keep (borrowed). */
	const struct rv_mysql_conf *mysql;
	/* A folder the caller already holds locked (the content folder): a
	 * database inside it needs no second lock. */
	const char *locked_dir;
	/* MySQL: restore over a database that is not the standby's (Ghost's
	 * tables): its owner knows the store holds all of it.  SQLite's
	 * follower always restores over its file. */
	bool replace;
};

struct rv_dbtgt_ops {
	const char *name; /* meta.json's "database" */
	int (*restore)(struct rv_store *st, const struct rv_dbtgt_restore_opts *o,
		       struct rv_dbtgt_point *res);
	/* What restoring (gen, pos) would download and write, from LISTs and
	 * the objects' headers (read into unnamed files in `tmpdir`); the
	 * same RV_ENOTFOUND / RV_ECORRUPT as restore for a missing snapshot
	 * or a gap. */
	int (*restore_size)(struct rv_store *st, const char *gen, uint64_t pos, const char *tmpdir,
			    struct rv_dbtgt_size *out);
	/* Read-only checks of the restored database `db`, and every text of
	 * the application's posts to `fn` (may be NULL). */
	int (*inspect)(const struct rv_dbtgt_follow_opts *o, rv_dbtgt_text_fn fn, void *ud,
		       struct rv_dbtgt_inspect *out);
	/* A follower of `o->target`, holding whatever point its own state
	 * vouches for. */
	int (*follow_open)(void **h, struct rv_store *st, const struct rv_dbtgt_follow_opts *o);
	void (*follow_close)(void *h);
	/* The point held consistently; false when none. */
	bool (*follow_at)(const void *h, struct rv_dbtgt_point *p);
	int (*follow_go)(void *h, const char *gen, uint64_t pos);
	/* Check the database and give it up; the follower holds no point
	 * afterwards. */
	int (*promote)(void *h);
	/* The target exists and no follower's state vouches for it: it is
	 * Ghost's (promoted, or never a standby's), and a promotion that
	 * resumes must not restore over it.  False when it cannot tell. */
	bool (*is_ghosts)(const struct rv_dbtgt_follow_opts *o);
	/* The target exists (Ghost created it): `run` waits for a first
	 * Ghost behind the gate to create it before it replicates. */
	bool (*exists)(const struct rv_dbtgt_follow_opts *o);
	/* Keep what the target holds now where a follower will not restore
	 * over it: what a fenced primary does before it becomes a standby.
	 * `dir` is the save-aside folder (it exists), `stamp` its unique
	 * name (letters, digits); `where` says what was kept, for the log.
	 * SQLite: a consistent copy in `dir` (the file stays: the follower
	 * restores over it).  MySQL: the tables move into a new database on
	 * the same server (db/mysql/follow.c), named in `dir`/database.txt. */
	int (*save_aside)(const struct rv_dbtgt_follow_opts *o, const char *dir, const char *stamp,
			  char *where, size_t n);
	/* Remove a throw-away restore (verify's scratch database); NULL when
	 * removing the scratch folder does it (SQLite). */
	int (*drop)(const struct rv_dbtgt_follow_opts *o);
};

extern const struct rv_dbtgt_ops rv_dbtgt_sqlite;
/* Restore (snapshot + binlog segments), the follower, inspect and drop;
 * restore_size is NULL: the database goes to a server, not to the
 * scratch folder (db/mysql/load.c). */
extern const struct rv_dbtgt_ops rv_dbtgt_mysql;

/* The target a site's database is: MySQL when it has a server, SQLite
 * otherwise. */
static inline const struct rv_dbtgt_ops *rv_dbtgt_of(const struct rv_mysql_conf *mysql)
{
	return mysql ? &rv_dbtgt_mysql : &rv_dbtgt_sqlite;
}

#endif
