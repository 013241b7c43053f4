/* test_restore.c - restore's library half against a file:// store written
 * with the C format writer: the merge of a manifest with logs (deletes of
 * folders, a folder turned file, re-creation after a delete), logs across
 * the 256-sequence LIST prefixes, a gap ending the log, --at points,
 * parent generations, a corrupt blob, a standby applying one log, and the
 * time and symlink helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include "content/apply.h"
#include "format/content.h"
#include "content/restore.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "store/store.h"
#include "engine/lease.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
	char dir[64];
	char *storedir, *out;
	struct rv_store *s;
	char gen[RV_GEN_ID_LEN];
};

static int setup(void **state)
{
	struct fx *fx = rv_calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/rv-test-restore.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->storedir = rv_asprintf("%s/store", fx->dir);
	fx->out = rv_asprintf("%s/out", fx->dir);
	assert_int_equal(mkdir(fx->storedir, 0755), 0);
	assert_int_equal(rv_test_open_file_store(fx->storedir, &fx->s), 0);
	snprintf(fx->gen, sizeof(fx->gen), "0000000000001000-00000001");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	rv_store_free(fx->s);
	rv_test_rm_rf(fx->dir);
	free(fx->storedir);
	free(fx->out);
	free(fx);
	return 0;
}

/* Entries are written from a compact text: "f path content mode mtime",
 * "d path mode mtime", "l path target", "x path" (delete). */
static void put_blob(struct fx *fx, const char *content, unsigned char sha[RV_SHA256_LEN])
{
	char key[RV_BLOB_KEY_LEN];

	rv_sha256(sha, content, strlen(content));
	rv_content_blob_key(key, sha, NULL);
	assert_int_equal(rv_store_put_buf(fx->s, key, content, strlen(content), NULL), 0);
}

/* The database position the next put_obj records (-1: none). */
static int64_t put_db_pos = -1;

static void put_obj(struct fx *fx, const char *gen, enum rv_cobj_kind kind, uint64_t seq,
		    int64_t ms, const char *const *recs)
{
	struct rv_cobj_hdr h = {.kind = kind, .from = seq, .to = seq, .time_ms = ms};

	if (put_db_pos >= 0) {
		h.has_db = true;
		h.db_pos = (uint64_t)put_db_pos;
		put_db_pos = -1;
	}
	struct rv_buf b = RV_BUF_INIT(1 << 24);
	struct rv_cobj_writer *w;
	char *key;

	memcpy(h.gen, gen, RV_GEN_ID_LEN);
	assert_int_equal(rv_cobj_writer_new(&w, &h, true, rv_cobj_sink_buf, &b), 0);
	for (; *recs; recs++) {
		char type, path[256], arg[256];
		unsigned mode = 0;
		long long mt = 0;
		struct rv_centry e = {0};
		const char *p = *recs + 2, *sp;

		/* "<t> <path>|<arg>|<mode>|<mtime>" */
		type = **recs;
		memset(path, 0, sizeof(path));
		memset(arg, 0, sizeof(arg));
		sp = strchr(p, '|');
		memcpy(path, p, sp ? (size_t)(sp - p) : strlen(p));
		if (sp) {
			const char *q = strchr(sp + 1, '|');
			memcpy(arg, sp + 1, q ? (size_t)(q - sp - 1) : strlen(sp + 1));
			if (q) {
				char *end;
				mode = (unsigned)strtoul(q + 1, &end, 8);
				if (*end == '|')
					mt = strtoll(end + 1, NULL, 10);
			}
		}
		e.path = path;
		e.mode = mode ? mode : 0644;
		e.mtime_ns = mt ? mt : 1000000000LL;
		switch (type) {
		case 'f':
			e.type = RV_CE_FILE;
			e.size = strlen(arg);
			put_blob(fx, arg, e.sha256);
			break;
		case 'd':
			e.type = RV_CE_DIR;
			e.mode = mode ? mode : 0755;
			break;
		case 'l':
			e.type = RV_CE_LINK;
			e.target = arg;
			break;
		default:
			e.type = RV_CE_DEL;
		}
		assert_int_equal(rv_cobj_writer_add(w, &e), 0);
	}
	assert_int_equal(rv_cobj_writer_finish(w), 0);
	rv_cobj_writer_free(w);
	key = kind == RV_COBJ_LOG ? rv_content_log_key(gen, seq, ms)
				  : rv_content_manifest_key(gen, seq, ms);
	assert_int_equal(rv_store_put_buf(fx->s, key, b.data, b.len, NULL), 0);
	free(key);
	rv_buf_release(&b);
}

