/* verify's pure parts: the scratch estimate, the sample times, the
 * metrics file's gauges and the last success carried over. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "engine/verify.h"
#include "metrics/metrics.h"

static void test_scratch_need(void **state)
{
	(void)state;
	/* every file rounded up to a block, plus 16 MiB */
	assert_int_equal(rv_verify_scratch_need(0, 0, 0, 0), 16u << 20);
	assert_int_equal(rv_verify_scratch_need(10, 1000, 4096, 100),
			 1000 + 10 * 4096 + 4096 + 100 + (16u << 20));
}

static void test_sample_times(void **state)
{
	int64_t a[50], b[50], c[1];

	(void)state;
	rv_verify_sample_times(a, 50, 1000, 2000, 42);
	rv_verify_sample_times(b, 50, 1000, 2000, 42);
	assert_memory_equal(a, b, sizeof(a));
	for (int i = 0; i < 50; i++) {
		assert_true(a[i] >= 1000 && a[i] <= 2000);
		if (i)
			assert_true(a[i - 1] <= a[i]);
	}
	assert_true(a[0] != a[49]);
	/* a window of one instant */
	rv_verify_sample_times(c, 1, 5, 5, 7);
	assert_int_equal(c[0], 5);
}

static void test_prev_success(void **state)
{
	/* %.17g of a time with milliseconds: the line is longer than 64 */
	const char t[] = "# HELP revenant_verify_last_success_timestamp_seconds x\n"
			 "# TYPE revenant_verify_last_success_timestamp_seconds gauge\n"
			 "revenant_verify_last_success_timestamp_seconds 1796406589.1059999\n"
			 "revenant_verify_ok 1\n";
	double d = -1;

	(void)state;
	assert_true(rv_verify_metrics_prev_success(t, sizeof(t) - 1, &d));
	assert_true(d > 1796406589.1 && d < 1796406589.2);
	assert_false(rv_verify_metrics_prev_success("revenant_verify_ok 1\n", 21, &d));
	assert_false(rv_verify_metrics_prev_success(
	    "revenant_verify_last_success_timestamp_seconds x\n", 49, &d));
	assert_false(rv_verify_metrics_prev_success(
	    "revenant_verify_last_success_timestamp_seconds -5", 49, &d));
	/* no newline at the end */
	assert_true(rv_verify_metrics_prev_success(
	    "revenant_verify_last_success_timestamp_seconds 12", 49, &d));
	assert_true(d == 12);
}

static char *render(const struct rv_verify_result *r, int rc, double now, double prev)
{
	struct rv_metrics *m = NULL;
	struct rv_buf b;
	char *s;

	rv_metrics_new(&m);
	rv_verify_metrics(m, r, rc, now, prev);
	rv_buf_init(&b, 1 << 16);
	assert_int_equal(rv_metrics_render(m, &b), 0);
	s = rv_buf_detach(&b, NULL);
	rv_metrics_free(m);
	return s;
}

static void test_metrics(void **state)
{
	struct rv_verify_point p[2] = {{.restore_seconds = 2.5}, {.restore_seconds = 4}};
	struct rv_verify_result r = {.points = p,
				     .n = 2,
				     .have_latest = true,
				     .rpo_seconds = 3,
				     .seconds = 9,
				     .bytes_read = 12345};
	char *s;

	(void)state;
	s = render(&r, 0, 1000, -1);
	assert_non_null(strstr(s, "\nrevenant_verify_ok 1\n"));
	assert_non_null(strstr(s, "\nrevenant_verify_last_success_timestamp_seconds 1000\n"));
	assert_non_null(strstr(s, "\nrevenant_verify_restore_seconds 4\n"));
	assert_non_null(strstr(s, "\nrevenant_verify_rpo_seconds 3\n"));
	assert_non_null(strstr(s, "\nrevenant_verify_duration_seconds 9\n"));
	assert_non_null(strstr(s, "\nrevenant_verify_bytes_read 12345\n"));
	assert_non_null(strstr(s, "\nrevenant_verify_points 2\n"));
	free(s);
	/* a failure keeps the last success's time, or says none */
	s = render(&r, RV_EUNRESTORABLE, 2000, 1000);
	assert_non_null(strstr(s, "\nrevenant_verify_ok 0\n"));
	assert_non_null(strstr(s, "\nrevenant_verify_last_success_timestamp_seconds 1000\n"));
	free(s);
	r.have_latest = false;
	s = render(&r, RV_EUNRESTORABLE, 2000, -1);
	assert_null(strstr(s, "last_success"));
	assert_null(strstr(s, "rpo_seconds"));
	free(s);
}

static void test_exit_code(void **state)
{
	(void)state;
	assert_int_equal(rv_exit_code(RV_EUNRESTORABLE), 9);
	assert_string_equal(rv_result_name(RV_EUNRESTORABLE), "unrestorable");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scratch_need), cmocka_unit_test(test_sample_times),
	    cmocka_unit_test(test_prev_success), cmocka_unit_test(test_metrics),
	    cmocka_unit_test(test_exit_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
