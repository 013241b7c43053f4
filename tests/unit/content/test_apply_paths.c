/* test_apply_paths.c - the safe-open walk of content/apply.c against hostile
 * paths and what is already on disk: a chain of restored links that would
 * lead a later link out of the folder (issue 9), links pointing out
 * directly or absolutely, "..", ".", empty and trailing-slash paths, a
 * folder replaced by a symlink before the restore writes under it, a
 * symlink already in the folder that a new link would pass through, and
 * "%2E%2E" taken literally.  After every case nothing beside the target
 * has changed (a canary tree beside it is snapshotted before and compared
 * after) and every symlink in the target resolves inside it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include "content/apply.h"
#include "format/content.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
	char dir[64];
	char *storedir, *out, *canary;
	char *snap; /* the canary tree before the case */
	struct rv_store *s;
	struct rv_apply *a;
};

/* ---- a snapshot of a tree: one line per entry, links not followed ---- */

static struct rv_buf *snap_buf;
static size_t snap_root_len;

static int snap_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	char tgt[PATH_MAX] = "";
	unsigned char sha[RV_SHA256_LEN];
	char hex[RV_SHA256_HEX] = "";

	(void)flag;
	(void)f;
	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlink(p, tgt, sizeof(tgt) - 1);
		tgt[n > 0 ? n : 0] = '\0';
	} else if (S_ISREG(st->st_mode)) {
		int fd = open(p, O_RDONLY | O_NOFOLLOW);
		uint64_t size;

		if (fd != -1 && !rv_sha256_fd(sha, fd, &size))
			rv_hex(hex, sha, RV_SHA256_LEN);
		if (fd != -1)
			close(fd);
	}
	return rv_buf_addf(snap_buf, "%s %o %lld %lld.%09ld %s %s\n", p + snap_root_len,
			   (unsigned)st->st_mode, (long long)st->st_size,
			   (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, tgt, hex);
}

static char *snapshot(const char *dir)
{
	struct rv_buf b = RV_BUF_INIT(1 << 20);
	char *s;

	snap_buf = &b;
	snap_root_len = strlen(dir);
	assert_int_equal(nftw(dir, snap_one, 16, FTW_PHYS), 0);
	assert_int_equal(rv_buf_addstr(&b, ""), 0);
	s = rv_strdup(b.data);
	rv_buf_release(&b);
	return s;
}

/* Every symlink under `dir` that resolves at all resolves inside `dir`. */
static char *inside_root;
static int inside_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	char *real;

	(void)flag;
	(void)f;
	if (!S_ISLNK(st->st_mode))
		return 0;
	real = realpath(p, NULL);
	if (real) {
		size_t n = strlen(inside_root);
		if (strncmp(real, inside_root, n) || real[n] != '/') {
			fprintf(stderr, "symlink '%s' resolves to '%s', outside '%s'\n", p, real,
				inside_root);
			free(real);
			return 1;
		}
		free(real);
	}
	return 0;
}

static void assert_all_inside(struct fx *fx)
{
	inside_root = realpath(fx->out, NULL);
	assert_non_null(inside_root);
	assert_int_equal(nftw(fx->out, inside_one, 16, FTW_PHYS), 0);
	free(inside_root);
	inside_root = NULL;
}

