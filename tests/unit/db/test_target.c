/* db/target.h through the SQLite ops, against a file store: the contract
 * the engine's restore and standby rely on.  A chain is written with the
 * source (db/source.h), then read back: restore to a position and to the
 * newest one, row for row; a follower that starts with no point, moves
 * forward in place (same file), resumes from its state after a restart,
 * restores whole when the file was touched by someone else or the point
 * lies behind it, refuses a second follower of the same database, and
 * gives the database up on promote. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "db/source.h"
#include "db/target.h"
#include "store/store.h"

#define GEN "0000019a3c5e7f10-3fa9c2d1"

struct fx {
	char dir[64], src[128], store[128], out[160], state[192];
	struct rv_store *st;
	uint64_t p1, p2; /* after row 'one', after row 'two' */
};

static void exec(sqlite3 *c, const char *sql)
{
	assert_int_equal(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
}

/* The posts of a database file, as one string. */
static char *rows(const char *path)
{
	sqlite3 *c;
	sqlite3_stmt *q;
	char *r;

	assert_int_equal(sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(c,
					    "SELECT coalesce(group_concat(html, ','), '') FROM "
					    "(SELECT html FROM posts ORDER BY id)",
					    -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	r = rv_strdup((const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(c);
	return r;
}

static void assert_rows(const char *path, const char *want)
{
	char *got = rows(path);

	assert_string_equal(got, want);
	free(got);
}

static ino_t ino_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static int setup(void **state)
{
	const struct rv_dbsrc_ops *ops = &rv_dbsrc_sqlite;
	struct rv_dbsrc_opts o = {.gen = GEN, .busy_timeout_ms = 2000};
	struct fx *fx = rv_calloc(1, sizeof(*fx));
	struct rv_store_opts so;
	struct rv_dbsrc_ship sh;
	sqlite3 *c;
	uint64_t pos;
	char *url;
	void *h;

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/rv-dbtgt.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->src, sizeof(fx->src), "%s/ghost.db", fx->dir);
	snprintf(fx->store, sizeof(fx->store), "%s/store", fx->dir);
	snprintf(fx->out, sizeof(fx->out), "%s/site/data/ghost.db", fx->dir);
	snprintf(fx->state, sizeof(fx->state), "%s.revenant-standby", fx->out);
	assert_int_equal(mkdir(fx->store, 0700), 0);
	rv_store_opts_default(&so);
	so.fsync = false;
	url = rv_asprintf("file://%s", fx->store);
	assert_int_equal(rv_store_open(&fx->st, url, &so), 0);
	free(url);

	assert_int_equal(sqlite3_open(fx->src, &c), SQLITE_OK);
	exec(c, "CREATE TABLE posts(id INTEGER PRIMARY KEY, html TEXT)");
	o.path = fx->src;
	assert_int_equal(ops->open(&h, &o), 0);
	assert_int_equal(ops->snapshot(h, fx->st, &pos), 0);
	exec(c, "INSERT INTO posts(html) VALUES ('one')");
	assert_int_equal(ops->ship(h, fx->st, &sh), 0);
	fx->p1 = sh.to;
	exec(c, "INSERT INTO posts(html) VALUES ('two')");
	assert_int_equal(ops->ship(h, fx->st, &sh), 0);
	fx->p2 = sh.to;
	assert_true(fx->p1 > 0 && fx->p2 > fx->p1);
	ops->close(h);
	sqlite3_close(c);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char *cmd = rv_asprintf("rm -rf '%s'", fx->dir);

	rv_store_free(fx->st);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(fx);
	return 0;
}

static void test_restore(void **state)
{
	const struct rv_dbtgt_ops *ops = &rv_dbtgt_sqlite;
	struct fx *fx = *state;
	struct rv_dbtgt_restore_opts o = {.gen = GEN, .pos = fx->p1};
	struct rv_dbtgt_point p;
	char a[192], b[192];

	assert_string_equal(ops->name, "sqlite");
	snprintf(a, sizeof(a), "%s/at-p1.db", fx->dir);
	o.out = a;
	assert_int_equal(ops->restore(fx->st, &o, &p), 0);
	assert_string_equal(p.gen, GEN);
	assert_int_equal(p.pos, fx->p1);
	assert_rows(a, "one");

	snprintf(b, sizeof(b), "%s/latest.db", fx->dir);
	o.out = b;
	o.pos = RV_DBTGT_POS_LATEST;
	assert_int_equal(ops->restore(fx->st, &o, &p), 0);
	assert_int_equal(p.pos, fx->p2);
	assert_int_equal(p.segments, 2);
	assert_rows(b, "one,two");

	/* a generation the store does not hold */
	o.gen = "0000019a3c5e7f11-00000000";
	snprintf(b, sizeof(b), "%s/none.db", fx->dir);
	o.out = b;
	assert_int_equal(ops->restore(fx->st, &o, &p), RV_ENOTFOUND);
	assert_int_equal(access(b, F_OK), -1);
}

static void test_follow(void **state)
{
	const struct rv_dbtgt_ops *ops = &rv_dbtgt_sqlite;
	struct fx *fx = *state;
	struct rv_dbtgt_follow_opts fo = {.target = fx->out};
	struct rv_dbtgt_point p;
	struct timespec ts[2] = {{0, UTIME_OMIT}, {12345, 0}};
	void *h, *h2;
	ino_t ino;

	/* a fresh host: no folder, no file, no point */
	assert_int_equal(ops->follow_open(&h, fx->st, &fo), 0);
	assert_false(ops->follow_at(h, &p));
	/* one follower per database */
	assert_int_equal(ops->follow_open(&h2, fx->st, &fo), RV_EPRECOND);
	assert_null(h2);

	assert_int_equal(ops->follow_go(h, GEN, fx->p1), 0);
	assert_true(ops->follow_at(h, &p));
	assert_string_equal(p.gen, GEN);
	assert_int_equal(p.pos, fx->p1);
	assert_rows(fx->out, "one");
	assert_int_equal(access(fx->state, F_OK), 0);

	/* forward: in place, the same file */
	ino = ino_of(fx->out);
	assert_int_equal(ops->follow_go(h, GEN, fx->p2), 0);
	assert_true(ops->follow_at(h, &p));
	assert_int_equal(p.pos, fx->p2);
	assert_int_equal(ino_of(fx->out), ino);
	assert_rows(fx->out, "one,two");
	ops->follow_close(h);

	/* a restart resumes from the state */
	assert_int_equal(ops->follow_open(&h, fx->st, &fo), 0);
	assert_true(ops->follow_at(h, &p));
	assert_int_equal(p.pos, fx->p2);

	/* back in time: whole, a new file */
	assert_int_equal(ops->follow_go(h, GEN, fx->p1), 0);
	assert_int_not_equal(ino_of(fx->out), ino);
	assert_rows(fx->out, "one");
	ops->follow_close(h);

	/* someone else touched the file: the state no longer vouches for it */
	assert_int_equal(utimensat(AT_FDCWD, fx->out, ts, 0), 0);
	assert_int_equal(ops->follow_open(&h, fx->st, &fo), 0);
	assert_false(ops->follow_at(h, &p));
	ino = ino_of(fx->out);
	assert_int_equal(ops->follow_go(h, GEN, fx->p2), 0);
	assert_int_not_equal(ino_of(fx->out), ino);
	assert_rows(fx->out, "one,two");

	/* promote: checked, and no later follower trusts the file */
	assert_int_equal(ops->promote(h), 0);
	assert_false(ops->follow_at(h, &p));
	assert_int_equal(access(fx->state, F_OK), -1);
	ops->follow_close(h);
	assert_int_equal(ops->follow_open(&h, fx->st, &fo), 0);
	assert_false(ops->follow_at(h, &p));
	ops->follow_close(h);
	assert_rows(fx->out, "one,two");
}

struct texts {
	char all[256];
};

static int text_fn(void *ud, const char *id, const char *column, const char *text, size_t n)
{
	struct texts *t = ud;
	size_t len = strlen(t->all);

	snprintf(t->all + len, sizeof(t->all) - len, "%s%s.%s=%.*s", len ? "," : "", id, column,
		 (int)n, text);
	return 0;
}

static off_t size_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* verify's two calls: what a restore needs, worked out before it, and the
 * restored file looked at read-only. */
static void test_size_and_inspect(void **state)
{
	const struct rv_dbtgt_ops *ops = &rv_dbtgt_sqlite;
	struct fx *fx = *state;
	struct rv_dbtgt_restore_opts o = {.gen = GEN, .pos = fx->p2};
	struct rv_dbtgt_size sz;
	struct rv_dbtgt_inspect in;
	struct rv_dbtgt_point p;
	struct texts t = {{0}};
	char a[192], b[192];
	sqlite3 *c;

	snprintf(a, sizeof(a), "%s/latest.db", fx->dir);
	o.out = a;
	assert_int_equal(ops->restore(fx->st, &o, &p), 0);
	assert_int_equal(ops->restore_size(fx->st, GEN, fx->p2, fx->dir, &sz), 0);
	assert_int_equal(sz.segments, 2);
	assert_int_equal(sz.database, (uint64_t)size_of(a));
	assert_true(sz.download > 0 && sz.probed > 0);
	assert_int_equal(ops->restore_size(fx->st, GEN, fx->p1, NULL, &sz), 0);
	assert_int_equal(sz.segments, 1);
	/* past the log's end: the store lost a segment */
	assert_int_equal(ops->restore_size(fx->st, GEN, fx->p2 + 3, NULL, &sz), RV_ECORRUPT);
	assert_int_equal(ops->restore_size(fx->st, "0000019a3c5e7f11-00000000", 1, NULL, &sz),
			 RV_ENOTFOUND);

	/* the posts' texts (html only: the other columns are missing) */
	assert_int_equal(
	    ops->inspect(&(struct rv_dbtgt_follow_opts){.target = a}, text_fn, &t, &in), 0);
	assert_true(in.app_schema);
	assert_int_equal(in.posts, 2);
	assert_int_equal(in.fk_violations, 0);
	assert_string_equal(t.all, "1.html=one,2.html=two");

	/* no posts table; a row whose parent is missing */
	snprintf(b, sizeof(b), "%s/other.db", fx->dir);
	assert_int_equal(sqlite3_open(b, &c), SQLITE_OK);
	exec(c, "CREATE TABLE tags(id TEXT PRIMARY KEY);"
		"CREATE TABLE posts_tags(id TEXT, tag_id TEXT REFERENCES tags(id));"
		"INSERT INTO posts_tags VALUES ('x', 'gone')");
	sqlite3_close(c);
	assert_int_equal(
	    ops->inspect(&(struct rv_dbtgt_follow_opts){.target = b}, text_fn, &t, &in), 0);
	assert_false(in.app_schema);
	assert_int_equal(in.fk_violations, 1);
	/* not a database */
	assert_int_equal(
	    ops->inspect(&(struct rv_dbtgt_follow_opts){.target = fx->src}, NULL, NULL, &in), 0);
	snprintf(b, sizeof(b), "%s/junk.db", fx->dir);
	{
		FILE *f = fopen(b, "w");

		assert_non_null(f);
		fputs("this is not a database, and long enough to look like a header.......\n", f);
		fclose(f);
	}
	assert_int_equal(ops->inspect(&(struct rv_dbtgt_follow_opts){.target = b}, NULL, NULL, &in),
			 RV_ECORRUPT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_size_and_inspect, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
