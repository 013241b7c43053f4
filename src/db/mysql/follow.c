/* follow.c - a MySQL/MariaDB database kept at a store point (db/target.h's
 * follower): `revenant standby --db mysql://…`.
 *
 * The point the database holds is a row inside it, RV_MYSQL_STANDBY_TABLE
 * (gen, pos, time_ms), moved in the same transaction as every transaction
 * applied (apply.c), so a standby killed at any moment holds exactly the
 * point that row names and a restart neither applies a transaction twice
 * nor skips one (a DDL statement cannot share a transaction: it and its
 * row update are two steps, the one window left).  Forward in the same
 * generation: the segments from that position; otherwise the whole
 * database again (snapshot + segments, through the restore's marker
 * table).  One follower per database: a named lock (GET_LOCK) held on the
 * follower's connection.  A database without the row (and without the
 * restore's marker) is not the standby's — Ghost's after a promotion, or
 * someone else's — and is never restored over. */
#include "db/mysql/mysql.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/target.h"

#include <inttypes.h>
#include <mysqld_error.h>
#include <stdlib.h>
#include <string.h>

struct mysql_follow {
	const struct rv_mysql_conf *c; /* borrowed */
	struct rv_store *st;
	MYSQL *m; /* holds the named lock */
	bool held;
	struct rv_dbtgt_point at;
};

/* The row, if the database has it: `*held`. */
static int read_state(struct mysql_follow *f)
{
	struct rv_buf q = RV_BUF_INIT(1024);
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc;

	f->held = false;
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
	if ((row = mysql_fetch_row(r)) && row[0] && row[1] && row[2] && !rv_gen_id_check(row[0])) {
		memcpy(f->at.gen, row[0], RV_GEN_ID_LEN);
		f->at.pos = strtoull(row[1], NULL, 10);
		f->at.time_ms = strtoll(row[2], NULL, 10);
		f->held = true;
	}
	mysql_free_result(r);
	return 0;
}

/* Whether the database at the name may be restored over: absent, or the
 * standby's (its row) or an unfinished restore's (the marker). */
static int ours(struct mysql_follow *f, bool *yes)
{
	struct rv_buf v = RV_BUF_INIT(64);
	char e[600], *q;
	int rc;

	mysql_real_escape_string(f->m, e, f->c->database,
				 (unsigned long)strnlen(f->c->database, 290));
	q = rv_asprintf("SELECT (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE "
			"SCHEMA_NAME='%s') = 0 OR (SELECT COUNT(*) FROM information_schema.TABLES "
			"WHERE TABLE_SCHEMA='%s' AND TABLE_NAME IN ('" RV_MYSQL_STANDBY_TABLE
			"', 'revenant_restore_incomplete')) > 0",
			e, e);
	rc = rv_mysql_value(f->m, q, &v);
	*yes = !rc && !strcmp(rv_buf_str(&v), "1");
	free(q);
	rv_buf_release(&v);
	return rc;
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
	bool may;
	char where[300];
	int rc;

	if ((rc = ours(f, &may)))
		return rc;
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