static int restore_at(struct fx *fx, const char *gen, int64_t at, struct rv_restore_point *p)
{
	struct rv_restore_opts o = {.jobs = 4};
	struct rv_restore_stats st;
	struct rv_apply *a;
	int rc;

	rc = rv_restore_find(fx->s, gen, at, p);
	if (rc)
		return rc;
	assert_int_equal(rv_apply_open(&a, fx->s, fx->out, NULL), 0);
	rc = rv_restore_apply_point(fx->s, a, p, &o, &st);
	rv_apply_free(a);
	return rc;
}

static char *slurp(struct fx *fx, const char *rel)
{
	char *path = rv_asprintf("%s/%s", fx->out, rel), *data = NULL;
	size_t len;
	int rc = rv_read_file(path, 1 << 20, &data, &len);

	free(path);
	if (rc) {
		rv_error_clear();
		return NULL;
	}
	return data;
}

static bool exists(struct fx *fx, const char *rel, mode_t type)
{
	char *path = rv_asprintf("%s/%s", fx->out, rel);
	struct stat st;
	bool ok = lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == type;

	free(path);
	return ok;
}

static void expect_file(struct fx *fx, const char *rel, const char *content)
{
	char *got = slurp(fx, rel);

	if (!got)
		fail_msg("'%s' missing", rel);
	assert_string_equal(got, content);
	free(got);
}

static void test_merge_semantics(void **state)
{
	struct fx *fx = *state;
	struct rv_restore_point p;
	static const char *const m[] = {"d a",
					"f a/x|ax",
					"f a/y|ay",
					"f b|b",
					"d d",
					"f d/old|o",
					"f keep|k|0600|1234567890123456789",
					NULL};
	static const char *const l1[] = {"x a", "d a", "f a/z|az", NULL};    /* folder emptied */
	static const char *const l2[] = {"f c|c", "x c", NULL};		     /* created, deleted */
	static const char *const l3[] = {"f d/e|e", "f d|now a file", NULL}; /* folder -> file */
	static const char *const l4[] = {"x b", "f b|b again", "l lnk|keep", NULL};
	struct stat st;
	char *path;

	put_obj(fx, fx->gen, RV_COBJ_MANIFEST, 0, 5000, m);
	put_obj(fx, fx->gen, RV_COBJ_LOG, 1, 6000, l1);
	put_obj(fx, fx->gen, RV_COBJ_LOG, 2, 7000, l2);
	put_obj(fx, fx->gen, RV_COBJ_LOG, 3, 8000, l3);
	put_obj(fx, fx->gen, RV_COBJ_LOG, 4, 9000, l4);

	assert_int_equal(restore_at(fx, fx->gen, RV_RESTORE_LATEST, &p), 0);
	assert_int_equal(p.seq, 4);
	assert_int_equal(p.time_ms, 9000);
	assert_int_equal(p.nlogs, 4);
	rv_restore_point_release(&p);
	assert_true(exists(fx, "a", S_IFDIR));
	expect_file(fx, "a/z", "az");
	assert_false(exists(fx, "a/x", S_IFREG));
	assert_false(exists(fx, "a/y", S_IFREG));
	assert_false(exists(fx, "c", S_IFREG));
	expect_file(fx, "d", "now a file");
	expect_file(fx, "b", "b again");
	assert_true(exists(fx, "lnk", S_IFLNK));
	expect_file(fx, "keep", "k");
	path = rv_asprintf("%s/keep", fx->out);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_mtim.tv_sec, 1234567890);
	assert_int_equal(st.st_mtim.tv_nsec, 123456789);
	free(path);
	assert_false(exists(fx, ".revenant-staging", S_IFDIR));

	/* --at between log 2 and 3: d is still a folder with old. */
	assert_int_equal(restore_at(fx, fx->gen, 7500, &p), 0);
	assert_int_equal(p.seq, 2);
	rv_restore_point_release(&p);
	expect_file(fx, "d/old", "o");
	expect_file(fx, "b", "b");
	/* The manifest alone. */
	assert_int_equal(restore_at(fx, fx->gen, 5000, &p), 0);
	assert_int_equal(p.seq, 0);
	assert_int_equal(p.nlogs, 0);
	rv_restore_point_release(&p);
	expect_file(fx, "a/x", "ax");
	/* Before anything. */
	assert_int_equal(restore_at(fx, fx->gen, 4999, &p), RV_ENOTFOUND);
}

