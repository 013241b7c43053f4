/* test_pfetch.c - rv_pfetch (parallel ranged downloads read in order) on
 * the file store and against a real s3rver: objects of odd sizes (empty,
 * one byte, exactly one part, parts plus a tail) read back byte for byte
 * in reads of odd lengths while later parts are still arriving; waiting
 * for a whole object; dropping one; a missing object fails the read with
 * RV_ENOTFOUND and its name; freeing mid-download stops cleanly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"
#include "s3_harness.h"

#include "core/log.h"
#include "core/mem.h"
#include "store/pfetch.h"

#define BUCKET "rv-pfetch"
#define PART   4096u

static struct s3srv srv;

static const uint64_t sizes[] = {0, 1, PART, 5 * PART + 17, 300 * 1024 + 3};
#define NOBJ (sizeof(sizes) / sizeof(sizes[0]))

static unsigned char byte_at(size_t obj, uint64_t off)
{
	return (unsigned char)((off * 2654435761u) >> 7 ^ obj * 131);
}

static void put_objects(struct rv_store *s)
{
	for (size_t i = 0; i < NOBJ; i++) {
		unsigned char *b = rv_malloc(sizes[i] ? sizes[i] : 1);
		char key[32];

		for (uint64_t j = 0; j < sizes[i]; j++)
			b[j] = byte_at(i, j);
		snprintf(key, sizeof(key), "obj/%zu", i);
		assert_int_equal(rv_store_put_buf(s, key, b, sizes[i], NULL), 0);
		free(b);
	}
}

static void read_all(struct rv_store *s, const char *tmpdir, unsigned jobs)
{
	struct rv_pfetch_obj objs[NOBJ];
	char keys[NOBJ][32];
	struct rv_pfetch_opts o = {.tmpdir = tmpdir, .jobs = jobs, .part = PART};
	struct rv_pfetch *pf = NULL;
	unsigned char buf[7000];
	uint64_t total = 0;

	for (size_t i = 0; i < NOBJ; i++) {
		snprintf(keys[i], sizeof(keys[i]), "obj/%zu", i);
		objs[i] = (struct rv_pfetch_obj){.key = keys[i], .size = sizes[i]};
		total += sizes[i];
	}
	assert_int_equal(rv_pfetch_start(&pf, s, objs, NOBJ, &o), 0);
	for (size_t i = 0; i < NOBJ; i++) {
		uint64_t off = 0;
		size_t want = 1;

		for (;;) {
			ssize_t got = rv_pfetch_read(pf, i, off, buf, want);

			assert_true(got >= 0);
			if (got == 0)
				break;
			for (ssize_t j = 0; j < got; j++)
				if (buf[j] != byte_at(i, off + (uint64_t)j))
					fail_msg("object %zu byte %llu differs", i,
						 (unsigned long long)(off + (uint64_t)j));
			off += (uint64_t)got;
			want = want * 3 % sizeof(buf) + 1; /* odd lengths, across parts */
		}
		assert_int_equal(off, sizes[i]);
		if (i == 1) {
			int fd = -1;
			struct stat st;

			assert_int_equal(rv_pfetch_wait(pf, 4, &fd), 0);
			assert_int_equal(fstat(fd, &st), 0);
			assert_int_equal((uint64_t)st.st_size, sizes[4]);
		}
		rv_pfetch_drop(pf, i);
		/* A dropped object is an error to read, not a hang. */
		if (sizes[i])
			assert_true(rv_pfetch_read(pf, i, 0, buf, 1) < 0);
	}
	assert_int_equal(rv_pfetch_bytes(pf), total);
	rv_pfetch_free(pf);
}

static void missing(struct rv_store *s, const char *tmpdir)
{
	struct rv_pfetch_obj objs[] = {{"obj/3", sizes[3]}, {"obj/nope", 10 * PART}};
	struct rv_pfetch_opts o = {.tmpdir = tmpdir, .jobs = 3, .part = PART};
	struct rv_pfetch *pf = NULL;
	unsigned char buf[64];
	ssize_t got;

	assert_int_equal(rv_pfetch_start(&pf, s, objs, 2, &o), 0);
	got = rv_pfetch_read(pf, 1, 0, buf, sizeof(buf));
	assert_int_equal(got, RV_ENOTFOUND);
	assert_non_null(strstr(rv_errmsg(), "obj/nope"));
	rv_pfetch_free(pf);

	/* Freed while parts are in flight: joins, leaks nothing. */
	assert_int_equal(rv_pfetch_start(&pf, s, objs, 1, &o), 0);
	rv_pfetch_free(pf);
	/* No temporary folder: the error names it. */
	o.tmpdir = "/nonexistent/rv-pfetch";
	assert_int_equal(rv_pfetch_start(&pf, s, objs, 1, &o), RV_EFAIL);
	assert_null(pf);
	assert_non_null(strstr(rv_errmsg(), "/nonexistent/rv-pfetch"));
}

static void test_file(void **state)
{
	char dir[] = "/tmp/rv-test-pfetch-XXXXXX", tmp[64];
	struct rv_store *s = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_int_equal(rv_test_open_file_store(dir, &s), 0);
	put_objects(s);
	read_all(s, tmp, 1);
	read_all(s, tmp, 4);
	missing(s, tmp);
	rv_store_free(s);
	rv_test_rm_rf(dir);
}

static void test_s3(void **state)
{
	char tmp[] = "/tmp/rv-test-pfetch-s3-XXXXXX";
	struct rv_store_opts o;
	struct rv_store *s = NULL;

	(void)state;
	assert_non_null(mkdtemp(tmp));
	h_opts(&o);
	assert_int_equal(rv_store_open(&s, h_url(srv.port, BUCKET, "site"), &o), 0);
	put_objects(s);
	read_all(s, tmp, 4);
	/* Every part was its own ranged GET (answered 206). */
	{
		int n = s3srv_log_wait(&srv, "site/obj/4 206", 76);

		if (n < 76)
			fail_msg("%d GETs of a 76-part object", n);
	}
	missing(s, tmp);
	rv_store_free(s);
	rv_test_rm_rf(tmp);
}

static int setup(void **state)
{
	(void)state;
	return s3srv_setup(&srv, BUCKET);
}

static int teardown(void **state)
{
	(void)state;
	s3srv_cleanup(&srv);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_s3),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