/* ---- fixture ---------------------------------------------------------------- */

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	struct fx *fx = rv_calloc(1, sizeof(*fx));
	char *p;

	rv_log_setup(RV_LOG_ERROR, RV_LOG_LOGFMT);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/rv-test-apply-paths.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->storedir = rv_asprintf("%s/store", fx->dir);
	fx->out = rv_asprintf("%s/w/x/y/out", fx->dir);
	fx->canary = rv_asprintf("%s/w/canary", fx->dir);
	assert_int_equal(mkdir(fx->storedir, 0755), 0);
	assert_int_equal(rv_test_open_file_store(fx->storedir, &fx->s), 0);
	assert_int_equal(rv_mkdirs(fx->canary), 0);
	p = rv_asprintf("%s/secret", fx->canary);
	write_file(p, "canary\n");
	free(p);
	p = rv_asprintf("%s/sub", fx->canary);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = rv_asprintf("%s/sub/victim", fx->canary);
	write_file(p, "victim\n");
	free(p);
	assert_int_equal(rv_apply_open(&fx->a, fx->s, fx->out, NULL), 0);
	/* Everything beside the target: the canary, and w/x/y's other
	 * entries (none). */
	fx->snap = snapshot(fx->canary);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char *after = snapshot(fx->canary);
	static const char *const above[] = {"", "/w", "/w/x", "/w/x/y"};

	/* Nothing outside the target changed, whatever the case did. */
	assert_string_equal(after, fx->snap);
	free(after);
	for (size_t i = 0; i < sizeof(above) / sizeof(above[0]); i++) {
		struct stat st;
		char *p = rv_asprintf("%s%s/escape", fx->dir, above[i]);

		assert_int_not_equal(lstat(p, &st), 0);
		free(p);
	}
	assert_all_inside(fx);
	rv_apply_free(fx->a);
	rv_store_free(fx->s);
	rv_test_rm_rf(fx->dir);
	free(fx->storedir);
	free(fx->out);
	free(fx->canary);
	free(fx->snap);
	free(fx);
	return 0;
}

static struct rv_centry link_e(const char *path, const char *target)
{
	return (struct rv_centry){
	    .type = RV_CE_LINK, .path = path, .target = target, .mtime_ns = 1000000000};
}

static struct rv_centry dir_e(const char *path)
{
	return (struct rv_centry){
	    .type = RV_CE_DIR, .path = path, .mode = 0755, .mtime_ns = 1000000000};
}

static struct rv_centry file_e(struct fx *fx, const char *path, const char *content)
{
	struct rv_centry e = {.type = RV_CE_FILE,
			      .path = path,
			      .mode = 0644,
			      .mtime_ns = 1000000000,
			      .size = strlen(content)};
	char key[RV_BLOB_KEY_LEN];

	rv_sha256(e.sha256, content, strlen(content));
	rv_content_blob_key(key, e.sha256, NULL);
	assert_int_equal(rv_store_put_buf(fx->s, key, content, strlen(content), NULL), 0);
	return e;
}

static bool exists_in(struct fx *fx, const char *rel)
{
	struct stat st;
	char *p = rv_asprintf("%s/%s", rv_apply_root(fx->a), rel);
	bool r = lstat(p, &st) == 0;

	free(p);
	return r;
}

/* ---- cases ------------------------------------------------------------------ */

/* Issue 9: each link's text looks inside on its own, but the second one
 * passes through the first, and ".." then climbs from where the first
 * led, not from where the text says. */
static void test_chained_links(void **state)
{
	struct fx *fx = *state;
	enum rv_apply_result res;
	struct rv_centry e;

	/* s -> d: inside, and legitimate. */
	e = link_e("d/e/f/g/h/s", "../../../..");
	assert_int_equal(rv_apply_link(fx->a, &e, &res), 0);
	assert_int_equal(res, RV_APPLIED);
	/* Textually 6 down and 5 up; really d's parent (the target) and then
	 * four more levels up: the canary beside it, then /etc. */
	e = link_e("t", "d/e/f/g/h/s/../../../../../../canary/secret");
	assert_int_equal(rv_apply_link(fx->a, &e, &res), 0);
	assert_int_equal(res, RV_APPLY_SKIP);
	assert_false(exists_in(fx, "t"));
	e = link_e("passwd", "d/e/f/g/h/s/../../../../../../../../../../../../etc/passwd");
	assert_int_equal(rv_apply_link(fx->a, &e, &res), 0);
	assert_int_equal(res, RV_APPLY_SKIP);
	assert_false(exists_in(fx, "passwd"));
	/* The issue's own exploit: a link path with ".." is corrupt. */
	e = link_e("p1/../p8/s", "../../../../../../../../t");
	assert_int_equal(rv_apply_link(fx->a, &e, &res), RV_ECORRUPT);
	e = link_e("passwd", "p1/../p8/s/../../../../../../../etc/passwd");
	assert_int_equal(rv_apply_link(fx->a, &e, &res), 0);
	assert_int_equal(res, RV_APPLY_SKIP);
	/* A chain that only descends stays inside and is restored. */
	e = link_e("u", "d/e/f/g/h/s/x");
	assert_int_equal(rv_apply_link(fx->a, &e, &res), 0);
	assert_int_equal(res, RV_APPLIED);
}