static void test_many_logs_and_gap(void **state)
{
	struct fx *fx = *state;
	struct rv_restore_point p;
	char rec[64], name[32];
	const char *recs[2] = {rec, NULL};

	/* No manifest: the log starts at 1 on an empty folder. */
	for (uint64_t seq = 1; seq <= 600; seq++) {
		snprintf(rec, sizeof(rec), "f n%03" PRIu64 "|v%" PRIu64, seq, seq);
		put_obj(fx, fx->gen, RV_COBJ_LOG, seq, 10000 + (int64_t)seq, recs);
	}
	/* 601 is missing: 602 must not be applied, and the latest point is
	 * not 600 but damaged (a gap, test_restore_gap.c has the cases). */
	snprintf(rec, sizeof(rec), "f n602|v602");
	put_obj(fx, fx->gen, RV_COBJ_LOG, 602, 20000, recs);
	assert_int_equal(rv_restore_find(fx->s, fx->gen, RV_RESTORE_LATEST, &p), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "sequence 601 is missing, 602… present"));

	if (rv_restore_find_flags(fx->s, fx->gen, RV_RESTORE_LATEST, RV_RESTORE_BEFORE_GAP, &p))
		fail_msg("%s", rv_errmsg());
	assert_null(p.manifest.key);
	assert_int_equal(p.nlogs, 600);
	assert_int_equal(p.seq, 600);
	assert_int_equal(p.gap.missing, 601);
	for (size_t i = 0; i < p.nlogs; i++)
		assert_int_equal(p.logs[i].seq, i + 1);
	rv_restore_point_release(&p);
	{
		char *k = rv_content_log_key(fx->gen, 602, 20000);

		assert_int_equal(rv_store_delete(fx->s, k), 0);
		free(k);
	}

	if (restore_at(fx, fx->gen, RV_RESTORE_LATEST, &p))
		fail_msg("%s", rv_errmsg());
	rv_restore_point_release(&p);
	for (int i = 1; i <= 600; i += 97) {
		char want[16];
		snprintf(name, sizeof(name), "n%03d", i);
		snprintf(want, sizeof(want), "v%d", i);
		expect_file(fx, name, want);
	}
	assert_false(exists(fx, "n602", S_IFREG));

	/* Exactly at a 256 boundary. */
	assert_int_equal(rv_restore_find(fx->s, fx->gen, 10000 + 256, &p), 0);
	assert_int_equal(p.seq, 256);
	rv_restore_point_release(&p);
	assert_int_equal(rv_restore_find(fx->s, fx->gen, 10000 + 257, &p), 0);
	assert_int_equal(p.seq, 257);
	rv_restore_point_release(&p);
}

