/* test_sqlite.c - SQLite replication core against a real database and a
 * file:// store: a writer thread committing while the shipper ships every
 * 100 ms, restores at the end and at recorded intermediate positions
 * compared row for row with a reference built from the same transactions,
 * a corrupt and a missing segment, a foreign TRUNCATE checkpoint, a
 * replaced database file, both snapshot sources (the file in place and a
 * backup-API copy), the WAL parser on a real WAL, peak RSS with
 * a 200 MiB database, and the restore's order (segments first, the
 * snapshot's remaining pages last) against a plain snapshot-then-frames
 * replay, byte for byte, across growth, rewrites and a shrink. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "format/dbobj.h"
#include "db/sqlite/sqlite.h"
#include "db/sqlite/wal.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
	char dir[64];
	char *storedir, *db, *out;
	struct rv_store *s;
	char gen[RV_GEN_ID_LEN];
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void xexec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("sql '%s': %s", sql, msg ? msg : "?");
}

static int setup(void **state)
{
	struct fx *fx = rv_calloc(1, sizeof(*fx));
	struct rv_store_opts o;
	char *url;
	sqlite3 *db;

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/rv-test-sqlite.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->storedir = rv_asprintf("%s/store", fx->dir);
	fx->db = rv_asprintf("%s/ghost.db", fx->dir);
	fx->out = rv_asprintf("%s/restored.db", fx->dir);
	assert_int_equal(mkdir(fx->storedir, 0755), 0);
	rv_store_opts_default(&o);
	o.fsync = false;
	url = rv_asprintf("file://%s", fx->storedir);
	assert_int_equal(rv_store_open(&fx->s, url, &o), 0);
	free(url);
	rv_gen_id_new(fx->gen);
	/* A database in rollback-journal mode, as Ghost leaves it. */
	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	xexec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, b BLOB);"
		  "CREATE INDEX t_v ON t(v);"
		  "CREATE TABLE meta(k TEXT PRIMARY KEY, n INTEGER);"
		  "INSERT INTO meta VALUES('n', 0)");
	sqlite3_close(db);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	rv_store_free(fx->s);
	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx->storedir);
	free(fx->db);
	free(fx->out);
	free(fx);
	return 0;
}

/* Transaction k, deterministic so a reference can be rebuilt: insert row k,
 * update an older row, delete every fifth-older row, count in meta. */
static int txn(sqlite3 *db, uint64_t k)
{
	char sql[512];
	int rc;

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return rc;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO t VALUES(%" PRIu64 ", %" PRIu64 ", zeroblob(%" PRIu64 "));"
		 "UPDATE t SET v = v + %" PRIu64 ", b = x'%08" PRIx64 "' WHERE id = %" PRIu64 ";"
		 "DELETE FROM t WHERE id = %" PRIu64 " AND %" PRIu64 " %% 5 = 0;"
		 "UPDATE meta SET n = %" PRIu64 " WHERE k = 'n'",
		 k, k * 7 % 1000, 100 + k * 37 % 1500, k, k, k / 2, k > 7 ? k - 7 : 0, k, k);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

static uint64_t meta_n(sqlite3 *db)
{
	sqlite3_stmt *q;
	uint64_t n;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT n FROM meta WHERE k='n'", -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	n = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

/* Row for row, every column, both tables. */
static void assert_same(sqlite3 *a, sqlite3 *b)
{
	static const char *const sql[] = {"SELECT id, v, b FROM t ORDER BY id",
					  "SELECT k, n FROM meta ORDER BY k"};

	for (size_t i = 0; i < 2; i++) {
		sqlite3_stmt *qa, *qb;
		int ra, rb;
		uint64_t rows = 0;

		assert_int_equal(sqlite3_prepare_v2(a, sql[i], -1, &qa, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(b, sql[i], -1, &qb, NULL), SQLITE_OK);
		do {
			ra = sqlite3_step(qa);
			rb = sqlite3_step(qb);
			assert_int_equal(ra, rb);
			if (ra != SQLITE_ROW)
				break;
			rows++;
			for (int c = 0; c < sqlite3_column_count(qa); c++) {
				int na = sqlite3_column_bytes(qa, c),
				    nb = sqlite3_column_bytes(qb, c);

				assert_int_equal(sqlite3_column_type(qa, c),
						 sqlite3_column_type(qb, c));
				assert_int_equal(na, nb);
				assert_memory_equal(sqlite3_column_blob(qa, c),
						    sqlite3_column_blob(qb, c), (size_t)na);
			}
		} while (1);
		assert_int_equal(ra, SQLITE_DONE);
		sqlite3_finalize(qa);
		sqlite3_finalize(qb);
	}
}

/* The state after transactions 1..k, built in memory. */
static sqlite3 *reference(uint64_t k)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	xexec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, b BLOB);"
		  "CREATE TABLE meta(k TEXT PRIMARY KEY, n INTEGER);"
		  "INSERT INTO meta VALUES('n', 0)");
	for (uint64_t i = 1; i <= k; i++)
		assert_int_equal(txn(db, i), SQLITE_OK);
	return db;
}

static int restore_at(struct fx *fx, uint64_t pos, struct rv_sqlite_restore_result *res)
{
	struct rv_sqlite_restore_opts o = {.gen = fx->gen, .pos = pos, .out = fx->out};

	unlink(fx->out);
	return rv_sqlite_restore(fx->s, &o, res);
}

