/* follow.c - a MySQL/MariaDB database kept at a store point (db/target.h's
 * follower): `revenant standby --db mysql://…`.
 *
 * The point the database holds is a row inside it, RV_MYSQL_STANDBY_TABLE
 * (gen, pos, time_ms), moved in the same transaction as every transaction
 * applied (apply.c), so a standby killed at any moment holds exactly the
 * point that row names and a restart neither applies a transaction twice
 * nor skips one.  A DDL statement cannot share a transaction: the row
 * names no generation while it runs, and a standby killed then restores
 * the database whole.  Forward in the same
 * generation: the segments from that position; otherwise the whole
 * database again (snapshot + segments, through the restore's marker
 * table).  One follower per database: a named lock (GET_LOCK) held on the
 * follower's connection.  A database with tables but without the row
 * (and without the restore's marker) is not the standby's — Ghost's after
 * a promotion, or someone else's — and is never restored over; a fenced
 * primary moves its tables aside first (rv_mysql_save_aside). */
#include "db/mysql/mysql.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/testpoint.h"
#include "db/target.h"

#include <errno.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mysql_follow {
	const struct rv_mysql_conf *c; /* borrowed */
	struct rv_store *st;
	bool replace; /* rv_dbtgt_follow_opts.replace */
	MYSQL *m;     /* holds the named lock */
	bool held;
	bool ddl_cut; /* the row names no generation: stopped inside a DDL */
	struct rv_dbtgt_point at;
};

/* The row, if the database has it: `*held`. */
static int read_state(struct mysql_follow *f)
{
	struct rv_buf q = RV_BUF_INIT(1024);
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc;

	f->held = f->ddl_cut = false;
	rc = rv_buf_add(&q, "SELECT gen, pos, time_ms FROM ", 30);
	rc = rc ? rc : rv_mysql_ident(&q, f->c->database);
	rc = rc ? rc : rv_buf_addstr(&q, ".`" RV_MYSQL_STANDBY_TABLE "` WHERE id=1");
	if (rc) {
		rv_buf_release(&q);
		return rc;
	}
	if (mysql_real_query(f->m, q.data, q.len)) {
		unsigned e = mysql_errno(f->m);

		rv_buf_release(&q);
		if (e == ER_NO_SUCH_TABLE || e == ER_BAD_DB_ERROR)
			return 0;
		return rv_error(rv_mysql_result(e), "mysql standby: read its state: %s",
				mysql_error(f->m));
	}
	rv_buf_release(&q);
	if (!(r = mysql_store_result(f->m)))
		return rv_error(RV_EFAIL, "mysql standby: read its state: %s", mysql_error(f->m));
	row = mysql_fetch_row(r);
	f->ddl_cut = row && row[0] && !*row[0];
	if (row && row[0] && row[1] && row[2] && !rv_gen_id_check(row[0])) {
		memcpy(f->at.gen, row[0], RV_GEN_ID_LEN);
		f->at.pos = strtoull(row[1], NULL, 10);
		f->at.time_ms = strtoll(row[2], NULL, 10);
		f->held = true;
	}
	mysql_free_result(r);
	return 0;
}

/* One number about `db` from information_schema: `fmt` has one %s, the
 * name (-1: cannot tell). */
static long long schema_count(MYSQL *m, const char *fmt, const char *db)
{
	struct rv_buf v = RV_BUF_INIT(32);
	char e[600], *q;
	long long n = -1;

	mysql_real_escape_string(m, e, db, (unsigned long)strnlen(db, 290));
	q = rv_asprintf(fmt, e);
	if (!rv_mysql_value(m, q, &v))
		n = strtoll(rv_buf_str(&v), NULL, 10);
	free(q);
	rv_buf_release(&v);
	return n;
}

#define Q_SCHEMA "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='%s'"
#define Q_MARKED                                                                                   \
	"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='%s' AND TABLE_NAME "   \
	"IN ('" RV_MYSQL_STANDBY_TABLE "', 'revenant_restore_incomplete')"
#define Q_TABLES "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='%s'"

/* Whether the database at the name may be restored over: absent, empty
 * (created for Ghost, which has not started yet), or the standby's (its
 * row) or an unfinished restore's (the marker). */
