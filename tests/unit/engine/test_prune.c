/* test_prune.c - retention (engine/prune.h) against a file store, with
 * objects written through the format's own writer and times chosen around
 * the cutoff C = now - retention:
 *
 *   old generation (not the lease's, every point before C) -> goes whole;
 *   the lease's generation: logs 1-2, a manifest cut at 2, logs 3-5 with
 *   log 3 the point covering C -> the manifest is the base, logs 1-2 go,
 *   logs 3-5 stay; a database snapshot at 0 and one at the base, segments
 *   before the second one go;
 *   blobs: one named only by a log that goes and by nothing kept -> swept
 *   when old, one named by the manifest -> kept, one named by log 4 ->
 *   kept, one unnamed but within the grace -> kept.
 *
 * Checks: dry run and real run count the same; every point at or after C
 * and the state at C still restore; a second run removes nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include "format/content.h"
#include "content/restore.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "engine/lease.h"
#include "engine/prune.h"
#include "format/layout.h"
#include "store/store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OLD "0000000000001000-00000001"
#define CUR "0000000000100000-00000002"

#define MIN_MS	  60000LL
#define RETENTION (60 * MIN_MS)

struct fx {
	char dir[64];
	struct rv_store *s;
	int64_t now, cut; /* cut = now - RETENTION */
	unsigned char blob[4][RV_SHA256_LEN];
};