/* Restore at `pos` and check it equals the reference of its own counter;
 * returns that counter. */
static uint64_t check_restore(struct fx *fx, uint64_t pos)
{
	struct rv_sqlite_restore_result res;
	sqlite3 *db, *ref;
	uint64_t n;
	int rc = restore_at(fx, pos, &res);

	if (rc)
		fail_msg("restore at %" PRIu64 ": %s", pos, rv_errmsg());
	if (pos != RV_SQLITE_POS_LATEST)
		assert_int_equal(res.pos, pos);
	assert_int_equal(sqlite3_open_v2(fx->out, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	n = meta_n(db);
	ref = reference(n);
	assert_same(db, ref);
	sqlite3_close(ref);
	sqlite3_close(db);
	return n;
}

/* ---- the WAL parser on a real WAL ---- */

static void test_wal_parse(void **state)
{
	struct fx *fx = *state;
	sqlite3 *db;
	unsigned char b[RV_WAL_HDR_SIZE];
	unsigned char *buf = rv_malloc(RV_WAL_FRAME_HDR_SIZE + RV_WAL_MAX_PAGE);
	struct rv_wal_hdr h;
	struct rv_wal_cursor c, end;
	char *wal = rv_asprintf("%s-wal", fx->db);
	int fd;

	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	xexec(db, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0");
	for (uint64_t k = 1; k <= 20; k++)
		assert_int_equal(txn(db, k), SQLITE_OK);
	fd = open(wal, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
	assert_int_equal(rv_wal_hdr_parse(&h, b, wal), 0);
	assert_int_equal(h.page_size, 4096);
	c = (struct rv_wal_cursor){0, {h.ck1, h.ck2}};
	assert_int_equal(rv_wal_scan(fd, &h, &c, buf, &end, wal), 0);
	assert_true(end.frame >= 20);
	/* The chain is exact: the file holds nothing after the last commit. */
	{
		struct stat st;

		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal((uint64_t)st.st_size, rv_wal_frame_off(&h, end.frame));
	}
	/* A damaged header is refused. */
	b[9] ^= 1;
	assert_int_equal(rv_wal_hdr_parse(&h, b, wal), RV_ECORRUPT);
	close(fd);
	sqlite3_close(db);
	free(wal);
	free(buf);
}

/* ---- a writer against the shipper ---- */

struct writer {
	const char *path;
	pthread_mutex_t mu; /* held around each transaction; the test pauses by taking it */
	atomic_bool stop;
	_Atomic uint64_t k; /* last committed */
	int err;
};

static void *writer_main(void *ud)
{
	struct writer *w = ud;
	sqlite3 *db;

	if (sqlite3_open(w->path, &db) != SQLITE_OK) {
		w->err = 1;
		return NULL;
	}
	sqlite3_busy_timeout(db, 10000);
	while (!atomic_load(&w->stop)) {
		uint64_t k = atomic_load(&w->k) + 1;
		int rc;

		/* The count moves under the lock too: a paused ship must not
		 * see a committed transaction before its count. */
		pthread_mutex_lock(&w->mu);
		rc = txn(db, k);
		if (rc == SQLITE_OK)
			atomic_store(&w->k, k);
		pthread_mutex_unlock(&w->mu);
		if (rc == SQLITE_BUSY)
			continue;
		if (rc != SQLITE_OK) {
			w->err = rc;
			break;
		}
		/* A few hundred transactions a second, like a busy Ghost. */
		rv_sleep_ms(2);
	}
	sqlite3_close(db);
	return NULL;
}

struct point {
	uint64_t pos, k;
};

static void test_ship_restore_with_writer(void **state)
{
	struct fx *fx = *state;
	struct rv_sqlite_opts o = {
	    .db_path = fx->db, .gen = fx->gen, .checkpoint_bytes = 256 << 10};
	struct rv_sqlite *s;
	struct writer w = {.path = fx->db};
	struct point pts[64];
	size_t npts = 0;
	uint64_t pos0, last = 0;
	unsigned ckpts = 0, segs = 0;
	pthread_t th;
	sqlite3 *src, *dst;

	pthread_mutex_init(&w.mu, NULL);
	assert_int_equal(rv_sqlite_open(&s, &o), 0);
	assert_int_equal(rv_sqlite_snapshot(s, fx->s, &pos0), 0);
	assert_int_equal(pos0, 0);
	assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
	for (int i = 0; i < 40; i++) {
		struct rv_sqlite_ship r;
		bool pause = i % 3 == 2;

		rv_sleep_ms(100);
		/* Every third ship with the writer paused: then the position
		 * corresponds exactly to the writer's count. */
		if (pause)
			pthread_mutex_lock(&w.mu);
		if (rv_sqlite_ship(s, fx->s, &r))
			fail_msg("ship: %s", rv_errmsg());
		assert_false(r.new_generation);
		assert_true(r.to >= last);
		last = r.to;
		if (r.key[0])
			segs++;
		ckpts += r.checkpointed;
		if (pause && npts < 64)
			pts[npts++] = (struct point){r.to, atomic_load(&w.k)};
		if (pause)
			pthread_mutex_unlock(&w.mu);
		if (i == 20) /* a snapshot mid-stream */
			assert_int_equal(rv_sqlite_snapshot(s, fx->s, &pos0), 0);
	}
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	assert_int_equal(w.err, 0);
	{
		struct rv_sqlite_ship r;

		assert_int_equal(rv_sqlite_ship(s, fx->s, &r), 0);
	}
	print_message("writer committed %" PRIu64 " txns; %u segments, %u checkpoints, pos %" PRIu64
		      "\n",
		      atomic_load(&w.k), segs, ckpts, rv_sqlite_pos(s));
	assert_true(atomic_load(&w.k) > 200);
	assert_true(ckpts > 0);
	/* The WAL was rewound (restarted) many times and followed across each
	 * restart: it stays far smaller than everything shipped. */
	{
		char *wal = rv_asprintf("%s-wal", fx->db);
		struct stat st;

		assert_int_equal(stat(wal, &st), 0);
		print_message("WAL file %lld KiB, shipped %" PRIu64 " KiB of frames\n",
			      (long long)st.st_size >> 10, rv_sqlite_pos(s) * 4120 >> 10);
		assert_true((uint64_t)st.st_size < rv_sqlite_pos(s) * 4120 / 4);
		free(wal);
	}
	/* Latest: equal to the source, row for row. */
	assert_int_equal(check_restore(fx, RV_SQLITE_POS_LATEST), atomic_load(&w.k));
	assert_int_equal(sqlite3_open(fx->db, &src), SQLITE_OK);
	assert_int_equal(sqlite3_open_v2(fx->out, &dst, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_same(src, dst);
	sqlite3_close(dst);
	sqlite3_close(src);
	/* Every recorded point gives exactly the state the writer had then
	 * (points before the mid-stream snapshot use the first one). */
	for (size_t i = 0; i < npts; i++)
		assert_int_equal(check_restore(fx, pts[i].pos), pts[i].k);
	/* --at: the time of a recorded point's segment gives that point. */
	{
		char *prefix = rv_dbobj_log_prefix(fx->gen);
		struct rv_list_page pg = {0};
		size_t want = npts / 4; /* well before the mid-stream snapshot */

		assert_int_equal(rv_store_list_page(fx->s, prefix, NULL, 0, &pg), 0);
		for (size_t i = 0; i < pg.count; i++) {
			uint64_t from, to;
			int64_t ms;

			assert_int_equal(
			    rv_dbobj_key_parse(pg.items[i].key, RV_DBOBJ_LOG, &from, &to, &ms), 0);
			if (to == pts[want].pos) {
				struct rv_sqlite_restore_opts ro = {.gen = fx->gen,
								    .pos = RV_SQLITE_POS_LATEST,
								    .at_ms = ms,
								    .out = fx->out};
				struct rv_sqlite_restore_result res;
				sqlite3 *db;

				unlink(fx->out);
				assert_int_equal(rv_sqlite_restore(fx->s, &ro, &res), 0);
				assert_int_equal(res.pos, to);
				assert_int_equal(sqlite3_open(fx->out, &db), SQLITE_OK);
				assert_int_equal(meta_n(db), pts[want].k);
				sqlite3_close(db);
				want = SIZE_MAX;
				break;
			}
		}
		assert_int_equal(want, SIZE_MAX);
		rv_list_page_release(&pg);
		free(prefix);
	}
	rv_sqlite_free(s);
	pthread_mutex_destroy(&w.mu);
}

/* A few ships with writes in between; returns the positions. */
static void ship_some(struct fx *fx, struct rv_sqlite *s, uint64_t *k, int rounds)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	for (int i = 0; i < rounds; i++) {
		struct rv_sqlite_ship r;

		for (int j = 0; j < 10; j++)
			assert_int_equal(txn(db, ++*k), SQLITE_OK);
		assert_int_equal(rv_sqlite_ship(s, fx->s, &r), 0);
		assert_true(r.key[0] != '\0');
	}
	sqlite3_close(db);
}

static char *nth_segment(struct fx *fx, int nth)
{
	char *prefix = rv_dbobj_log_prefix(fx->gen);
	struct rv_list_page pg = {0};
	char *key;

	assert_int_equal(rv_store_list_page(fx->s, prefix, NULL, 0, &pg), 0);
	assert_true(pg.count > (size_t)nth);
	key = rv_asprintf("%s/%s", fx->storedir, pg.items[nth].key);
	rv_list_page_release(&pg);
	free(prefix);
	return key;
}

static void test_corrupt_and_gap(void **state)
{
	struct fx *fx = *state;
	struct rv_sqlite_opts o = {.db_path = fx->db, .gen = fx->gen};
	struct rv_sqlite *s;
	struct rv_sqlite_restore_result res;
	uint64_t pos0, k = 0, p2;
	char *seg;
	int fd;
	unsigned char byte;
	struct stat st;

	assert_int_equal(rv_sqlite_open(&s, &o), 0);
	assert_int_equal(rv_sqlite_snapshot(s, fx->s, &pos0), 0);
	ship_some(fx, s, &k, 4);
	assert_int_equal(check_restore(fx, RV_SQLITE_POS_LATEST), k);

	/* One flipped byte in the third segment: corrupt, and no target left. */
	seg = nth_segment(fx, 2);
	fd = open(seg, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(pread(fd, &byte, 1, st.st_size / 2), 1);
	byte ^= 0x40;
	assert_int_equal(pwrite(fd, &byte, 1, st.st_size / 2), 1);
	assert_int_equal(restore_at(fx, RV_SQLITE_POS_LATEST, &res), RV_ECORRUPT);
	print_message("corrupt: %s\n", rv_errmsg());
	assert_int_equal(access(fx->out, F_OK), -1);

	/* The same segment gone: a gap, an error, never an older state. */
	assert_int_equal(unlink(seg), 0);
	assert_int_equal(restore_at(fx, RV_SQLITE_POS_LATEST, &res), RV_ECORRUPT);
	print_message("gap: %s\n", rv_errmsg());
	assert_int_equal(access(fx->out, F_OK), -1);
	free(seg);
	/* The point before the gap is still there, explicitly. */
	seg = nth_segment(fx, 1);
	{
		uint64_t from, to;
		int64_t ms;

		assert_int_equal(rv_dbobj_key_parse(seg, RV_DBOBJ_LOG, &from, &to, &ms), 0);
		p2 = to;
	}
	assert_int_equal(check_restore(fx, p2), 20);
	/* A position that is not a segment boundary is not silently rounded. */
	assert_int_equal(restore_at(fx, p2 - 1, &res), RV_ECORRUPT);
	free(seg);
	rv_sqlite_free(s);
}

static void test_foreign_truncate(void **state)
{
	struct fx *fx = *state;
	struct rv_sqlite_opts o = {.db_path = fx->db, .gen = fx->gen};
	struct rv_sqlite *s;
	struct rv_sqlite_ship r;
	uint64_t pos0, k = 0;
	sqlite3 *db;
	sqlite3_stmt *q;
	int busy, rc;

	assert_int_equal(rv_sqlite_open(&s, &o), 0);
	assert_int_equal(rv_sqlite_snapshot(s, fx->s, &pos0), 0);
	ship_some(fx, s, &k, 2);
	/* Writes not yet shipped, then another process tries to empty the WAL. */
	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 200);
	for (int j = 0; j < 10; j++)
		assert_int_equal(txn(db, ++k), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	busy = sqlite3_column_int(q, 0);
	print_message("foreign TRUNCATE checkpoint: busy=%d log=%d checkpointed=%d\n", busy,
		      sqlite3_column_int(q, 1), sqlite3_column_int(q, 2));
	sqlite3_finalize(q);
	for (int j = 0; j < 10; j++)
		assert_int_equal(txn(db, ++k), SQLITE_OK);
	sqlite3_close(db);
	rc = rv_sqlite_ship(s, fx->s, &r);
	if (rc == 0) {
		/* Prevented: the read transaction kept the WAL from being reset. */
		assert_true(busy);
		assert_false(r.new_generation);
		assert_int_equal(check_restore(fx, RV_SQLITE_POS_LATEST), k);
	} else {
		assert_int_equal(rc, RV_EPRECOND);
		assert_true(r.new_generation);
	}
	print_message("result: %s\n", rc ? r.reason : "prevented, chain continued");
	rv_sqlite_free(s);
}

static void test_db_replaced(void **state)
{
	struct fx *fx = *state;
	struct rv_sqlite_opts o = {.db_path = fx->db, .gen = fx->gen};
	struct rv_sqlite *s;
	struct rv_sqlite_ship r;
	uint64_t pos0, k = 0;
	char *other = rv_asprintf("%s/other.db", fx->dir);
	sqlite3 *db;

	assert_int_equal(rv_sqlite_open(&s, &o), 0);
	assert_int_equal(rv_sqlite_snapshot(s, fx->s, &pos0), 0);
	ship_some(fx, s, &k, 1);
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	xexec(db, "CREATE TABLE x(a)");
	sqlite3_close(db);
	assert_int_equal(rename(other, fx->db), 0);
	assert_int_equal(rv_sqlite_ship(s, fx->s, &r), RV_EPRECOND);
	assert_true(r.new_generation);
	assert_non_null(strstr(r.reason, "replaced"));
	/* And it stays broken. */
	assert_int_equal(rv_sqlite_ship(s, fx->s, &r), RV_EPRECOND);
	rv_sqlite_free(s);
	free(other);
}

/* The snapshot's two sources: the database file read in place, and, when
 * the file is not exactly the pages its header states, a copy through
 * SQLite's backup API.  A file longer than its header says (SQLite trusts
 * the header) takes the second; the restore equals the source either way.
 * Returns the log's text while the snapshot ran. */
static char *snapshot_logged(struct fx *fx, struct rv_sqlite *s, uint64_t *pos)
{
	char path[] = "/tmp/rv-test-sqlite-log.XXXXXX", *text = rv_calloc(1, 4096);
	int fd = mkstemp(path);

	assert_true(fd != -1);
	unlink(path);
	rv_log_setup(RV_LOG_INFO, RV_LOG_LOGFMT);
	rv_log_set_fd(fd);
	assert_int_equal(rv_sqlite_snapshot(s, fx->s, pos), 0);
	rv_log_set_fd(2);
	rv_log_setup(RV_LOG_WARN, RV_LOG_LOGFMT);
	assert_true(pread(fd, text, 4095, 0) > 0);
	close(fd);
	return text;
}

static void test_snapshot_sources(void **state)
{
	struct fx *fx = *state;
	struct rv_sqlite_opts o = {.db_path = fx->db, .gen = fx->gen};
	struct rv_sqlite *s;
	uint64_t pos, k = 0;
	static const char zero[4096];
	char *log;
	sqlite3 *db;
	int fd;

	assert_int_equal(rv_sqlite_open(&s, &o), 0);
	log = snapshot_logged(fx, s, &pos);
	if (!strstr(log, "source=\"database file\""))
		fail_msg("first snapshot not from the file: %s", log);
	free(log);
	ship_some(fx, s, &k, 2);
	rv_sqlite_free(s);
	/* Let everything reach the file, then make it a page longer. */
	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	xexec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	sqlite3_close(db);
	fd = open(fx->db, O_WRONLY | O_APPEND);
	assert_true(fd != -1);
	assert_int_equal(write(fd, zero, sizeof(zero)), (ssize_t)sizeof(zero));
	close(fd);
	rv_gen_id_new(fx->gen);
	assert_int_equal(rv_sqlite_open(&s, &o), 0);
	log = snapshot_logged(fx, s, &pos);
	if (!strstr(log, "source=\"backup copy\""))
		fail_msg("snapshot of a long file not through the backup API: %s", log);
	free(log);
	ship_some(fx, s, &k, 2);
	assert_int_equal(check_restore(fx, pos), 20);
	assert_int_equal(check_restore(fx, RV_SQLITE_POS_LATEST), 40);
	rv_sqlite_free(s);
}

/* Ghost leaves the database in rollback-journal mode and keeps it open:
 * the switch waits for a moment outside its transactions, and Ghost's
 * already-open connection carries on in WAL mode. */
static void test_wal_switch_with_open_connection(void **state)
{
	struct fx *fx = *state;
	struct rv_sqlite_opts o = {.db_path = fx->db, .gen = fx->gen, .busy_timeout_ms = 200};
	struct rv_sqlite *s;
	struct rv_sqlite_ship r;
	uint64_t pos0;
	sqlite3 *ghost;
	unsigned char hdr[20];
	int fd;

	assert_int_equal(sqlite3_open(fx->db, &ghost), SQLITE_OK);
	sqlite3_busy_timeout(ghost, 2000);
	xexec(ghost, "BEGIN; SELECT count(*) FROM t");
	assert_int_equal(rv_sqlite_open(&s, &o), RV_EPRECOND);
	print_message("while another connection reads: %s\n", rv_errmsg());
	xexec(ghost, "COMMIT");
	assert_int_equal(rv_sqlite_open(&s, &o), 0);
	/* WAL is in the file header (bytes 18 and 19 are 2), so it persists. */
	fd = open(fx->db, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
	close(fd);
	assert_int_equal(hdr[18], 2);
	assert_int_equal(hdr[19], 2);
	assert_int_equal(rv_sqlite_snapshot(s, fx->s, &pos0), 0);
	for (uint64_t k = 1; k <= 30; k++)
		assert_int_equal(txn(ghost, k), SQLITE_OK);
	assert_int_equal(rv_sqlite_ship(s, fx->s, &r), 0);
	assert_true(r.to > r.from);
	assert_int_equal(check_restore(fx, RV_SQLITE_POS_LATEST), 30);
	sqlite3_close(ghost);
	rv_sqlite_free(s);
}

/* The WAL rewound twice (what a foreign checkpoint could do if revenant's
 * read transaction were gone) cannot be continued.  SQLite will not do
 * that while the shipper lives, so the header is forged: a valid header
 * whose checkpoint sequence moved by two, as SQLite would write it. */
static void test_wal_rewound_twice(void **state)
{
	struct fx *fx = *state;
	struct rv_sqlite_opts o = {.db_path = fx->db, .gen = fx->gen};
	struct rv_sqlite *s;
	struct rv_sqlite_ship r;
	uint64_t pos0, k = 0;
	char *wal = rv_asprintf("%s-wal", fx->db);
	unsigned char b[RV_WAL_HDR_SIZE];
	struct rv_wal_hdr h;
	uint32_t ck[2] = {0, 0};
	int fd;

	assert_int_equal(rv_sqlite_open(&s, &o), 0);
	assert_int_equal(rv_sqlite_snapshot(s, fx->s, &pos0), 0);
	ship_some(fx, s, &k, 2);
	fd = open(wal, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
	assert_int_equal(rv_wal_hdr_parse(&h, b, wal), 0);
	h.ckpt_seq += 2;
	h.salt1 += 2;
	for (int i = 0; i < 4; i++) {
		b[12 + i] = (unsigned char)(h.ckpt_seq >> (24 - 8 * i));
		b[16 + i] = (unsigned char)(h.salt1 >> (24 - 8 * i));
	}
	rv_wal_checksum(h.magic == RV_WAL_MAGIC_BE, b, 24, ck);
	for (int i = 0; i < 4; i++) {
		b[24 + i] = (unsigned char)(ck[0] >> (24 - 8 * i));
		b[28 + i] = (unsigned char)(ck[1] >> (24 - 8 * i));
	}
	assert_int_equal(rv_wal_hdr_parse(&h, b, wal), 0);
	assert_int_equal(pwrite(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
	close(fd);
	assert_int_equal(rv_sqlite_ship(s, fx->s, &r), RV_EPRECOND);
	assert_true(r.new_generation);
	assert_non_null(strstr(r.reason, "started anew behind our back"));
	print_message("rewound twice: %s\n", r.reason);
	rv_sqlite_free(s);
	free(wal);
}

/* A commit frame SQLite never published: its writer died (kill -9) after
 * writing it and before updating the WAL index (during the commit's fsync),
 * so the transaction did not happen and the next writer overwrites the
 * frame.  Forged here as a valid copy of the WAL's last frame appended
 * after it.  The shipper must neither ship it nor lose its place: the
 * transactions written over it are shipped and restored. */
static void put_be32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (24 - 8 * i));
}

static void test_phantom_commit(void **state)
{
	struct fx *fx = *state;
	struct rv_sqlite_opts o = {.db_path = fx->db, .gen = fx->gen};
	struct rv_sqlite *s;
	struct rv_sqlite_ship r;
	uint64_t pos0, k = 0;
	char *wal = rv_asprintf("%s-wal", fx->db);
	unsigned char b[RV_WAL_HDR_SIZE];
	unsigned char *fr = rv_malloc(RV_WAL_FRAME_HDR_SIZE + RV_WAL_MAX_PAGE);
	struct rv_wal_hdr h;
	struct rv_wal_cursor c, end;
	size_t fsz;
	int fd;

	assert_int_equal(rv_sqlite_open(&s, &o), 0);
	assert_int_equal(rv_sqlite_snapshot(s, fx->s, &pos0), 0);
	ship_some(fx, s, &k, 2);
	fd = open(wal, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
	assert_int_equal(rv_wal_hdr_parse(&h, b, wal), 0);
	c = (struct rv_wal_cursor){0, {h.ck1, h.ck2}};
	assert_int_equal(rv_wal_scan(fd, &h, &c, fr, &end, wal), 0);
	assert_true(end.frame > 0);
	fsz = RV_WAL_FRAME_HDR_SIZE + h.page_size;
	assert_int_equal(pread(fd, fr, fsz, (off_t)rv_wal_frame_off(&h, end.frame - 1)),
			 (ssize_t)fsz);
	rv_wal_checksum(h.magic == RV_WAL_MAGIC_BE, fr, 8, end.ck);
	rv_wal_checksum(h.magic == RV_WAL_MAGIC_BE, fr + RV_WAL_FRAME_HDR_SIZE, h.page_size,
			end.ck);
	put_be32(fr + 16, end.ck[0]);
	put_be32(fr + 20, end.ck[1]);
	assert_int_equal(pwrite(fd, fr, fsz, (off_t)rv_wal_frame_off(&h, end.frame)), (ssize_t)fsz);
	c = (struct rv_wal_cursor){0, {h.ck1, h.ck2}};
	assert_int_equal(rv_wal_scan(fd, &h, &c, fr, &end, wal), 0);
	close(fd);
	print_message("phantom commit frame forged at frame %u\n", end.frame);
	assert_int_equal(rv_sqlite_ship(s, fx->s, &r), 0);
	assert_int_equal(r.to, r.from);
	/* The next writer overwrites it; its transactions are shipped. */
	ship_some(fx, s, &k, 2);
	assert_int_equal(check_restore(fx, RV_SQLITE_POS_LATEST), k);
	rv_sqlite_free(s);
	free(fr);
	free(wal);
}

/* The store unavailable: the spooled segment stays pending and the very
 * same range is uploaded once it is back; nothing is lost or duplicated. */
static void test_store_outage(void **state)
{
	struct fx *fx = *state;
	struct rv_sqlite_opts o = {.db_path = fx->db, .gen = fx->gen};
	struct rv_sqlite *s;
	struct rv_sqlite_ship r;
	uint64_t pos0, k = 0, before;
	char *away = rv_asprintf("%s.away", fx->storedir);
	sqlite3 *db;
	int fd;

	assert_int_equal(rv_sqlite_open(&s, &o), 0);
	assert_int_equal(rv_sqlite_snapshot(s, fx->s, &pos0), 0);
	ship_some(fx, s, &k, 1);
	before = rv_sqlite_pos(s);
	/* The store's folder replaced by a file: every put fails. */
	assert_int_equal(rename(fx->storedir, away), 0);
	fd = open(fx->storedir, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	for (int round = 0; round < 3; round++) {
		for (int j = 0; j < 10; j++)
			assert_int_equal(txn(db, ++k), SQLITE_OK);
		assert_true(rv_sqlite_ship(s, fx->s, &r) != 0);
		assert_false(r.new_generation);
		assert_int_equal(rv_sqlite_pos(s), before);
	}
	print_message("store down: %s\n", rv_errmsg());
	assert_int_equal(unlink(fx->storedir), 0);
	assert_int_equal(rename(away, fx->storedir), 0);
	assert_int_equal(rv_sqlite_ship(s, fx->s, &r), 0);
	assert_true(rv_sqlite_pos(s) > before);
	sqlite3_close(db);
	assert_int_equal(check_restore(fx, RV_SQLITE_POS_LATEST), k);
	rv_sqlite_free(s);
	free(away);
}

/* ---- memory with a 200 MiB database ---- */

static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			v = strtol(line + strlen(field), NULL, 10);
	fclose(f);
	return v;
}

static void reset_peak(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "5", 1), 1);
	close(fd);
}

static void test_memory_200mib(void **state)
{
	struct fx *fx = *state;
	struct rv_sqlite_opts o = {.db_path = fx->db, .gen = fx->gen};
	struct rv_sqlite *s;
	struct rv_sqlite_ship r;
	uint64_t pos0, k = 0;
	long base, peak;
	sqlite3 *db, *src, *dst;
	struct stat st;

	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	/* 200k rows of 1 KiB, a quarter of it random (so it does not all
	 * compress away), in one transaction. */
	xexec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;"
		  "WITH RECURSIVE c(i) AS (SELECT 1000000 UNION ALL SELECT i+1 FROM c "
		  "WHERE i < 1200000) INSERT INTO t SELECT i, i, randomblob(256) || "
		  "zeroblob(768) FROM c; COMMIT");
	sqlite3_close(db);
	assert_int_equal(stat(fx->db, &st), 0);
	assert_true(st.st_size >= 200ll << 20);
	rv_sleep_ms(10);
	base = status_kib("VmRSS:");
	reset_peak();
	assert_int_equal(rv_sqlite_open(&s, &o), 0);
	assert_int_equal(rv_sqlite_snapshot(s, fx->s, &pos0), 0);
	ship_some(fx, s, &k, 3);
	assert_int_equal(rv_sqlite_ship(s, fx->s, &r), 0);
	rv_sqlite_free(s);
	{
		struct rv_sqlite_restore_result res;

		assert_int_equal(restore_at(fx, RV_SQLITE_POS_LATEST, &res), 0);
	}
	peak = status_kib("VmHWM:");
	print_message("database %lld MiB: RSS before %ld KiB, peak during open+snapshot+ship+"
		      "restore %ld KiB (+%ld KiB)\n",
		      (long long)(st.st_size >> 20), base, peak, peak - base);
	/* Flat: a few MiB of zstd and sqlite page caches, nothing that grows
	 * with the database (ASan's shadow and quarantine add their own). */
#if defined(__SANITIZE_ADDRESS__)
	assert_true(peak - base < 96 * 1024);
#else
	assert_true(peak - base < 40 * 1024);
#endif
	assert_int_equal(sqlite3_open(fx->db, &src), SQLITE_OK);
	assert_int_equal(sqlite3_open_v2(fx->out, &dst, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_same(src, dst);
	sqlite3_close(dst);
	sqlite3_close(src);
}

/* ---- segments first, against the plain replay ---- */

/* Objects under `prefix` in position order (the listing's byte order). */
static size_t list_keys(struct fx *fx, const char *prefix, char ***out)
{
	struct rv_list_page pg = {0};
	size_t n;
	char **v;

	assert_int_equal(rv_store_list_page(fx->s, prefix, NULL, 0, &pg), 0);
	assert_null(pg.next_token);
	n = pg.count;
	v = rv_calloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = rv_strdup(pg.items[i].key);
	*out = v;
	rv_list_page_release(&pg);
	return n;
}

/* What a checkpoint would make: the snapshot's pages, then every frame of
 * the segments up to `pos` written in order, the file cut at each commit. */
static void plain_replay(struct fx *fx, uint64_t pos, const char *path)
{
	char *sp = rv_dbobj_snapshot_prefix(fx->gen), *lp = rv_dbobj_log_prefix(fx->gen);
	char **snaps, **logs;
	size_t ns = list_keys(fx, sp, &snaps), nl = list_keys(fx, lp, &logs);
	int out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	assert_true(out != -1);
	if (ns != 1)
		fail_msg("%zu snapshots under '%s'", ns, sp);
	for (size_t i = 0; i <= nl; i++) {
		char *file = rv_asprintf("%s/%s", fx->storedir, i == 0 ? snaps[0] : logs[i - 1]);
		int in = open(file, O_RDONLY);
		struct rv_dbobj_reader *r;
		const struct rv_dbobj_hdr *h;
		unsigned char *buf;

		assert_true(in != -1);
		assert_int_equal(rv_dbobj_reader_new(&r, in, file), 0);
		h = rv_dbobj_reader_hdr(r);
		if (i > 0 && h->from >= pos) {
			rv_dbobj_reader_free(r);
			close(in);
			free(file);
			break;
		}
		buf = rv_malloc(RV_WAL_FRAME_HDR_SIZE + h->page_size);
		for (uint64_t k = 0; k < h->count; k++) {
			struct rv_wal_frame f;

			if (i == 0) {
				assert_int_equal(rv_dbobj_reader_read(r, buf, h->page_size), 0);
				assert_int_equal(
				    pwrite(out, buf, h->page_size, (off_t)(k * h->page_size)),
				    (ssize_t)h->page_size);
				continue;
			}
			assert_int_equal(
			    rv_dbobj_reader_read(r, buf, RV_WAL_FRAME_HDR_SIZE + h->page_size), 0);
			rv_wal_frame_parse(&f, buf);
			assert_int_equal(pwrite(out, buf + RV_WAL_FRAME_HDR_SIZE, h->page_size,
						(off_t)(f.pgno - 1) * h->page_size),
					 (ssize_t)h->page_size);
			if (f.commit)
				assert_int_equal(ftruncate(out, (off_t)f.commit * h->page_size), 0);
		}
		if (i == 0)
			assert_int_equal(ftruncate(out, (off_t)(h->count * h->page_size)), 0);
		assert_int_equal(rv_dbobj_reader_finish(r), 0);
		rv_dbobj_reader_free(r);
		free(buf);
		close(in);
		free(file);
	}
	close(out);
	for (size_t i = 0; i < ns; i++)
		free(snaps[i]);
	for (size_t i = 0; i < nl; i++)
		free(logs[i]);
	free(snaps);
	free(logs);
	free(sp);
	free(lp);
}

static void assert_same_file(const char *a, const char *b)
{
	int fa = open(a, O_RDONLY), fb = open(b, O_RDONLY);
	static unsigned char ba[65536], bb[65536];
	struct stat sa, sb;

	assert_true(fa != -1 && fb != -1);
	assert_int_equal(fstat(fa, &sa), 0);
	assert_int_equal(fstat(fb, &sb), 0);
	assert_int_equal(sa.st_size, sb.st_size);
	for (off_t off = 0; off < sa.st_size; off += (off_t)sizeof(ba)) {
		ssize_t na = pread(fa, ba, sizeof(ba), off), nb = pread(fb, bb, sizeof(bb), off);

		assert_int_equal(na, nb);
		assert_true(na > 0);
		if (memcmp(ba, bb, (size_t)na) != 0)
			fail_msg("'%s' and '%s' differ near byte %lld", a, b, (long long)off);
	}
	close(fa);
	close(fb);
}

/* Segments that grow the database past the snapshot, rewrite the same
 * pages in later segments, shrink it below the snapshot's size (VACUUM)
 * and grow it again: a restore at every boundary is byte for byte the
 * plain replay, and a restore in the middle never applies a later frame. */
static void test_segments_first(void **state)
{
	struct fx *fx = *state;
	struct rv_sqlite_opts o = {.db_path = fx->db, .gen = fx->gen};
	static const char *const steps[] = {
	    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300) "
	    "INSERT INTO t SELECT 1000 + x, x, randomblob(3000) FROM c",
	    "UPDATE t SET b = randomblob(3000) WHERE id > 1000 AND id % 2 = 0",
	    "UPDATE t SET v = v + 1, b = randomblob(2500) WHERE id > 1000",
	    "DELETE FROM t WHERE id % 10 != 0",
	    "VACUUM",
	    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60) "
	    "INSERT INTO t SELECT 5000 + x, x, randomblob(1000) FROM c",
	};
	uint64_t pos[8], n = 0;
	off_t size[8];
	struct rv_sqlite *s;
	sqlite3 *db;
	char *ref = rv_asprintf("%s/plain.db", fx->dir);

	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	xexec(db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400) "
		  "INSERT INTO t SELECT x, x, randomblob(2000) FROM c");
	sqlite3_close(db);
	assert_int_equal(rv_sqlite_open(&s, &o), 0);
	assert_int_equal(rv_sqlite_snapshot(s, fx->s, &pos[n++]), 0);
	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		struct rv_sqlite_ship r;

		xexec(db, steps[i]);
		/* Two steps in one segment: a page written twice in it too. */
		if (i == 1)
			continue;
		assert_int_equal(rv_sqlite_ship(s, fx->s, &r), 0);
		assert_true(r.to > r.from);
		pos[n++] = r.to;
	}
	sqlite3_close(db);
	for (uint64_t i = 0; i < n; i++) {
		struct rv_sqlite_restore_result res;

		if (restore_at(fx, pos[i], &res))
			fail_msg("restore at %" PRIu64 ": %s", pos[i], rv_errmsg());
		assert_int_equal(res.pos, pos[i]);
		assert_int_equal(res.segments, i);
		plain_replay(fx, pos[i], ref);
		assert_same_file(fx->out, ref);
		{
			struct stat st;

			assert_int_equal(stat(fx->out, &st), 0);
			size[i] = st.st_size;
		}
	}
	/* It grew past the snapshot, then shrank below it (VACUUM). */
	assert_int_equal(n, 6);
	assert_true(size[1] > size[0]);
	assert_true(size[4] < size[0]);
	assert_true(size[5] > size[4]);
	/* The source itself, checkpointed, is the last state. */
	{
		sqlite3 *src, *dst;

		assert_int_equal(sqlite3_open(fx->db, &src), SQLITE_OK);
		assert_int_equal(sqlite3_open_v2(fx->out, &dst, SQLITE_OPEN_READONLY, NULL),
				 SQLITE_OK);
		assert_same(src, dst);
		sqlite3_close(dst);
		sqlite3_close(src);
	}
	free(ref);
	rv_sqlite_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_wal_parse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ship_restore_with_writer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_and_gap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_truncate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_db_replaced, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_outage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wal_rewound_twice, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_phantom_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wal_switch_with_open_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_snapshot_sources, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_200mib, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_segments_first, setup, teardown),
	};

	rv_log_setup(RV_LOG_WARN, RV_LOG_LOGFMT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