static void test_lease_and_parent(void **state)
{
	struct fx *fx = *state;
	struct rv_lease_opts lo = {
	    .site = "dc", .holder = "test:1:1", .weak = true, .settle_ms = 1};
	struct rv_gen_meta meta = {.site = "dc", .epoch = 2, .created_ms = 50000};
	static const char *const m1[] = {"f both|one", "f old|old", NULL};
	static const char *const l1[] = {"f later|later", NULL};
	static const char *const l1b[] = {"f stray|after the child started", NULL};
	/* Same size as "one": a different mtime tells them apart. */
	static const char *const l2[] = {"f both|two|644|2000000000", "x old", NULL};
	char gen2[RV_GEN_ID_LEN] = "000000000000c350-00000002";
	struct rv_restore_point p;
	struct rv_lease lease;

	put_obj(fx, fx->gen, RV_COBJ_MANIFEST, 0, 40000, m1);
	put_obj(fx, fx->gen, RV_COBJ_LOG, 1, 45000, l1);
	put_obj(fx, fx->gen, RV_COBJ_LOG, 2, 55000, l1b);
	memcpy(meta.gen, gen2, RV_GEN_ID_LEN);
	meta.parent = fx->gen;
	meta.database = "none";
	assert_int_equal(rv_gen_meta_write(fx->s, &meta), 0);
	put_obj(fx, gen2, RV_COBJ_LOG, 1, 60000, l2);

	/* No lease yet. */
	assert_int_equal(rv_restore_find(fx->s, NULL, RV_RESTORE_LATEST, &p), RV_ENOTFOUND);
	assert_non_null(strstr(rv_errmsg(), "lease.json"));
	lo.gen = gen2;
	assert_int_equal(rv_lease_acquire(fx->s, &lo, &lease), 0);
	rv_lease_release(&lease);

	assert_int_equal(restore_at(fx, NULL, RV_RESTORE_LATEST, &p), 0);
	assert_string_equal(p.gen, gen2);
	assert_int_equal(p.seq, 1);
	assert_int_equal(p.nlogs, 2); /* the parent's log 1, then ours */
	rv_restore_point_release(&p);
	expect_file(fx, "both", "two");
	expect_file(fx, "later", "later");
	assert_false(exists(fx, "old", S_IFREG));
	/* The parent's commit after the child was created is not part of it. */
	assert_false(exists(fx, "stray", S_IFREG));

	/* --at before the child generation: the parent's state then. */
	assert_int_equal(restore_at(fx, NULL, 46000, &p), 0);
	rv_restore_point_release(&p);
	expect_file(fx, "both", "one");
	expect_file(fx, "old", "old");
}

static void test_corrupt_blob(void **state)
{
	struct fx *fx = *state;
	static const char *const m[] = {"f good|fine", "f sub/bad|original", NULL};
	unsigned char sha[RV_SHA256_LEN];
	char key[RV_BLOB_KEY_LEN];
	struct rv_restore_point p;

	put_obj(fx, fx->gen, RV_COBJ_MANIFEST, 0, 1000, m);
	rv_sha256(sha, "original", 8);
	rv_content_blob_key(key, sha, NULL);
	assert_int_equal(rv_store_put_buf(fx->s, key, "0riginal", 8, NULL), 0);
	assert_int_equal(restore_at(fx, fx->gen, RV_RESTORE_LATEST, &p), RV_ECORRUPT);
	rv_restore_point_release(&p);
	assert_non_null(strstr(rv_errmsg(), "file 'sub/bad' cannot be restored"));
	assert_false(exists(fx, "sub/bad", S_IFREG));
	expect_file(fx, "good", "fine");

	assert_int_equal(rv_store_delete(fx->s, key), 0);
	assert_int_equal(restore_at(fx, fx->gen, RV_RESTORE_LATEST, &p), RV_ENOTFOUND);
	rv_restore_point_release(&p);
	assert_non_null(strstr(rv_errmsg(), "missing from the store"));
}

static struct fx *hook_fx;
static int hook_rc;

static int hook(void *ud, const struct rv_cobj_hdr *h)
{
	int *seen = ud;

	(*seen)++;
	assert_int_equal(h->kind, RV_COBJ_LOG);
	assert_int_equal(h->from, 1);
	assert_true(h->has_db);
	assert_int_equal(h->db_pos, 4242);
	assert_memory_equal(h->gen, hook_fx->gen, RV_GEN_ID_LEN);
	expect_file(hook_fx, "b", "b");
	return hook_rc;
}

static int hook_seen;