static void test_links_out(void **state)
{
	struct fx *fx = *state;
	enum rv_apply_result res;
	static const char *const bad[][2] = {
	    {"l", "/etc/passwd"},
	    {"l", "/"},
	    {"a/l", "../../x"},
	    {"a/l", ".."},
	    {"l", "."},
	    {"l", "./"},
	    {"l", "x/.."},
	    {"a/b/l", "../x/../../y"},
	    {"l", "x/../../canary"},
	    {"a/l", "./../../escape"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rv_centry e = link_e(bad[i][0], bad[i][1]);

		assert_int_equal(rv_apply_link(fx->a, &e, &res), 0);
		assert_int_equal(res, RV_APPLY_SKIP);
		assert_false(exists_in(fx, bad[i][0]));
	}
}

/* Malformed paths are refused before anything is opened, by every call. */
static void test_bad_paths(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = {
	    "../escape",
	    "../../../canary/secret",
	    "a/../../escape",
	    "a/./b",
	    "./a",
	    "a//b",
	    "/tmp/escape",
	    "a/",
	    "a/b/",
	    "",
	    ".",
	    "..",
	    ".revenant-staging/x",
	};
	enum rv_apply_result res;
	uint64_t bytes;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rv_centry f = file_e(fx, bad[i], "hostile\n");
		struct rv_centry d = dir_e(bad[i]);
		struct rv_centry l = link_e(bad[i], "x");

		assert_int_equal(rv_apply_file(fx->a, &f, &res, &bytes), RV_ECORRUPT);
		assert_int_equal(rv_apply_dir(fx->a, &d, true), RV_ECORRUPT);
		assert_int_equal(rv_apply_link(fx->a, &l, &res), RV_ECORRUPT);
		assert_int_equal(rv_apply_remove(fx->a, bad[i]), RV_ECORRUPT);
		assert_int_equal(rv_apply_dir_finish(fx->a, bad[i], 0755, 0), RV_ECORRUPT);
	}
	assert_false(exists_in(fx, "a"));
}

/* "%2E%2E" is a name like any other: apply gets decoded paths and never
 * decodes again. */
static void test_percent_literal(void **state)
{
	struct fx *fx = *state;
	enum rv_apply_result res;
	uint64_t bytes;
	struct rv_centry f = file_e(fx, "%2E%2E/%2e%2e/x", "literal\n");
	struct rv_centry l = link_e("%2E%2E/l", "%2E%2E");

	assert_int_equal(rv_apply_file(fx->a, &f, &res, &bytes), 0);
	assert_true(exists_in(fx, "%2E%2E/%2e%2e/x"));
	assert_int_equal(rv_apply_link(fx->a, &l, &res), 0);
	assert_int_equal(res, RV_APPLIED);
	assert_int_equal(rv_apply_remove(fx->a, "%2E%2E"), 0);
	assert_false(exists_in(fx, "%2E%2E"));
}

/* Folders replaced by symlinks to the canary before the restore writes,
 * removes or sets modes under them: nothing is followed. */
