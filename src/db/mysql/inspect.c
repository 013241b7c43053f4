/* inspect.c - a restored MySQL/MariaDB database looked at beyond what
 * restore checks (target.h's inspect and drop, for `revenant verify`
 * into a scratch database): CHECK TABLE on every table, and the texts of
 * Ghost's posts that may name content files.  Foreign keys need no check
 * of their own: InnoDB enforced them as the rows went in. */
#include "db/mysql/mysql.h"
#include "db/target.h"
#include "ghost/refs.h"

#include <stdlib.h>
#include <string.h>

static int fail(MYSQL *m, const char *db, const char *what)
{
	return rv_error(rv_mysql_result(mysql_errno(m)), "restored database '%s': %s: %s", db, what,
			mysql_error(m));
}

/* CHECK TABLE on each base table: every answer row of type "status" must
 * say OK (InnoDB reads every index and compares them). */
static int check_tables(MYSQL *m, const char *db, uint64_t *n)
{
	static const char q[] = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE "
				"TABLE_SCHEMA=DATABASE() AND TABLE_TYPE='BASE TABLE' ORDER BY 1";
	struct rv_buf sql = RV_BUF_INIT(4096);
	MYSQL_RES *r;
	MYSQL_ROW row;
	unsigned listed = 0;
	int rc = 0;

	*n = 0;
	if (mysql_real_query(m, q, sizeof(q) - 1) || !(r = mysql_store_result(m)))
		return fail(m, db, "list its tables");
	rc = rv_buf_addstr(&sql, "CHECK TABLE ");
	while (!rc && (row = mysql_fetch_row(r)) && row[0]) {
		rc = listed++ ? rv_buf_add(&sql, ", ", 2) : 0;
		rc = rc ? rc : rv_mysql_ident(&sql, row[0]);
	}
	mysql_free_result(r);
	if (rc || !listed) {
		rv_buf_release(&sql);
		return rc;
	}
	if (mysql_real_query(m, sql.data, sql.len) || !(r = mysql_store_result(m))) {
		rv_buf_release(&sql);
		return fail(m, db, "CHECK TABLE");
	}
	rv_buf_release(&sql);
	/* Table, Op, Msg_type, Msg_text: one "status" row per table, after
	 * any "error"/"warning" rows about it. */
	while (!rc && (row = mysql_fetch_row(r))) {
		if (!row[0] || !row[2] || !row[3] || strcmp(row[2], "status"))
			continue;
		if (strcmp(row[3], "OK"))
			rc = rv_error(RV_ECORRUPT, "restored database '%s': CHECK TABLE %s: %s", db,
				      row[0], row[3]);
		else
			(*n)++;
	}
	mysql_free_result(r);
	return rc;
}

/* SELECT id and the image columns the posts table has (NULL for the
 * others); "" when there is no posts table with an id. */
static int post_query(MYSQL *m, const char *db, struct rv_buf *sql)
{
	static const char q[] = "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
				"TABLE_SCHEMA=DATABASE() AND TABLE_NAME='posts'";
	bool have[8] = {false}, id = false, any = false; /* more than the columns */
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc = 0;

	if (mysql_real_query(m, q, sizeof(q) - 1) || !(r = mysql_store_result(m)))
		return fail(m, db, "the posts table's columns");
	while ((row = mysql_fetch_row(r)))
		for (size_t i = 0; row[0] && rv_ghost_post_columns[i]; i++) {
			id |= !strcmp(row[0], "id");
			if (!strcmp(row[0], rv_ghost_post_columns[i]))
				have[i] = any = true;
		}
	mysql_free_result(r);
	if (!id || !any)
		return 0;
	rc = rv_buf_addstr(sql, "SELECT id");
	for (size_t i = 0; !rc && rv_ghost_post_columns[i]; i++) {
		rc = rv_buf_add(sql, ", ", 2);
		rc = rc ? rc : rv_buf_addstr(sql, have[i] ? rv_ghost_post_columns[i] : "NULL");
	}
	return rc ? rc : rv_buf_addstr(sql, " FROM posts");
}

static int read_posts(MYSQL *m, const char *db, rv_dbtgt_text_fn fn, void *ud,
		      struct rv_dbtgt_inspect *out)
{
	struct rv_buf sql = RV_BUF_INIT(256);
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc = post_query(m, db, &sql);

	if (rc || !sql.len) {
		rv_buf_release(&sql);
		return rc;
	}
	out->app_schema = true;
	/* Row by row: a blog's posts need not fit in memory. */
	if (mysql_real_query(m, sql.data, sql.len) || !(r = mysql_use_result(m))) {
		rv_buf_release(&sql);
		return fail(m, db, "read posts");
	}
	rv_buf_release(&sql);
	while (!rc && (row = mysql_fetch_row(r))) {
		unsigned long *len = mysql_fetch_lengths(r);

		out->posts++;
		for (int i = 0; !rc && fn && rv_ghost_post_columns[i]; i++)
			if (row[i + 1])
				rc = fn(ud, row[0] ? row[0] : "?", rv_ghost_post_columns[i],
					row[i + 1], len[i + 1]);
	}
	if (!rc && mysql_errno(m))
		rc = fail(m, db, "read posts");
	mysql_free_result(r);
	return rc;
}

int rv_mysql_inspect(const struct rv_dbtgt_follow_opts *o, rv_dbtgt_text_fn fn, void *ud,
		     struct rv_dbtgt_inspect *out)
{
	MYSQL *m;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!o->mysql || !o->target)
		return rv_error(RV_EUSAGE, "mysql inspect: no server or database given");
	if ((rc = rv_mysql_connect(&m, o->mysql, o->target)))
		return rc;
	rc = check_tables(m, o->target, &out->tables);
	rc = rc ? rc : read_posts(m, o->target, fn, ud, out);
	mysql_close(m);
	return rc;
}

int rv_mysql_drop(const struct rv_dbtgt_follow_opts *o)
{
	struct rv_buf q = RV_BUF_INIT(128);
	MYSQL *m;
	int rc;

	if (!o->mysql || !o->target)
		return rv_error(RV_EUSAGE, "mysql drop: no server or database given");
	if ((rc = rv_mysql_connect(&m, o->mysql, "")))
		return rc;
	rc = rv_buf_addstr(&q, "DROP DATABASE IF EXISTS ");
	rc = rc ? rc : rv_mysql_ident(&q, o->target);
	rc = rc ? rc : rv_mysql_exec(m, "drop the scratch database", q.data);
	mysql_close(m);
	rv_buf_release(&q);
	return rc;
}
