/* site_restore.h - `revenant restore` as one decision: which recovery
 * point, whether it has a database and where that goes, the folder before
 * the database.  The CLI parses options, calls rv_site_restore and prints
 * the result; nothing here prints to stdout.
 *
 * Order: the point is found (RV_ENOTFOUND: none at or before the time), its
 * database position read, then the folder is restored, then the database
 * (a database whose uploads are missing is worse than no database, and its
 * file appears only when both are done). */
#ifndef RV_ENGINE_SITE_RESTORE_H
#define RV_ENGINE_SITE_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "content/apply.h"
#include "content/restore.h"
#include "db/target.h"

struct rv_store;
struct rv_mysql_conf;

struct rv_site_restore_opts {
	/* The point, already found (rv_restore_find): restore exactly this
	 * one (borrowed); NULL: find it from gen, at_ms and find_flags. */
	const struct rv_restore_point *point;
	const char *gen;     /* only this generation; NULL: the lease's */
	int64_t at_ms;	     /* RV_RESTORE_LATEST or the time to go back to */
	unsigned find_flags; /* RV_RESTORE_BEFORE_GAP */
	const char *to;	     /* the content folder; NULL with db_only */
	const char *db;	     /* where Ghost's SQLite file goes (must not exist); NULL: none */
	/* ... or the MySQL/MariaDB server and database to restore into
	 * (borrowed; db is then its URL, for messages). */
	const struct rv_mysql_conf *db_mysql;
	bool force;	   /* MySQL: drop a database already at that name */
	bool content_only; /* the folder alone, whatever the point holds */
	bool db_only;	   /* the database alone (db set, to NULL) */
	/* A throw-away copy (verify): nothing is synced to disk (content's
	 * no_sync is set from it too). */
	bool no_sync;
	struct rv_restore_opts content;
	struct rv_apply_opts apply;
	/* Called once the point is chosen, before anything is written (to
	 * warn about a gap it stops before, say). */
	void (*chosen)(void *ud, const struct rv_restore_point *p);
	void *ud;
};

struct rv_site_restore_result {
	char gen[RV_GEN_ID_LEN]; /* the point */
	uint64_t seq;
	int64_t time_ms;
	bool folder; /* the folder was restored: root and content are set */
	char *root;  /* the folder as resolved (owned) */
	struct rv_restore_stats content;
	bool db; /* the database was restored: dbres is set */
	struct rv_dbtgt_point dbres;
	double db_seconds;
};

/* The checks that need no store: RV_EUSAGE for options that do not go
 * together, RV_EPRECOND when `db` exists (rv_site_restore makes them too;
 * a command makes them first, before it opens the store). */
int rv_site_restore_check(const struct rv_site_restore_opts *o) RV_WARN_UNUSED;
/* The above, and RV_ENOTFOUND when the point has no database but `db` was given;
 * RV_EUSAGE when it has one and neither `db` nor content_only was. */
int rv_site_restore(struct rv_store *s, const struct rv_site_restore_opts *o,
		    struct rv_site_restore_result *res) RV_WARN_UNUSED;
void rv_site_restore_result_release(struct rv_site_restore_result *res);

#endif