static void test_folder_became_symlink(void **state)
{
	struct fx *fx = *state;
	enum rv_apply_result res;
	uint64_t bytes;
	char *p;
	struct rv_centry f = file_e(fx, "sub/secret", "overwritten\n");
	struct rv_centry d = dir_e("sub2/dir");
	struct rv_centry l = link_e("sub3/l", "x");
	struct rv_centry top = dir_e("sub4");

	static const char *const names[] = {"sub", "sub2", "sub3", "sub4", "sub5", "sub6"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		p = rv_asprintf("%s/%s", rv_apply_root(fx->a), names[i]);
		assert_int_equal(symlink(fx->canary, p), 0);
		free(p);
	}
	/* Removes and mode changes through the link fail or do nothing. */
	assert_int_equal(rv_apply_remove(fx->a, "sub5/secret"), 0);
	assert_int_equal(rv_apply_remove(fx->a, "sub5/sub/victim"), 0);
	assert_int_not_equal(rv_apply_dir_finish(fx->a, "sub6", 0700, 0), 0);
	assert_int_not_equal(rv_apply_dir_finish(fx->a, "sub6/sub", 0700, 0), 0);
	/* Writes replace the link by a real folder. */
	assert_int_equal(rv_apply_file(fx->a, &f, &res, &bytes), 0);
	assert_int_equal(rv_apply_dir(fx->a, &d, true), 0);
	assert_int_equal(rv_apply_link(fx->a, &l, &res), 0);
	assert_int_equal(rv_apply_dir(fx->a, &top, true), 0);
	for (size_t i = 0; i < 4; i++) {
		struct stat st;

		p = rv_asprintf("%s/%s", rv_apply_root(fx->a), names[i]);
		assert_int_equal(lstat(p, &st), 0);
		if (!S_ISDIR(st.st_mode))
			fail_msg("'%s' is not a folder", names[i]);
		free(p);
	}
	/* The removal through sub5 removed the link itself, not the file. */
	assert_int_equal(rv_apply_remove(fx->a, "sub5"), 0);
	assert_false(exists_in(fx, "sub5"));
	assert_int_equal(rv_apply_remove(fx->a, "sub6"), 0);
	assert_false(exists_in(fx, "sub6"));
}

/* A path that is a link at one point and a folder or file at a later
 * one: the link is replaced, never written through. */
static void test_link_then_folder(void **state)
{
	struct fx *fx = *state;
	enum rv_apply_result res;
	uint64_t bytes;
	struct rv_centry l = link_e("x", "d");
	struct rv_centry dd = dir_e("d");
	struct rv_centry f = file_e(fx, "x/f", "in x\n");
	struct rv_centry l2 = link_e("y", "d");
	struct rv_centry f2 = file_e(fx, "y", "y is a file now\n");
	struct stat st;
	char *p;

	assert_int_equal(rv_apply_dir(fx->a, &dd, true), 0);
	assert_int_equal(rv_apply_link(fx->a, &l, &res), 0);
	assert_int_equal(rv_apply_file(fx->a, &f, &res, &bytes), 0);
	assert_false(exists_in(fx, "d/f"));
	p = rv_asprintf("%s/x", rv_apply_root(fx->a));
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	free(p);
	assert_int_equal(rv_apply_link(fx->a, &l2, &res), 0);
	assert_int_equal(rv_apply_file(fx->a, &f2, &res, &bytes), 0);
	p = rv_asprintf("%s/y", rv_apply_root(fx->a));
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	free(p);
	/* A folder over a link to a folder with content. */
	assert_int_equal(rv_apply_link(fx->a, &l2, &res), 0);
	struct rv_centry yd = dir_e("y");
	assert_int_equal(rv_apply_dir(fx->a, &yd, true), 0);
	p = rv_asprintf("%s/y", rv_apply_root(fx->a));
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	free(p);
}

/* A symlink already in the folder that did not come from the store (a
 * restore without --delete): a new link whose text stays inside but
 * passes through it is not restored (openat2's RESOLVE_BENEATH). */
static void test_local_symlink_on_the_way(void **state)
{
	struct fx *fx = *state;
	enum rv_apply_result res;
	struct rv_centry e = link_e("y", "loc/secret");
	char *p = rv_asprintf("%s/loc", rv_apply_root(fx->a));

	assert_int_equal(symlink(fx->canary, p), 0);
	assert_int_equal(rv_apply_link(fx->a, &e, &res), 0);
	assert_int_equal(res, RV_APPLY_SKIP);
	assert_false(exists_in(fx, "y"));
	assert_int_equal(unlink(p), 0);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_chained_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_links_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_percent_literal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_folder_became_symlink, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_then_folder, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_local_symlink_on_the_way, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
