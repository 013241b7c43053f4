/* test_replicate_worker.c - the content folder source reading one path
 * (content/source.h) against a real folder and a file:// store: the blob holds exactly the bytes
 * hashed, a blob already there is not sent again, links and folders are recorded as such, nothing
 * is read through a symlinked parent, vanished paths are not errors; and the worker pool hands
 * every job back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/replicate_int.h"
#include "engine/replicate_state.h"
#include "core/mem.h"
#include "core/util.h"
#include "store/store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64], storedir[64], outside[64];
static struct rv_store *st;
static struct rv_content_opts copts;
static struct rv_csrc src;

static void put(const char *dir, const char *rel, const void *data, size_t n)
{
	char *p = rv_asprintf("%s/%s", dir, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0640);

	assert_true(fd >= 0);
	assert_int_equal(rv_write_all(fd, data, n), 0);
	close(fd);
	free(p);
}

static int setup(void **state)
{
	struct rv_store_opts o;
	char *url;

	(void)state;
	snprintf(root, sizeof(root), "/tmp/rv-test-rw-XXXXXX");
	snprintf(storedir, sizeof(storedir), "/tmp/rv-test-rw-store-XXXXXX");
	snprintf(outside, sizeof(outside), "/tmp/rv-test-rw-out-XXXXXX");
	if (!mkdtemp(root) || !mkdtemp(storedir) || !mkdtemp(outside))
		return -1;
	rv_store_opts_default(&o);
	o.fsync = false;
	url = rv_asprintf("file://%s", storedir);
	if (rv_store_open(&st, url, &o))
		return -1;
	free(url);
	rv_content_opts_default(&copts);
	copts.root = root;
	src.ops = &rv_csrc_folder;
	return src.ops->open(&src.h, &copts) ? -1 : 0;
}

static int teardown(void **state)
{
	char *cmd = rv_asprintf("rm -rf '%s' '%s' '%s'", root, storedir, outside);

	(void)state;
	rv_store_free(st);
	src.ops->close(src.h);
	if (system(cmd) != 0)
		return -1;
	free(cmd);
	return 0;
}

static struct rjob *run(const char *path)
{
	struct rjob *j = rv_calloc(1, sizeof(*j));

	j->path = rv_strdup(path);
	src.ops->read(src.h, st, NULL, j->path, &j->rd);
	return j;
}

static void check_blob(const struct rjob *j, const void *data, size_t n)
{
	char key[RV_BLOB_KEY_LEN];
	unsigned char sha[RV_SHA256_LEN];
	struct rv_buf b = RV_BUF_INIT(8u << 20);

	rv_sha256(sha, data, n);
	assert_memory_equal(j->rd.e.sha256, sha, RV_SHA256_LEN);
	rv_content_blob_key(key, sha, NULL);
	assert_int_equal(rv_store_get_buf(st, key, &b, NULL), 0);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.data, data, n);
	rv_buf_release(&b);
}

static void test_small_and_large_files(void **state)
{
	size_t big_n = RV_CSRC_MEM_MAX + 12345;
	char *big = rv_malloc(big_n);
	struct rjob *j;

	(void)state;
	for (size_t i = 0; i < big_n; i++)
		big[i] = (char)(i * 7 + i / 251);
	put(root, "small.txt", "hello", 5);
	put(root, "big.bin", big, big_n);

	j = run("small.txt");
	assert_int_equal(j->rd.res, RV_CSRC_RECORD);
	assert_int_equal(j->rd.e.type, RV_CE_FILE);
	assert_int_equal(j->rd.e.size, 5);
	assert_int_equal(j->rd.e.mode, 0640);
	assert_int_equal(j->rd.uploaded, 5);
	check_blob(j, "hello", 5);
	rv_rjob_free(j);

	j = run("small.txt"); /* small blobs are put without a HEAD: same bytes again */
	assert_int_equal(j->rd.res, RV_CSRC_RECORD);
	assert_int_equal(j->rd.uploaded, 5);
	check_blob(j, "hello", 5);
	rv_rjob_free(j);

	j = run("big.bin"); /* staged through a temporary file */
	assert_int_equal(j->rd.res, RV_CSRC_RECORD);
	assert_int_equal(j->rd.e.size, big_n);
	assert_int_equal(j->rd.uploaded, big_n);
	check_blob(j, big, big_n);
	rv_rjob_free(j);

	j = run("big.bin"); /* a large blob already there is not sent again */
	assert_int_equal(j->rd.res, RV_CSRC_RECORD);
	assert_int_equal(j->rd.uploaded, 0);
	rv_rjob_free(j);
	free(big);
}

static void test_links_dirs_and_gone(void **state)
{
	char *p = rv_asprintf("%s/sub", root), *l = rv_asprintf("%s/out", root);
	struct rjob *j;

	(void)state;
	assert_int_equal(mkdir(p, 0750), 0);
	put(outside, "secret", "s3cr3t", 6);
	assert_int_equal(symlink(outside, l), 0);

	j = run("sub");
	assert_int_equal(j->rd.res, RV_CSRC_RECORD);
	assert_int_equal(j->rd.e.type, RV_CE_DIR);
	assert_int_equal(j->rd.e.mode, 0750);
	rv_rjob_free(j);

	j = run("out");
	assert_int_equal(j->rd.res, RV_CSRC_RECORD);
	assert_int_equal(j->rd.e.type, RV_CE_LINK);
	assert_string_equal(j->rd.e.target, outside);
	rv_rjob_free(j);

	j = run("out/secret"); /* through the link: never read */
	assert_int_equal(j->rd.res, RV_CSRC_GONE);
	rv_rjob_free(j);

	j = run("nothing/here");
	assert_int_equal(j->rd.res, RV_CSRC_GONE);
	rv_rjob_free(j);
	free(p);
	free(l);
}

static void test_pool(void **state)
{
	struct rpool p;
	int efd = eventfd(0, EFD_CLOEXEC);
	size_t got = 0;

	(void)state;
	for (int i = 0; i < 40; i++) {
		char name[32], data[32];

		snprintf(name, sizeof(name), "pool%d", i);
		snprintf(data, sizeof(data), "data %d", i);
		put(root, name, data, strlen(data));
	}
	assert_int_equal(rv_rpool_start(&p, 4, st, &src, NULL, efd), 0);
	for (int i = 0; i < 40; i++) {
		char name[32];

		snprintf(name, sizeof(name), "pool%d", i);
		rv_rpool_submit(&p, name);
	}
	for (int t = 0; t < 500 && got < 40; t++) {
		struct rjob *j = rv_rpool_take_done(&p);

		if (!j)
			usleep(10000);
		while (j) {
			struct rjob *next = j->next;

			assert_int_equal(j->rd.res, RV_CSRC_RECORD);
			got++;
			rv_rjob_free(j);
			j = next;
		}
	}
	assert_int_equal(got, 40);
	rv_rpool_stop(&p);
	close(efd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_and_large_files),
	    cmocka_unit_test(test_links_dirs_and_gone),
	    cmocka_unit_test(test_pool),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