static int setup(void **state)
{
	struct fx *fx = rv_calloc(1, sizeof(*fx));

	rv_log_setup(RV_LOG_ERROR, RV_LOG_LOGFMT);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/rv-test-prune.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	assert_int_equal(rv_test_open_file_store(fx->dir, &fx->s), 0);
	fx->now = rv_now_ms();
	fx->cut = fx->now - RETENTION;
	for (int i = 0; i < 4; i++) {
		char name[8];

		snprintf(name, sizeof(name), "blob%d", i);
		rv_sha256(fx->blob[i], name, strlen(name));
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	rv_store_free(fx->s);
	rv_test_rm_rf(fx->dir);
	free(fx);
	return 0;
}

/* A blob in the store, its file's time set to `ms`. */
static void blob(struct fx *fx, int i, int64_t ms)
{
	char key[RV_BLOB_KEY_LEN], *path;
	struct timespec ts[2];

	rv_content_blob_key(key, fx->blob[i], NULL);
	assert_int_equal(rv_store_put_buf(fx->s, key, "b", 1, NULL), 0);
	path = rv_asprintf("%s/%s", fx->dir, key);
	ts[0].tv_sec = ts[1].tv_sec = ms / 1000;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	free(path);
}

/* One content object; `b` >= 0 names that blob as file "f<b>". */
static void cobj(struct fx *fx, const char *gen, enum rv_cobj_kind kind, uint64_t seq, int64_t ms,
		 int b, uint64_t db_pos)
{
	struct rv_cobj_hdr h = {
	    .kind = kind, .from = seq, .to = seq, .time_ms = ms, .has_db = true, .db_pos = db_pos};
	struct rv_centry d = {.type = RV_CE_DIR, .path = "d", .mode = 0755, .mtime_ns = 1};
	struct rv_centry f = {.type = RV_CE_FILE, .size = 1, .mode = 0644, .mtime_ns = 1};
	struct rv_buf buf = RV_BUF_INIT(1 << 16);
	struct rv_cobj_writer *w;
	char path[16], *key;

	memcpy(h.gen, gen, RV_GEN_ID_LEN);
	assert_int_equal(rv_cobj_writer_new(&w, &h, true, rv_cobj_sink_buf, &buf), 0);
	assert_int_equal(rv_cobj_writer_add(w, &d), 0);
	if (b >= 0) {
		snprintf(path, sizeof(path), "d/f%d", b);
		f.path = path;
		memcpy(f.sha256, fx->blob[b], RV_SHA256_LEN);
		assert_int_equal(rv_cobj_writer_add(w, &f), 0);
	}
	assert_int_equal(rv_cobj_writer_finish(w), 0);
	rv_cobj_writer_free(w);
	key = kind == RV_COBJ_LOG ? rv_content_log_key(gen, seq, ms)
				  : rv_content_manifest_key(gen, seq, ms);
	assert_int_equal(rv_store_put_buf(fx->s, key, buf.data, buf.len, NULL), 0);
	free(key);
	rv_buf_release(&buf);
}

/* A database object: only its name counts for the plan. */
static void dbobj(struct fx *fx, enum rv_dbobj_kind kind, uint64_t from, uint64_t to, int64_t ms)
{
	char *key = kind == RV_DBOBJ_LOG ? rv_dbobj_log_key(CUR, from, to, ms)
					 : rv_dbobj_snapshot_key(CUR, from, ms);

	assert_int_equal(rv_store_put_buf(fx->s, key, "x", 1, NULL), 0);
	free(key);
}

static void meta(struct fx *fx, const char *gen, int64_t created)
{
	struct rv_gen_meta m = {
	    .site = "dc", .epoch = 1, .created_ms = created, .database = "sqlite"};

	memcpy(m.gen, gen, RV_GEN_ID_LEN);
	assert_int_equal(rv_gen_meta_write(fx->s, &m), 0);
}

static void build(struct fx *fx)
{
	char holder[128];
	struct rv_lease_opts lo = {.site = "dc", .gen = CUR};
	struct rv_lease l;
	int64_t c = fx->cut;

	/* The old generation: everything hours before C. */
	meta(fx, OLD, c - 300 * MIN_MS);
	cobj(fx, OLD, RV_COBJ_LOG, 1, c - 290 * MIN_MS, 0, 10);
	cobj(fx, OLD, RV_COBJ_LOG, 2, c - 280 * MIN_MS, -1, 20);

	/* The lease's generation. */
	meta(fx, CUR, c - 100 * MIN_MS);
	cobj(fx, CUR, RV_COBJ_LOG, 1, c - 90 * MIN_MS, 0, 100);
	cobj(fx, CUR, RV_COBJ_LOG, 2, c - 80 * MIN_MS, 1, 200);
	cobj(fx, CUR, RV_COBJ_MANIFEST, 2, c - 70 * MIN_MS, 1, 200);
	cobj(fx, CUR, RV_COBJ_LOG, 3, c - 10 * MIN_MS, -1, 300); /* covers C */
	cobj(fx, CUR, RV_COBJ_LOG, 4, c + 10 * MIN_MS, 2, 400);
	cobj(fx, CUR, RV_COBJ_LOG, 5, c + 20 * MIN_MS, -1, 500);
	dbobj(fx, RV_DBOBJ_SNAPSHOT, 0, 0, c - 100 * MIN_MS);
	dbobj(fx, RV_DBOBJ_LOG, 0, 100, c - 90 * MIN_MS);
	dbobj(fx, RV_DBOBJ_LOG, 100, 200, c - 80 * MIN_MS);
	dbobj(fx, RV_DBOBJ_SNAPSHOT, 200, 200, c - 70 * MIN_MS);
	dbobj(fx, RV_DBOBJ_LOG, 200, 300, c - 10 * MIN_MS);
	dbobj(fx, RV_DBOBJ_LOG, 300, 400, c + 10 * MIN_MS);
	dbobj(fx, RV_DBOBJ_LOG, 400, 500, c + 20 * MIN_MS);

	blob(fx, 0, c - 95 * MIN_MS);	   /* named by OLD/1 and CUR/1 only: swept */
	blob(fx, 1, c - 85 * MIN_MS);	   /* named by the manifest: kept */
	blob(fx, 2, c + 5 * MIN_MS);	   /* named by log 4: kept */
	blob(fx, 3, fx->now - 5 * MIN_MS); /* named by nothing, within the grace */

	rv_lease_holder_id(holder, sizeof(holder));
	lo.holder = holder;
	assert_int_equal(rv_lease_acquire(fx->s, &lo, &l), 0);
	rv_lease_release(&l);
}

static bool exists(struct fx *fx, char *key)
{
	char *path = rv_asprintf("%s/%s", fx->dir, key);
	bool yes = access(path, F_OK) == 0;

	free(path);
	free(key);
	return yes;
}

static bool blob_exists(struct fx *fx, int i)
{
	char key[RV_BLOB_KEY_LEN];

	rv_content_blob_key(key, fx->blob[i], NULL);
	return exists(fx, rv_strdup(key));
}

static void expect_point(struct fx *fx, int64_t at, uint64_t seq)
{
	struct rv_restore_point p;

	if (rv_restore_find(fx->s, CUR, at, &p))
		fail_msg("%s", rv_errmsg());
	assert_int_equal(p.seq, seq);
	rv_restore_point_release(&p);
}

static void test_plan_and_run(void **state)
{
	struct fx *fx = *state;
	struct rv_prune_opts o = {.retention_ms = RETENTION, .now_ms = fx->now};
	struct rv_prune_stats dry, st;
	int64_t c = fx->cut;

	build(fx);
	o.dry_run = true;
	assert_int_equal(rv_prune_run(fx->s, &o, &dry), 0);
	assert_int_equal(dry.cutoff_ms, c);
	assert_int_equal(dry.removed[RV_PRUNE_GENERATIONS].count, 1);
	assert_int_equal(dry.removed[RV_PRUNE_MANIFESTS].count, 0);
	assert_int_equal(dry.removed[RV_PRUNE_LOGS].count, 2);
	assert_int_equal(dry.removed[RV_PRUNE_DB_SNAPSHOTS].count, 1);
	assert_int_equal(dry.removed[RV_PRUNE_DB_SEGMENTS].count, 2);
	assert_int_equal(dry.removed[RV_PRUNE_BLOBS].count, 1);
	assert_int_equal(dry.generations_kept, 1);
	assert_int_equal(dry.blobs_young, 1);
	assert_false(dry.blobs_skipped);
	/* a dry run deletes nothing */
	assert_true(exists(fx, rv_content_log_key(CUR, 1, c - 90 * MIN_MS)));
	assert_true(exists(fx, rv_asprintf("generations/%s/meta.json", OLD)));
	assert_true(blob_exists(fx, 0));

	o.dry_run = false;
	assert_int_equal(rv_prune_run(fx->s, &o, &st), 0);
	for (int k = 0; k < RV_PRUNE_NCAT; k++)
		assert_int_equal(st.removed[k].count, dry.removed[k].count);
	assert_false(exists(fx, rv_asprintf("generations/%s/meta.json", OLD)));
	assert_false(exists(fx, rv_content_log_key(OLD, 1, c - 290 * MIN_MS)));
	assert_false(exists(fx, rv_content_log_key(CUR, 1, c - 90 * MIN_MS)));
	assert_false(exists(fx, rv_content_log_key(CUR, 2, c - 80 * MIN_MS)));
	assert_true(exists(fx, rv_content_manifest_key(CUR, 2, c - 70 * MIN_MS)));
	assert_true(exists(fx, rv_content_log_key(CUR, 3, c - 10 * MIN_MS)));
	assert_false(exists(fx, rv_dbobj_snapshot_key(CUR, 0, c - 100 * MIN_MS)));
	assert_false(exists(fx, rv_dbobj_log_key(CUR, 100, 200, c - 80 * MIN_MS)));
	assert_true(exists(fx, rv_dbobj_snapshot_key(CUR, 200, c - 70 * MIN_MS)));
	assert_true(exists(fx, rv_dbobj_log_key(CUR, 200, 300, c - 10 * MIN_MS)));
	assert_false(blob_exists(fx, 0));
	assert_true(blob_exists(fx, 1));
	assert_true(blob_exists(fx, 2));
	assert_true(blob_exists(fx, 3));

	/* the state at C and every point after it still restore */
	expect_point(fx, c, 3);
	expect_point(fx, c + 15 * MIN_MS, 4);
	expect_point(fx, RV_RESTORE_LATEST, 5);

	/* a second run has nothing left to do */
	assert_int_equal(rv_prune_run(fx->s, &o, &st), 0);
	for (int k = 0; k < RV_PRUNE_NCAT; k++)
		assert_int_equal(st.removed[k].count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_plan_and_run, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
