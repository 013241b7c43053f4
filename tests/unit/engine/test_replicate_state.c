/* test_replicate_state.c - the recorded state of replicate: the overlay of
 * committed changes (dels drop subtrees, later puts survive them) merged
 * with a base manifest, and a manifest written from it read back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "format/content.h"
#include "engine/replicate_state.h"
#include "core/buf.h"
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char gen[] = "0000019a3c5e7f10-3fa9c2d1";

static struct rv_centry file(const char *p, uint64_t size)
{
	struct rv_centry e = {.type = RV_CE_FILE, .path = p, .size = size, .mode = 0644};

	memset(e.sha256, (int)size, sizeof(e.sha256));
	return e;
}

static struct rv_centry dir(const char *p)
{
	return (struct rv_centry){.type = RV_CE_DIR, .path = p, .mode = 0755};
}

static struct rv_centry del(const char *p)
{
	return (struct rv_centry){.type = RV_CE_DEL, .path = p};
}

static int collect(void *ud, const struct rv_centry *e)
{
	struct rv_buf *b = ud;

	return rv_buf_addf(b, "%c:%s:%llu ", e->type == RV_CE_DIR ? 'D' : 'F', e->path,
			   (unsigned long long)e->size);
}

/* A base manifest (in a temporary file) from entries in order. */
static int base_of(const struct rv_centry *v, size_t n)
{
	struct rv_cobj_hdr h = {.kind = RV_COBJ_MANIFEST, .time_ms = 1};
	struct rv_cobj_writer *w;
	int fd;

	memcpy(h.gen, gen, sizeof(gen));
	assert_int_equal(rv_tmpfile(&fd), 0);
	assert_int_equal(rv_cobj_writer_new(&w, &h, true, rv_cobj_sink_fd, &fd), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rv_cobj_writer_add(w, &v[i]), 0);
	assert_int_equal(rv_cobj_writer_finish(w), 0);
	rv_cobj_writer_free(w);
	return fd;
}

static char *merged(int fd, const struct rv_cchanges *c)
{
	struct rv_buf b = RV_BUF_INIT(1 << 20);

	assert_int_equal(rv_cstate_merge(fd, "base", c, collect, &b), 0);
	return b.data ? rv_buf_detach(&b, NULL) : rv_strdup("");
}

static void test_overlay_alone(void **state)
{
	struct rv_cchanges c = {0};
	struct rv_centry e;
	char *s;

	(void)state;
	e = dir("a");
	rv_cchanges_apply(&c, &e);
	e = file("a/x", 1);
	rv_cchanges_apply(&c, &e);
	e = file("a.txt", 2);
	rv_cchanges_apply(&c, &e);
	e = file("a/b/y", 3);
	rv_cchanges_apply(&c, &e);
	e = file("a/x", 4); /* rewritten: the newer record wins */
	rv_cchanges_apply(&c, &e);
	s = merged(-1, &c);
	assert_string_equal(s, "D:a:0 F:a/b/y:3 F:a/x:4 F:a.txt:2 ");
	free(s);
	e = del("a");
	rv_cchanges_apply(&c, &e);
	s = merged(-1, &c);
	assert_string_equal(s, "F:a.txt:2 ");
	free(s);
	assert_int_equal(c.n, 2); /* the del of a, and a.txt */
	rv_cchanges_clear(&c);
}

static void test_merge_with_base(void **state)
{
	const struct rv_centry base[] = {dir("img"),	 file("img/1", 1),     file("img/2", 2),
					 dir("img/sub"), file("img/sub/3", 3), file("img.txt", 4),
					 file("z", 5)};
	struct rv_cchanges c = {0};
	struct rv_centry e;
	int fd = base_of(base, sizeof(base) / sizeof(base[0]));
	char *s;

	(void)state;
	s = merged(fd, &c);
	assert_string_equal(s, "D:img:0 F:img/1:1 F:img/2:2 D:img/sub:0 F:img/sub/3:3 "
			       "F:img.txt:4 F:z:5 ");
	free(s);
	/* The folder goes, then comes back with one new file: nothing of the
	 * base's subtree survives. */
	e = del("img/sub");
	rv_cchanges_apply(&c, &e);
	e = dir("img/sub");
	rv_cchanges_apply(&c, &e);
	e = file("img/sub/new", 9);
	rv_cchanges_apply(&c, &e);
	e = file("img/2", 20);
	rv_cchanges_apply(&c, &e);
	e = del("z");
	rv_cchanges_apply(&c, &e);
	e = file("m", 7);
	rv_cchanges_apply(&c, &e);
	s = merged(fd, &c);
	assert_string_equal(s, "D:img:0 F:img/1:1 F:img/2:20 D:img/sub:0 F:img/sub/new:9 "
			       "F:img.txt:4 F:m:7 ");
	free(s);
	/* A nested del inside a deleted folder does not end the outer one. */
	e = del("img");
	rv_cchanges_apply(&c, &e);
	e = file("img", 11); /* the folder's name is a file now */
	rv_cchanges_apply(&c, &e);
	s = merged(fd, &c);
	assert_string_equal(s, "F:img:11 F:img.txt:4 F:m:7 ");
	free(s);
	rv_cchanges_clear(&c);
	close(fd);
}

static void test_write_manifest(void **state)
{
	const struct rv_centry base[] = {dir("a"), file("a/b", 10), file("c", 20)};
	struct rv_cobj_hdr h = {.kind = RV_COBJ_MANIFEST, .from = 5, .to = 5, .time_ms = 9};
	struct rv_cchanges c = {0};
	struct rv_centry e = file("a/a", 30);
	uint64_t files, bytes, entries, count;
	int fd = base_of(base, 3), out;
	char *s;

	(void)state;
	memcpy(h.gen, gen, sizeof(gen));
	rv_cchanges_apply(&c, &e);
	assert_int_equal(rv_cstate_write_manifest(fd, &c, &h, &out, &files, &bytes, &entries), 0);
	assert_int_equal(files, 3);
	assert_int_equal(bytes, 60);
	assert_int_equal(entries, 4);
	assert_int_equal(rv_cobj_verify("out", rv_cobj_source_fd, &out, &count), 0);
	assert_int_equal(count, 4);
	rv_cchanges_clear(&c);
	s = merged(out, &c);
	assert_string_equal(s, "D:a:0 F:a/a:30 F:a/b:10 F:c:20 ");
	free(s);
	close(out);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_overlay_alone),
	    cmocka_unit_test(test_merge_with_base),
	    cmocka_unit_test(test_write_manifest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
