/* Backoff arithmetic, attempt limit, deadline and the shutdown flag. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/retry.h"
#include "core/util.h"

static void test_backoff_bounds(void **state)
{
	struct rv_retry_policy p = {.base_ms = 100, .cap_ms = 1000};
	uint64_t rng = 42;
	long maxseen[8] = {0};

	(void)state;
	/* Full jitter: each delay is in [0, min(cap, base*2^(n-1))]. */
	for (int i = 0; i < 2000; i++) {
		for (unsigned a = 1; a <= 7; a++) {
			long d = rv_retry_backoff_ms(&p, a, &rng);
			long ceiling = 100L << (a - 1);
			if (ceiling > 1000)
				ceiling = 1000;
			assert_true(d >= 0 && d <= ceiling);
			if (d > maxseen[a])
				maxseen[a] = d;
		}
	}
	/* ... and the spread really reaches near the ceiling (jitter, not fixed). */
	assert_true(maxseen[1] > 80);
	assert_true(maxseen[3] > 350);
	assert_true(maxseen[7] > 900);
	/* Huge attempt numbers saturate instead of overflowing. */
	assert_true(rv_retry_backoff_ms(&p, 4000000000u, &rng) <= 1000);
}

static void test_attempt_limit(void **state)
{
	struct rv_retry_policy p = {.max_attempts = 3, .base_ms = 1, .cap_ms = 2};
	struct rv_retry r;
	int tries = 1;

	(void)state;
	rv_retry_start(&r, &p);
	while (rv_retry_next(&r))
		tries++;
	assert_int_equal(tries, 3);
	assert_int_equal(r.attempt, 3);
}

static void test_deadline_wins(void **state)
{
	/* Many attempts allowed, but 300 ms in all with up to 200 ms waits. */
	struct rv_retry_policy p = {
	    .max_attempts = 1000, .base_ms = 200, .cap_ms = 200, .deadline_ms = 300};
	struct rv_retry r;
	int64_t t0 = rv_mono_ms();

	(void)state;
	rv_retry_start(&r, &p);
	while (rv_retry_next(&r))
		;
	assert_true(rv_mono_ms() - t0 <= 320);
	assert_true(r.attempt < 1000);
	assert_true(rv_retry_remaining_ms(&r) <= 200);
}

static void test_shutdown_stops(void **state)
{
	struct rv_retry_policy p = {.max_attempts = 10, .base_ms = 5000, .cap_ms = 5000};
	struct rv_retry r;

	(void)state;
	rv_retry_start(&r, &p);
	rv_shutdown_request();
	assert_true(rv_shutdown_requested());
	assert_false(rv_retry_next(&r));
	rv_shutdown_reset();
	assert_false(rv_shutdown_requested());
}

static void test_defaults(void **state)
{
	struct rv_retry_policy p = {0};
	struct rv_retry r;

	(void)state;
	rv_retry_start(&r, &p);
	assert_int_equal(r.p.max_attempts, 8);
	assert_int_equal(r.p.base_ms, 100);
	assert_int_equal(r.p.cap_ms, 10000);
	assert_true(rv_retry_remaining_ms(&r) > 1000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backoff_bounds), cmocka_unit_test(test_attempt_limit),
	    cmocka_unit_test(test_deadline_wins),  cmocka_unit_test(test_shutdown_stops),
	    cmocka_unit_test(test_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