static void test_apply_log(void **state)
{
	struct fx *fx = *state;
	static const char *const m[] = {"f b|b", "d dir", "f dir/a|a", NULL};
	static const char *const l1[] = {
	    "f b|b2", "x dir", "f dir|file now", "f b|b3", "d n||0700|5", "f n/x|x", NULL};
	struct rv_restore_opts o = {.jobs = 3};
	struct rv_restore_obj *logs = NULL;
	size_t nlogs = 0;
	uint64_t files, bytes;
	struct rv_restore_point p;
	struct rv_apply *a;

	put_obj(fx, fx->gen, RV_COBJ_MANIFEST, 0, 1000, m);
	assert_int_equal(restore_at(fx, fx->gen, RV_RESTORE_LATEST, &p), 0);
	rv_restore_point_release(&p);
	put_db_pos = 4242;
	put_obj(fx, fx->gen, RV_COBJ_LOG, 1, 2000, l1);
	assert_int_equal(
	    rv_restore_list_logs(fx->s, fx->gen, 1, RV_RESTORE_LATEST, &logs, &nlogs, NULL), 0);
	assert_int_equal(nlogs, 1);
	assert_int_equal(rv_apply_open(&a, fx->s, fx->out, NULL), 0);
	/* `before` sees the verified header before the folder changes, and
	 * an error from it stops the log with nothing applied. */
	hook_fx = fx;
	hook_rc = RV_ECORRUPT;
	assert_int_equal(
	    rv_restore_apply_log(fx->s, a, &logs[0], &o, hook, &hook_seen, &files, &bytes),
	    RV_ECORRUPT);
	assert_int_equal(hook_seen, 1);
	expect_file(fx, "b", "b");
	assert_false(exists(fx, "n", S_IFDIR));
	hook_rc = 0;
	assert_int_equal(
	    rv_restore_apply_log(fx->s, a, &logs[0], &o, hook, &hook_seen, &files, &bytes), 0);
	assert_int_equal(hook_seen, 2);
	rv_apply_free(a);
	assert_int_equal(files, 4);
	expect_file(fx, "b", "b3");
	expect_file(fx, "dir", "file now");
	expect_file(fx, "n/x", "x");
	free(logs[0].key);
	free(logs);
}

