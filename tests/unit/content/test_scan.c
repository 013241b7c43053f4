/* test_scan.c - the sorted folder walk against a real temporary tree. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include "content/content.h"
#include "format/content.h"
#include "content/scan.h"
#include "core/mem.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64], outside[64];

static void mk(const char *rel)
{
	char *p = rv_asprintf("%s/%s", root, rel);

	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
}

static void put(const char *rel, const char *data)
{
	char *p = rv_asprintf("%s/%s", root, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
	free(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/rv-test-scan-XXXXXX");
	snprintf(outside, sizeof(outside), "/tmp/rv-test-scan-out-XXXXXX");
	if (!mkdtemp(root) || !mkdtemp(outside))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rv_test_rm_rf(root);
	rv_test_rm_rf(outside);
	return 0;
}

static void test_sorted_walk(void **state)
{
	/* What the walk must give, in manifest order (a folder before its
	 * contents, "a/…" before "a.txt"). */
	static const char *const want[] = {
	    "a",
	    "a/b",
	    "a/b/deep.txt",
	    "a/z",
	    "a.txt",
	    "data",
	    "data/redirects.yaml",
	    "images",
	    "images/2024",
	    "images/2024/new\nline.jpg",
	    "images/2024/photo one.jpg",
	    "images/2024/ünï.png",
	    "link-out",
	    "themes",
	    "themes/casper",
	    "themes/casper/index.hbs",
	};
	struct rv_content_opts o;
	struct rv_scan *s;
	const struct rv_centry *e;
	size_t i = 0;
	char *p;

	(void)state;
	rv_content_opts_default(&o);
	o.root = root;
	mk("a");
	mk("a/b");
	put("a/b/deep.txt", "deep");
	put("a/z", "z");
	put("a.txt", "a");
	mk("data");
	put("data/ghost.db", "sqlite");
	put("data/ghost.db-wal", "wal");
	put("data/redirects.yaml", "[]");
	mk("logs");
	put("logs/ghost.log", "log");
	mk("images");
	mk("images/2024");
	put("images/2024/photo one.jpg", "jpg");
	put("images/2024/new\nline.jpg", "nl");
	put("images/2024/ünï.png", "png");
	mk("images/size"); /* excluded by default, with all it holds */
	put("images/size/x", "x");
	mk("themes");
	mk("themes/casper");
	put("themes/casper/index.hbs", "hbs");
	/* A symlink to a folder outside: reported as a link, never followed. */
	p = rv_asprintf("%s/secret", outside);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = rv_asprintf("%s/link-out", root);
	assert_int_equal(symlink(outside, p), 0);
	free(p);
	p = rv_asprintf("%s/fifo", root);
	assert_int_equal(mkfifo(p, 0600), 0); /* not content: skipped */
	free(p);

	assert_int_equal(rv_scan_open(&s, &o), 0);
	for (;;) {
		assert_int_equal(rv_scan_next(s, &e), 0);
		if (!e)
			break;
		if (!strcmp(e->path, "images/size"))
			fail_msg("excluded folder images/size was walked");
		assert_true(i < sizeof(want) / sizeof(*want));
		assert_string_equal(e->path, want[i]);
		if (!strcmp(e->path, "link-out")) {
			assert_int_equal(e->type, RV_CE_LINK);
			assert_string_equal(e->target, outside);
		}
		if (!strcmp(e->path, "a/b/deep.txt")) {
			assert_int_equal(e->type, RV_CE_FILE);
			assert_int_equal(e->size, 4);
			assert_int_equal(e->mode, 0644);
		}
		if (!strcmp(e->path, "images"))
			assert_int_equal(e->type, RV_CE_DIR);
		i++;
	}
	assert_int_equal(i, sizeof(want) / sizeof(*want));
	assert_int_equal(rv_scan_unreadable(s), 0);
	rv_scan_free(s);
}

/* The walk's order is the manifest order: a manifest writer accepts it. */
static void test_walk_feeds_manifest(void **state)
{
	struct rv_cobj_hdr h = {.kind = RV_COBJ_MANIFEST, .from = 1, .to = 1, .time_ms = 1};
	struct rv_buf out = RV_BUF_INIT(1 << 20);
	struct rv_content_opts o;
	struct rv_cobj_writer *w;
	struct rv_scan *s;
	const struct rv_centry *e;
	char name[32];

	(void)state;
	rv_content_opts_default(&o);
	o.root = root;
	memcpy(h.gen, "0000019a3c5e7f10-3fa9c2d1", RV_GEN_ID_LEN);
	/* Names that sort differently bytewise and segment-wise. */
	mk("x");
	mk("x-y");
	mk("x/y");
	put("x.txt", "1");
	put("x/y/z", "2");
	put("x-y/0", "3");
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "x/f%03d", 299 - i);
		put(name, "n");
	}
	assert_int_equal(rv_cobj_writer_new(&w, &h, true, rv_cobj_sink_buf, &out), 0);
	assert_int_equal(rv_scan_open(&s, &o), 0);
	for (;;) {
		assert_int_equal(rv_scan_next(s, &e), 0);
		if (!e)
			break;
		assert_int_equal(rv_cobj_writer_add(w, e), 0);
	}
	assert_int_equal(rv_cobj_writer_count(w), 3 + 3 + 300);
	assert_int_equal(rv_cobj_writer_finish(w), 0);
	rv_cobj_writer_free(w);
	rv_scan_free(s);
	rv_buf_release(&out);
}