static int ours(struct mysql_follow *f, bool *yes)
{
	const char *db = f->c->database;
	long long schema = schema_count(f->m, Q_SCHEMA, db), marked = 0, tables = 0;

	if (schema > 0)
		marked = schema_count(f->m, Q_MARKED, db);
	if (schema > 0 && !marked)
		tables = schema_count(f->m, Q_TABLES, db);
	if (schema < 0 || marked < 0 || tables < 0)
		return rv_error(rv_mysql_result(mysql_errno(f->m)),
				"mysql standby: look at database '%s': %s", db, mysql_error(f->m));
	*yes = !schema || marked > 0 || !tables;
	return 0;
}

int rv_mysql_follow_open(void **h, struct rv_store *st, const struct rv_dbtgt_follow_opts *o)
{
	struct mysql_follow *f;
	struct rv_buf v = RV_BUF_INIT(64);
	char e[600], *q, where[300];
	int rc;

	*h = NULL;
	if (!o->mysql || !o->mysql->database)
		return rv_error(RV_EUSAGE, "mysql standby: no server or database given");
	f = rv_calloc(1, sizeof(*f));
	f->c = o->mysql;
	f->st = st;
	f->replace = o->replace;
	if ((rc = rv_mysql_connect(&f->m, f->c, ""))) {
		free(f);
		return rc;
	}
	mysql_real_escape_string(f->m, e, f->c->database,
				 (unsigned long)strnlen(f->c->database, 290));
	q = rv_asprintf("SELECT GET_LOCK('revenant-standby:%s', 0)", e);
	rc = rv_mysql_value(f->m, q, &v);
	free(q);
	if (!rc && strcmp(rv_buf_str(&v), "1"))
		rc = rv_error(RV_EPRECOND,
			      "mysql standby: another standby follows database '%s' on %s — "
			      "stop it first",
			      f->c->database, rv_mysql_where(f->c, where, sizeof(where)));
	rv_buf_release(&v);
	rc = rc ? rc : read_state(f);
	if (rc) {
		mysql_close(f->m);
		free(f);
		return rc;
	}
	*h = f;
	return 0;
}

void rv_mysql_follow_close(void *h)
{
	struct mysql_follow *f = h;

	if (!f)
		return;
	mysql_close(f->m); /* the named lock goes with the connection */
	free(f);
}

bool rv_mysql_follow_at(const void *h, struct rv_dbtgt_point *p)
{
	const struct mysql_follow *f = h;

	if (!f->held)
		return false;
	*p = f->at;
	return true;
}

static int whole(struct mysql_follow *f, const char *gen, uint64_t pos)
{
	struct rv_dbtgt_restore_opts o = {
	    .gen = gen, .pos = pos, .out = f->c->database, .mysql = f->c, .force = true};
	struct rv_dbtgt_point pt;
	bool may = false;
	char where[300];
	int rc;

	if (!f->replace && (rc = ours(f, &may)))
		return rc;
	may = may || f->replace;
	if (!may)
		return rv_error(RV_EPRECOND,
				"mysql standby: database '%s' on %s is not this standby's (no "
				"`" RV_MYSQL_STANDBY_TABLE "` table: promoted, or someone else's) "
				"— drop it or follow into another name",
				f->c->database, rv_mysql_where(f->c, where, sizeof(where)));
	if ((rc = rv_mysql_restore(f->st, &o, true, &pt)))
		return rc;
	f->at = pt;
	f->held = true;
	rv_testpoint("mysql.restored");
	return 0;
}

int rv_mysql_follow_go(void *h, const char *gen, uint64_t pos)
{
	struct mysql_follow *f = h;
	uint64_t reached = 0;
	int64_t last_ms = 0;
	unsigned segs = 0;
	int rc;

	if (!f->held && (rc = read_state(f)))
		return rc;
	if (!f->held || strcmp(f->at.gen, gen) || pos < f->at.pos) {
		if (f->ddl_cut)
			rv_log(RV_LOG_WARN,
			       "mysql standby: stopped inside a DDL statement last time — "
			       "restoring the database whole",
			       "database", f->c->database, NULL);
		f->held = false;
		return whole(f, gen, pos);
	}
	if (pos == f->at.pos)
		return 0;
	if (mysql_select_db(f->m, f->c->database))
		return rv_error(rv_mysql_result(mysql_errno(f->m)), "mysql standby: use '%s': %s",
				f->c->database, mysql_error(f->m));
	rc = rv_mysql_apply_log(f->m, f->st, gen, f->at.pos, pos, f->c->database, true, &reached,
				&last_ms, &segs);
	if (rc) {
		f->held = false; /* the row says where it stands: read again next time */
		return rc;
	}
	f->at.pos = reached;
	f->at.time_ms = last_ms;
	f->at.segments += segs;
	return 0;
}