/* A local file, its folders made. */
static void mk(struct fx *fx, const char *rel)
{
	char *path = rv_asprintf("%s/%s", fx->out, rel);
	FILE *f;

	mkdir(fx->out, 0755);
	for (char *p = strchr(path + strlen(fx->out) + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("local", f);
	fclose(f);
	free(path);
}

static void restore_delete(struct fx *fx, const struct rv_content_opts *keep, const char *keep_path)
{
	struct rv_restore_opts o = {.jobs = 2, .delete_extra = true, .keep = keep};
	struct rv_restore_stats st;
	struct rv_restore_point p;
	struct rv_apply *a;
	char *kp = keep_path ? rv_asprintf("%s/%s", fx->out, keep_path) : NULL;

	o.keep_path = kp;
	assert_int_equal(rv_restore_find(fx->s, fx->gen, RV_RESTORE_LATEST, &p), 0);
	assert_int_equal(rv_apply_open(&a, fx->s, fx->out, NULL), 0);
	assert_int_equal(rv_restore_apply_point(fx->s, a, &p, &o, &st), 0);
	rv_apply_free(a);
	rv_restore_point_release(&p);
	free(kp);
}

/* --delete and standby remove what the store lacks, but not what
 * replicate never ships: the excluded paths and the database (with its
 * -wal and the standby's state), also inside a folder the store lacks. */
static void test_delete_keeps(void **state)
{
	struct fx *fx = *state;
	static const char *const m[] = {"f a|a", "d images", "f images/p.jpg|p", NULL};
	static const char *const gone[] = {"junk.txt", "data/notes.txt", "images/old.jpg", "other",
					   NULL};
	static const char *const stay[] = {"data/ghost.db",
					   "data/ghost.db-wal",
					   "data/ghost.db.revenant-standby",
					   "data/other.db",
					   "logs/ghost.log",
					   "images/size/w600/p.jpg",
					   NULL};
	static const char *const only_cache[] = {"cache/", NULL};
	struct rv_content_opts custom;

	put_obj(fx, fx->gen, RV_COBJ_MANIFEST, 0, 1000, m);
	for (int i = 0; stay[i]; i++)
		mk(fx, stay[i]);
	mk(fx, "junk.txt");
	mk(fx, "data/notes.txt");
	mk(fx, "images/old.jpg");
	mk(fx, "other/deep/x");
	restore_delete(fx, NULL, "data/ghost.db");
	expect_file(fx, "a", "a");
	expect_file(fx, "images/p.jpg", "p");
	for (int i = 0; gone[i]; i++)
		if (exists(fx, gone[i], S_IFREG) || exists(fx, gone[i], S_IFDIR))
			fail_msg("'%s' is still there", gone[i]);
	for (int i = 0; stay[i]; i++)
		if (!exists(fx, stay[i], S_IFREG))
			fail_msg("'%s' was removed", stay[i]);

	/* The configuration's excludes instead of the defaults; the
	 * database by its path alone. */
	rv_content_opts_default(&custom);
	custom.exclude = only_cache;
	mk(fx, "cache/c");
	restore_delete(fx, &custom, "data/ghost.db");
	assert_true(exists(fx, "cache/c", S_IFREG));
	assert_true(exists(fx, "data/ghost.db", S_IFREG));
	assert_true(exists(fx, "data/ghost.db-wal", S_IFREG));
	assert_false(exists(fx, "data/other.db", S_IFREG));
	assert_false(exists(fx, "logs", S_IFDIR));
	assert_false(exists(fx, "images/size", S_IFDIR));
	/* Without a database path, the database goes like any other file. */
	restore_delete(fx, &custom, NULL);
	assert_false(exists(fx, "data/ghost.db", S_IFREG));
	assert_true(exists(fx, "cache/c", S_IFREG));
}

static void test_time_and_links(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(rv_restore_parse_time("1767323045", &ms), 0);
	assert_int_equal(ms, 1767323045000LL);
	assert_int_equal(rv_restore_parse_time("1767323045.678", &ms), 0);
	assert_int_equal(ms, 1767323045678LL);
	assert_int_equal(rv_restore_parse_time("2026-01-02T03:04:05.678Z", &ms), 0);
	assert_int_equal(ms, 1767323045678LL);
	assert_int_equal(rv_restore_parse_time("2026-01-02T04:04:05.678123+01:00", &ms), 0);
	assert_int_equal(ms, 1767323045678LL);
	assert_int_equal(rv_restore_parse_time("2026-01-02 03:04:05z", &ms), 0);
	assert_int_equal(ms, 1767323045000LL);
	assert_int_equal(rv_restore_parse_time("2026-01-02T03:04:05", &ms), RV_EUSAGE);
	assert_int_equal(rv_restore_parse_time("2026-13-02T03:04:05Z", &ms), RV_EUSAGE);
	assert_int_equal(rv_restore_parse_time("1e9", &ms), RV_EUSAGE);
	assert_int_equal(rv_restore_parse_time("", &ms), RV_EUSAGE);
	assert_int_equal(rv_restore_parse_time("12.", &ms), RV_EUSAGE);

	assert_true(rv_apply_link_inside("themes/current", "casper"));
	assert_true(rv_apply_link_inside("a/b/l", "../../x"));
	/* ".." after a name climbs from wherever that name (maybe a link) led. */
	assert_false(rv_apply_link_inside("a/l", "./b/../c"));
	assert_true(rv_apply_link_inside("a/l", "./../c"));
	assert_false(rv_apply_link_inside("a/b/l", "../../../x"));
	assert_false(rv_apply_link_inside("l", "/etc/passwd"));
	assert_false(rv_apply_link_inside("l", "."));
	assert_false(rv_apply_link_inside("a/l", ".."));
	assert_false(rv_apply_link_inside("l", "x/../../y"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_merge_semantics, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_logs_and_gap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lease_and_parent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_blob, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_apply_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_keeps, setup, teardown),
	    cmocka_unit_test(test_time_and_links),
	};

	rv_log_setup(RV_LOG_ERROR, RV_LOG_LOGFMT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
