/* source.h - a database as the replication engine sees it: the writer's
 * side of a database source: SQLite (db/sqlite/) and MySQL/MariaDB
 * (db/mysql/), each an ops table, not a branch in
 * the engine.
 *
 * Contract, what the engine relies on:
 *   - open fixes position 0 at the database as it is now, in generation
 *     `gen`; positions only grow and name a consistent state (a commit
 *     boundary) of that generation;
 *   - ship puts everything committed since the last ship into the store
 *     as log objects under the generation before it returns, and says up
 *     to which position; nothing committed is ever lost between two ships
 *     (the source holds it back from the database's own clean-up);
 *   - a broken chain (the database replaced, a log rewound by someone
 *     else) is RV_EPRECOND with new_generation set and a reason: the
 *     engine starts a new generation (close, open with a new gen,
 *     snapshot);
 *   - snapshot writes the whole database at the shipped position;
 *   - changes, when the source has a way to notice writes, is a file
 *     descriptor that becomes readable when the database may have changed
 *     (a hint: the engine still ships on its timer without one).
 * Objects and keys: docs/FORMAT.md, format/layout.h. */
#ifndef RV_DB_SOURCE_H
#define RV_DB_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "format/layout.h"

struct rv_store;
struct rv_mysql_conf;

struct rv_dbsrc_opts {
	const char *path; /* SQLite: the database file */
	/* MySQL/MariaDB: the server and database (core/config.h), borrowed
	 * for as long as the source is open. */
	const struct rv_mysql_conf *mysql;
	const char *gen;  /* the generation objects are written under */
	const char *site; /* MySQL: the replica server_id is derived from it */
	int busy_timeout_ms;
};

struct rv_dbsrc_ship {
	uint64_t from, to;   /* the positions shipped ([from, to)); equal when nothing new */
	uint64_t bytes;	     /* log bytes shipped (uncompressed) */
	bool new_generation; /* the chain cannot be continued */
	char reason[200];    /* why, when new_generation */
	/* With a failure: the database itself cannot be read just now (not
	 * the store) — the engine writes no point and tries again at its next
	 * tick, without the store's back-off. */
	bool source_down;
};

struct rv_dbsrc_ops {
	const char *name; /* meta.json's "database" */
	int (*open)(void **h, const struct rv_dbsrc_opts *o);
	void (*close)(void *h);
	int (*ship)(void *h, struct rv_store *st, struct rv_dbsrc_ship *res);
	int (*snapshot)(void *h, struct rv_store *st, uint64_t *pos);
	uint64_t (*pos)(const void *h);
	/* The database's size in bytes now (snapshot scheduling); 0 unknown. */
	uint64_t (*size)(const void *h);
	/* Optional (NULL): a descriptor readable when the database may have
	 * changed, -1 when there is none now; and its drain: 1 changed, 0 not,
	 * < 0 the watch is gone (the engine falls back to its timer). */
	int (*change_fd)(const void *h);
	int (*changes)(void *h);
};

/* A source: its ops and its open handle (NULL: closed). */
struct rv_dbsrc {
	const struct rv_dbsrc_ops *ops;
	void *h;
};

extern const struct rv_dbsrc_ops rv_dbsrc_sqlite;
/* MariaDB: snapshots and the binlog stream (db/mysql/source.c). */
extern const struct rv_dbsrc_ops rv_dbsrc_mysql;

#endif