int rv_mysql_follow_promote(void *h)
{
	struct mysql_follow *f = h;
	struct rv_buf q = RV_BUF_INIT(1024);
	int rc;

	if (!f->held)
		return rv_error(RV_EFAIL, "mysql standby: the database holds no point to promote");
	rc = rv_buf_add(&q, "DROP TABLE ", 11);
	rc = rc ? rc : rv_mysql_ident(&q, f->c->database);
	rc = rc ? rc : rv_buf_addstr(&q, ".`" RV_MYSQL_STANDBY_TABLE "`");
	rc = rc ? rc : rv_mysql_exec(f->m, "mysql standby: promote", q.data);
	rv_buf_release(&q);
	if (!rc)
		f->held = false;
	return rc;
}

/* ---- the database as Ghost's: promotion resumed, fenced, first start ---- */

bool rv_mysql_exists(const struct rv_dbtgt_follow_opts *o)
{
	MYSQL *m;
	bool yes;

	if (!o->mysql || !o->mysql->database || rv_mysql_connect(&m, o->mysql, "")) {
		rv_error_clear();
		return false;
	}
	yes = schema_count(m, Q_SCHEMA, o->mysql->database) > 0;
	mysql_close(m);
	rv_error_clear();
	return yes;
}

bool rv_mysql_is_ghosts(const struct rv_dbtgt_follow_opts *o)
{
	MYSQL *m;
	bool yes;

	if (!o->mysql || !o->mysql->database || rv_mysql_connect(&m, o->mysql, "")) {
		rv_error_clear();
		return false;
	}
	yes = schema_count(m, Q_SCHEMA, o->mysql->database) > 0 &&
	      schema_count(m, Q_MARKED, o->mysql->database) == 0;
	mysql_close(m);
	rv_error_clear();
	return yes;
}

/* The tables of `db` as "`db`.`t` TO `dest`.`t`, …" for one RENAME TABLE
 * (atomic: all move or none); `*n` of them.  Views, triggers, routines
 * and events cannot move that way (a trigger must stay in its table's
 * schema, a view is not renamed across schemas): refused, named. */
static int rename_list(MYSQL *m, const char *db, const char *dest, struct rv_buf *q, unsigned *n)
{
	static const char *const others[][2] = {
	    {"views", "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='%s' AND "
		      "TABLE_TYPE='VIEW'"},
	    {"triggers", "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE "
			 "TRIGGER_SCHEMA='%s'"},
	    {"routines", "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE "
			 "ROUTINE_SCHEMA='%s'"},
	    {"events", "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA='%s' "
		       "AND '%s'<>''"},
	};
	char e[600], *sql;
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc = 0;

	*n = 0;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		long long c = schema_count(m, others[i][1], db);

		if (c < 0)
			return rv_error(RV_EFAIL, "save aside: count the %s of '%s': %s",
					others[i][0], db, mysql_error(m));
		if (c > 0)
			return rv_error(
			    RV_ENOTSUP,
			    "save aside: database '%s' has %lld %s, which cannot move "
			    "with its tables — keep it by hand (mariadb-dump), drop it, "
			    "and restart revenant",
			    db, c, others[i][0]);
	}
	mysql_real_escape_string(m, e, db, (unsigned long)strnlen(db, 290));
	sql = rv_asprintf("SELECT TABLE_NAME FROM information_schema.TABLES WHERE "
			  "TABLE_SCHEMA='%s' AND TABLE_TYPE='BASE TABLE' ORDER BY TABLE_NAME",
			  e);
	if (mysql_real_query(m, sql, strlen(sql)) || !(r = mysql_store_result(m))) {
		free(sql);
		return rv_error(rv_mysql_result(mysql_errno(m)),
				"save aside: list the tables of '%s': %s", db, mysql_error(m));
	}
	free(sql);
	rc = rv_buf_addstr(q, "RENAME TABLE ");
	while (!rc && (row = mysql_fetch_row(r)) && row[0]) {
		rc = *n ? rv_buf_add(q, ", ", 2) : 0;
		rc = rc ? rc : rv_mysql_ident(q, db);
		rc = rc ? rc : rv_buf_add(q, ".", 1);
		rc = rc ? rc : rv_mysql_ident(q, row[0]);
		rc = rc ? rc : rv_buf_add(q, " TO ", 4);
		rc = rc ? rc : rv_mysql_ident(q, dest);
		rc = rc ? rc : rv_buf_add(q, ".", 1);
		rc = rc ? rc : rv_mysql_ident(q, row[0]);
		(*n)++;
	}
	mysql_free_result(r);
	return rc;
}