static void test_missing_folder(void **state)
{
	struct rv_content_opts o;
	struct rv_scan *s;
	char *p;

	(void)state;
	rv_content_opts_default(&o);
	o.root = "/nonexistent/rv-content";
	assert_int_equal(rv_scan_open(&s, &o), RV_ENOTFOUND);
	assert_non_null(strstr(rv_errmsg(), "/nonexistent/rv-content"));
	p = rv_asprintf("%s/file", root);
	put("file", "x");
	o.root = p;
	assert_int_equal(rv_scan_open(&s, &o), RV_EUSAGE);
	free(p);
}

static void test_globs(void **state)
{
	static const char *const ex[] = {"logs/", "data/*.db", "**/.DS_Store", "tmp", NULL};
	static const char *const inc[] = {"data/keep.db", NULL};
	struct rv_content_opts o;

	(void)state;
	rv_content_opts_default(&o);
	o.root = "/x";
	assert_true(rv_content_excluded(&o, "logs", true));
	assert_false(rv_content_excluded(&o, "logs", false)); /* a file named logs */
	assert_false(rv_content_excluded(&o, "themes/logs", true));
	assert_true(rv_content_excluded(&o, "images/size", true));
	assert_false(rv_content_excluded(&o, "images/sizes", true));
	assert_true(rv_content_excluded(&o, "data/ghost.db", false));
	assert_true(rv_content_excluded(&o, "data/ghost.db-wal", false));
	assert_true(rv_content_excluded(&o, "data/ghost-test.db-journal", false));
	assert_false(rv_content_excluded(&o, "data/sub/ghost.db", false));
	assert_false(rv_content_excluded(&o, "data/redirects.json", false));
	o.exclude = ex;
	o.include = inc;
	assert_int_equal(rv_content_opts_check(&o), 0);
	assert_true(rv_content_excluded(&o, "a/b/.DS_Store", false));
	assert_true(rv_content_excluded(&o, ".DS_Store", false));
	assert_true(rv_content_excluded(&o, "tmp", true));
	assert_false(rv_content_excluded(&o, "a/tmp", true)); /* anchored */
	assert_false(rv_content_excluded(&o, "data/keep.db", false));
	assert_false(rv_content_excluded(&o, "images/size", true)); /* defaults replaced */
	/* The database inside the folder stays out whatever include says. */
	{
		static const char *const inc_db[] = {"data/ghost.db", "data/*", NULL};

		o.include = inc_db;
		o.always_exclude = "data/ghost.db";
		assert_true(rv_content_excluded(&o, "data/ghost.db", false));
		assert_true(rv_content_excluded(&o, "data/ghost.db-wal", false));
		assert_true(rv_content_excluded(&o, "data/ghost.db.revenant-standby", false));
		assert_false(rv_content_excluded(&o, "data/ghost.dbx", false));
		assert_false(rv_content_excluded(&o, "data/ghost.db", true));
		assert_false(rv_content_excluded(&o, "data/ghost", false));
		o.always_exclude = NULL;
		o.include = inc;
	}
	{
		static const char *const bad[] = {"/abs", NULL};
		static const char *const dots[] = {"a/../b", NULL};

		o.exclude = bad;
		assert_int_equal(rv_content_opts_check(&o), RV_EUSAGE);
		o.exclude = dots;
		assert_int_equal(rv_content_opts_check(&o), RV_EUSAGE);
	}
}

static void test_rel_under(void **state)
{
	char *rel, *p;

	(void)state;
	mk("data");
	p = rv_asprintf("%s/data/ghost.db", root);
	rel = rv_content_rel_under(root, p);
	assert_string_equal(rel, "data/ghost.db");
	free(rel);
	free(p);
	p = rv_asprintf("%s/data/../ghost.db", root); /* resolved, file absent */
	rel = rv_content_rel_under(root, p);
	assert_string_equal(rel, "ghost.db");
	free(rel);
	free(p);
	p = rv_asprintf("%s/../elsewhere.db", root);
	assert_null(rv_content_rel_under(root, p));
	free(p);
	p = rv_asprintf("%s/nofolder/ghost.db", root);
	assert_null(rv_content_rel_under(root, p));
	free(p);
	rel = rv_content_rel_under("/", "/tmp/ghost.db");
	assert_string_equal(rel, "tmp/ghost.db");
	free(rel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_sorted_walk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_walk_feeds_manifest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_folder, setup, teardown),
	    cmocka_unit_test(test_globs),
	    cmocka_unit_test_setup_teardown(test_rel_under, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
