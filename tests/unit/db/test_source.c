/* db/source.h through the SQLite ops, against a file store: the contract
 * the replication engine relies on.  Position 0 at open; a commit wakes
 * the change descriptor (and a file written beside the database does
 * not); ship moves the position to the end of what was committed and
 * puts a log object under the generation; snapshot writes one at the
 * shipped position; a replaced database file is a broken chain
 * (RV_EPRECOND, new_generation, a reason). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "db/source.h"
#include "store/store.h"

#define GEN "0000019a3c5e7f10-3fa9c2d1"

static char dir[64], dbp[128], storep[128];

static void exec(sqlite3 *c, const char *sql)
{
	assert_int_equal(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
}

static bool readable(int fd)
{
	struct pollfd pf = {fd, POLLIN, 0};

	return fd >= 0 && poll(&pf, 1, 0) == 1;
}

static int count_under(const char *sub)
{
	char p[256];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(p, sizeof(p), "%s/generations/" GEN "/db/%s", storep, sub);
	if (!(d = opendir(p)))
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_sqlite_source(void **state)
{
	const struct rv_dbsrc_ops *ops = &rv_dbsrc_sqlite;
	struct rv_dbsrc_opts o = {.gen = GEN, .busy_timeout_ms = 2000};
	struct rv_store_opts so;
	struct rv_store *st;
	struct rv_dbsrc_ship sh;
	sqlite3 *c;
	void *h;
	uint64_t pos;
	char *url, other[160];
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/rv-dbsrc.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(dbp, sizeof(dbp), "%s/ghost.db", dir);
	snprintf(storep, sizeof(storep), "%s/store", dir);
	assert_int_equal(mkdir(storep, 0700), 0);
	rv_store_opts_default(&so);
	so.fsync = false;
	url = rv_asprintf("file://%s", storep);
	assert_int_equal(rv_store_open(&st, url, &so), 0);
	free(url);
	assert_int_equal(sqlite3_open(dbp, &c), SQLITE_OK);
	exec(c, "CREATE TABLE posts(id INTEGER PRIMARY KEY, html TEXT)");

	o.path = dbp;
	assert_string_equal(ops->name, "sqlite");
	assert_int_equal(ops->open(&h, &o), 0);
	assert_int_equal(ops->pos(h), 0);
	assert_true(ops->size(h) > 0);
	assert_int_equal(ops->snapshot(h, st, &pos), 0);
	assert_int_equal(pos, 0);
	assert_int_equal(count_under("snapshot"), 1);
	(void)ops->changes(h); /* open and snapshot touched the WAL */

	/* a file beside the database is not a change */
	snprintf(other, sizeof(other), "%s/notes.txt", dir);
	fd = open(other, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(ops->changes(h), 0);

	/* a commit is */
	exec(c, "INSERT INTO posts(html) VALUES ('<p>one</p>'), ('<p>two</p>')");
	assert_true(readable(ops->change_fd(h)));
	assert_int_equal(ops->changes(h), 1);
	assert_int_equal(ops->changes(h), 0);

	assert_int_equal(ops->ship(h, st, &sh), 0);
	assert_false(sh.new_generation);
	assert_int_equal(sh.from, 0);
	assert_true(sh.to > 0);
	assert_int_equal(ops->pos(h), sh.to);
	assert_true(sh.bytes > 0);
	assert_int_equal(count_under("log"), 1);
	/* nothing new: nothing shipped */
	assert_int_equal(ops->ship(h, st, &sh), 0);
	assert_int_equal(sh.from, sh.to);
	assert_int_equal(count_under("log"), 1);

	/* the database replaced under it: the chain is broken, with a reason */
	sqlite3_close(c);
	snprintf(other, sizeof(other), "%s/new.db", dir);
	assert_int_equal(sqlite3_open(other, &c), SQLITE_OK);
	exec(c, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1)");
	sqlite3_close(c);
	assert_int_equal(rename(other, dbp), 0);
	assert_int_equal(ops->ship(h, st, &sh), RV_EPRECOND);
	assert_true(sh.new_generation);
	assert_true(strlen(sh.reason) > 0);
	ops->close(h);
	rv_store_free(st);
	url = rv_asprintf("rm -rf '%s'", dir);
	assert_int_equal(system(url), 0);
	free(url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sqlite_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
