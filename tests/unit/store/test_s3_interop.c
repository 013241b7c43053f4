/* Interop with Debian's awscli (/usr/bin/aws) through s3rver: aws reads back
 * byte-identical what revenant wrote, and revenant reads what aws wrote,
 * single-part and multipart both ways. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "s3_harness.h"
#include "core/log.h"

#define BUCKET "rv-interop"

static struct s3srv srv;

static int setup(void **state)
{
	(void)state;
	rv_log_setup(RV_LOG_WARN, RV_LOG_LOGFMT);
	if (access("/usr/bin/aws", X_OK)) {
		fprintf(stderr, "FAIL: /usr/bin/aws (Debian awscli) is not installed\n");
		return -1;
	}
	if (s3srv_start(&srv, NULL, 0) || s3srv_mkbucket(&srv, BUCKET)) {
		fprintf(stderr, "FAIL: s3rver did not start or bucket creation failed\n");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	s3srv_cleanup(&srv);
	return 0;
}

static struct rv_store *open_store(void)
{
	struct rv_store_opts o;
	struct rv_store *s = NULL;

	h_opts(&o);
	o.part_size = 5u << 20;
	o.multipart_threshold = 5u << 20;
	assert_int_equal(rv_store_open(&s, h_url(srv.port, BUCKET, "site"), &o), 0);
	return s;
}

static void aws_reads(struct rv_store *s, const char *key, uint64_t size, int expect_parts)
{
	char src[64], dst[80], want[RV_SHA256_HEX], have[RV_SHA256_HEX], cmd[512];
	int fd, parts = s3srv_log_count(&srv, "partNumber=");

	fd = h_randfile(src, sizeof(src), size, size, want);
	assert_true(fd >= 0);
	assert_int_equal(rv_store_put_fd(s, key, fd, UINT64_MAX, NULL), 0);
	close(fd);
	assert_int_equal(s3srv_log_count(&srv, "partNumber=") - parts, expect_parts);
	snprintf(dst, sizeof(dst), "%s.aws", src);
	snprintf(cmd, sizeof(cmd), "s3rver_aws s3 cp --only-show-errors \"s3://%s/site/%s\" %s",
		 BUCKET, key, dst);
	assert_int_equal(s3srv_sh(&srv, cmd), 0);
	h_sha_path(dst, have);
	assert_string_equal(have, want);
	unlink(src);
	unlink(dst);
}

static void test_aws_reads_revenant(void **state)
{
	struct rv_store *s = open_store();

	(void)state;
	aws_reads(s, "small.bin", 4096, 0);
	aws_reads(s, "dir/multi part.bin", (17u << 20) + 3, 4);
	rv_store_free(s);
}

static void revenant_reads(struct rv_store *s, const char *key, uint64_t size, bool multipart)
{
	char src[64], dst[] = "/tmp/rv-s3io.XXXXXX", want[RV_SHA256_HEX], have[RV_SHA256_HEX];
	char cmd[512];
	struct rv_obj_info info;
	int fd, out, parts = s3srv_log_count(&srv, "partNumber=");

	fd = h_randfile(src, sizeof(src), size, size + 1, want);
	assert_true(fd >= 0);
	close(fd);
	/* awscli's default multipart threshold and chunk size are 8 MiB. */
	snprintf(cmd, sizeof(cmd), "s3rver_aws s3 cp --only-show-errors %s \"s3://%s/site/%s\"",
		 src, BUCKET, key);
	assert_int_equal(s3srv_sh(&srv, cmd), 0);
	if (multipart)
		assert_true(s3srv_log_count(&srv, "partNumber=") - parts >= 2);
	else
		assert_int_equal(s3srv_log_count(&srv, "partNumber=") - parts, 0);
	out = mkstemp(dst);
	assert_true(out >= 0);
	assert_int_equal(rv_store_get_fd(s, key, out, 0, 0, &info), 0);
	assert_int_equal(info.size, size);
	rv_obj_info_release(&info);
	close(out);
	h_sha_path(dst, have);
	assert_string_equal(have, want);
	unlink(src);
	unlink(dst);
}

static int find_cb(const struct rv_obj_info *i, void *ud)
{
	int *n = ud;

	(*n)++;
	return strcmp(i->key, "from-aws/small.bin") && strcmp(i->key, "from-aws/big.bin") ? -1 : 0;
}

static void test_revenant_reads_aws(void **state)
{
	struct rv_store *s = open_store();
	int n = 0;

	(void)state;
	revenant_reads(s, "from-aws/small.bin", 1000, false);
	revenant_reads(s, "from-aws/big.bin", (20u << 20) + 7, true);
	assert_int_equal(rv_store_list(s, "from-aws/", find_cb, &n), 0);
	assert_int_equal(n, 2);
	rv_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_aws_reads_revenant),
	    cmocka_unit_test(test_revenant_reads_aws),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
