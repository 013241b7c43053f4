/* inspect.c - a restored SQLite database looked at read-only beyond what
 * restore checks (target.h's inspect, for `revenant verify`): the rows
 * foreign_key_check reports, and the texts of Ghost's posts that may name
 * content files. */
#include "core/util.h"
#include "db/sqlite/sqlite.h"
#include "db/target.h"
#include "ghost/refs.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static int db_fail(sqlite3 *db, const char *path, const char *what)
{
	return rv_error(RV_ECORRUPT, "restored database '%s': %s: %s", path, what,
			sqlite3_errmsg(db));
}

static int count_fk(sqlite3 *db, const char *path, uint64_t *n)
{
	sqlite3_stmt *q = NULL;
	int src;

	*n = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &q, NULL) != SQLITE_OK)
		return db_fail(db, path, "foreign_key_check");
	while ((src = sqlite3_step(q)) == SQLITE_ROW)
		(*n)++;
	sqlite3_finalize(q);
	return src == SQLITE_DONE ? 0 : db_fail(db, path, "foreign_key_check");
}

/* Which of rv_ghost_post_columns the posts table has, as a SELECT list; false when
 * there is no posts table with an id. */
static int post_query(sqlite3 *db, const char *path, char *sql, size_t n, bool *found)
{
	sqlite3_stmt *q = NULL;
	bool have[8] = {false}; /* more than rv_ghost_post_columns names */
	bool id = false, any = false;
	size_t len;
	int src;

	*found = false;
	if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('posts')", -1, &q, NULL) !=
	    SQLITE_OK)
		return db_fail(db, path, "table_info(posts)");
	while ((src = sqlite3_step(q)) == SQLITE_ROW) {
		const char *c = (const char *)sqlite3_column_text(q, 0);

		if (!c)
			continue;
		id |= !strcmp(c, "id");
		for (size_t i = 0; rv_ghost_post_columns[i]; i++)
			if (!strcmp(c, rv_ghost_post_columns[i]))
				have[i] = any = true;
	}
	sqlite3_finalize(q);
	if (src != SQLITE_DONE)
		return db_fail(db, path, "table_info(posts)");
	if (!id || !any)
		return 0;
	len = (size_t)snprintf(sql, n, "SELECT id");
	for (size_t i = 0; rv_ghost_post_columns[i]; i++)
		len += (size_t)snprintf(sql + len, n - len, ", %s",
					have[i] ? rv_ghost_post_columns[i] : "NULL");
	snprintf(sql + len, n - len, " FROM posts");
	*found = true;
	return 0;
}

static int read_posts(sqlite3 *db, const char *path, rv_dbtgt_text_fn fn, void *ud,
		      struct rv_dbtgt_inspect *out)
{
	char sql[160];
	sqlite3_stmt *q = NULL;
	int src, rc;

	if ((rc = post_query(db, path, sql, sizeof(sql), &out->app_schema)) || !out->app_schema)
		return rc;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return db_fail(db, path, "read posts");
	while (!rc && (src = sqlite3_step(q)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(q, 0);

		out->posts++;
		for (int i = 0; !rc && fn && rv_ghost_post_columns[i]; i++) {
			const char *t = (const char *)sqlite3_column_text(q, i + 1);

			if (t)
				rc = fn(ud, id ? id : "?", rv_ghost_post_columns[i], t,
					(size_t)sqlite3_column_bytes(q, i + 1));
		}
	}
	sqlite3_finalize(q);
	if (!rc && src != SQLITE_DONE)
		rc = db_fail(db, path, "read posts");
	return rc;
}

int rv_sqlite_inspect(const struct rv_dbtgt_follow_opts *o, rv_dbtgt_text_fn fn, void *ud,
		      struct rv_dbtgt_inspect *out)
{
	const char *path = o->target;
	sqlite3 *db = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = db_fail(db, path, "open");
	} else {
		rc = count_fk(db, path, &out->fk_violations);
		if (!rc)
			rc = read_posts(db, path, fn, ud, out);
	}
	sqlite3_close(db);
	return rc;
}