/* Ghost's tables move into `<db>_saved_<stamp>` on the same server (one
 * RENAME TABLE: instant, nothing copied, nothing lost), then the empty
 * database is dropped so that the follower restores the store's point
 * at the name.  Ghost must not run (the gate or hooks.fenced stopped
 * it); a table it still used would move from under it.  The account
 * needs CREATE, DROP and ALTER on both names (docs/OPERATIONS.md). */
int rv_mysql_save_aside(const struct rv_dbtgt_follow_opts *o, const char *dir, const char *stamp,
			char *where, size_t n)
{
	const char *db = o->mysql ? o->mysql->database : NULL;
	struct rv_buf q = RV_BUF_INIT(4096), cs = RV_BUF_INIT(128);
	char dest[65], srv[300], e[600], *sql, *note;
	unsigned tables = 0;
	MYSQL *m = NULL;
	FILE *f;
	int rc, k;

	if (!db)
		return rv_error(RV_EUSAGE, "save aside: no database.mysql.database");
	k = snprintf(dest, sizeof(dest), "%s_saved_%s", db, stamp);
	if (k < 0 || (size_t)k >= sizeof(dest))
		return rv_error(RV_EUSAGE,
				"save aside: '%s_saved_%s' is longer than MySQL's 64 characters — "
				"use a shorter database name",
				db, stamp);
	for (char *p = dest + strlen(db); *p; p++)
		if (*p == '-')
			*p = '_';
	rv_mysql_where(o->mysql, srv, sizeof(srv));
	if ((rc = rv_mysql_connect(&m, o->mysql, "")))
		return rc;
	if (schema_count(m, Q_SCHEMA, db) <= 0) {
		snprintf(where, n, "none (no database '%s' on %s)", db, srv);
		goto out;
	}
	if ((rc = rename_list(m, db, dest, &q, &tables)))
		goto out;
	if (!tables) {
		snprintf(where, n, "none (database '%s' on %s has no tables)", db, srv);
		goto drop;
	}
	mysql_real_escape_string(m, e, db, (unsigned long)strnlen(db, 290));
	sql = rv_asprintf("SELECT CONCAT(DEFAULT_CHARACTER_SET_NAME, ' COLLATE ', "
			  "DEFAULT_COLLATION_NAME) FROM information_schema.SCHEMATA WHERE "
			  "SCHEMA_NAME='%s'",
			  e);
	rc = rv_mysql_value(m, sql, &cs);
	free(sql);
	if (rc)
		goto out;
	{
		struct rv_buf c = RV_BUF_INIT(256);

		rc = rv_buf_addstr(&c, "CREATE DATABASE ");
		rc = rc ? rc : rv_mysql_ident(&c, dest);
		rc = rc ? rc : rv_buf_addstr(&c, " CHARACTER SET ");
		rc = rc ? rc : rv_buf_addstr(&c, rv_buf_str(&cs));
		rc = rc ? rc : rv_mysql_exec(m, "save aside: create the database to keep", c.data);
		rv_buf_release(&c);
	}
	rc = rc ? rc : rv_mysql_exec(m, "save aside: move the tables", q.data);
	if (rc)
		goto out;
	snprintf(where, n, "database '%s' on %s (%u tables)", dest, srv, tables);
	note = rv_asprintf("%s/database.txt", dir);
	if ((f = fopen(note, "we"))) {
		fprintf(f,
			"Ghost's database '%s' on %s as this site was fenced: its %u tables are\n"
			"in database '%s' on the same server.\n",
			db, srv, tables, dest);
		if (fclose(f))
			rc = rv_error_errno(RV_EFAIL, errno, "write '%s'", note);
	} else {
		rc = rv_error_errno(RV_EFAIL, errno, "create '%s'", note);
	}
	free(note);
	if (rc)
		goto out;
drop:
	rv_buf_reset(&q);
	rc = rv_buf_addstr(&q, "DROP DATABASE ");
	rc = rc ? rc : rv_mysql_ident(&q, db);
	rc = rc ? rc : rv_mysql_exec(m, "save aside: drop the emptied database", q.data);
out:
	if (m)
		mysql_close(m);
	rv_buf_release(&q);
	rv_buf_release(&cs);
	return rc;
}
